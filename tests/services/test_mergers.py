"""Mergers hand over: on the merge's date the successor takes the merged centre's open dossiers and
tasks (audited, the applicant told, tracking links still working), while the statistics stay with
the centre that received them."""

from dataclasses import asdict
from datetime import timedelta

import pytest

from onestop.models import AuditEvent, Centre, Dossier, Notification, WorkItem, local_today
from onestop.services import dossiers, mergers, procedures, stats, worklist
from onestop.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import MODELS, make_user

DONE = {"applicant_name": "Nguyễn Văn A", "documents_complete": True}


def _commune_with_dossiers(system):
    """W07090 with the review procedure, an officer, one dossier finished and one open (its
    applicant has an e-mail address), and an officer at W07093."""
    from onestop.services import centres

    centres.import_units(system, [22])
    old = Centre.get(Centre.code == "W07090")
    officer, _ = make_user("canbo.cu", ("officer", "leader", "admin"), centre=old)
    procedures.upload_procedure(officer, [procedures.Upload(p.name, p.read_bytes())
                                          for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")])
    finished = dossiers.start_dossier(officer, "review")
    for data in (DONE, {"approved": True}):
        [task] = WorkItem.select().where(WorkItem.dossier == finished.id)
        dossiers.complete_task(officer, task.id, data)
    assert Dossier.get_by_id(finished.id).state == "completed"
    open_one = dossiers.start_dossier(officer, "review", applicant={"name": "Trần Thị B", "email": "b@example.vn"})
    [task] = WorkItem.select().where(WorkItem.dossier == open_one.id)
    dossiers.claim_task(officer, task.id)
    successor_officer, token = make_user("canbo.moi", ("officer", "leader"), centre=Centre.get(Centre.code == "W07093"))
    successor_officer.token = token
    return old, officer, finished, open_one, successor_officer


def test_on_the_merge_date_the_successor_takes_over_open_dossiers_and_tasks_and_the_figures_stay(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        old, officer, finished, open_one, successor_officer = _commune_with_dossiers(system)
        key = open_one.lookup_key
        [merger] = mergers.merge_centres(system, "W07090", "W07093", local_today())
        assert merger.handed_over == 1
        successor = Centre.get(Centre.code == "W07093")
        moved = Dossier.get_by_id(open_one.id)
        assert (moved.centre_id, moved.received_by_id, moved.code) == (successor.id, old.id, open_one.code)
        assert Dossier.get_by_id(finished.id).centre_id == old.id  # a finished dossier stays where it is
        [task] = WorkItem.select().where(WorkItem.dossier == open_one.id)
        assert task.centre_id == successor.id and task.claimed_by_id is None
        assert [r.id for r in worklist.worklist(successor_officer).rows] == [task.id]
        with pytest.raises(NotFound):
            dossiers.get_dossier(officer, open_one.code)
        shown = app.test_client().get(f"/api/v1/tasks/{task.id}",
                                      headers={"Authorization": f"Bearer {successor_officer.token}"})
        assert shown.status_code == 200 and shown.json["dossier"] == open_one.code
        described = app.test_client().get(f"/api/v1/dossiers/{open_one.code}",
                                          headers={"Authorization": f"Bearer {successor_officer.token}"}).json
        assert (described["centre"], described["received_by"]) == ("W07093", "W07090")
        dossiers.complete_task(successor_officer, task.id, DONE)  # the successor's officers carry on
        [task] = WorkItem.select().where(WorkItem.dossier == open_one.id)
        dossiers.complete_task(successor_officer, task.id, {"approved": True})

        handed = AuditEvent.get(AuditEvent.action == "dossier.handed_over")
        assert handed.dossier_id == open_one.id and handed.detail == {
            "from": "W07090", "to": "W07093", "merged_on": local_today().isoformat()}
        told = Notification.get(Notification.event == "handed_over")
        assert told.recipient == "b@example.vn" and open_one.code in told.body and successor.name in told.body
        assert mergers.hand_over(system, "W07090") == 0  # never twice

        today = local_today()
        kept = stats.figures([old.id], today, today + timedelta(days=1))
        assert kept.received == 2 and kept.resolved == 2  # resolved by the successor, counted where received
        assert stats.figures([successor.id], today, today + timedelta(days=1)).resolved == 0
        assert asdict(kept) == asdict(stats.figures_from_rows([old.id], today, today + timedelta(days=1)))
        stats.rebuild()
        assert asdict(stats.figures([old.id], today, today + timedelta(days=1))) == asdict(kept)
    tracked = app.test_client().get(f"/track/{open_one.code}?k={key}", headers={"Accept-Language": "en"})
    assert tracked.status_code == 200 and open_one.code in tracked.get_data(as_text=True)


def test_a_merge_dated_later_is_handed_over_by_the_scheduled_run_on_its_date(sqlite_app, clock):
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        old, officer, _finished, open_one, _ = _commune_with_dossiers(system)
        tomorrow = local_today() + timedelta(days=1)
        [merger] = mergers.merge_centres(system, ["W07090"], "W07093", tomorrow)
        assert merger.handed_over is None
        assert mergers.hand_over_due() == 0 and Dossier.get_by_id(open_one.id).centre_id == old.id
        dossiers.start_dossier(officer, "review")  # still open for intake today
        clock.advance(24 * 3600)
        assert mergers.due() == ["W07090"]
        assert mergers.hand_over_due() == 2
        assert Dossier.select().where((Dossier.centre == old.id) & Dossier.state.in_(mergers.OPEN_STATES)).count() == 0
        assert Centre.get(Centre.code == "W07090").handed_over_at is not None and mergers.due() == []
        with pytest.raises(Conflict, match="merged on .* \\(W07093\\)"):
            dossiers.start_dossier(officer, "review")
        assert [m["merged"] for m in mergers.mergers(system)] == ["W07090"]


def test_a_bad_merge_is_refused_with_a_clear_message_and_changes_nothing(sqlite_app):
    from onestop.services import centres

    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22, 1])
        today = local_today()
        with pytest.raises(Invalid, match="into itself"):
            mergers.merge_centres(system, "W07090", "W07090", today)
        other = next(c.code for c in Centre.under(Centre.get(Centre.code == "P01").id))
        with pytest.raises(Invalid, match="different provinces"):
            mergers.merge_centres(system, "W07090", other, today)
        with pytest.raises(Invalid, match="in the past"):
            mergers.merge_centres(system, "W07090", "W07093", today - timedelta(days=1))
        with pytest.raises(NotFound):
            mergers.merge_centres(system, "W99999", "W07093", today)
        commune_admin, _ = make_user("xa.admin", ("admin",), centre=Centre.get(Centre.code == "W07093"))
        with pytest.raises(Forbidden):
            mergers.merge_centres(commune_admin, "W07090", "W07093", today)
        province_admin, _ = make_user("tinh.admin", ("province_admin",), centre=Centre.get(Centre.code == "P01"))
        with pytest.raises(NotFound):  # Quảng Ninh's communes are outside their province
            mergers.merge_centres(province_admin, "W07090", "W07093", today)
        assert Centre.select().where(Centre.closed_on.is_null(False)).count() == 0
        mergers.merge_centres(system, "W07090", "W07093", today + timedelta(days=3))
        with pytest.raises(Conflict, match="already merged"):
            mergers.merge_centres(system, "W07090", "W07081", today + timedelta(days=3))
        with pytest.raises(Invalid, match="itself merged"):
            mergers.merge_centres(system, "W07081", "W07090", today + timedelta(days=3))
