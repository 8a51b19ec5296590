"""Practice dossiers: a draft tried in a sandbox, with the real forms and the calendar's due dates,
leaving every real dossier, code, figure, notification and audit event as it was."""

from datetime import datetime

import pytest

from onestop.engine import SourceFile
from onestop.models import (
    AuditEvent,
    AuditHead,
    DayFigure,
    DayStep,
    DayUnit,
    Dossier,
    DossierCounter,
    DraftTestRun,
    HistoryEntry,
    MonthStep,
    Notification,
    PracticeDossier,
    WaitingEvent,
    WorkItem,
)
from onestop.services import dossiers, drafts, onboarding, practice, procedures, testrun, unittests
from onestop.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import make_user
from tests.process_models import bundled_files
from tests.process_models.test_copy_certification import APPLICATION, ATTESTED, RECEIVED, RETURNED, SIGNED
from tests.security.budget_models import waiting_timer

REFUSED = {"original_presented": True, "certifiable": False, "refusal_ground": "dong_dau_mat"}
EXPLAINED = {"refusal_explained": "Văn bản đóng dấu Mật, không được chứng thực bản sao"}
REAL_TABLES = (Dossier, DossierCounter, Notification, AuditEvent, AuditHead, WorkItem, HistoryEntry, WaitingEvent,
               DayFigure, DayUnit, DayStep, MonthStep)


@pytest.fixture
def admin(app):
    with app.app_context():
        user, _ = make_user("thu.quantri", ("admin", "officer", "leader"))
        yield user


def _draft(admin, folder="copy_certification") -> int:
    return drafts.create(admin, [SourceFile(p.name, p.read_bytes()) for p in bundled_files(folder)], "test")


def _walk(admin, row, *steps):
    for element_id, data in steps:
        task = next(t for t in row.ready if t["element_id"] == element_id)
        row = practice.complete(admin, row.id, task["id"], data)
    return row


def _snapshot():
    return {model.__name__: sorted(map(repr, model.select().dicts())) for model in REAL_TABLES}


def _with_a_real_dossier(admin):
    procedures.upload_procedure(admin, [procedures.Upload(p.name, p.read_bytes())
                                        for p in bundled_files("copy_certification")])
    return dossiers.start_dossier(admin, "2.000815", APPLICATION)


def test_both_branches_of_a_bundled_procedure_are_walked_with_due_dates_and_leave_real_dossiers_untouched(admin):
    _with_a_real_dossier(admin)
    draft_id = _draft(admin)
    before = _snapshot()
    certified = practice.start(admin, draft_id, APPLICATION)
    assert [t["element_id"] for t in certified.ready] == ["Task_Receive"]
    assert certified.due_at is not None and certified.ready[0]["due_at"]  # the calendar's: one working hour
    assert datetime.fromisoformat(certified.ready[0]["due_at"]) <= certified.due_at
    certified = _walk(admin, certified, ("Task_Receive", RECEIVED), ("Task_Attest", ATTESTED),
                      ("Task_Sign", SIGNED))
    assert certified.ready[0]["element_id"] == "Task_Return" and certified.ready[0]["due_at"] is None  # not counted
    certified = _walk(admin, certified, ("Task_Return", RETURNED))
    assert certified.state == "completed"
    assert practice.end_event(certified, practice.model_of(certified)) == "End_Certified"
    refused = _walk(admin, practice.start(admin, draft_id, APPLICATION), ("Task_Receive", REFUSED),
                    ("Task_NotifyRefusal", EXPLAINED))
    assert refused.state == "completed" and "End_Refused" in refused.reached
    assert _snapshot() == before
    assert Dossier.select().count() == 1 and PracticeDossier.select().count() == 2


def test_the_draft_is_reported_untried_then_its_unexercised_paths_then_nothing(admin):
    draft_id = _draft(admin)
    warned = [f for f in onboarding.review(admin, draft_id).findings if "never" in f.message]
    assert [(f.level, f.element_id) for f in warned] == [("warning", None)]
    _walk(admin, practice.start(admin, draft_id, APPLICATION), ("Task_Receive", REFUSED), ("Task_NotifyRefusal", EXPLAINED))
    review = onboarding.review(admin, draft_id)
    never = {f.element_id for f in review.findings if "never" in f.message}
    assert never == {"Task_Attest", "Task_Sign", "Task_Return", "End_Certified"}
    assert all(f.level == "warning" for f in review.findings if "never" in f.message) and review.publishable
    _walk(admin, practice.start(admin, draft_id, APPLICATION), ("Task_Receive", RECEIVED), ("Task_Attest", ATTESTED),
          ("Task_Sign", SIGNED), ("Task_Return", RETURNED))
    assert not [f for f in onboarding.review(admin, draft_id).findings if "never" in f.message]
    assert testrun.coverage(draft_id, review.model).percent == 100


def test_a_finished_practice_becomes_a_test_case_that_passes_when_the_draft_tests_run(admin):
    draft_id = _draft(admin)
    done = _walk(admin, practice.start(admin, draft_id, APPLICATION), ("Task_Receive", REFUSED),
                 ("Task_NotifyRefusal", EXPLAINED))
    revision = unittests.add_case(admin, draft_id, done.id, "từ chối chứng thực", 1)
    state = drafts.state(admin, draft_id)
    assert revision == 2 and state.file("test_copy_certification.json") is not None
    report = unittests.run(admin, draft_id)
    assert [(r["case"], r["passed"]) for r in report.results] == [("từ chối chứng thực", True)]
    assert report.results[0]["end_event"] == "End_Refused"
    assert DraftTestRun.select().count() == 1
    with pytest.raises(Invalid):  # the same name twice
        unittests.add_case(admin, draft_id, done.id, "từ chối chứng thực", 2)
    with pytest.raises(Conflict):  # a stale revision: someone saved meanwhile
        unittests.add_case(admin, draft_id, done.id, "lần hai", 1)


def test_data_that_does_not_fit_the_form_is_refused_by_field_and_nothing_moves(admin):
    draft_id = _draft(admin)
    row = practice.start(admin, draft_id, APPLICATION)
    with pytest.raises(Invalid) as refused:
        practice.complete(admin, row.id, row.ready[0]["id"], {"original_presented": True, "certifiable": False})
    assert {e.field for e in refused.value.field_errors} == {"refusal_ground"}
    assert PracticeDossier.get_by_id(row.id).serial == row.serial
    with pytest.raises(Invalid):
        practice.start(admin, draft_id, {"requester_full_name": 12})


def test_a_wait_on_a_timer_is_skipped_by_moving_the_practice_clock_not_the_real_one(admin):
    draft_id = drafts.create(admin, [SourceFile("wait.bpmn", waiting_timer("timeDuration", "P3D"))], "test")
    row = practice.start(admin, draft_id)
    assert row.state == "active" and [w["type"] for w in row.waiting] == ["timer"]
    row = practice.skip_wait(admin, row.id)
    assert row.state == "completed" and row.clock_shift >= 3 * 86400
    with pytest.raises(Conflict):
        practice.skip_wait(admin, row.id)


def test_an_abandoned_practice_takes_no_step_and_still_counts_what_it_reached(admin):
    draft_id = _draft(admin)
    row = practice.start(admin, draft_id, APPLICATION)
    practice.abandon(admin, row.id)
    with pytest.raises(Conflict):
        practice.complete(admin, row.id, row.ready[0]["id"], RECEIVED)
    model = onboarding.review(admin, draft_id).model
    assert "Task_Receive" in testrun.coverage(draft_id, model).reached


def test_another_centres_practice_is_not_found_and_an_officer_may_not_practise(app, admin):
    from onestop.models import Centre

    row = practice.start(admin, _draft(admin), APPLICATION)
    other = Centre.create(code="xa-khac", name="Xã Khác", level="commune")
    stranger, _ = make_user("stranger", ("admin",), centre=other)
    officer, _ = make_user("clerk", ("officer",))
    with pytest.raises(NotFound):
        practice.get(stranger, row.id)
    with pytest.raises(Forbidden):
        practice.complete(officer, row.id, row.ready[0]["id"], RECEIVED)
