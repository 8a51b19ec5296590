"""How many statements (and, on PostgreSQL, round trips) a submission and a completion cost the server.

On PostgreSQL each statement costs the web process tens of microseconds of CPU in the driver and each
round trip a wait on the socket (under load, a wait for the GIL after it); docs/perfpg.md. These tests
count what the database is sent for one request, as the database sees it: on SQLite every statement
the connection runs (its trace callback), on PostgreSQL every statement executed and every batch sent
before an answer was read (libpq's trace of the protocol)."""

import contextlib
import os
import re
import tempfile

from tests.test_sql import _received

REVIEW_DONE = {"data": {"approved": True}}


@contextlib.contextmanager
def counted(app):
    """Count what the app's database is sent meanwhile: yields a dict filled on exit with
    "statements" (their texts, in order) and, on PostgreSQL, "round_trips"."""
    from peewee import SqliteDatabase

    from onestop.db import database

    found = {"statements": []}
    with app.app_context():
        db = database.obj
    if isinstance(db, SqliteDatabase):
        conn = db.connection()  # the test client's requests run in this thread, on its connection
        conn.set_trace_callback(found["statements"].append)
        try:
            yield found
        finally:
            conn.set_trace_callback(None)
        found["statements"] = [s for s in found["statements"] if not s.startswith("PRAGMA")]
        return
    import psycopg.pq

    conns = [entry[-1] for entry in db._connections]  # the pool's idle connections: the request takes one
    assert conns, "make a request first: the pool has no connection to watch"
    named = {}  # a prepared statement's name -> its text (those prepared meanwhile are in the trace)
    for conn in conns:
        known = conn.pgconn.exec_(b"SELECT name, statement FROM pg_prepared_statements")
        named.update((known.get_value(i, 0).decode(), known.get_value(i, 1).decode()) for i in range(known.ntuples))
    with tempfile.TemporaryFile("w+", encoding="latin-1") as trace:
        for conn in conns:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            yield found
        finally:
            for conn in conns:
                conn.pgconn.untrace()
        trace.flush()
        os.fsync(trace.fileno())
        trace.seek(0)
        messages = [line.split("\t") for line in trace.read().splitlines()]
    # A statement is one Bind (extended protocol: of a statement prepared now or before) or one Query
    # (simple protocol); a round trip ends where the client, having sent something, reads the answer.
    for direction, _length, kind, *rest in messages:
        if direction != "F":
            continue
        if kind == "Parse":
            name, text = re.match(r' "(.*?)" "(.*)" \d+', rest[0]).groups()
            named[name] = text
        elif kind == "Bind":
            found["statements"].append(named[re.match(r' "(.*?)" "(.*?)"', rest[0]).group(2)])
        elif kind == "Query":
            found["statements"].append(re.match(r' "(.*)"', rest[0]).group(1))
    found["round_trips"] = sum(1 for before, after in zip(messages, messages[1:], strict=False)
                               if before[0] == "F" and after[0] == "B")


def _statements_of(app, admin_api, request):
    from onestop.services import runtime

    # The caches' version check runs at most once a second of wall time: on a loaded machine it fell inside the
    # counted request (a statement more), which a server spreads over hundreds of requests.
    real, runtime.STAMP_CHECK_SECONDS = runtime.STAMP_CHECK_SECONDS, 1e9
    try:
        with counted(app) as found:
            answer = request()
    finally:
        runtime.STAMP_CHECK_SECONDS = real
    assert answer.status_code in (200, 201), answer.json
    return found


def test_a_completion_reads_its_answers_rows_and_the_sitting_in_one_statement_after_its_commit(app, admin_api):
    """After a completion's commit, its answer's open tasks and waits, and whether the dossier has a
    sitting (services.sittings), are read with one statement: three before."""
    shown = _received(admin_api)  # (a first request: the pool has a connection)
    task = shown["tasks"][0]["id"]
    found = _statements_of(app, admin_api, lambda: admin_api.post(f"/tasks/{task}/complete", REVIEW_DONE))
    texts = found["statements"]
    commit = max(i for i, s in enumerate(texts) if s.strip('"').upper().startswith("COMMIT"))
    after = texts[commit + 1:]
    assert len(after) == 1, after
    assert all(table in after[0] for table in ('"workitem"', '"waitingevent"', '"sitting"')), after


def test_a_submission_reads_its_answers_rows_in_one_statement(app, admin_api):
    _received(admin_api)
    found = _statements_of(app, admin_api, lambda: admin_api.post("/dossiers", {"procedure": "review",
                                                                                   "data": {"fee": 100}}))
    texts = found["statements"]
    commit = max(i for i, s in enumerate(texts) if s.strip('"').upper().startswith("COMMIT"))
    after = texts[commit + 1:]
    assert len(after) == 1, after
    assert '"workitem"' in after[0] and '"waitingevent"' in after[0], after


# What one request of the review model costs at most once its statements are prepared (6 December, before the
# answer's rows were read in one statement: a completion 20 statements on SQLite, 19 on PostgreSQL; a submission 25
# and 15; then 17 statements in 15 round trips and 14 in 10 on PostgreSQL, before a step's rows and a unit's figures
# were written with one statement each there: docs/perfpg.md; then a submission 12 in 8, before its dossier's row
# was inserted by its step's rows' statement there, then 11 in 7 and a completion 10 in 10, before their first read
# was made with their token's user there; on SQLite a completion 17 before its task's read said whether its element
# was done before, which the step read under the writers' lock: docs/perftail.md, "sqlstep"): a statement or a round
# trip more fails here.
MOST = {"complete": {"sqlite": 16, "postgresql": 9, "round_trips": 9},
        "submit": {"sqlite": 23, "postgresql": 10, "round_trips": 6}}


def test_a_completion_and_a_submission_cost_at_most_so_many_statements_and_round_trips(app, admin_api):
    # A server's statements are prepared once per connection (psycopg prepares a text on its second run, in a
    # round trip of its own): two submissions and completions run them all before the counted ones, which
    # cost what every later one does.
    warm = _received(admin_api)
    assert admin_api.post(f"/tasks/{warm['tasks'][0]['id']}/complete", REVIEW_DONE).status_code == 200
    for round_ in ("warming", "counted"):
        started = admin_api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}})
        received = admin_api.post(f"/tasks/{started.json['tasks'][0]['id']}/complete",
                                  {"data": {"applicant_name": "Nguyễn Văn A", "documents_complete": True}})
        task = received.json["tasks"][0]["id"]
        if round_ == "warming":
            assert admin_api.post(f"/tasks/{task}/complete", REVIEW_DONE).status_code == 200
    complete = _statements_of(app, admin_api, lambda: admin_api.post(f"/tasks/{task}/complete", REVIEW_DONE))
    submit = _statements_of(app, admin_api, lambda: admin_api.post("/dossiers", {"procedure": "review",
                                                                                   "data": {"fee": 100}}))
    kind = "postgresql" if "round_trips" in complete else "sqlite"
    for found, most in ((complete, MOST["complete"]), (submit, MOST["submit"])):
        assert len(found["statements"]) <= most[kind], found["statements"]
        if kind == "postgresql":
            assert found["round_trips"] <= most["round_trips"], (found["round_trips"], found["statements"])


def test_a_completion_on_sqlite_reads_nothing_under_the_writers_lock_that_its_task_read_could_say(sqlite_app,
                                                                                                   sqlite_admin_api):
    # Whether the completed task's element had been done before (a rework, counted in the figures) comes with the
    # task's read, before the lock: the step's compare-and-set fails if another step changed the history meanwhile.
    shown = _received(sqlite_admin_api)
    found = _statements_of(sqlite_app, sqlite_admin_api,
                           lambda: sqlite_admin_api.post(f"/tasks/{shown['tasks'][0]['id']}/complete", REVIEW_DONE))
    texts = found["statements"]
    begin, commit = texts.index("BEGIN IMMEDIATE"), texts.index("COMMIT")
    assert [s for s in texts[begin:commit] if s.startswith("SELECT")] == [], texts[begin:commit]
    assert "historyentry" in texts[begin - 1] and "workitem" in texts[begin - 1], texts[:begin]
