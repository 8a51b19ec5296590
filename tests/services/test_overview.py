"""The back office's landing figures: each counts what its list shows, within the administrator's scope."""

import json
from datetime import timedelta

from onestop.models import Centre, Dossier, Notification, utcnow
from onestop.services import centres, overview, procedures
from tests.conftest import MODELS, make_user, script_model


def _review_with_deadline(api):
    meta = {"code": "review", "name": "Xét duyệt", "lanes": {}, "deadline": {"working_days": 5}}
    reply = api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json",
                        ("procedure.json", json.dumps(meta, ensure_ascii=False).encode())])
    assert reply.status_code == 201, reply.json


def test_incidents_overdue_late_timers_and_unsent_messages_are_counted_as_their_lists_show(app, admin_api):
    _review_with_deadline(admin_api)
    assert admin_api.upload([script_model("fee = 100 / divisor")]).status_code == 201
    assert admin_api.upload([MODELS / "timer.bpmn"]).status_code == 201
    on_time = [admin_api.post("/dossiers", {"procedure": "review"}).json["code"] for _ in range(2)]
    failed = admin_api.post("/dossiers", {"procedure": "scripted", "data": {"divisor": 0}}).json["code"]
    waiting = admin_api.post("/dossiers", {"procedure": "reminder"}).json["code"]
    with app.app_context():
        admin = make_user("quantri", ("admin",))[0]
        now = utcnow()
        today = overview.overview(admin, now)
        assert today.dossiers == {"incidents": 1, "overdue": 0, "active": 3, "late_timers": 0, "unsent": 0}
        assert [d.code for d in overview.dossiers(admin, "incidents", now)] == [failed]

        later = now + timedelta(days=30)  # past every due date, and the timer never fired
        month_on = overview.overview(admin, later)
        assert month_on.dossiers["overdue"] == 2 and month_on.dossiers["late_timers"] == 1
        assert sorted(d.code for d in overview.dossiers(admin, "overdue", later)) == sorted(on_time)
        assert [d.code for d in overview.dossiers(admin, "late_timers", later)] == [waiting]

        dossier = Dossier.get(Dossier.code == on_time[0])
        Notification.create(centre=dossier.centre_id, dossier=dossier, event="received", channel="sms",
                            recipient="0912345678", body="…", status="failed", attempts=5)
        Notification.create(centre=dossier.centre_id, dossier=dossier, event="resolved", channel="email",
                            recipient="an@example.vn", body="…", next_attempt_at=now - timedelta(hours=1))
        Notification.create(centre=dossier.centre_id, dossier=dossier, event="resolved", channel="email",
                            recipient="an@example.vn", body="…", next_attempt_at=now)  # just queued: fine
        unsent = overview.overview(admin, now)
        assert (unsent.notifications_failed, unsent.notifications_waiting, unsent.dossiers["unsent"]) == (1, 1, 1)


def test_a_province_administrator_sees_its_communes_adoption_and_nothing_of_other_centres(app, admin_api):
    _review_with_deadline(admin_api)  # the default centre's: outside the province
    admin_api.post("/dossiers", {"procedure": "review"})
    with app.app_context():
        system = make_user("system", ("system_admin",))[0]
        centres.import_units(system, [22])
        province = make_user("tinh", ("province_admin", "admin"), centre=Centre.get(Centre.code == "P22"))[0]
        commune = make_user("xa", ("admin",), centre=Centre.get(Centre.code == "W07090"))[0]
        before = overview.overview(province, utcnow())
        assert (before.communes, before.communes_adopting, before.dossiers["active"]) == (54, 0, 0)

        procedures.upload_procedure(commune, [procedures.Upload(p.name, p.read_bytes()) for p in
                                              (MODELS / "review.bpmn", MODELS / "receive-schema.json")])
        after = overview.overview(province, utcnow())
        assert (after.communes, after.communes_adopting, after.procedures) == (54, 1, 1)
        without = [c.code for c in overview.centre_list(province, "without_procedures")]
        assert len(without) == 53 and "W07090" not in without

        own = overview.overview(commune, utcnow())
        assert (own.centres, own.communes, own.communes_adopting, own.procedures) == (1, 1, 1, 1)
        assert overview.overview(system, utcnow()).dossiers["active"] == 1
