"""Catalogue import (services.catalogue): the 18 real procedures of ../shared/reference imported as
generated drafts that compile, lint without errors and pass their own generated tests; a record
imported again updates its draft; a bad file is reported row by row and nothing of it is kept."""

import io
import json
from pathlib import Path

import pytest

from onestop.models import CatalogueImport, Draft, ProcedureVersion
from onestop.services import catalogue, deadlines, drafts, onboarding, testrun
from onestop.services.catalogue import allowances, generate, pattern, records
from onestop.services.errors import Forbidden, Invalid
from tests.conftest import make_user

# The 18 real records of ../shared/reference/procedures.json, copied as they are.
REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference_procedures.json"


def reference_bytes() -> bytes:
    return REFERENCE.read_bytes()


@pytest.fixture
def admin(sqlite_app):
    with sqlite_app.app_context():
        user, _ = make_user("thu.quantri", ("admin",))
        yield user


@pytest.fixture
def admin_both(app):
    with app.app_context():
        user, _ = make_user("thu.quantri", ("admin",))
        yield user


def _records(**changes) -> list:
    base = json.loads(reference_bytes())[:3]
    for index, change in changes.items():
        base[int(index.removeprefix("r"))].update(change)
    return base


def test_the_18_real_records_import_as_drafts_that_compile_lint_clean_and_pass_their_tests(admin_both):
    batch = catalogue.import_file(admin_both, "procedures.json", reference_bytes())
    assert len(batch.entries) == 18 and {e["outcome"] for e in batch.entries} == {"created"}
    for entry in batch.entries:
        assert entry["errors"] == 0, (entry["code"], entry["first_error"])
        assert entry["failed"] == 0 and entry["passed"] >= 3, entry["code"]
        review = onboarding.review(admin_both, entry["draft"])
        assert review.model is not None and review.code == entry["code"] and review.publishable
        assert testrun.coverage(entry["draft"], review.model).never == [], entry["code"]  # every path tried
    patterns = {e["code"]: e["pattern"] for e in batch.entries}
    assert patterns["2.000815"] == "on_the_spot" and patterns["1.013831"] == "financial_obligation"
    assert patterns["1.013225"] == "other_agency_opinion" and patterns["1.001193"] == "appraise_sign_return"
    assert patterns["P09"] == "appraise_sign_return"  # no national code: imported under its id, said so


def test_a_generated_draft_has_the_records_lanes_documents_and_allowances_adding_up_to_the_limit(admin):
    batch = catalogue.import_file(admin, "procedures.json", reference_bytes(), run_tests=False)
    entry = next(e for e in batch.entries if e["code"] == "2.000806")
    state = drafts.state(admin, entry["draft"])
    meta = json.loads(state.file("procedure.json").content)
    assert meta["lanes"] == {"Cán bộ tiếp nhận - Trung tâm PVHCC": "officer", "Công chức tư pháp - hộ tịch": "officer",
                             "Lãnh đạo UBND cấp xã": "leader"}
    plan = deadlines.plan(meta)
    assert plan.total.amount == 5 and plan.total.unit == "working_days"
    assert sum(d.amount / 8 if d.unit == "working_hours" else d.amount for d in plan.steps.values()) == 5
    assert b'name="C\xc3\xa1n b\xe1\xbb\x99 ti\xe1\xba\xbfp nh\xe1\xba\xadn - Trung t\xc3\xa2m PVHCC"' in \
        state.file("appraise_sign_return.bpmn").content
    form = json.loads(state.file("application-schema.json").content)
    uploads = [k for k in form["properties"] if k.startswith("document_")]
    assert len(uploads) == 9 and "applicant_date_of_birth" in form["required"]  # the shared identity block
    assert "document_03_file" in form["required"] and "document_05_file" not in form["required"]  # "Công dân ... là công chức: ..."
    assert meta["fee_vnd"] and meta["legal_basis"][0].startswith("Luật Hộ tịch")


def test_calendar_days_are_written_as_such_when_this_onestop_counts_them_and_add_up():
    record, _ = records.check_row(1, json.loads(reference_bytes())[6])  # 3.000333: "10 Ngày"
    assert record.unit == "calendar_days"
    made = generate.generate(record, calendar_days=True)
    meta = json.loads(next(f for f in made.files if f.name == "procedure.json").content)
    assert meta["deadline"]["calendar_days"] == 10
    assert sum(v["calendar_days"] for v in meta["deadline"]["steps"].values()) == 10
    if generate.calendar_days_counted():
        assert deadlines.plan(meta).total.unit == "calendar_days"
    fallback = generate.generate(record, calendar_days=False)
    meta = json.loads(next(f for f in fallback.files if f.name == "procedure.json").content)
    assert meta["deadline"]["working_days"] == 10 and any("calendar days" in n for n in fallback.notes)


def test_allowances_share_the_limit_exactly_and_give_every_step_its_share_while_they_can():
    steps = {"Task_Receive": {"working_hours": 4}, "Task_Appraise": {"working_days": 3}, "Task_Sign": {"working_days": 1}}
    for days in (1, 2, 3, 5, 8, 12, 25, 0.5):
        shares = allowances.allowances(steps, days, "working_days")
        assert sum(v.get("working_days", 0) * 8 + v.get("working_hours", 0) for v in shares.values()) == days * 8
    assert allowances.allowances(steps, 2, "calendar_days") == {"Task_Appraise": {"calendar_days": 1},
                                                               "Task_Sign": {"calendar_days": 1}}


def test_the_day_type_is_read_from_the_head_of_the_sources_unit():
    assert records.day_type('ngày (nguồn ghi "Ngày", không ghi "ngày làm việc")', 10) == "calendar_days"
    assert records.day_type("ngày làm việc (không tính thời gian cơ quan thuế)", 8) == "working_days"
    assert records.day_type("ngay trong ngày (0 = trả trong ngày; sau 15 giờ thì ngày làm việc tiếp theo)", 0) \
        == "working_days"
    assert records.day_type('không rõ - bản crawl chỉ ghi "1"', 1) == "unstated"
    assert records.day_type("tháng", 1) is None


def test_the_units_of_the_steps_are_sorted_into_lanes():
    assert pattern.kind_of("Cán bộ tiếp nhận - Trung tâm PVHCC") == "desk"
    assert pattern.kind_of("Người yêu cầu") == "applicant"
    assert pattern.kind_of("Cơ quan thuế") == "tax"
    assert pattern.kind_of("Lãnh đạo UBND cấp xã") == "leader"
    assert pattern.kind_of("Công chức tư pháp - hộ tịch") == "specialist"


def test_importing_again_updates_the_draft_as_a_new_revision_and_never_a_published_version(admin):
    content = json.dumps(_records()).encode()
    first = catalogue.import_file(admin, "a.json", content, run_tests=False)
    again = catalogue.import_file(admin, "a.json", content, run_tests=False)
    assert [e["outcome"] for e in again.entries] == ["unchanged"] * 3
    changed = json.dumps(_records(r1={"processing_days": 4})).encode()
    third = catalogue.import_file(admin, "a.json", changed, run_tests=False)
    outcomes = {e["code"]: (e["outcome"], e["draft"], e["revision"]) for e in third.entries}
    marriage = next(e for e in first.entries if e["code"] == "1.000894")
    assert outcomes["1.000894"] == ("updated", marriage["draft"], 2)
    meta = json.loads(drafts.state(admin, marriage["draft"]).file("procedure.json").content)
    assert meta["deadline"]["working_days"] == 4
    version = onboarding.publish(admin, marriage["draft"])
    fourth = catalogue.import_file(admin, "a.json", json.dumps(_records(r1={"processing_days": 6})).encode(),
                                   run_tests=False)
    entry = next(e for e in fourth.entries if e["code"] == "1.000894")
    assert entry["outcome"] == "created" and entry["draft"] != marriage["draft"]  # a new draft beside it
    assert ProcedureVersion.get_by_id(version.id).version == version.version
    assert Draft.get_by_id(marriage["draft"]).published_version == version.version


@pytest.mark.parametrize("change, kind, column", [
    ({"r1": {"processing_unit": "tháng"}}, "unknown_unit", "processing_unit"),
    ({"r1": {"processing_days": -3}}, "impossible_time", "processing_days"),
    ({"r1": {"processing_days": "mười"}}, "impossible_time", "processing_days"),
    ({"r1": {"processing_days": 2.5, "processing_unit": "ngày"}}, "impossible_time", "processing_days"),
    ({"r1": {"code": "1.001193"}}, "duplicate_code", "code"),
    ({"r1": {"level": "thôn"}}, "unknown_level", "level"),
])
def test_a_bad_row_is_reported_with_its_row_and_nothing_of_the_file_is_imported(admin, change, kind, column):
    with pytest.raises(Invalid) as refused:
        catalogue.import_file(admin, "bad.json", json.dumps(_records(**change)).encode())
    assert [(d["row"], d["kind"], d["column"]) for d in refused.value.details] == [(2, kind, column)]
    assert Draft.select().count() == 0 and CatalogueImport.select().count() == 0


def test_missing_columns_are_reported_for_each_row_that_lacks_them(admin):
    rows = _records()
    del rows[0]["steps"], rows[2]["processing_unit"]
    with pytest.raises(Invalid) as refused:
        catalogue.import_file(admin, "bad.json", json.dumps(rows).encode())
    assert [(d["row"], d["kind"], d["column"]) for d in refused.value.details] == [
        (1, "missing_column", "steps"), (3, "missing_column", "processing_unit")]
    assert Draft.select().count() == 0


def test_an_xlsx_catalogue_imports_like_the_json_one_and_a_missing_column_is_named_on_its_header(admin):
    import xlsxwriter

    def workbook(columns) -> bytes:
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = book.add_worksheet("procedures")
        sheet.write_row(0, 0, columns)
        for row, record in enumerate(json.loads(reference_bytes())[:2], 1):
            sheet.write_row(row, 0, [_cell(record, c) for c in columns])
        book.close()
        return buffer.getvalue()

    columns = ["Mã thủ tục", "Tên thủ tục", "level", "agency", "processing_days", "processing_unit", "documents",
               "steps", "fee_vnd", "result"]
    batch = catalogue.import_file(admin, "catalogue.xlsx", workbook(columns), run_tests=False)
    assert [e["code"] for e in batch.entries] == ["1.001193", "1.000894"]
    assert all(e["errors"] == 0 for e in batch.entries)
    with pytest.raises(Invalid) as refused:
        catalogue.import_file(admin, "catalogue.xlsx", workbook([c for c in columns if c != "steps"]))
    assert [(d["row"], d["kind"], d["column"]) for d in refused.value.details] == [(1, "missing_column", "steps")]


def _cell(record, column):
    key = {"Mã thủ tục": "code", "Tên thủ tục": "name_vi"}.get(column, column)
    value = record.get(key)
    if key == "steps":
        return "\n".join(f"{s['actor']}: {s['vi']}" for s in value)
    return "\n".join(value) if isinstance(value, list) else value


def test_an_unreadable_file_is_one_problem_and_only_an_administrator_imports(admin, sqlite_app):
    import zipfile

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"\0" * (101 * 1024 * 1024))
    for name, content in (("x.xlsx", b"not a workbook"), ("x.json", b"{not json"), ("x.json", b'{"a": 1}'),
                          ("bomb.xlsx", bomb.getvalue()), ("x.json", b"[]")):
        with pytest.raises(Invalid) as refused:
            catalogue.import_file(admin, name, content)
        [problem] = refused.value.details
        assert problem["kind"] == "unreadable" and problem["row"] == 0, name
        assert "Traceback" not in problem["message"] and "Error" not in problem["message"]
    assert "unpacks to 101 MB" in catalogue.read("bomb.xlsx", bomb.getvalue())[1][0].message
    officer, _ = make_user("can.bo", ("officer",))
    with pytest.raises(Forbidden):
        catalogue.import_file(officer, "a.json", json.dumps(_records()).encode())


def test_the_drafts_of_an_import_are_filtered_by_problems_and_published_in_bulk(admin):
    rows = _records()
    rows[2]["fee_vnd"] = None  # a placeholder to write: a warning, not an error
    batch = catalogue.import_file(admin, "a.json", json.dumps(rows).encode())
    _, warned = catalogue.entries_of(admin, batch.id, "warnings")
    assert [e["code"] for e in warned] == ["1.004873"]
    _, clean = catalogue.entries_of(admin, batch.id, "clean")
    assert len(clean) == 2
    done = catalogue.publish_many(admin, [e["draft"] for e in clean])
    assert [v for _, v, refusal in done if refusal is None] == [1, 1]
    _, published = catalogue.entries_of(admin, batch.id, "published")
    assert {e["code"] for e in published} == {e["code"] for e in clean}
    from onestop.services import dossiers
    from onestop.services.catalogue import startform

    documents = json.loads(reference_bytes())[1]["documents"]
    dossier = dossiers.start_dossier(admin, "1.000894", startform.sample(documents))  # a real dossier starts
    assert dossier.due_at is not None and dossier.code


def test_a_record_of_both_levels_lists_them_where_procedure_json_takes_a_list(monkeypatch):
    record, _ = records.check_row(18, json.loads(reference_bytes())[17])  # "commune + province (liên thông)"
    assert record.levels == ["commune", "province"]
    monkeypatch.setattr(generate, "levels_listed", lambda: False)  # an onestop whose level is one word
    made = generate.generate(record, calendar_days=False)
    meta = json.loads(next(f for f in made.files if f.name == "procedure.json").content)
    assert made.pattern == "other_agency_opinion"
    assert meta["level"] == "commune" and meta["levels"] == ["commune", "province"]
    monkeypatch.setattr(generate, "levels_listed", lambda: True)
    meta = json.loads(next(f for f in generate.generate(record, False).files if f.name == "procedure.json").content)
    assert meta["level"] == ["commune", "province"]
    monkeypatch.undo()
    if generate.levels_listed():  # this onestop's: the levels reach the catalogue (services.levels)
        from onestop.services.levels import levels_of

        assert levels_of(meta) == ("province", "commune")
