"""A centre's lookup tables: uploaded as JSON or CSV by an administrator, read by the data stores of
the centre's models (and written by them), scoped to the centre, on SQLite and PostgreSQL."""

import pytest

from onestop.models import Centre, Dossier, LookupTable
from onestop.services import dossiers, lifecycle, lookup_tables
from onestop.services.errors import Forbidden, Invalid, NotFound
from tests.conftest import MODELS, make_user

FEES_CSV = b"kind,fee_vnd,code\nnew,100000,001\nrenewal,50000.5,002\n"
FEES_JSON = b'{"new": {"fee_vnd": 100000}, "renewal": {"fee_vnd": 50000}}'


@pytest.fixture
def admin(app):
    with app.app_context():
        user, _ = make_user("quantri", ("admin",))
        yield user


def test_a_csv_table_becomes_rows_with_numbers_and_codes_keeping_their_leading_zero(admin):
    lookup_tables.put(admin, "fees", "Biểu phí.csv", FEES_CSV)
    assert lookup_tables.get(admin, "fees").value == [{"kind": "new", "fee_vnd": 100000, "code": "001"},
                                                      {"kind": "renewal", "fee_vnd": 50000.5, "code": "002"}]
    assert [(t["name"], t["rows"], t["source"]) for t in lookup_tables.tables(admin)] == [("fees", 2, "Biểu phí.csv")]


def test_uploading_again_replaces_the_table(admin):
    lookup_tables.put(admin, "fees", "fees.csv", FEES_CSV)
    lookup_tables.put(admin, "fees", "fees.json", FEES_JSON)
    assert lookup_tables.get(admin, "fees").value["renewal"] == {"fee_vnd": 50000}
    assert LookupTable.select().count() == 1


@pytest.mark.parametrize(("name", "filename", "content", "words"), [
    ("fees", "fees.xlsx", b"PK", ".json or .csv"),
    ("fees", "fees.csv", "kind\nmới".encode("utf-16"), "UTF-8"),
    ("fees", "fees.csv", b"kind,fee\nnew,1,2\n", "more cells"),
    ("fees", "fees.json", b'{"a": ', "cannot be read"),
    ("fees", "fees.json", b" " * (lookup_tables.MAX_BYTES + 1), "larger than"),
    ("2fees", "fees.json", FEES_JSON, "letters, digits and _"),
    ("fees; drop", "fees.json", FEES_JSON, "letters, digits and _"),
])
def test_a_file_that_is_no_table_is_refused_saying_why(admin, name, filename, content, words):
    with pytest.raises(Invalid) as refused:
        lookup_tables.put(admin, name, filename, content)
    assert words in refused.value.message
    assert LookupTable.select().count() == 0


def test_only_an_administrator_manages_the_tables(app, admin):
    with app.app_context():
        officer, _ = make_user("canbo", ("officer",))
    with pytest.raises(Forbidden):
        lookup_tables.put(officer, "fees", "fees.json", FEES_JSON)
    with pytest.raises(Forbidden):
        lookup_tables.tables(officer)


def _publish(admin_api):
    reply = admin_api.upload([MODELS / "datastores" / "fee_lookup.bpmn"])
    assert reply.status_code == 201, reply.json


def test_a_dossier_reads_its_centres_table_and_keeps_what_it_wrote(app, admin_api, admin):
    _publish(admin_api)
    lookup_tables.put(admin, "fees", "fees.json", FEES_JSON)
    lookup_tables.put(admin, "issued", "issued.json", b'{"count": 7}')
    dossier = dossiers.start_dossier(admin, "fee_lookup", {"kind": "renewal"})
    assert dossier.state == "active" and dossier.data["fee_vnd"] == 50000
    assert "fees" not in dossier.data
    written = lookup_tables.get(admin, "issued")
    assert written.value == {"count": 8} and written.source == f"dossier {dossier.code}"
    dossiers.start_dossier(admin, "fee_lookup", {"kind": "new"})
    assert lookup_tables.get(admin, "issued").value == {"count": 9}


def test_another_centres_table_of_the_same_name_is_never_read(app, admin_api, admin):
    _publish(admin_api)
    with app.app_context():
        elsewhere, _ = make_user("quantri2", ("admin",), centre=Centre.create(code="x", name="Xã X", level="commune"))
    lookup_tables.put(elsewhere, "fees", "fees.json", FEES_JSON)
    lookup_tables.put(elsewhere, "issued", "issued.json", b'{"count": 0}')
    with pytest.raises(NotFound):
        lookup_tables.get(admin, "fees")
    dossier = dossiers.start_dossier(admin, "fee_lookup", {"kind": "new"})
    assert dossier.state == "error" and "'fees'" in Dossier.get_by_id(dossier.id).error_message
    assert lookup_tables.get(elsewhere, "issued").value == {"count": 0}


def test_a_dossier_held_up_by_a_missing_table_runs_on_once_it_is_uploaded_and_retried(app, admin_api, admin):
    _publish(admin_api)
    lookup_tables.put(admin, "issued", "issued.json", b'{"count": 0}')
    dossier = dossiers.start_dossier(admin, "fee_lookup", {"kind": "new"})
    assert dossier.state == "error"
    lookup_tables.put(admin, "fees", "fees.json", FEES_JSON)
    retried = lifecycle.recover(admin, dossier.code, "retry")
    assert retried.state == "active" and retried.data["fee_vnd"] == 100000
    assert lookup_tables.get(admin, "issued").value == {"count": 1}


def test_a_practice_dossier_of_a_draft_reads_the_centres_tables_and_never_writes_them(admin):
    from onestop.engine import SourceFile
    from onestop.services import drafts, practice

    lookup_tables.put(admin, "fees", "fees.json", FEES_JSON)
    lookup_tables.put(admin, "issued", "issued.json", b'{"count": 3}')
    draft_id = drafts.create(admin, [SourceFile("fee_lookup.bpmn", (MODELS / "datastores" / "fee_lookup.bpmn")
                                                .read_bytes())], "test")
    row = practice.start(admin, draft_id, {"kind": "renewal"})
    assert row.state == "active" and row.data["fee_vnd"] == 50000
    assert lookup_tables.get(admin, "issued").value == {"count": 3}
