"""Issue 14, lock order and races: PostgreSQL deadlocked when a start and a completion met (a start
locked the day's figures then the audit chain's head, a resolving completion the head then the
figures), and the losers of a completion race were told 404 instead of 409."""

import contextlib
import logging
import threading
import time

import psycopg2
import pytest

from tests.conftest import MODELS, _close_pool, _make_app, make_user
from tests.support.postgres import admin_url_or_skip


@pytest.fixture
def pg_app(tmp_path, cold_engine, database_templates):
    url = database_templates.postgres(admin_url_or_skip())  # a copy of the migrated template
    yield _make_app(url, tmp_path, cold_engine), url
    _close_pool()
    database_templates.drop_later(url)


def _waiting_on_locks(url) -> int:
    """Backends of the database waiting for a lock (asked outside any transaction: within one,
    PostgreSQL shows the same snapshot of its activity every time)."""
    with contextlib.closing(psycopg2.connect(url)) as watcher, watcher.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def _until(condition, seconds=20):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the writers never got to wait where expected"
        time.sleep(0.02)


def test_a_start_and_a_resolving_completion_meeting_on_postgresql_take_their_rows_in_one_order(pg_app, caplog):
    """The interleaving that deadlocked, forced: a third transaction holds the audit chain's head
    while a completion that resolves its dossier and then a start of the same procedure run up to
    it; then it lets go. Both must succeed, and without the retry (the order alone avoids it)."""
    app, url = pg_app
    from onestop.db import database
    from onestop.services import audit, dossiers, procedures
    from onestop.services.procedures import Upload

    with app.app_context():
        database.connect(reuse_if_open=True)
        actor, _ = make_user("admin1", ("admin",))
        procedures.upload_procedure(actor, [Upload(p.name, p.read_bytes())
                                            for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")])
        first = dossiers.start_dossier(actor, "review")
        receive = next(t.id for t in sql_tasks(first))
        approved = dossiers.complete_task(actor, receive, {"applicant_name": "Lê Văn A", "documents_complete": True})
        approve = next(t.id for t in sql_tasks(approved))
        chain = actor.centre_id
        database.close()

    blocker = psycopg2.connect(url)
    cursor = blocker.cursor()
    cursor.execute('SELECT "seq" FROM "audithead" WHERE "chain" = %s FOR UPDATE', (chain,))
    caplog.set_level(logging.INFO, logger="onestop.db")
    outcomes = {}

    def run(name, call):
        with app.app_context():
            database.connect(reuse_if_open=True)
            try:
                outcomes[name] = call()
            except Exception as exc:  # the outcome under test: a deadlock here is the defect
                outcomes[name] = exc
            finally:
                database.close()

    completing = threading.Thread(target=run, args=("complete", lambda: dossiers.complete_task(
        actor, approve, {"approved": True})))
    starting = threading.Thread(target=run, args=("start", lambda: dossiers.start_dossier(actor, "review")))
    try:
        completing.start()
        _until(lambda: _waiting_on_locks(url) == 1)  # the completion waits (for the head, or before it)
        starting.start()
        _until(lambda: _waiting_on_locks(url) == 2)  # and the start behind it
    finally:
        blocker.rollback()
        blocker.close()
    completing.join(60)
    starting.join(60)

    assert not isinstance(outcomes["complete"], Exception), repr(outcomes["complete"])
    assert not isinstance(outcomes["start"], Exception), repr(outcomes["start"])
    assert outcomes["complete"].status == "resolved" and outcomes["start"].status == "received"
    assert not [r for r in caplog.records if "retried" in r.getMessage()]  # no deadlock was even met
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert audit.verify().broken is None
        database.close()


def sql_tasks(dossier):
    from onestop.models import WorkItem

    return list(WorkItem.select().where(WorkItem.dossier == dossier.id).order_by(WorkItem.created_at))


def test_a_task_completed_meanwhile_answers_409_with_a_message_not_404(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    task_id = admin_api.post("/dossiers", {"procedure": "review"}).json["tasks"][0]["id"]
    data = {"data": {"applicant_name": "Trần Thị B", "documents_complete": True}}
    assert admin_api.post(f"/tasks/{task_id}/complete", data).status_code == 200
    late = admin_api.post(f"/tasks/{task_id}/complete", data)
    assert late.status_code == 409, late.json
    assert late.json["error"] == "conflict" and late.json["message"]
    with app.app_context():
        from onestop.models import User
        from onestop.services import dossiers
        from onestop.services.errors import Conflict

        with pytest.raises(Conflict):  # taking it is a lost race too
            dossiers.claim_task(User.get(User.username == "admin1"), task_id)
    # An id that was never a task of this centre is still simply not found.
    assert admin_api.post("/tasks/00000000-0000-0000-0000-000000000000/complete", data).status_code == 404
