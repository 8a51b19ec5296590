"""Audit events appended many at once (services.audit_bulk) are linked like the others."""

from onestop import sql
from onestop.db import run_write
from onestop.models import AuditEvent, Dossier, User
from onestop.services import audit, audit_bulk
from tests.conftest import MODELS


def _some_events(api):
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    for _ in range(3):
        assert api.post("/dossiers", {"procedure": "review"}).status_code == 201


def test_events_appended_many_at_once_are_linked_in_order_like_the_others_and_altering_one_is_named(
        app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        actor, ids = User.get(User.username == "admin1"), [d.id for d in Dossier.select().order_by(Dossier.id)]
        run_write(lambda: audit_bulk.record_many("dossier.imported", actor, actor.centre_id,
                                                 [(i, "Task_Receive", {"line": n}) for n, i in enumerate(ids, 2)]))
        assert admin_api.post("/dossiers", {"procedure": "review"}).status_code == 201  # one by one again after
        events = list(AuditEvent.select().where(AuditEvent.chain == actor.centre_id).order_by(AuditEvent.seq))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.detail["line"] for e in events if e.action == "dossier.imported"] == [2, 3, 4]
        assert audit.verify().broken is None
        middle = [e for e in events if e.action == "dossier.imported"][1]
        sql.run('UPDATE "auditevent" SET "element_id" = ? WHERE "id" = ?', ("Task_Approve", middle.id))
        assert audit.verify().broken.event_id == middle.id
