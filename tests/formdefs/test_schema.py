"""Form schemas: what is refused at upload (with a pointer), and how data is normalised and validated."""

import json
import unicodedata
from pathlib import Path

import pytest

from onestop.formdefs import check_schema, normalise, validate
from onestop.formdefs.schema import check_ui, ui_warnings

FORMS = Path(__file__).resolve().parents[1] / "models" / "forms"
APPLICATION = json.loads((FORMS / "spiffarena" / "application-schema.json").read_text())
APPLICATION_UI = json.loads((FORMS / "spiffarena" / "application-uischema.json").read_text())

GOOD = {"full_name": "Trần Thị Bình", "citizen_id": "001203004567", "business_name": "Phở Bình",
        "capital_vnd": 50_000_000, "start_date": "2026-12-01", "business_lines": ["5610"],
        "documents": "data:application/pdf;name=gcn.pdf;base64,JVBERi0xLjQK"}


def test_the_sample_spiffarena_form_is_accepted_with_its_ui_schema():
    assert check_schema("application-schema.json", APPLICATION) == []
    assert check_ui("application-uischema.json", APPLICATION_UI, APPLICATION) == []


def test_an_unsupported_keyword_is_refused_with_the_forms_name_and_pointer():
    schema = {"type": "object", "properties": {"a": {"type": "object", "patternProperties": {"^x": {}}}}}
    [problem] = check_schema("f-schema.json", schema)
    assert (problem.form, problem.pointer) == ("f-schema.json", "/properties/a/patternProperties")
    assert "not supported" in str(problem) and "f-schema.json" in str(problem)


def test_an_unknown_format_a_remote_reference_and_a_broken_pattern_are_each_refused():
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "format": "ipv4"},
        "b": {"$ref": "https://example.com/schema.json"},
        "c": {"type": "string", "pattern": "([0-9]"},
        "d": {"type": "string", "pattern": "^(a+)+$"},
    }}
    pointers = {p.pointer for p in check_schema("f", schema)}
    assert pointers == {"/properties/a/format", "/properties/b/$ref", "/properties/c/pattern", "/properties/d/pattern"}


def test_a_form_whose_top_level_is_not_an_object_is_refused():
    assert [p.pointer for p in check_schema("f", {"type": "string"})] == ["/type"]


def test_a_ui_schema_naming_a_field_the_form_lacks_is_refused():
    [problem] = check_ui("f-uischema.json", {"nmae": {"ui:widget": "textarea"}}, APPLICATION)
    assert problem.pointer == "/nmae" and "nmae" in problem.message


def test_an_unknown_widget_is_a_warning_not_a_refusal():
    ui = {"note": {"ui:widget": "colour-wheel"}}
    assert check_ui("f-uischema.json", ui, APPLICATION) == []
    [warning] = ui_warnings("f-uischema.json", ui, APPLICATION)
    assert warning.pointer == "/note/ui:widget"


def test_good_data_fits():
    assert validate(APPLICATION, GOOD) == []


def test_each_wrong_field_is_named_with_a_plain_message():
    bad = GOOD | {"citizen_id": "12345", "capital_vnd": 5, "start_date": "01/12/2026", "email": "not-an-email"}
    del bad["business_name"]
    errors = {e.field: (e.code, e.message) for e in validate(APPLICATION, bad)}
    assert errors == {
        "business_name": ("required", "this field is required"),
        "capital_vnd": ("minimum", "must be at least 1000000"),
        "citizen_id": ("pattern", "is not in the expected format"),
        "email": ("format", "is not a valid email"),
        "start_date": ("format", "is not a valid date"),
    }


def test_errors_inside_nested_objects_and_repeating_rows_carry_their_path():
    bad = GOOD | {"address": {"street": "12 Lê Lợi"}, "members": [{"name": "An"}, {"citizen_id": "1"}]}
    fields = [e.field for e in validate(APPLICATION, bad)]
    assert fields == ["address/commune", "members/1/citizen_id", "members/1/name"]


def test_a_conditional_field_is_required_only_when_its_condition_holds():
    assert validate(APPLICATION, GOOD | {"has_premises_lease": False}) == []
    [error] = validate(APPLICATION, GOOD | {"has_premises_lease": True})
    assert (error.field, error.code) == ("lease_months", "required")


def test_a_choice_outside_the_list_is_refused():
    [error] = validate(APPLICATION, GOOD | {"business_lines": ["0000"]})
    assert error.field == "business_lines/0"


def test_decomposed_vietnamese_is_stored_composed_and_counted_as_such():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    assert len(decomposed) > len("Nguyễn Thị Ánh Tuyết")
    data = normalise({"full_name": decomposed, "members": [{"name": decomposed}]})
    assert data["full_name"] == "Nguyễn Thị Ánh Tuyết" and data["members"][0]["name"] == "Nguyễn Thị Ánh Tuyết"
    schema = {"type": "object", "properties": {"full_name": {"type": "string", "maxLength": 20}}}
    assert validate(schema, normalise({"full_name": decomposed})) == []
    assert validate(schema, {"full_name": decomposed}) != []


def test_a_keyword_whose_value_is_an_object_or_a_list_where_a_word_belongs_is_a_problem_not_a_crash():
    from onestop.formdefs.schema import check_schema, check_ui

    for schema in ({"type": "object", "properties": {"a": {"type": "string", "format": []}}},
                   {"$schema": {}, "type": "object"}, {"type": {}}, {"type": ["string", {}]}):
        assert check_schema("f-schema.json", schema) != []
    assert [p.pointer for p in check_ui("f-uischema.json", {"a": {"ui:widget": ["text"]}},
                                        {"properties": {"a": {"type": "string"}}})] == ["/a/ui:widget"]


def _bundled_forms() -> list[str]:
    from onestop.cli import BUNDLED

    return sorted({json.dumps(json.loads(p.read_text()), sort_keys=True, ensure_ascii=False)
                   for p in BUNDLED.glob("*/*-schema.json")})


def test_a_valid_form_is_judged_by_the_compiled_meta_schema_without_jsonschema_walking_it(monkeypatch):
    import jsonschema

    from onestop.formdefs import schema

    def walked(*_args, **_kwargs):
        raise AssertionError("jsonschema checked a valid form against the meta-schema")

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", walked)
    forms = _bundled_forms()
    assert len(forms) > 50
    assert all(schema._metaschema_error.__wrapped__(text) is None for text in forms)


def test_a_form_breaking_the_meta_schema_gets_jsonschemas_own_message_and_pointer():
    import jsonschema

    from onestop.formdefs import schema

    broken = [{"type": "object", "properties": {"a": {"type": "string", "minLength": -1}}},
              {"type": "object", "properties": {"a": {"enum": "x"}}},
              {"type": "object", "properties": {"a": {"maxItems": 1.5}}},
              {"type": "object", "properties": {"a": {"title": 3}}},
              {"type": "object", "required": ["a", "a"], "properties": {"a": {"uniqueItems": "yes"}}}]
    for form in broken:
        with pytest.raises(jsonschema.SchemaError) as raised:
            jsonschema.Draft202012Validator.check_schema(form)
        assert not schema._compiled_metaschema().is_valid(form)
        text = json.dumps(form, sort_keys=True)
        assert schema._metaschema_error.__wrapped__(text) == (
            "".join(f"/{p}" for p in raised.value.absolute_path), raised.value.message)
    problems = check_schema("bad", broken[0])
    assert [(p.pointer, p.message) for p in problems] == [("/properties/a/minLength", "-1 is less than the minimum of 0")]


# Data that fits is recognised by jsonschema-rs (formdefs.schema.fits); it must never pass what jsonschema refuses.
_EDGE_VALUES = [1, 1.0, True, False, 0, None, "1", "", "é", "e\u0301", "\U0001F600", "\ud800", [1], [1, 1.0], [1, True],
                [0, False], ["a", "a"], [[1], [1.0]], {"a": 1}, {"a": 1.0}, 2**70, -2**70, 1.5, 1e308, "2024-02-29",
                "2023-02-29", "0000-01-01", "٢٠٢٤-٠١-٠١", "２０２４-01-01", "2024-01-01\n", "2024-01-01T00:00",
                "a@b.vn", "a@", "127.0.0.1", "300.1.1.1", "00000000-0000-0000-0000-000000000000", "(", "::1"]
_EDGE_SCHEMAS = [
    {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "string"}, {"type": "null"},
    {"type": ["string", "null"]}, {"type": "array", "uniqueItems": True}, {"enum": [1, "a", None]}, {"const": 1},
    {"const": True}, {"const": 0}, {"enum": [False]}, {"const": [1]}, {"const": {"a": 1}}, {"minimum": 1},
    {"maximum": 1}, {"exclusiveMinimum": 1}, {"exclusiveMaximum": 1.0}, {"maximum": 2**70}, {"minimum": 0.1},
    {"type": "array", "minItems": 2}, {"type": "array", "maxItems": 1}, {"minLength": 2}, {"maxLength": 1},
    {"type": "object", "required": ["a"]}, {"type": "object", "additionalProperties": False, "properties": {"b": {}}},
    {"minProperties": 1}, {"maxProperties": 0}, {"anyOf": [{"const": 1}, {"const": "a"}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]}, {"not": {"type": "integer"}},
    {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "number"}},
    {"type": "object", "dependentRequired": {"a": ["b"]}}, {"items": {"type": "integer"}},
    *[{"type": "string", "format": f} for f in ("date", "email", "idn-email", "ipv4", "ipv6", "uuid", "regex",
                                                 "date-time", "time", "uri", "phone", "citizen-id", "data-url")],
]


@pytest.mark.parametrize("schema", _EDGE_SCHEMAS, ids=lambda s: json.dumps(s, ensure_ascii=True)[:60])
def test_data_recognised_as_fitting_by_the_fast_check_is_data_jsonschema_accepts(schema):
    from onestop.formdefs.schema import _validator, fits

    for value in _EDGE_VALUES:
        for data in (value, {"x": value}):
            whole = {"type": "object", "properties": {"x": schema}} if isinstance(data, dict) and "x" in data else schema
            if fits(whole, data):
                assert _validator(whole).is_valid(data), (whole, data)


def test_the_fast_check_recognises_fitting_data_of_plain_forms_and_leaves_the_rest_to_jsonschema():
    from onestop.formdefs.schema import fits

    form = {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string", "minLength": 1, "maxLength": 64}, "d": {"type": "string", "format": "date"},
        "n": {"type": "array", "items": {"type": "string"}}}}
    assert fits(form, {"a": "x", "d": "2026-12-05", "n": ["y"]}) is True
    assert fits(form, {"a": "x", "d": "0000-01-01"}) is None  # a date Python's calendar has not: jsonschema refuses
    assert validate(form, {"a": "x", "d": "0000-01-01"})[0].code == "format"
    assert fits(form, {"d": "2026-12-05"}) is None and validate(form, {"d": "2026-12-05"})[0].code == "required"
    patterned = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^[0-9]+$"}}}
    assert fits(patterned, {"a": "12"}) is None  # RE2 judges patterns here: jsonschema alone
    assert validate(patterned, {"a": "١٢"}) and not validate(patterned, {"a": "12"})
    assert fits(APPLICATION, GOOD) in (True, None) and validate(APPLICATION, GOOD) == []
