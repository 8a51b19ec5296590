"""Tampering with the audit trail straight in the database, as someone with the database's password
but not the audit key would: each kind of tampering issue 14 lists is found by `audit.verify`
(the service `onestop audit verify` and the back office's button call), on SQLite and PostgreSQL."""

import json

from onestop import sql
from onestop.models import AuditEvent, AuditHead, Centre, Dossier, HistoryEntry
from onestop.services import audit
from tests.conftest import MODELS, make_user


def _walk_some_dossiers(api):
    """Three dossiers: one done to the end, one a step in, one just started (events and history)."""
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    tasks = []
    for _ in range(3):
        started = api.post("/dossiers", {"procedure": "review"})
        assert started.status_code == 201
        tasks.append(started.json["tasks"][0]["id"])
    done = api.post(f"/tasks/{tasks[0]}/complete", {"data": {"applicant_name": "Trần An", "documents_complete": True}})
    assert done.status_code == 200, done.json
    assert api.post(f"/tasks/{done.json['tasks'][0]['id']}/complete", {"data": {"approved": True}}).status_code == 200
    assert api.post(f"/tasks/{tasks[1]}/complete",
                    {"data": {"applicant_name": "Lê Bình", "documents_complete": True}}).status_code == 200


def _chain(number=1):
    return list(AuditEvent.select().where(AuditEvent.chain == number).order_by(AuditEvent.seq))


ATTACKER_KEY = "a guess at the audit key: the attacker has the database, not the key"


def _relink_without_the_key(app, previous, event, detail_text=None):
    """The link an attacker computes with the application's own code but a key of their own."""
    settings = app.config["ONESTOP"]
    keyed = hasattr(settings, "bind_audit")  # before issue 14 the chain had no key at all
    if keyed:
        audit.bind(ATTACKER_KEY)
    try:
        return audit.link(previous, event.chain, event.seq, event.centre_id, event.dossier_id, event.actor_id,
                          event.action, event.element_id,
                          detail_text if detail_text is not None else sql.to_json(event.detail), event.at)
    finally:
        if keyed:
            settings.bind_audit()


def _set_head(chain, seq, digest):
    sql.run('UPDATE "audithead" SET "seq" = ?, "hash" = ? WHERE "chain" = ?', (seq, digest, chain))


def _verify_with_checkpoints():
    return audit.verify(checkpoints=[audit.checkpoint_file()])


def test_an_intact_trail_verifies_with_its_history_bound_and_its_checkpoints_matched(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        assert audit.checkpoint() >= 1
        result = _verify_with_checkpoints()
        assert result.broken is None
        assert result.history == HistoryEntry.select().count() > 0
        assert result.checkpoints >= 1 and result.events == AuditEvent.select().count()


def test_removing_the_last_events_and_rolling_the_head_back_is_found_by_the_checkpoint(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        audit.checkpoint()
        events = _chain()
        keep = events[-3]
        HistoryEntry.delete().where(HistoryEntry.id.in_(
            [int(i) for e in events[-2:] if e.history for i in e.history.split(",")])).execute()
        AuditEvent.delete().where(AuditEvent.id.in_([e.id for e in events[-2:]])).execute()
        _set_head(1, keep.seq, keep.hash)
        # Without the checkpoint the shorter chain is a valid chain: that is what checkpoints are for.
        assert audit.verify().broken is None
        broken = _verify_with_checkpoints().broken
        assert broken is not None and broken.chain == 1 and "removed" in broken.why
        assert f"saw number {events[-1].seq}" in broken.why


def test_altering_an_event_and_re_hashing_the_rest_without_the_key_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        events = _chain()
        victim = events[1]
        previous = events[0].hash
        for event in events[1:]:
            forged = '{"task":"forged"}' if event.id == victim.id else None
            digest = _relink_without_the_key(app, previous, event, forged)
            sql.run('UPDATE "auditevent" SET "hash" = ?, "detail" = ? WHERE "id" = ?',
                    (digest, forged or sql.to_json(event.detail), event.id))
            previous = digest
        _set_head(1, events[-1].seq, previous)
        broken = audit.verify().broken
        assert (broken.chain, broken.seq, broken.event_id) == (1, victim.seq, victim.id) and "altered" in broken.why


def test_an_event_inserted_in_the_middle_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        events = _chain()
        middle = events[2].seq
        for event in reversed(events[2:]):  # make room: every later event moves up one
            sql.run('UPDATE "auditevent" SET "seq" = "seq" + 1 WHERE "id" = ?', (event.id,))
        forged = AuditEvent.create(centre=1, action="dossier.forged", chain=1, seq=middle, at=events[2].at,
                                   hash="0" * 64)
        forged.hash = _relink_without_the_key(app, events[1].hash, forged)
        forged.save()
        _set_head(1, events[-1].seq + 1, events[-1].hash)
        broken = audit.verify().broken
        assert (broken.seq, broken.event_id) == (middle, forged.id) and "altered" in broken.why


def test_a_forged_event_appended_with_the_head_moved_along_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        last = _chain()[-1]
        forged = AuditEvent.create(centre=1, action="dossier.forged", chain=1, seq=last.seq + 1, at=last.at,
                                   hash="0" * 64)
        forged.hash = _relink_without_the_key(app, last.hash, forged)
        forged.save()
        _set_head(1, forged.seq, forged.hash)
        broken = audit.verify().broken
        assert (broken.seq, broken.event_id) == (forged.seq, forged.id) and "altered" in broken.why


def test_two_events_swapped_in_order_are_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        events = _chain()
        first, second = events[1], events[2]
        sql.run('UPDATE "auditevent" SET "seq" = -1 WHERE "id" = ?', (first.id,))
        sql.run('UPDATE "auditevent" SET "seq" = ? WHERE "id" = ?', (first.seq, second.id))
        sql.run('UPDATE "auditevent" SET "seq" = ? WHERE "id" = ?', (second.seq, first.id))
        broken = audit.verify().broken
        assert (broken.seq, broken.event_id) == (first.seq, second.id) and "altered" in broken.why


def test_a_centre_whose_whole_chain_was_deleted_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        AuditEvent.delete().where(AuditEvent.chain == 1).execute()
        AuditHead.delete().where(AuditHead.chain == 1).execute()
        broken = audit.verify().broken
        assert broken.chain == 1 and "missing" in broken.why and "dossiers but no chain" in broken.why


def test_a_checkpointed_chain_that_disappeared_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        # A centre with an officer but no dossier yet: only the checkpoint remembers its chain.
        quiet = Centre.create(code="xa-b", name="Xã B", level="commune")
        make_user("canbo-b", centre=quiet)
        assert _chain(quiet.id)
        audit.checkpoint()
        AuditEvent.delete().where(AuditEvent.chain == quiet.id).execute()
        AuditHead.delete().where(AuditHead.chain == quiet.id).execute()
        assert audit.verify().broken is None
        broken = _verify_with_checkpoints().broken
        assert broken.chain == quiet.id and "missing" in broken.why and "no such chain" in broken.why


def test_a_dossier_whose_only_events_were_cut_off_the_end_is_found_even_without_checkpoints(app, admin_api):
    _walk_some_dossiers(admin_api)
    code = admin_api.post("/dossiers", {"procedure": "review"}).json["code"]
    with app.app_context():
        events = _chain()
        latest = Dossier.get(Dossier.code == code).id
        assert events[-1].dossier_id == latest and events[-2].dossier_id != latest
        HistoryEntry.delete().where(HistoryEntry.dossier == latest).execute()
        AuditEvent.delete().where(AuditEvent.id == events[-1].id).execute()
        _set_head(1, events[-2].seq, events[-2].hash)
        broken = audit.verify().broken
        assert broken is not None and f"dossier {code} has no event in the trail" in broken.why


def test_a_row_with_no_chain_is_found_not_skipped(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        forged = AuditEvent.create(centre=1, action="dossier.forged", chain=None, seq=None, hash=None)
        broken = audit.verify().broken
        assert broken.event_id == forged.id and "outside the chain" in broken.why
        forged.delete_instance()
        assert audit.verify().broken is None
        victim = _chain()[-1]
        sql.run('UPDATE "auditevent" SET "chain" = NULL WHERE "id" = ?', (victim.id,))
        broken = audit.verify().broken
        assert broken.event_id == victim.id and "outside the chain" in broken.why


def test_a_history_row_altered_removed_or_slipped_in_is_found(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        step = next(e for e in _chain() if e.action == "task.completed" and e.history)
        row = HistoryEntry.get_by_id(int(step.history.split(",")[0]))
        sql.run('UPDATE "historyentry" SET "actor_id" = NULL WHERE "id" = ?', (row.id,))
        broken = audit.verify().broken
        assert broken.event_id == step.id and "altered" in broken.why
        sql.run('UPDATE "historyentry" SET "actor_id" = ? WHERE "id" = ?', (row.actor_id, row.id))
        assert audit.verify().broken is None

        sql.run('DELETE FROM "historyentry" WHERE "id" = ?', (row.id,))
        broken = audit.verify().broken
        assert broken.event_id == step.id and f"history row {row.id}" in broken.why and "gone" in broken.why
        HistoryEntry.insert(id=row.id, dossier=row.dossier_id, task_id=row.task_id, element_id=row.element_id,
                            name=row.name, state=row.state, at=row.at, actor=row.actor_id, lane=row.lane,
                            started_at=row.started_at, due_at=row.due_at).execute()
        assert audit.verify().broken is None

        forged = HistoryEntry.create(dossier=row.dossier_id, task_id="forged", element_id="Task_Approve",
                                     state="completed", actor=row.actor_id)
        broken = audit.verify().broken
        assert f"history row {forged.id}" in broken.why and "bound to no event" in broken.why


def test_a_forged_checkpoint_line_is_refused(app, admin_api):
    _walk_some_dossiers(admin_api)
    with app.app_context():
        audit.checkpoint()
        path = audit.checkpoint_file()
        line = json.loads(path.read_text().splitlines()[-1])
        line["seq"] += 5  # claim the chain was longer, to make an intact trail look cut
        with open(path, "a") as fh:
            fh.write(json.dumps(line) + "\n")
        broken = _verify_with_checkpoints().broken
        assert broken is not None and "not signed with this key" in broken.why


def test_the_back_office_check_names_the_tampering_and_reads_the_checkpoint_file(sqlite_app, sqlite_admin_api):
    from tests.admin.test_back_office import _signed_in
    from tests.web.pages import csrf

    _walk_some_dossiers(sqlite_admin_api)
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    with sqlite_app.app_context():
        audit.checkpoint()
        events = _chain()
        AuditEvent.delete().where(AuditEvent.id == events[-1].id).execute()
        _set_head(1, events[-2].seq, events[-2].hash)
    page = admin.get("/admin/audit/")
    assert admin.post("/admin/audit/verify", data={"csrf_token": csrf(page)}).status_code == 302
    shown = admin.get("/admin/audit/").get_data(as_text=True)
    assert "Nhật ký bị sửa hoặc xóa" in shown and f"saw number {events[-1].seq}" in shown
