"""A draft's BPMN unit tests: a SpiffArena process-model folder imported as a zip runs its test_*.json on upload."""

import io
import json
import zipfile
from pathlib import Path

import pytest

from onestop.models import DraftTestRun
from onestop.services import drafts, onboarding, procedures, testrun, unittests
from onestop.services.errors import Forbidden
from tests.conftest import make_user

FOLDER = Path(__file__).resolve().parents[1] / "models" / "spiffarena_branch"


@pytest.fixture
def admin(app):
    with app.app_context():
        user, _ = make_user("thu.quantri", ("admin",))
        yield user


def _zip(folder=FOLDER, extra=None) -> procedures.Upload:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            if path.name in (extra or {}):
                continue
            archive.writestr(f"choose-branch/{path.name}", path.read_bytes())
        for name, content in (extra or {}).items():
            archive.writestr(f"choose-branch/{name}", content)
    return procedures.Upload("choose-branch.zip", buffer.getvalue())


def test_a_spiffarena_folder_zip_is_imported_and_its_tests_run_on_upload_with_pass_or_fail_per_case(admin):
    review = onboarding.submit(admin, [_zip()])
    assert review.model is not None and "test_choose_branch.json" not in review.model.forms
    report = review.tests
    assert report is not None and report.origin == "upload"
    outcome = {r["case"]: r["passed"] for r in report.results}
    assert outcome == {"takes_branch_a": True, "takes_branch_b": True, "expects_the_wrong_branch": False}
    wrong = next(r for r in report.results if not r["passed"])
    assert wrong["reason"]["kind"] == "output"
    assert wrong["reason"]["differences"] == ["chosen_branch: expected 'B', got 'A'"]
    assert (report.passed, report.failed) == (2, 1)
    assert drafts.state(admin, review.draft_id).file("test_choose_branch.json") is not None  # kept in the draft


def test_the_cases_run_on_upload_count_for_the_drafts_coverage(admin):
    review = onboarding.submit(admin, [_zip()])
    covered = testrun.coverage(review.draft_id, review.model)
    assert covered.never == [] and covered.runs == 3
    assert not [f for f in review.findings if "never" in f.message]


def test_an_unreadable_test_file_or_one_without_its_bpmn_is_reported_and_the_others_still_run(admin):
    review = onboarding.submit(admin, [_zip(extra={"test_elsewhere.json": b'{"c": {}}', "test_broken.json": b"{"})])
    problems = {p["file"]: p["message"] for p in review.tests.problems}
    assert "elsewhere.bpmn" in problems["test_elsewhere.json"]
    assert "test_broken.json" in problems
    assert len(review.tests.results) == 3 and review.tests.failed == 3


def test_a_draft_without_test_files_runs_none_and_an_officer_may_not_run_them(app, admin):
    review = onboarding.submit(admin, [_zip(extra={})])
    files = {f.name: f.content for f in drafts.state(admin, review.draft_id).files}
    assert unittests.run(admin, review.draft_id) is not None
    drafts.save(admin, review.draft_id, {"test_choose_branch.json": None}, 1)
    assert unittests.run(admin, review.draft_id) is None
    officer, _ = make_user("clerk", ("officer",))
    with pytest.raises(Forbidden):
        unittests.run(officer, review.draft_id)
    assert DraftTestRun.select().count() == 2 and "choose_branch.bpmn" in files


def test_a_failing_case_does_not_stop_the_others_and_a_test_file_nested_too_deep_is_refused(admin):
    cases = {"wrong": {"tasks": {"Task_Choose": {"data": [{"branch": "a"}] * 3}}, "expected_output_json": {}},
             "fine": {"tasks": {"Task_Choose": {"data": [{"branch": "b"}]}},
                      "expected_output_json": {"branch": "b", "chosen_branch": "B"}}}
    deep = b'{"c": {"tasks": {"Task_Choose": {"data": [' + b'[' * 5000 + b']' * 5000 + b']}}}}'
    review = onboarding.submit(admin, [_zip(extra={"test_choose_branch.json": json.dumps(cases).encode(),
                                                   "test_deep.json": deep})])
    assert {r["case"]: r["passed"] for r in review.tests.results} == {"wrong": False, "fine": True}
    assert [p["file"] for p in review.tests.problems] == ["test_deep.json"]
