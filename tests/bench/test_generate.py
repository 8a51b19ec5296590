"""bench/generate.py takes what is required from the platform (the forms, the tables), not from a hand list.

Its hand-written answers rotted once: the birth registration form came to require the birth certificate's scan
and the generator did not fill it; then the dossier table gained a NOT NULL column the bulk insert did not name.
These tests change the form and the table under it and check that it still fits them.
"""

import copy
import json
from pathlib import Path

import pytest
from peewee import CharField, IntegerField, Model, SqliteDatabase

from bench import generate
from onestop import formdefs
from onestop.formdefs import FormDefinition

ROOT = Path(__file__).resolve().parents[2]
BIRTH = json.loads((ROOT / "process_models" / "birth_registration" / "application-schema.json").read_text("utf-8"))


def _fits(schema, data):
    return formdefs.validate(schema, formdefs.tidy(schema, data)) == []


def test_the_generated_application_fills_the_fields_a_form_newly_requires():
    schema = copy.deepcopy(BIRTH)
    schema["properties"] |= {
        "child_blood_type": {"type": "string", "oneOf": [{"const": "O"}, {"const": "A"}]},
        "declarant_email": {"type": "string", "format": "email"},
        "copies_requested": {"type": "integer", "minimum": 1, "maximum": 10},
        "consent": {"type": "boolean"},
        "witness": {"type": "object", "required": ["name", "phone"],
                    "properties": {"name": {"type": "string", "minLength": 2}, "phone": {"type": "string"}}},
    }
    schema["required"] = [*schema["required"], "child_blood_type", "declarant_email", "copies_requested", "consent",
                          "witness"]
    hand = generate._start_data("birth", "truc_tiep")
    del hand["birth_evidence_file"]  # the field whose absence made bench/scale.py fail
    assert not _fits(schema, hand)

    fitted = generate.fit(FormDefinition("application", schema), hand)

    assert _fits(schema, fitted)
    assert fitted["birth_evidence_file"].startswith("data:application/pdf")
    assert fitted["declarant_full_name"] == hand["declarant_full_name"]  # the realistic answers are kept


def test_an_answer_the_form_no_longer_offers_is_replaced_by_one_it_does():
    schema = copy.deepcopy(BIRTH)
    schema["properties"]["declarant_relationship"]["oneOf"] = [{"const": "me", "title": "Mẹ"}]
    schema["additionalProperties"] = False
    hand = generate._start_data("birth", "truc_tiep")

    fitted = generate.fit(FormDefinition("application", schema), hand)

    assert _fits(schema, fitted)
    assert fitted["declarant_relationship"] == "me"
    assert "documents" not in fitted  # a field the form does not allow is dropped


def test_a_form_the_generator_cannot_answer_is_named_with_its_field():
    schema = copy.deepcopy(BIRTH)
    schema["properties"]["registry_code"] = {"type": "string", "pattern": "^RC-[0-9]{6}$"}
    schema["required"] = [*schema["required"], "registry_code"]

    with pytest.raises(RuntimeError, match="registry_code"):
        generate.fit(FormDefinition("application", schema), generate._start_data("birth", "truc_tiep"))


def test_a_required_column_the_bulk_list_does_not_name_takes_a_genuine_rows_value():
    database = SqliteDatabase(":memory:")

    class Row(Model):
        named = CharField()
        optional = CharField(null=True)
        status = CharField()  # NOT NULL, added after the bulk list was written
        serial = IntegerField()

        class Meta:
            table_name = "row"

    Row.bind(database)
    database.create_tables([Row])
    with pytest.raises(RuntimeError, match="status, serial"):
        generate.unlisted_required_columns(database, Row, ["named"], postgres=False)
    Row.create(named="genuine", status="received", serial=3)

    assert generate.unlisted_required_columns(database, Row, ["named"], postgres=False) == (
        ["status", "serial"], ("received", 3))
    assert generate.unlisted_required_columns(database, Row, ["named", "status", "serial"], postgres=False) == ([], ())
