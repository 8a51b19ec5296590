"""Deadlines of dossiers and tasks on the receiving centre's calendar."""

from datetime import date, datetime

import pytest

from onestop.services import deadlines
from onestop.services.deadlines import Plan, plan
from onestop.workdays import Deadline
from tests.conftest import make_user
from tests.process_models import upload_bundled
from tests.process_models.test_birth_registration import APPLICATION, RECEIVED


def test_a_plan_is_read_from_procedure_json():
    found = plan({"deadline": {"working_days": 15, "on_supplement": "restart",
                               "steps": {"Task_Appraise": {"working_hours": 4}}, "not_counted": ["Task_Return"]}})
    assert found == Plan(Deadline(15), "restart", {"Task_Appraise": Deadline(4, "working_hours")},
                         frozenset({"Task_Return"}))
    assert plan({}) is None


@pytest.mark.parametrize("bad", [
    {"deadline": 15}, {"deadline": {"working_days": 1, "working_hours": 2}}, {"deadline": {"working_days": "mười"}},
    {"deadline": {"working_days": 1, "on_supplement": "forget"}}, {"deadline": {"working_days": -3}},
    {"deadline": {"working_days": 1, "steps": {"Task_A": {"days": 2}}}},
])
def test_a_malformed_plan_is_a_problem_at_upload(bad):
    assert deadlines.problems(bad) and deadlines.problems(bad)[0].startswith("procedure.json")


def test_a_dossier_gets_its_promised_date_and_each_task_its_own(sqlite_admin_api, sqlite_app):
    upload_bundled(sqlite_admin_api, "birth_registration")
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": "1.001193", "data": APPLICATION}).json
    with sqlite_app.app_context():
        from onestop.models import Dossier, WorkItem

        row = Dossier.get(Dossier.code == dossier["code"])
        birth = plan(row.version.metadata)
        assert row.due_at == deadlines.dossier_due(row.centre_id, birth, row.received_at)
        [task] = WorkItem.select().where(WorkItem.dossier == row.id)
        assert task.due_at == deadlines.task_due(row.centre_id, birth, "Task_Receive", None, task.created_at,
                                                 row.due_at)
    assert dossier["due_at"] and dossier["tasks"][0]["due_at"]


def test_a_centres_closure_moves_its_deadlines(sqlite_app):
    with sqlite_app.app_context():
        admin, _ = make_user("admin1", ("admin",))
        three_days = Plan(Deadline(3))
        received = datetime(2026, 12, 7, 2, 0)  # Monday 09:00 in Vietnam
        assert deadlines.dossier_due(admin.centre_id, three_days, received) == datetime(2026, 12, 10, 2, 0)
        deadlines.set_day(admin, date(2026, 12, 8), working=False, note="Đại hội")
        assert deadlines.dossier_due(admin.centre_id, three_days, received) == datetime(2026, 12, 11, 2, 0)
        deadlines.set_office_hours(admin, [("08:00", "12:00"), ("13:00", "17:00")], "16:00")
        assert deadlines.dossier_due(admin.centre_id, Plan(Deadline(0)), datetime(2026, 12, 7, 8, 30)) == \
            datetime(2026, 12, 7, 10, 0)  # 15:30 local is before this centre's 16:00 cut-off: closes 17:00 today


def test_office_hours_that_overlap_are_refused(sqlite_app):
    from onestop.services.errors import Invalid

    with sqlite_app.app_context():
        admin, _ = make_user("admin1", ("admin",))
        with pytest.raises(Invalid):
            deadlines.set_office_hours(admin, [("08:00", "12:00"), ("11:00", "17:00")])


def test_the_worklist_puts_overdue_tasks_first_and_counts_them(sqlite_admin_api, sqlite_app):
    from onestop.services.worklist import worklist

    upload_bundled(sqlite_admin_api, "birth_registration")
    codes = [sqlite_admin_api.post("/dossiers", {"procedure": "1.001193", "data": APPLICATION}).json["code"]
             for _ in range(3)]
    with sqlite_app.app_context():
        from onestop.models import Dossier, User, WorkItem

        late = Dossier.get(Dossier.code == codes[2])
        WorkItem.update(due_at=datetime(2020, 1, 1)).where(WorkItem.dossier == late.id).execute()
        page = worklist(User.get(User.username == "admin1"))
        assert page.rows[0].dossier_code == codes[2] and page.rows[0].urgency == "overdue"
        assert page.counts["overdue"] == 1 and page.counts["all"] == 3


def test_a_limit_chosen_by_a_field_of_the_dossier_falls_back_to_the_procedures_own():
    spec = {"deadline": {"calendar_days": 20, "by": {"field": "work_type",
                                                     "cases": {"nha_o_rieng_le": {"calendar_days": 15}}}}}
    plan = deadlines.plan(spec)
    assert plan.total_for({"work_type": "nha_o_rieng_le"}) == Deadline(15, "calendar_days")
    assert plan.total_for({"work_type": "cap_III"}) == plan.total_for({}) == plan.total_for(None) == Deadline(
        20, "calendar_days")


def test_a_limit_chosen_by_a_field_must_name_the_field_and_keep_the_unit():
    assert deadlines.problems({"deadline": {"calendar_days": 20, "by": {"cases": {"x": {"calendar_days": 15}}}}})
    assert deadlines.problems({"deadline": {"calendar_days": 20, "by": {"field": "t", "cases": {}}}})
    mixed = deadlines.problems({"deadline": {"calendar_days": 20,
                                             "by": {"field": "t", "cases": {"x": {"working_days": 15}}}}})
    assert mixed and "calendar_days" in mixed[0]


def test_a_procedures_deadlines_are_read_once_per_record_not_at_every_step(sqlite_admin_api, sqlite_app, monkeypatch):
    from types import SimpleNamespace

    from onestop.services.steps import deadline_plan

    read = []
    real = deadlines.plan
    monkeypatch.setattr(deadlines, "plan", lambda metadata: read.append(metadata) or real(metadata))
    model = SimpleNamespace(metadata={"deadline": {"working_days": 15, "not_counted": ["Task_Return"]}})
    assert deadline_plan(model) is deadline_plan(model) == real(model.metadata) and len(read) == 1
    model.metadata["deadline"] = {"working_days": 3}  # another record's deadlines: read again
    assert deadline_plan(model).total == Deadline(3) and len(read) == 2
    assert deadline_plan(SimpleNamespace(metadata={"deadline": 15})) is None  # malformed (stored before the check)
    assert deadline_plan(SimpleNamespace(metadata={})) is None

    upload_bundled(sqlite_admin_api, "birth_registration")
    read.clear()
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": "1.001193", "data": APPLICATION}).json
    done = sqlite_admin_api.post(f"/tasks/{dossier['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    assert len(read) <= 1  # a submission and a step of the procedure: its record read once at most (5 times before)
    assert dossier["due_at"] and done.json["tasks"][0]["due_at"]
