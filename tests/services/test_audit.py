"""The audit trail is a hash chain per centre: altering, removing or slipping in a stored event is
found, and the first broken link named, by `onestop audit verify`."""

import subprocess
import sys
from pathlib import Path

from onestop import sql
from onestop.models import AuditEvent, AuditHead
from onestop.services import audit
from tests.conftest import MODELS

ONESTOP = Path(sys.executable).parent / "onestop"


def _some_events(api):
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    for _ in range(3):
        assert api.post("/dossiers", {"procedure": "review"}).status_code == 201


def test_every_event_is_linked_to_the_one_before_and_the_chain_verifies(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        events = list(AuditEvent.select().where(AuditEvent.chain == 1).order_by(AuditEvent.seq))
        assert [e.seq for e in events] == list(range(1, len(events) + 1)) and len(events) >= 5
        assert len({e.hash for e in events}) == len(events)
        head = AuditHead.get(AuditHead.chain == 1)
        assert (head.seq, head.hash) == (events[-1].seq, events[-1].hash)
        result = audit.verify()
        assert result.broken is None and result.events == AuditEvent.select().count()


def test_an_altered_event_is_named(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        victim = AuditEvent.select().where(AuditEvent.action == "dossier.started").order_by(AuditEvent.id).first()
        sql.run('UPDATE "auditevent" SET "detail" = ? WHERE "id" = ?', ('{"procedure":"other"}', victim.id))
        broken = audit.verify().broken
        assert broken.event_id == victim.id and "altered" in broken.why


def test_a_removed_event_and_a_removed_last_event_are_found(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        events = list(AuditEvent.select().where(AuditEvent.chain == 1).order_by(AuditEvent.seq))
        sql.run('DELETE FROM "auditevent" WHERE "id" = ?', (events[-1].id,))
        broken = audit.verify().broken
        assert broken.seq == events[-1].seq and "removed" in broken.why
        sql.run('DELETE FROM "auditevent" WHERE "id" = ?', (events[2].id,))
        broken = audit.verify().broken
        assert broken.seq == 3 and "missing" in broken.why


def test_an_event_slipped_in_with_a_made_up_hash_breaks_the_chain(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        last = AuditEvent.select().where(AuditEvent.chain == 1).order_by(AuditEvent.seq.desc()).first()
        AuditEvent.create(centre=1, action="dossier.forged", chain=1, seq=last.seq + 1, hash="f" * 64)
        assert audit.verify().broken.seq == last.seq + 1


def test_the_verify_command_exits_0_when_intact_and_1_naming_the_broken_link(tmp_path):
    import os
    import sqlite3

    env = dict(os.environ, ONESTOP_HOME=str(tmp_path))
    run = lambda *a: subprocess.run([str(ONESTOP), *a], env=env, capture_output=True, text=True, timeout=60)  # noqa: E731
    assert run("user", "create", "canbo1", "--role", "officer").returncode == 0
    assert run("centres", "import", "--province", "22").returncode == 0
    intact = run("audit", "verify")
    assert intact.returncode == 0 and "audit trail intact: 3 events in 1 chain" in intact.stdout
    with sqlite3.connect(tmp_path / "onestop.db") as db:
        db.execute("""update auditevent set action = 'user.deleted' where action = 'user.created'""")
    broken = run("audit", "verify")
    assert broken.returncode == 1 and "altered" in broken.stderr and "number 1 of chain" in broken.stderr
