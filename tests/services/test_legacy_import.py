"""Dossiers still open in an old system, imported on the switch-over day (services.legacy): each at
its named step with its legacy code and dates, all or nothing, once, and counted in the statistics
from the switch-over."""

import io
from datetime import datetime, timedelta

import openpyxl
import pytest

from onestop.models import AuditEvent, Dossier, HistoryEntry, Unit, WorkItem, local_today
from onestop.services import audit, dossiers, legacy, stats, worklist
from onestop.services.errors import Invalid
from onestop.workdays import to_local
from tests.conftest import MODELS, make_user

HEADER_VI = "Mã hồ sơ,Mã thủ tục,Họ và tên,Số CCCD,Số điện thoại,Địa chỉ,Ngày tiếp nhận,Ngày hẹn trả,Bước hiện tại,Đơn vị"
HEADER_EN = "code,procedure,applicant,id number,phone,address,received,due,current step,unit"


def _day(days_from_today: int, at="09:00") -> str:
    return f"{(local_today() + timedelta(days=days_from_today)):%d/%m/%Y} {at}"


def _csv(*rows, header=HEADER_VI) -> bytes:
    return ("\n".join([header, *(",".join(r) for r in rows)]) + "\n").encode("utf-8")


def _row(code, step="Phê duyệt", received=-20, due=5, procedure="review", unit=""):
    return (code, procedure, "Nguyễn Văn An", "001204012345", "0912345678", "\"Số 1, Hạ Long\"", _day(received),
            _day(due, "17:00"), step, unit)


@pytest.fixture
def centre_with_review(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        admin, _ = make_user("quantri.legacy", ("admin",))
        officer, _ = make_user("canbo.legacy", ("officer",))
    return app, admin, officer


def test_a_good_file_puts_every_dossier_at_its_step_where_its_officers_find_and_continue_it(centre_with_review):
    app, admin, officer = centre_with_review
    with app.app_context():
        Unit.create(centre=admin.centre_id, code="LD", name="Lãnh đạo UBND")
        content = _csv(_row("H15.50.05.13-261101-0001", unit="LD"),
                       _row("H15.50.05.13-261102-0002", step="Task_Receive"),
                       _row("HS/2026/77", step="tiếp nhận hồ sơ"))  # a name in another case; a code of its own
        report = legacy.import_file(admin, "open.csv", content, switch_over=local_today())
        assert report.imported == ["H15.50.05.13-261101-0001", "H15.50.05.13-261102-0002", "HS/2026/77"]
        assert report.flagged == [(4, "HS/2026/77")]  # kept as given, flagged
        first = Dossier.get(Dossier.code == "H15.50.05.13-261101-0001")
        assert first.switch_over_at is not None and first.channel == "legacy" and first.status == "processing"
        assert to_local(first.received_at) == datetime.combine(local_today() - timedelta(days=20),
                                                               datetime.min.time()).replace(hour=9)
        assert to_local(first.due_at).date() == local_today() + timedelta(days=5)
        assert first.applicant == {"name": "Nguyễn Văn An", "citizen_id": "001204012345", "phone": "0912345678",
                                   "address": "Số 1, Hạ Long"}
        assert first.data["applicant_full_name"] == "Nguyễn Văn An" and first.data["legacy_code"] == first.code
        at = {d.code: [w.element_id for w in WorkItem.select().where(WorkItem.dossier == d.id)]
              for d in Dossier.select()}
        assert at == {"H15.50.05.13-261101-0001": ["Task_Approve"], "H15.50.05.13-261102-0002": ["Task_Receive"],
                      "HS/2026/77": ["Task_Receive"]}
        assert WorkItem.get(WorkItem.element_id == "Task_Approve").unit_id == Unit.get(Unit.code == "LD").id
        assert Dossier.get(Dossier.code == "HS/2026/77").status == "received"  # nothing done yet
        assert HistoryEntry.select().count() == 0  # the steps before were done in the old system
        received_day = local_today() - timedelta(days=20)  # in the centre's ledger on the day it was received
        assert [row[0] for row in worklist.ledger(admin, received_day, received_day)] == [
            "H15.50.05.13-261101-0001", "H15.50.05.13-261102-0002", "HS/2026/77"]
        assert worklist.ledger(admin, local_today(), local_today()) == []
        events = list(AuditEvent.select().where(AuditEvent.action == "dossier.imported").order_by(AuditEvent.id))
        assert len(events) == 3 and events[2].detail["code_fits"] is False and events[0].detail["line"] == 2

        officer.unit_id = None
        items, _ = dossiers.work_items(officer)
        assert {(i.element_id, i.dossier.code) for i in items} == {
            ("Task_Receive", "H15.50.05.13-261102-0002"), ("Task_Receive", "HS/2026/77")}  # the other is LD's
        leader, _ = make_user("lanhdao.legacy", ("officer",))
        leader.unit_id = Unit.get(Unit.code == "LD").id
        approve = [i for i in dossiers.work_items(leader)[0] if i.element_id == "Task_Approve"][0]
        done = dossiers.complete_task(leader, approve.id, {"approved": True})
        assert done.state == "completed" and done.status == "resolved"
        receive = [i for i in items if i.dossier.code == "HS/2026/77"][0]
        moved = dossiers.complete_task(officer, receive.id, {"applicant_name": "Nguyễn Văn An", "documents_complete": True})
        assert [w.element_id for w in WorkItem.select().where(WorkItem.dossier == moved.id)] == ["Task_Approve"]
        assert audit.verify().broken is None  # the import's events and the steps' after them: one unbroken chain


def test_a_file_with_bad_lines_imports_nothing_and_names_each_line(centre_with_review):
    app, admin, _ = centre_with_review
    with app.app_context():
        content = _csv(_row("OK-1"),
                       _row("BAD-PROC", procedure="no-such"),
                       _row("BAD-STEP", step="Ký số"),
                       _row("BAD-DATE").__class__(("BAD-DATE", "review", "An", "", "", "", "31/02/2026", _day(3),
                                                   "Phê duyệt", "")),
                       _row("EARLY-DUE", received=-3, due=-10),
                       _row("OK-1"),
                       ("NO-NAME", "review", "", "", "", "", _day(-2), _day(3), "Phê duyệt", ""),
                       _row("BAD-UNIT", unit="KHONG-CO"),
                       header=HEADER_EN)
        with pytest.raises(Invalid) as refused:
            legacy.import_file(admin, "open.csv", content)
        problems = [(d["row"], d["kind"]) for d in refused.value.details]
        assert problems == [(3, "unknown_procedure"), (4, "unknown_step"), (5, "bad_date"),
                            (6, "due_before_received"), (7, "duplicate_code"), (8, "missing_value"),
                            (9, "unknown_unit")]
        said = {d["row"]: (d["message"], d["message_vi"]) for d in refused.value.details}
        assert said[4] == ("the procedure review has no step Ký số", "thủ tục review không có bước Ký số")
        assert said[7][0] == "the code OK-1 is already the code of line 2"
        assert Dossier.select().count() == 0 and WorkItem.select().count() == 0
        assert AuditEvent.select().where(AuditEvent.action == "dossier.imported").count() == 0


def test_an_xlsx_file_with_date_cells_imports_and_a_step_that_is_no_persons_task_is_refused(centre_with_review):
    app, admin, _ = centre_with_review
    with app.app_context():
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(HEADER_VI.split(","))
        received = datetime.combine(local_today() - timedelta(days=2), datetime.min.time()).replace(hour=14, minute=5)
        due = datetime.combine(local_today() + timedelta(days=2), datetime.min.time())  # a date cell: midnight
        sheet.append(["X-1", "review", "An", 1204012345.0 * 100, None, None, received, due, "Phê duyệt", None])
        sheet.append(["X-2", "review", "Bình", None, None, None, received, due, "End_Approved", None])
        buffer = io.BytesIO()
        book.save(buffer)
        with pytest.raises(Invalid) as refused:  # an end event is no person's task: no step of the procedure
            legacy.import_file(admin, "cu.xlsx", buffer.getvalue())
        assert [(d["row"], d["kind"]) for d in refused.value.details] == [(3, "unknown_step")]
        assert Dossier.select().count() == 0
        sheet.delete_rows(3)
        buffer = io.BytesIO()
        book.save(buffer)
        assert legacy.import_file(admin, "cu.xlsx", buffer.getvalue()).imported == ["X-1"]
        dossier = Dossier.get(Dossier.code == "X-1")
        assert to_local(dossier.received_at) == received
        assert to_local(dossier.due_at) == due.replace(hour=17)  # a date alone: the end of that working day
        assert dossier.applicant["citizen_id"] == "120401234500"  # a number the spreadsheet kept as a float


def test_importing_the_same_file_again_imports_nothing_twice(centre_with_review):
    app, admin, _ = centre_with_review
    with app.app_context():
        content = _csv(_row("H15.50.05.13-261101-0001"), _row("H15.50.05.13-261101-0002"))
        assert len(legacy.import_file(admin, "a.csv", content).imported) == 2
        again = legacy.import_file(admin, "a.csv", content)
        assert again.imported == [] and again.skipped == ["H15.50.05.13-261101-0001", "H15.50.05.13-261101-0002"]
        assert Dossier.select().count() == 2 and WorkItem.select().count() == 2
        dry = legacy.import_file(admin, "b.csv", _csv(_row("NEW-1")), dry_run=True)
        assert dry.imported == ["NEW-1"] and Dossier.select().count() == 2


def test_a_code_onestop_gave_a_dossier_of_its_own_is_not_taken_over(centre_with_review):
    app, admin, officer = centre_with_review
    with app.app_context():
        own = dossiers.start_dossier(officer, "review", {"applicant_name": "Trần Thị Bình"})
        with pytest.raises(Invalid) as refused:
            legacy.import_file(admin, "a.csv", _csv(_row(own.code)))
        assert [(d["row"], d["kind"]) for d in refused.value.details] == [(2, "code_taken")]


def test_imported_dossiers_count_from_the_switch_over_and_finish_on_time_or_late_by_their_legacy_due_date(
        centre_with_review):
    app, admin, officer = centre_with_review
    with app.app_context():
        switch_over = local_today() - timedelta(days=3)
        content = _csv(_row("OLD-ON-TIME", received=-20, due=5), _row("OLD-LATE", received=-20, due=-1),
                       _row("SINCE", received=-1, due=4), _row("OPEN", received=-15, due=-5))
        legacy.import_file(admin, "a.csv", content, switch_over=switch_over)
        for item in dossiers.work_items(officer)[0]:
            if item.dossier.code != "OPEN":
                dossiers.complete_task(officer, item.id, {"approved": True})
        centre = [admin.centre_id]
        after = (switch_over, local_today() + timedelta(days=1))
        before = (local_today() - timedelta(days=30), switch_over)
        kept = stats.figures(centre, *after)
        assert kept.received == 1  # only the one received in the old system since the switch-over
        assert (kept.resolved, kept.on_time, kept.late) == (3, 2, 1)
        assert kept.as_dict() == stats.figures_from_rows(centre, *after).as_dict()
        assert stats.figures(centre, *before).received == stats.figures_from_rows(centre, *before).received == 0
        report = stats.periodic_report(centre, *after)["total"]
        # three open in the old system at the switch-over, one received since, three resolved, one open
        assert (report["carried_over"], report["received_other"], report["resolved"], report["pending"]) == (3, 1, 3, 1)
        assert report["pending_overdue"] == 1
        stats.rebuild()
        assert stats.figures(centre, *after).as_dict() == kept.as_dict()
