"""The audit trail is a keyed chain per centre binding the step history, with signed checkpoints
outside the database: altering, removing or slipping in a stored event is found, and the first
broken link named, by `onestop audit verify`. (Each kind of tampering: tests/security/test_trail.py.)"""

import dataclasses

import pytest

from onestop import sql
from onestop.models import AuditEvent, AuditHead
from onestop.services import audit, runtime
from tests.conftest import MODELS
from tests.support.commands import Commands


def _under_key(key):
    """A block acting as another process would: a runtime of its own holding `key` (and knowing nothing
    of what this one appended), on the same database. This app's runtime is untouched."""
    return runtime.active(dataclasses.replace(runtime.current(), audit_keys=audit.Keys(key, audit.checkpoint_file())))


@pytest.fixture(scope="module")
def commands():
    """The `onestop` commands of this module, each a process of its own forked from one warm process
    (tests/support/commands.py: Python and the CLI's libraries started once, ~0.4 -> ~0.1 s of CPU a
    command); tests/test_cli.py starts the real `onestop` script from nothing."""
    warm = Commands()
    yield warm
    warm.close()


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


def test_the_verify_command_exits_0_when_intact_and_1_naming_the_broken_link(tmp_path, commands):
    import sqlite3

    run = _cli(tmp_path, commands)
    assert run("user", "create", "canbo1", "--role", "officer").returncode == 0
    assert run("centres", "import", "--province", "22").returncode == 0
    intact = run("audit", "verify")
    assert intact.returncode == 0 and "audit trail intact: 3 events in 1 chain" in intact.stdout
    assert "no checkpoint file" in intact.stdout
    with sqlite3.connect(tmp_path / "onestop.db") as db:
        db.execute("""update auditevent set action = 'user.deleted' where action = 'user.created'""")
    broken = run("audit", "verify")
    assert broken.returncode == 1 and "altered" in broken.stderr and "number 1 of chain" in broken.stderr


def _cli(tmp_path, commands):
    """`onestop ARGS...` with ONESTOP_HOME=tmp_path: its exit status, stdout and stderr."""
    import os

    env = dict(os.environ, ONESTOP_HOME=str(tmp_path))
    return lambda *a: commands.run(*a, env=env, timeout=60)


def test_the_key_is_made_once_under_home_readable_by_its_owner_only(tmp_path, monkeypatch):
    from onestop.config import load_settings

    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    first = load_settings(home=tmp_path)
    assert (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert load_settings(home=tmp_path).audit_key == first.audit_key != first.secret_key
    assert len(first.audit_key) >= 32 and list(tmp_path.glob(".audit_key*")) == []


def test_processes_starting_together_all_take_the_one_key_that_was_written(tmp_path, monkeypatch):
    import threading

    from onestop.config import load_settings

    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    barrier, keys = threading.Barrier(8), []

    def start():
        barrier.wait()
        keys.append(load_settings(home=tmp_path, secret_key="s").audit_key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(keys) == 8 and set(keys) == {(tmp_path / "audit_key").read_text()}


def test_the_checkpoint_file_and_its_period_are_settings(tmp_path, monkeypatch):
    from onestop.config import load_settings

    monkeypatch.setenv("ONESTOP_AUDIT_CHECKPOINTS", str(tmp_path / "elsewhere" / "trail.log"))
    monkeypatch.setenv("ONESTOP_AUDIT_CHECKPOINT_SECONDS", "60")
    settings = load_settings(home=tmp_path / "home")
    assert settings.audit_checkpoints == tmp_path / "elsewhere" / "trail.log"
    assert settings.audit_checkpoint_seconds == 60
    monkeypatch.delenv("ONESTOP_AUDIT_CHECKPOINTS")
    assert load_settings(home=tmp_path / "home").audit_checkpoints == tmp_path / "home" / "audit-checkpoints"


def test_a_key_from_the_environment_is_taken_and_a_short_one_refused(tmp_path, monkeypatch):
    import pytest

    from onestop.config import load_settings

    monkeypatch.setenv("ONESTOP_AUDIT_KEY", "k" * 40)
    assert load_settings(home=tmp_path).audit_key == "k" * 40 and not (tmp_path / "audit_key").exists()
    monkeypatch.setenv("ONESTOP_AUDIT_KEY", "short")
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_settings(home=tmp_path)


def test_each_step_event_binds_exactly_the_history_rows_its_step_wrote(app, admin_api):
    from onestop.models import HistoryEntry

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    task = admin_api.post("/dossiers", {"procedure": "review"}).json["tasks"][0]
    with app.app_context():
        before = {h.id for h in HistoryEntry.select()}
    assert admin_api.post(f"/tasks/{task['id']}/complete",
                          {"data": {"applicant_name": "Trần An", "documents_complete": True}}).status_code == 200
    with app.app_context():
        written = sorted(h.id for h in HistoryEntry.select() if h.id not in before)
        step = AuditEvent.get(AuditEvent.action == "task.completed")
        assert written and [int(i) for i in step.history.split(",")] == written
        started = AuditEvent.get(AuditEvent.action == "dossier.started")
        assert sorted(int(i) for i in started.history.split(",")) == sorted(before)
        assert audit.verify().history == len(before) + len(written)


def test_a_trail_written_under_one_key_does_not_verify_under_another(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        with _under_key("another key, not the one the trail was written with"):
            broken = audit.verify().broken
            assert broken.seq == 1 and "altered" in broken.why
        assert audit.verify().broken is None


def test_checkpoints_are_appended_for_the_chains_that_moved_only_and_signed(app, admin_api):
    import json

    _some_events(admin_api)
    with app.app_context():
        path = audit.checkpoint_file()
        chains = {h.chain: h for h in AuditHead.select().where(AuditHead.seq > 0)}
        assert audit.checkpoint() == len(chains)
        assert path.stat().st_mode & 0o777 == 0o600
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert {(line["chain"], line["seq"], line["hash"]) for line in lines} == {
            (c, h.seq, h.hash) for c, h in chains.items()}
        assert {line["key"] for line in lines} == {audit.key_id()} and all(len(line["mac"]) == 64 for line in lines)
        assert audit.checkpoint() == 0  # nothing moved
        with _under_key(app.config["ONESTOP"].audit_key):  # another process: it learns from the file what was written
            assert audit.checkpoint() == 0
            admin_api.post("/dossiers", {"procedure": "review"})
            assert audit.checkpoint() == 1
        assert audit.verify(checkpoints=[path]).checkpoints == len(chains)  # the latest of each chain vouches for all


def test_a_checkpoint_signed_with_another_key_is_named(app, admin_api):
    _some_events(admin_api)
    with app.app_context():
        path = audit.checkpoint_file()
        with _under_key("the key of another installation, 40 chars"):
            audit.checkpoint(path)
        broken = audit.verify(checkpoints=[path]).broken
        assert "line 1 is signed with another key" in broken.why
        missing = audit.verify(checkpoints=[path.with_name("nowhere")]).broken
        assert "does not exist" in missing.why


def test_the_timer_worker_appends_checkpoints_periodically(sqlite_app, sqlite_admin_api):
    import time

    from onestop import timers

    _some_events(sqlite_admin_api)
    with sqlite_app.app_context():
        path = audit.checkpoint_file()
    stop = timers.start_thread(0.02, checkpoint_seconds=0.05)
    try:
        deadline = time.monotonic() + 10
        while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    with sqlite_app.app_context():
        assert audit.verify(checkpoints=[path]).checkpoints >= 1


def test_the_commands_checkpoint_then_find_a_cut_tail_with_the_head_rolled_back(tmp_path, commands):
    import sqlite3

    run = _cli(tmp_path, commands)
    assert run("user", "create", "canbo1", "--role", "officer").returncode == 0
    assert run("centres", "import", "--province", "22").returncode == 0
    written = run("audit", "checkpoint")
    assert written.returncode == 0 and "1 checkpoint(s) appended" in written.stdout
    intact = run("audit", "verify")
    assert intact.returncode == 0 and "1 checkpoint(s) matched" in intact.stdout
    with sqlite3.connect(tmp_path / "onestop.db") as db:
        (seq, digest) = db.execute("select seq, hash from auditevent order by seq desc limit 1 offset 1").fetchone()
        db.execute("delete from auditevent where seq > ?", (seq,))
        db.execute("update audithead set seq = ?, hash = ?", (seq, digest))
    elsewhere = tmp_path / "copy"
    elsewhere.write_bytes((tmp_path / "audit-checkpoints").read_bytes())
    (tmp_path / "audit-checkpoints").unlink()
    fooled = run("audit", "verify")  # with its checkpoints gone, a cut tail looks like a shorter trail
    assert fooled.returncode == 0 and "no checkpoint file" in fooled.stdout
    broken = run("audit", "verify", "--checkpoint", str(elsewhere))
    assert broken.returncode == 1 and "removed" in broken.stderr and "saw number 3" in broken.stderr


def test_a_process_started_with_another_key_than_the_trails_says_so_in_the_log(sqlite_app, sqlite_admin_api,
                                                                                sqlite_url, tmp_path, engine, caplog):
    import logging

    from tests.conftest import _make_app

    _some_events(sqlite_admin_api)
    with caplog.at_level(logging.ERROR, logger="onestop.audit"):
        _make_app(sqlite_url, tmp_path / "same-key", engine, audit_key=sqlite_app.config["ONESTOP"].audit_key)
        assert caplog.records == []
        _make_app(sqlite_url, tmp_path / "other", engine, audit_key="a key of another machine, 40 characters")
    assert any("does not verify under this audit key" in r.getMessage() for r in caplog.records)
    with sqlite_app.app_context():
        assert audit.key_fits()
        with _under_key("a key of another machine, 40 characters"):
            broken = audit.verify().broken
            assert "or the trail was written under another key" in broken.why


def test_the_queue_driven_worker_checkpoints_on_the_minutes_the_setting_says():
    from datetime import datetime

    from onestop import jobs

    assert "audit_checkpoint" not in str(jobs.build("redis://127.0.0.1:1/0")._registry._periodic_tasks)
    huey = jobs.build("redis://127.0.0.1:1/0", checkpoint_seconds=600)
    [task] = [t for t in huey._registry._periodic_tasks if t.__name__ == "audit_checkpoint"]
    assert task().validate_datetime(datetime(2026, 12, 4, 10, 20))
    assert not task().validate_datetime(datetime(2026, 12, 4, 10, 21))


def test_a_check_while_steps_are_written_sees_one_consistent_trail(app, admin_api):
    import threading
    import time

    from onestop.db import database, run_write

    _some_events(admin_api)
    stop, errors = threading.Event(), []

    def write_events():
        try:
            with app.app_context():
                database.connect(reuse_if_open=True)
                while not stop.is_set():
                    run_write(lambda: audit.record("calendar.day_set", None, detail={"n": 1}))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            if not database.is_closed():
                database.close()

    writer = threading.Thread(target=write_events)
    writer.start()
    try:
        with app.app_context():
            results, deadline = [], time.monotonic() + 30
            while len(results) < 15 or (results[-1].events == results[0].events and time.monotonic() < deadline):
                results.append(audit.verify())
    finally:
        stop.set()
        writer.join(30)
    assert errors == []
    assert [r.broken for r in results] == [None] * len(results)
    assert results[-1].events > results[0].events  # the writer did write meanwhile


def test_a_units_events_of_one_chain_take_one_advance_of_its_head_and_one_undone_with_its_savepoint_is_not_kept(
        sqlite_app):
    # A step that ends its process writes two events (task.completed, dossier.completed): one UPDATE of the
    # chain's head for both, not one each; an event of a nested unit that fails goes with it.
    from onestop.db import database, run_write, write_transaction

    def work():
        audit.record("task.claimed", centre=None)
        with pytest.raises(ValueError), write_transaction():  # a nested unit: a savepoint
            audit.record("task.released", centre=None)
            raise ValueError("refused")
        audit.record("task.completed", centre=None)

    with sqlite_app.app_context():
        run_write(lambda: audit.record("task.claimed", centre=None))  # the chain's head exists
        statements = []
        database.connection().set_trace_callback(statements.append)
        try:
            run_write(work)
        finally:
            database.connection().set_trace_callback(None)
        assert len([s for s in statements if s.startswith('UPDATE "audithead" SET "seq"')]) == 1
        events = list(AuditEvent.select().where(AuditEvent.chain == 0).order_by(AuditEvent.seq))
        assert [(e.action, e.seq) for e in events[-2:]] == [("task.claimed", events[-1].seq - 1),
                                                            ("task.completed", events[-1].seq)]
        assert "task.released" not in {e.action for e in events}
        assert AuditHead.get(AuditHead.chain == 0).hash == events[-1].hash
        assert audit.verify().broken is None


def one_sqlite_batch(works) -> tuple[list, list]:
    """Run `works` as the units of one SQLite batch (one commit, each unit in a savepoint: what
    LocalDatabase.run_write does with the writes queued meanwhile), in the app's context: (each unit's
    error or None, the statements the connection ran)."""
    from onestop.db import _Ticket, database

    tickets, statements = [_Ticket(work) for work in works], []
    database.connection().set_trace_callback(statements.append)
    try:
        database.obj._commit_batch(tickets)
    finally:
        database.connection().set_trace_callback(None)
    return [t.error for t in tickets], statements


def test_the_units_of_one_sqlite_batch_read_their_chains_head_once_and_one_that_fails_leaves_it_as_it_was(
        sqlite_app):
    # Under the writers' lock a batch's units run one after another in one transaction: only the first reads
    # the chain's head (UPDATE ... RETURNING), the next go on from the head the one before left; a unit undone
    # with its savepoint leaves the head where the unit before it left it.
    from onestop.db import database

    def refused():
        audit.record("task.released", centre=None)
        raise ValueError("refused")

    with sqlite_app.app_context():
        database.obj.run_write(lambda: audit.record("task.claimed", centre=None))  # the chain's head exists
        errors, statements = one_sqlite_batch([lambda: audit.record("task.claimed", centre=None), refused,
                                               lambda: audit.record("task.completed", centre=None),
                                               lambda: audit.record("dossier.completed", centre=None)])
        assert [type(e) for e in errors] == [type(None), ValueError, type(None), type(None)]
        assert len([s for s in statements if s.startswith('UPDATE "audithead" SET "seq" = "seq"')]) == 1  # before: 3
        events = list(AuditEvent.select().where(AuditEvent.chain == 0).order_by(AuditEvent.seq))
        assert [e.action for e in events[-3:]] == ["task.claimed", "task.completed", "dossier.completed"]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert AuditHead.get(AuditHead.chain == 0).seq == events[-1].seq
        assert AuditHead.get(AuditHead.chain == 0).hash == events[-1].hash
        assert audit.verify().broken is None


def test_a_steps_history_times_read_back_from_sqlite_are_bound_as_peewee_reads_them_without_its_strptime(
        sqlite_app, sqlite_admin_api, monkeypatch):
    # The event's MAC covers the history rows' times (audit._history_content); on SQLite they come back as text,
    # which peewee's DateTimeField read with strptime, format after format (~10 us a time, under the writers' lock).
    import peewee

    from onestop import sql
    from onestop.models import HistoryEntry
    from tests.test_sql import _received

    for text in ("2026-12-06 08:22:53.123456", "2026-12-06 08:22:53", "2026-12-06 00:00:00.000001", "2026-12-06"):
        assert audit._iso(text) == HistoryEntry.at.python_value(text).isoformat(), text
    _received(sqlite_admin_api)  # a submission and a completion, each binding its step's history rows
    with sqlite_app.app_context():
        stored = sql.run("SELECT " + ", ".join(f'"{c}"' for c in audit.HISTORY_COLUMNS) + ' FROM "historyentry"').fetchall()
        assert len(stored) == 2 and all(isinstance(row[6], str) for row in stored) and isinstance(stored[-1][9], str)
        parsed = []
        real = peewee.format_date_time
        monkeypatch.setattr(peewee, "format_date_time", lambda *a, **k: parsed.append(a[0]) or real(*a, **k))
        content = audit._history_content(stored)
        assert parsed == []
        monkeypatch.undo()
        assert content == [[*row[:6], HistoryEntry.at.python_value(row[6]).isoformat(), *row[7:9],
                            *(HistoryEntry.at.python_value(t).isoformat() if t else None for t in row[9:])]
                           for row in sorted(stored)]
        assert audit.verify().broken is None


def _standard_link(previous, chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text, at,
                   history=()):
    """audit.link as it was written: the standard encoder's text, the previous MAC before it, under the chain's key."""
    import hashlib
    import hmac
    import json

    content = json.dumps([chain, seq, centre_id, dossier_id, actor_id, action, element_id, detail_text,
                          at.isoformat(), history], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(audit._chain_key(), (previous + content).encode(), hashlib.sha256).hexdigest()


def test_an_events_mac_covers_the_standard_encoders_text_without_running_it(app, monkeypatch):
    """An event's MAC covers json.dumps(..., ensure_ascii=False, separators=(",", ":"))'s layout of its fields: the
    text is written by orjson where it writes the same (before: the standard encoder, built anew for each event, ~25 k
    instructions), and by the standard encoder where orjson would write otherwise (a float under 1e-4, an integer
    beyond 64 bits)."""
    import json
    from datetime import datetime

    at = datetime(2026, 12, 6, 8, 22, 53, 123456)
    history = [[7, 3, "3a99f3ae-3e38-4cf1-a451-5a7f7990e3ce", "Task_Receive", "Tiếp nhận hồ sơ", "completed",
                "2026-12-06T08:22:53.123456", 1, "Một cửa", "2026-12-06T08:20:00", None]]
    cases = [
        (audit.GENESIS, 1, 1, 5, 3, 1, "task.completed", "Task_Receive", '{"task":"x","name":"Tiếp nhận"}', at, history),
        ("ab" * 32, 0, 2, None, None, None, "user.created", None, None, datetime(2026, 1, 1), []),
        ("cd" * 32, 3, 9, 1, 2, 3, "dossier.completed", "E", '"\\u0000 ✓ 😀"', at, [[1e-05, 2 ** 70, "x"]]),
    ]
    with app.app_context():
        encoded = []
        real = json.JSONEncoder.encode
        monkeypatch.setattr(json.JSONEncoder, "encode", lambda self, o: encoded.append(o) or real(self, o))
        for case in cases:
            assert audit.link(*case) == _standard_link(*case)
        # The standard encoder ran for the fields orjson writes otherwise only (and for the reference above).
        assert len(encoded) == len(cases) + 1
