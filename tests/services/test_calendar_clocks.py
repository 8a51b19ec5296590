"""Day types and clocks against a table written from the legal texts: working days and hours, calendar
days ("ngày"), the 15:00 cut-off to the second, Tết 2026 and the 2026 New Year swap; and a supplement
loop drawn in a model stopping the clock exactly as the platform's supplement action does."""

from datetime import datetime, timedelta

import pytest

from onestop.models import AuditEvent, Centre, Dossier, WorkItem
from onestop.services import deadlines
from onestop.services.deadlines import Plan
from onestop.workdays import Deadline, to_local, to_utc
from tests.process_models import Walk, upload_bundled
from tests.process_models.test_construction_permit_commune import CODE, RECEIVED, SUPPLEMENT_ASKED

D, H, C = (lambda n: Deadline(n)), (lambda n: Deadline(n, "working_hours")), (lambda n: Deadline(n, "calendar_days"))

# (received, limit, due, the rule it shows): local times at a centre with the default hours 07:30-11:30, 13:30-17:00.
TABLE = [
    (datetime(2026, 3, 2, 15, 0, 0), D(0), datetime(2026, 3, 2, 17, 0),
     "NĐ 23/2015 Điều 7: received at 15:00:00 is not 'sau 15 giờ': decided the same day"),
    (datetime(2026, 3, 2, 15, 0, 1), D(0), datetime(2026, 3, 3, 17, 0),
     "NĐ 23/2015 Điều 7: received at 15:00:01 is after 15 giờ: the next working day"),
    (datetime(2025, 12, 31, 10, 0), D(2), datetime(2026, 1, 6, 10, 0),
     "Công văn 12729/VPCP-KGVX: 1 and 2 January 2026 are off"),
    (datetime(2026, 1, 9, 10, 0), D(1), datetime(2026, 1, 10, 10, 0),
     "Công văn 12729/VPCP-KGVX: Saturday 10 January 2026 is worked"),
    (datetime(2026, 2, 13, 10, 0), D(3), datetime(2026, 2, 25, 10, 0),
     "Tết Bính Ngọ: 16-20 February 2026 off (14-22 February with the weekends)"),
    (datetime(2026, 2, 13, 16, 0), H(4), datetime(2026, 2, 23, 11, 30),
     "after the cut-off before Tết: the clock starts Monday 23 February's opening"),
    (datetime(2026, 3, 2, 10, 0), C(15), datetime(2026, 3, 17, 17, 0),
     "1.013225: 15 ngày (calendar days) from Monday 2 March: the first day is not counted, ends Tuesday 17"),
    (datetime(2026, 3, 6, 10, 0), C(15), datetime(2026, 3, 23, 17, 0),
     "15 calendar days ending Saturday 21 March: the next working day's close (BLDS 2015 Điều 148.5)"),
    (datetime(2026, 2, 5, 10, 0), C(10), datetime(2026, 2, 23, 17, 0),
     "10 calendar days ending Sunday 15 February: Tết follows, so Monday 23 February"),
    (datetime(2025, 12, 27, 9, 0), C(5), datetime(2026, 1, 5, 17, 0),
     "received on a Saturday: the clock starts Monday 29 December; 5 days end Saturday 3 January, then Monday 5"),
]


@pytest.mark.parametrize(("received", "limit", "due", "rule"), TABLE, ids=[r[3][:60] for r in TABLE])
def test_a_due_date_follows_the_legal_text(sqlite_app, received, limit, due, rule):
    with sqlite_app.app_context():
        got = deadlines.dossier_due(Centre.default().id, Plan(limit), to_utc(received))
        assert to_local(got) == due, rule


def test_a_calendar_day_limit_is_a_whole_number_of_days():
    assert deadlines.problems({"deadline": {"calendar_days": 1.5}})
    assert deadlines.plan({"deadline": {"calendar_days": 15}}).total == C(15)


def _supplement_offered(api, clock):
    upload_bundled(api, "construction_permit_commune")
    clock.advance((datetime(2027, 3, 1, 2, 0) - clock.now()).total_seconds())  # Monday 09:00 in Vietnam
    walk = Walk(api, CODE, applicant={"full_name": "Phạm Thị Hoa", "citizen_id": "036188007654"})
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", SUPPLEMENT_ASKED)
    assert walk.offered() == {"Task_ReceiveSupplement": "Bộ phận Một cửa"}
    return walk


def test_the_models_supplement_loop_stops_the_clock_as_the_supplement_action_does(admin_api, app, clock):
    walk = _supplement_offered(admin_api, clock)
    assert walk.dossier["status"] == "supplement_requested"
    # the platform's own action sees the same stopped clock: one mechanism, not two
    assert admin_api.post(f"/dossiers/{walk.code}/supplement-request", {"reason": "thêm"}).status_code == 409
    with app.app_context():
        row = Dossier.get(Dossier.code == walk.code)
        assert row.paused_at is not None
        assert WorkItem.get(WorkItem.element_id == "Task_ReceiveSupplement").due_at is None
        asked = AuditEvent.get((AuditEvent.dossier == row.id) & (AuditEvent.action == "dossier.supplement_requested"))
        assert asked.detail["reason"] == SUPPLEMENT_ASKED["supplement_request"]  # what the applicant is told
    clock.advance(timedelta(days=7).total_seconds())  # Monday 8 March 2027: a week waiting on the citizen
    walk.complete("Task_ReceiveSupplement", {"supplement_notice_sent_on": "2026-03-03", "supplement_received": True,
                                             "supplement_received_on": "2026-03-09",
                                             "supplemented_documents": "Bản cam kết"})
    assert walk.dossier["status"] == "processing"
    with app.app_context():
        row = Dossier.get(Dossier.code == walk.code)
        assert row.paused_at is None
        # on_supplement "restart": the full 15 days (calendar days, a house) again from the supplement
        # (NĐ: «kể từ ngày nhận đủ hồ sơ hợp lệ»), not from the first receipt
        plan = deadlines.plan(row.version.metadata)
        assert row.due_at == deadlines.dossier_due(row.centre_id, plan, clock.now(), row.data)
        assert to_local(row.due_at) == datetime(2027, 3, 23, 17, 0)  # 15 calendar days from Monday 8 March
        resumed = AuditEvent.select().where((AuditEvent.dossier == row.id)
                                            & (AuditEvent.action == "dossier.supplement_received")).get()
        assert resumed.detail["policy"] == "restart" and resumed.detail["paused_since"]


def test_a_pause_policy_adds_exactly_the_office_time_waited(sqlite_app):
    with sqlite_app.app_context():
        centre = Centre.default().id
        paused, resumed = to_utc(datetime(2026, 1, 9, 10, 0)), to_utc(datetime(2026, 1, 13, 10, 0))
        due = to_utc(datetime(2026, 1, 14, 10, 0))
        # waited Friday 9 10:00 -> Tuesday 13 10:00: Fri, Sat 10 (worked), Mon = 3 office days
        assert to_local(deadlines.extended_due(centre, due, paused, resumed)) == datetime(2026, 1, 19, 10, 0)
        # a limit in calendar days moves by the 4 calendar days waited
        assert to_local(deadlines.extended_due(centre, due, paused, resumed, "calendar_days")) == \
            datetime(2026, 1, 19, 17, 0)


def test_a_limit_in_calendar_days_is_printed_as_ngay_not_working_days():
    from onestop.services.procedures import _processing_text

    assert _processing_text({"deadline": {"calendar_days": 15}}) == "15 ngày"
    assert _processing_text({"deadline": {"working_days": 15}}) == "15 ngày làm việc"
