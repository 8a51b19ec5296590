"""Completing a task reads what it needs in as few queries as it can, whichever worker ran the last step."""

import threading

import pytest

from onestop import sql
from onestop.models import Dossier
from tests.conftest import MODELS
from tests.support.threads import held_back

RECEIVED = {"applicant_name": "Nguyễn Văn A", "documents_complete": True}


def _started(api):
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    started = api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}})
    assert started.status_code == 201, started.json
    return started.json


def test_a_task_whose_workflow_is_not_live_here_is_completed_with_its_state_read_in_the_same_query(
        app, admin_api, monkeypatch):
    started = _started(admin_api)
    engine = app.extensions["onestop.engine"]
    with app.app_context():
        engine.forget([Dossier.get(Dossier.code == started["code"]).id])  # as if another worker ran the start
    reads = []
    real = sql.workflow_text
    monkeypatch.setattr(sql, "workflow_text", lambda *args: reads.append(args) or real(*args))
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    assert [t["element_id"] for t in done.json["tasks"]] == ["Task_Approve"]
    assert reads == []  # no second query for the workflow state


def test_a_task_whose_workflow_is_live_here_is_completed_without_reading_its_state(sqlite_app, sqlite_admin_api,
                                                                                    monkeypatch):
    started = _started(sqlite_admin_api)
    assert sqlite_app.extensions["onestop.engine"].offers(started["tasks"][0]["id"])
    real = sql.work_item_in_centre
    asked = []
    monkeypatch.setattr(sql, "work_item_in_centre",
                        lambda *args, **kwargs: asked.append(kwargs.get("with_state")) or real(*args, **kwargs))
    done = sqlite_admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    assert asked == [False]


def test_a_completion_hands_its_answers_rows_back_and_leaves_none_on_the_dossier(app, admin_api):
    """The rows a completion read after its commit (for its answer) come back beside the dossier, not
    through an attribute of it: a later step_rows of the same object reads the rows as they are then."""
    from onestop.models import User
    from onestop.services import dossiers

    started = _started(admin_api)
    with app.app_context():
        actor = User.get(User.username == "admin1")
        dossier, rows = dossiers.complete_task_with_rows(actor, started["tasks"][0]["id"], RECEIVED)
        assert rows == sql.open_rows(dossier.id)
        assert [t.element_id for t in rows["tasks"]] == ["Task_Approve"]
        assert not {"read_step_rows", "stored_rows"} & set(vars(dossier))
        approve = rows["tasks"][0].id
        assert dossiers.complete_task(actor, approve, {"approved": True}).code == dossier.code
        assert dossiers.step_rows(dossier) == sql.open_rows(dossier.id)
        assert approve not in [t.id for t in dossiers.step_rows(dossier)["tasks"]]


def test_a_completions_data_is_normalised_once_for_its_read_only_check_and_its_form(app, admin_api, monkeypatch):
    """The read-only fields' check and the form's check read one NFC copy of the data (two were made)."""
    from onestop import formdefs

    started = _started(admin_api)
    copies = []
    real = formdefs.normalise
    monkeypatch.setattr(formdefs, "normalise", lambda value: copies.append(value) or real(value))
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete",
                          {"data": {"applicant_name": "Nguyen Van A\u0301", "documents_complete": True}})
    assert done.status_code == 200, done.json
    assert len(copies) == 1
    with app.app_context():
        assert Dossier.get(Dossier.code == started["code"]).data["applicant_name"] == "Nguyen Van \u00c1"


def test_a_steps_data_is_stored_as_the_text_the_engine_wrote_while_copying_it(app, admin_api, monkeypatch):
    """The engine's copy of a step's data (json_safe) is written by orjson: that text is what a submission and
    a completion store as the dossier's data, not a second encoding of the copy (sql.to_json)."""
    encoded = []
    real = sql.to_json
    monkeypatch.setattr(sql, "to_json", lambda value: encoded.append(value) or real(value))
    started = _started(admin_api)
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    with app.app_context():
        dossier = Dossier.get(Dossier.code == started["code"])
        stored = sql.run('SELECT "data" FROM "dossier" WHERE "id" = ?', (dossier.id,)).fetchone()[0]
    assert dossier.data == {"fee": 100, **RECEIVED}
    assert stored == real(dossier.data)  # the standard library's text (tests/test_jsontext.py)
    assert {"fee": 100} not in encoded and dossier.data not in encoded  # before: both steps' data encoded again


def test_a_stored_state_is_read_as_its_utf8_on_sqlite_and_as_text_on_postgresql(app, admin_api):
    """SQLite hands its TEXT over decoded, and orjson would encode it back: the state is read as a BLOB (the same
    bytes); PostgreSQL's text comes as text. Either way the step loads it (engine.serial.load_workflow)."""
    from peewee import SqliteDatabase

    from onestop.db import database

    started = _started(admin_api)
    with app.app_context():
        dossier = Dossier.get(Dossier.code == started["code"])
        item = sql.work_item_in_centre(started["tasks"][0]["id"], dossier.centre_id, with_state=True)
        read = sql.workflow_text(dossier.id, dossier.serial)
        sqlite = isinstance(database.obj, SqliteDatabase)
    assert item.dossier.stored_text == (dossier.serial, read)
    assert read == (dossier.workflow.encode() if sqlite else dossier.workflow)  # before: text on SQLite too
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json


def test_a_steps_state_is_stored_from_the_utf8_orjson_wrote_on_sqlite(app, admin_api, monkeypatch):
    """On SQLite a submission's and a completion's state is bound as the bytes orjson wrote (CAST to TEXT: the same bytes, stored as
    text), not as a str sqlite3 encodes again; on PostgreSQL as text. The stored state is the same text."""
    from peewee import SqliteDatabase

    from onestop.db import database

    bound = []
    real = sql.run
    monkeypatch.setattr(sql, "run", lambda text, params=(): (bound.append((text, params)) if text.startswith(
        ('UPDATE "dossier" SET "workflow"', 'INSERT INTO "dossier"')) else None) or real(text, params))
    started = _started(admin_api)
    with app.app_context():
        submitted = Dossier.get(Dossier.code == started["code"])
        if isinstance(database.obj, SqliteDatabase):
            assert real('SELECT typeof("workflow") FROM "dossier" WHERE "id" = ?', (submitted.id,)).fetchone()[0] \
                == "text"
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    with app.app_context():
        dossier = Dossier.get(Dossier.code == started["code"])
        kind, stored = real('SELECT typeof("workflow"), "workflow" FROM "dossier" WHERE "id" = ?',
                            (dossier.id,)).fetchone() if isinstance(database.obj, SqliteDatabase) else ("text", None)
        sqlite = isinstance(database.obj, SqliteDatabase)
    if sqlite:
        [(insert, inserted), (update, params)] = bound
        assert any(isinstance(value, bytes) for value in inserted) and "CAST(? AS TEXT)" in insert  # the submission's
        assert params[0] == dossier.workflow.encode() and "CAST(? AS TEXT)" in update  # before: the str
        assert kind == "text" and stored == dossier.workflow
    else:
        assert not any(isinstance(value, bytes) for _, params in bound for value in params)


def test_a_completions_data_is_stored_from_the_utf8_orjson_wrote_on_sqlite(app, admin_api, monkeypatch):
    """On SQLite a completion's data is bound as the bytes orjson wrote while copying it (json_safe), CAST to TEXT
    (stored as text, the same bytes), with its state: not decoded to a str that sqlite3 encodes again (~20
    instructions a byte of Vietnamese text). On PostgreSQL it is text. The stored data is the standard library's
    text either way, and the step's own copy of it is what the dossier holds."""
    import json

    from peewee import SqliteDatabase

    from onestop.db import database

    made = []  # the compare-and-set's (statement, parameters), run alone (SQLite) or as the step's rows' guard
    real = sql.step_update
    monkeypatch.setattr(sql, "step_update", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    started = _started(admin_api)
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    with app.app_context():
        dossier = Dossier.get(Dossier.code == started["code"])
        sqlite = isinstance(database.obj, SqliteDatabase)
        if sqlite:
            kind, stored = sql.run('SELECT typeof("data"), "data" FROM "dossier" WHERE "id" = ?', (dossier.id,)).fetchone()
    [(update, params)] = made
    standard = json.dumps(dossier.data, ensure_ascii=False, separators=(",", ":"))
    at = 2 if '"state" = ?' in update else 1  # (the workflow, the state if it moved, then the data)
    if sqlite:
        assert params[at] == standard.encode() and '"data" = CAST(? AS TEXT)' in update  # before: the str
        assert kind == "text" and stored == standard
    else:
        assert params[at] == standard and "CAST" not in update


def test_a_steps_state_is_made_text_only_when_something_reads_it(app, admin_api):
    """On SQLite the state a step stores is the UTF-8 orjson wrote, and the dossier the service hands back keeps it
    as that until its `workflow` is read (models.Utf8TextField): a completion's answer never reads it, and making
    the text of a ~8 kB state of Vietnamese data cost ~80 k instructions a step. Read, it is the stored text. On
    PostgreSQL the state is text throughout."""
    from peewee import SqliteDatabase

    from onestop.db import database
    from onestop.models import User
    from onestop.services import dossiers

    started = _started(admin_api)
    with app.app_context():
        actor = User.get(User.username == "admin1")
        sqlite = isinstance(database.obj, SqliteDatabase)
        dossier = dossiers.complete_task(actor, started["tasks"][0]["id"], RECEIVED)
        kept = dossier.__data__["workflow"]
        stored = sql.run('SELECT "workflow" FROM "dossier" WHERE "id" = ?' if sqlite else
                         'SELECT "workflow" FROM "dossier" WHERE "id" = %s', (dossier.id,)).fetchone()[0]
        assert type(kept) is (bytes if sqlite else str)  # before: the text, on SQLite too
        assert dossier.workflow == stored and type(dossier.workflow) is str
        assert dossier.__data__["workflow"] is dossier.workflow  # made once
        started = admin_api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}}).json
        new = Dossier.get(Dossier.code == started["code"])
        assert new.workflow == sql.run('SELECT "workflow" FROM "dossier" WHERE "id" = ?' if sqlite else
                                       'SELECT "workflow" FROM "dossier" WHERE "id" = %s', (new.id,)).fetchone()[0]


def test_a_state_given_as_its_utf8_is_the_same_text_to_every_reader():
    """Step.state and Dossier.workflow given a state's UTF-8 read as its text; a dossier saved with it stores the
    text (TextField's own conversion of bytes)."""
    from onestop.engine.runtime import Step
    from onestop.models import Dossier as Model

    text = '{"data":{"tên":"Nguyễn Văn A"},"tasks":{}}'
    step = Step(state=None, status="active", data={}, state_utf8=text.encode())
    assert not step.state_is_text()
    assert step.state == text and step.state_is_text() and step.state is step.state
    given = Step(state=text, status="active", data={})
    assert given.state == text and given.state_is_text() and given.state_utf8 is None
    dossier = Model(workflow=text.encode())
    assert Model.workflow.db_value(dossier.__data__["workflow"]) == text
    assert dossier.workflow == text and type(dossier.workflow) is str
    assert Model(workflow=text).workflow == text and Model().workflow is None


def test_a_steps_dossier_reads_its_json_fields_only_when_asked_for(app, admin_api):
    """A step's read of its task's dossier keeps the JSON text of its data and applicant until they are asked for
    (models.UnreadJSON): a completion replaces the data and seldom reads the applicant (json.loads of a dossier's
    Vietnamese data, ~50 k instructions a step, went for nothing). Asked for, they are what peewee reads; a dossier
    written with them unread writes what they hold."""
    from onestop.models import JSONField, UnreadJSON, User
    from onestop.services import dossiers

    started = _started(admin_api)
    with app.app_context():
        actor = User.get(User.username == "admin1")
        task = started["tasks"][0]["id"]
        item = dossiers.get_work_item(actor, task, for_step=True)
        read = Dossier.get_by_id(item.dossier.id)
        assert {type(item.dossier.__data__[n]) for n in ("data", "applicant")} <= {UnreadJSON, type(None)}
        assert type(item.dossier.__data__["data"]) is UnreadJSON  # before: read (a dict)
        unread = item.dossier.__data__["data"]
        assert Dossier.data.db_value(unread) == JSONField().db_value(read.data)
        assert item.dossier.data == read.data and item.dossier.applicant == read.applicant
        assert item.dossier.__data__["data"] is item.dossier.data  # read once, then kept
        done = dossiers.complete_task(actor, task, RECEIVED)
        assert type(done.__data__["applicant"]) in (UnreadJSON, type(None))  # nothing of the step asked for it
        assert done.data == Dossier.get_by_id(done.id).data and done.applicant == read.applicant


# -- the dossier code's counter under concurrency (PostgreSQL: writers do not queue for the whole database) --

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _intake(app, token, results, name):
    response = app.test_client().post("/api/v1/dossiers", json={"procedure": "review"},
                                      headers={"Authorization": f"Bearer {token}"})
    results[name] = (response.status_code, (response.get_json() or {}).get("code"))


@ON_POSTGRESQL
def test_a_submission_paused_inside_its_unit_does_not_hold_back_the_next_one_of_its_centre(app, admin_api,
                                                                                         monkeypatch):
    _started(admin_api)  # number 1 of the day
    inserted, release = threading.Event(), threading.Event()
    real = sql.write_step_rows

    def insert_then_pause(*args, **values):  # the first submission stops right after inserting its dossier
        rows = real(*args, **values)  # (its row is inserted with its first step's rows: `new`)
        if threading.current_thread().name == "first" and values.get("new"):
            inserted.set()
            release.wait(60)
        return rows

    monkeypatch.setattr(sql, "write_step_rows", insert_then_pause)
    results = {}
    first = threading.Thread(target=_intake, args=(app, admin_api.token, results, "first"), name="first")
    second = threading.Thread(target=_intake, args=(app, admin_api.token, results, "second"), name="second")
    assert not held_back(first, second, inserted, release)  # it did not wait for the first one's commit
    assert results["first"][0] == results["second"][0] == 201, results
    # The numbers follow the commits: the second committed first.
    assert [results[n][1][-4:] for n in ("second", "first")] == ["0002", "0003"], results


@ON_POSTGRESQL
def test_twenty_simultaneous_submissions_get_the_numbers_1_to_20_of_the_day_and_a_failed_one_leaves_no_gap(
        app, admin_api):
    from peewee import IntegrityError

    from onestop.models import AuditEvent, Notification, User
    from onestop.services import audit, dossiers, search

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    results = {}
    barrier = threading.Barrier(20)

    def intake(n):
        barrier.wait()
        _intake(app, admin_api.token, results, n)

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(status for status, _ in results.values()) == [201] * 20, results
    assert sorted(code[-4:] for _, code in results.values()) == [f"{n:04d}" for n in range(1, 21)]

    with app.app_context():
        actor = User.get(User.username == "admin1")
        seen = []

        def failing_link(dossier, now):  # runs once the dossier has its number: the unit then fails
            seen.append(dossier.code)
            raise IntegrityError("the portal dossier is linked already")

        with pytest.raises(IntegrityError):
            dossiers.start_dossier(actor, "review", linked=failing_link)
        assert seen and seen[0].endswith("-0021")  # the callback saw the real code, not a stand-in
        after = dossiers.start_dossier(actor, "review", applicant={"name": "Trần Thị B", "email": "b@example.vn"})
        assert after.code == seen[0]  # its number was given back: no gap
        stored = Dossier.get(Dossier.code == after.code)
        assert {n.subject.count(after.code) for n in Notification.select().where(Notification.dossier == stored.id)} == {1}
        found = Dossier.select(Dossier.code).where(search.applicant_filter(after.code))
        assert [d.code for d in found] == [after.code]  # the search row holds the real code
        assert not Dossier.select().where(Dossier.code.startswith("~")).exists()
        assert AuditEvent.select().where(AuditEvent.action == "dossier.started").count() == 21
        checked = audit.verify()
        assert checked.broken is None and checked.events >= 21


def _exchanges_from_the_counter_to_the_commit(trace: str) -> int:
    """How many times the client waited for the server from the statement that takes the code counter to
    the end of the transaction (the server's first ReadyForQuery "idle" after it), in a libpq protocol
    trace of one unit of work. A wait is a Flush the client sent (psycopg reading an answer in pipeline
    mode, or leaving the pipeline after its Sync) or a Sync not followed by a Flush (a statement outside
    the pipeline)."""
    messages = [line.split("\t") for line in trace.splitlines()]
    start = next(i for i, m in enumerate(messages) if m[0] == "F" and "dossiercounter" in m[-1])
    end = next(i for i, m in enumerate(messages) if i > start and m[0] == "B" and m[2] == "ReadyForQuery"
               and m[-1].strip() == "I")
    sent = [m[2] for m in messages[start:end] if m[0] == "F"]
    return sum(1 for i, kind in enumerate(sent) if kind == "Flush" or (
        kind == "Sync" and not (i + 1 < len(sent) and sent[i + 1] == "Flush")))


@ON_POSTGRESQL
def test_a_new_dossier_holds_its_code_counter_for_two_exchanges_with_the_server_whatever_it_notifies(
        app, admin_api, tmp_path):
    """The agency's counter is held from the statement that takes the number to the commit: every time the
    client waits for the server meanwhile, the centre's other submissions wait too. Its own answer (the code,
    with the audit head's: the previous link, read in the same exchange) and the COMMIT's are the two it
    cannot do without; the applicant's notifications (email and SMS here) go in the pipeline with the rest."""
    from psycopg import pq

    from onestop.db import database
    from onestop.models import Notification, User
    from onestop.services import audit, dossiers

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    traced = tmp_path / "libpq.trace"
    with app.app_context():
        actor = User.get(User.username == "admin1")
        dossiers.start_dossier(actor, "review")  # the first of the day: what this process caches is read
        conn = database.connection()
        with open(traced, "w") as fh:
            conn.pgconn.trace(fh.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                dossier = dossiers.start_dossier(actor, "review", applicant={
                    "name": "Trần Thị B", "email": "b@example.vn", "phone": "0912345678"})
            finally:
                conn.pgconn.untrace()
        assert sorted(n.channel for n in Notification.select().where(Notification.dossier == dossier.id)) == [
            "email", "sms"]
        assert audit.verify().broken is None  # the start's event was linked to the head read ahead
    assert _exchanges_from_the_counter_to_the_commit(traced.read_text()) == 2


def test_a_submissions_and_a_completions_text_and_the_new_dossiers_model_are_made_before_the_writers_lock(
        sqlite_app, sqlite_admin_api, monkeypatch):
    # On SQLite a unit of work runs holding the writers' lock, which every write of every process waits for:
    # the JSON of the data and the applicant, the applicant's words for the search index and the new dossier's
    # model instance are made before.
    from onestop import jsontext
    from onestop.db import database
    from onestop.services import search

    marker = "Trần Thị Đánh Dấu"
    locked = []
    dumps, fold = jsontext.dumps, search.fold

    def held():
        return database.obj._depth > 0  # inside LocalDatabase.writer(): this test's one thread holds the lock

    def watched_dumps(value, *args, **kwargs):
        text = dumps(value, *args, **kwargs)
        if held() and marker in text:
            locked.append(("json", text[:80]))
        return text

    def watched_fold(text, *args, **kwargs):
        if held() and "Trần" in str(text):
            locked.append(("fold", text))
        return fold(text, *args, **kwargs)

    made = Dossier.__init__

    def watched_init(self, *args, **kwargs):
        if held():
            locked.append(("model", kwargs.get("code")))
        made(self, *args, **kwargs)

    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    monkeypatch.setattr(jsontext, "dumps", watched_dumps)
    monkeypatch.setattr(search, "fold", watched_fold)
    monkeypatch.setattr(Dossier, "__init__", watched_init)
    started = sqlite_admin_api.post("/dossiers", {"procedure": "review", "data": {"fee": 100, "note": marker},
                                                  "applicant": {"name": marker}})
    assert started.status_code == 201, started.json
    done = sqlite_admin_api.post(f"/tasks/{started.json['tasks'][0]['id']}/complete",
                                 {"data": RECEIVED | {"applicant_name": marker}})
    assert done.status_code == 200, done.json
    assert locked == []
    with sqlite_app.app_context():
        assert sql.run('SELECT "rowid" FROM "dossier_search" WHERE "dossier_search" MATCH ?',
                       ("applicant:tran",)).fetchall()  # the search row holds the words all the same


def test_a_new_dossier_on_sqlite_is_inserted_with_its_real_code_and_its_row_written_once(sqlite_app,
                                                                                          sqlite_admin_api):
    # The writers' lock holds the whole database for the unit: a stand-in code set again at its end would only
    # write the row (its workflow state's overflow pages with it) and the code's index twice.
    from tests.test_statements import counted

    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with counted(sqlite_app) as found:
        started = sqlite_admin_api.post("/dossiers", {"procedure": "review"})
    assert started.status_code == 201, started.json
    written = [s for s in found["statements"] if s.startswith(('INSERT INTO "dossier" ', 'UPDATE "dossier"'))]
    assert len(written) == 1 and written[0].startswith('INSERT') and f"'{started.json['code']}'" in written[0], written
