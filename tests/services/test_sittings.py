"""Decided on the spot, on the bundled template of on-the-spot procedures (its own BPMN model run by
the engine, not a side path): the sitting is opened at intake, a leader is asked when the model
reaches the leader's lane, the decision and the result handed over are timed, and the statistics
count the sitting and its minutes."""

import base64
from datetime import date, timedelta

from onestop.models import Notification, Sitting, WorkItem, local_today
from onestop.services import dossiers, sittings, stats
from onestop.services.procedures import catalogue_entry
from tests.conftest import ROOT, clear_of_midnight, make_user

TEMPLATE = ROOT / "platform" / "onestop" / "procedure_templates" / "on_the_spot"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
APPLICATION = {"applicant_full_name": "Lê Văn Tâm", "applicant_citizen_id": "001203009999",
               "applicant_phone": "0912345678", "request_content": "Xác nhận",
               "documents_file": "data:application/pdf;name=don.pdf;base64," + base64.b64encode(PDF).decode()}


def ready(dossier):
    return WorkItem.get(WorkItem.dossier == dossier.id)


def test_the_on_the_spot_template_runs_in_one_timed_sitting_and_the_statistics_count_it(app, admin_api, clock):
    clear_of_midnight(clock, 20)  # the sitting begins 12 minutes before the receipt, the same local day
    assert admin_api.upload(sorted(TEMPLATE.iterdir())).status_code == 201
    with app.app_context():
        officer, _ = make_user("canbo.ngay", ("officer",))
        leader, _ = make_user("lanhdao@ubnd.gov.vn", ("leader",))
        metadata = catalogue_entry(officer, "MAU.ON_THE_SPOT")[1].metadata
        dossier = dossiers.start_dossier(officer, "MAU.ON_THE_SPOT", APPLICATION, channel="counter")
        sitting = sittings.open_sitting(officer, dossier, metadata, dossier.received_at - timedelta(minutes=12))
        assert sitting.started_at == dossier.received_at - timedelta(minutes=12) and sitting.asked_at is None

        dossiers.complete_task(officer, ready(dossier).id, {
            "applicant_full_name": "Lê Văn Tâm", "applicant_citizen_id": "001203009999", "channel": "truc_tiep",
            "documents_complete": True})
        dossiers.complete_task(officer, ready(dossier).id, {"resolve_result": "approve"})
        asked = Sitting.get_by_id(sitting.id)
        assert asked.asked_at is not None and asked.decided_at is None
        assert [p["dossier"] for p in sittings.pending_approvals(leader)] == [dossier.code]
        assert Notification.get(Notification.event == "decision_asked").recipient == "lanhdao@ubnd.gov.vn"

        dossiers.complete_task(leader, ready(dossier).id, {"leader_decision": "sign", "signer_full_name": "Lãnh"})
        decided = Sitting.get_by_id(sitting.id)
        assert decided.decided_by_id == leader.id and decided.returned_at is None
        assert sittings.pending_approvals(leader) == []
        dossiers.complete_task(officer, ready(dossier).id, {"returned_on": local_today().isoformat(),
                                                            "receiver_full_name": "Lê Văn Tâm"})
        done = Sitting.get_by_id(sitting.id)
        assert done.asked_at <= done.decided_at <= done.returned_at
        figures = stats.on_the_spot([dossier.centre_id], date(2000, 1, 1), date(2100, 1, 1))
    assert (figures["sittings"], figures["on_the_spot"]) == (1, 1)
    assert 12 <= figures["average_minutes"] < 30 and figures["decision_minutes"] is not None


def test_a_procedure_not_marked_on_the_spot_opens_no_sitting(app, admin_api):
    with app.app_context():
        officer, _ = make_user("canbo.thuong", ("officer",))
        assert sittings.open_sitting(officer, None, {"decided_on_the_spot": False}, None) is None
