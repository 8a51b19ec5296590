"""The embedded database is durable: WAL journal, synchronous=FULL, foreign keys on."""

import contextlib

import pytest

from onestop.db import database
from tests.conftest import _close_pool, _make_app
from tests.support.postgres import admin_url_or_skip, create_test_database, drop_test_database


@pytest.fixture
def pg_app(tmp_path, cold_engine):
    url = create_test_database(admin_url_or_skip())
    yield _make_app(url, tmp_path, cold_engine)
    _close_pool()
    drop_test_database(url)


def test_sqlite_runs_in_wal_mode_with_full_synchronous_writes(sqlite_app):
    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        database.close()


def test_writes_of_many_threads_share_commits_and_a_failing_one_is_undone_alone(tmp_path):
    import threading

    from onestop.db import LocalDatabase

    db = LocalDatabase(str(tmp_path / "group.db"), pragmas={"journal_mode": "wal", "synchronous": "full"})
    db.execute_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    commits = []
    original = db.commit

    def counting_commit(*args, **kwargs):
        commits.append(1)
        return original(*args, **kwargs)

    db.commit = counting_commit
    barrier, outcomes = threading.Barrier(24), {}

    def writer(n):
        def work():
            db.execute_sql("INSERT INTO t (n) VALUES (?)", (n,))
            if n % 7 == 3:
                raise ValueError(f"refused {n}")
            return n

        barrier.wait()
        try:
            outcomes[n] = db.run_write(work)
        except ValueError as exc:
            outcomes[n] = str(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    refused = {n for n in range(24) if n % 7 == 3}
    assert outcomes == {n: (f"refused {n}" if n in refused else n) for n in range(24)}
    db.connect(reuse_if_open=True)
    stored = {row[0] for row in db.execute_sql("SELECT n FROM t")}
    assert stored == set(range(24)) - refused
    assert 1 <= len(commits) < 24  # writers that came together shared a commit
    db.close()


def test_deferred_writes_run_after_the_work_in_lock_order_and_go_with_a_failed_unit(sqlite_app):
    from onestop.db import LOCK_AUDIT, LOCK_FIGURES, defer, run_write, write_transaction

    written = []
    with sqlite_app.app_context():
        def work():
            defer((LOCK_AUDIT, 1), lambda: written.append("audit head, chain 1"))
            defer((LOCK_FIGURES, 2, "b"), lambda: written.append("figure b"))
            defer((LOCK_AUDIT, 1), lambda: written.append("audit head, chain 1 again"))
            defer((LOCK_FIGURES, 0, "z"), lambda: written.append("figure z of the first table"))
            written.append("the work itself")

        run_write(work)
        assert written == ["the work itself", "figure z of the first table", "figure b", "audit head, chain 1",
                           "audit head, chain 1 again"]

        written.clear()

        def failing():
            defer((LOCK_AUDIT, 1), lambda: written.append("never"))
            raise ValueError("refused")

        with pytest.raises(ValueError):
            run_write(failing)
        assert written == []

        with write_transaction():  # a nested unit that fails takes only its own deferred writes along
            defer((LOCK_AUDIT, 1), lambda: written.append("outer"))
            with pytest.raises(ValueError), write_transaction():
                defer((LOCK_AUDIT, 1), lambda: written.append("inner"))
                raise ValueError("inner refused")
            assert written == []
        assert written == ["outer"]
        defer((LOCK_AUDIT, 1), lambda: written.append("outside any unit: at once"))
        assert written[-1] == "outside any unit: at once"
        database.close()


def _pg_pair(app):
    """Two rows to lock in a fresh table of the app's PostgreSQL database."""
    from onestop import sql

    with app.app_context():
        database.connect(reuse_if_open=True)
        sql.run('CREATE TABLE "pair" ("id" INTEGER PRIMARY KEY, "n" INTEGER NOT NULL)')
        sql.run('INSERT INTO "pair" ("id", "n") VALUES (1, 0), (2, 0)')
        database.close()


def test_a_unit_of_work_that_meets_a_deadlock_on_postgresql_runs_again_whole_and_both_commit(pg_app, caplog):
    import logging
    import threading

    from onestop import sql
    from onestop.db import run_write

    _pg_pair(pg_app)
    caplog.set_level(logging.INFO, logger="onestop.db")
    barrier, runs, errors = threading.Barrier(2), {1: 0, 2: 0}, []

    def writer(first, second):
        def work():  # takes its two rows in the opposite order of the other writer's
            runs[first] += 1
            sql.run('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = ?', (first,))
            if runs[first] == 1:
                barrier.wait(30)  # both hold their first row: the second update deadlocks one of them
            sql.run('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = ?', (second,))

        with pg_app.app_context():
            database.connect(reuse_if_open=True)
            try:
                run_write(work)
            except Exception as exc:  # the outcome under test: none may reach the caller
                errors.append(exc)
            finally:
                database.close()

    threads = [threading.Thread(target=writer, args=pair) for pair in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(runs.values()) == [1, 2]  # the deadlock's victim ran its whole unit again, once
    with pg_app.app_context():
        database.connect(reuse_if_open=True)
        assert sql.run('SELECT "n" FROM "pair" ORDER BY "id"').fetchall() == [(2,), (2,)]  # each unit counted once
        database.close()
    assert [r for r in caplog.records if "retried (1 of" in r.getMessage() and "deadlock" in r.getMessage()]


def test_a_unit_inside_another_transaction_is_not_run_again_on_its_own(pg_app):
    from peewee import OperationalError

    from onestop.db import is_transient, run_write, write_transaction

    _pg_pair(pg_app)
    runs = []
    with pg_app.app_context():
        database.connect(reuse_if_open=True)

        def work():
            runs.append(1)
            raise _deadlock()

        with pytest.raises(OperationalError) as raised, write_transaction():
            run_write(work)
        assert is_transient(raised.value) and runs == [1]
        runs.clear()
        with pytest.raises(OperationalError):
            run_write(work)  # alone it is retried, and gives up after RETRIES more runs
        from onestop.db import RETRIES

        assert len(runs) == RETRIES + 1
        database.close()


def _deadlock():
    """A real deadlock error of psycopg2, raised by a real PostgreSQL function call."""
    from onestop import sql

    try:
        with database.atomic():
            sql.run("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'deadlock_detected'; END $$")
    except Exception as exc:  # the error itself is what we want
        return exc
    raise AssertionError("PostgreSQL raised nothing")


@pytest.fixture
def pg_db():
    """A bare pool on a fresh PostgreSQL database, as onestop opens it (no app)."""
    from onestop.db import open_database

    url = create_test_database(admin_url_or_skip())
    db = open_database(url)
    db.execute_sql("CREATE TABLE scratch (n INTEGER PRIMARY KEY)")
    yield db
    db.close_all()
    drop_test_database(url)


def test_postgresql_is_spoken_to_with_psycopg_3_and_a_statement_run_again_is_prepared(pg_db):
    import psycopg

    for n in range(3):
        pg_db.execute_sql("SELECT %s + 1", (n,)).fetchone()
    assert isinstance(pg_db.connection(), psycopg.Connection)
    assert pg_db.execute_sql("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] >= 1


def test_a_statement_run_again_outside_a_pipeline_looks_up_no_adapter_and_its_answer_is_read_whole(pg_db, monkeypatch):
    """A new psycopg cursor per statement looked up its parameters' dumpers and its columns' loaders again (~20-30
    us of client CPU a statement): `sql.run` outside a pipeline runs a statement on the cursor its connection keeps
    for that text, and reads each answer whole at once, so that one still being read is not overwritten."""
    from peewee import IntegrityError
    from psycopg.adapt import AdaptersMap

    from onestop import db as dbmodule
    from onestop import sql
    from onestop.db import enter

    looked_up = []
    for name in ("get_loader", "get_dumper"):
        real = getattr(AdaptersMap, name)
        monkeypatch.setattr(AdaptersMap, name, lambda self, *args, real=real: looked_up.append(1) or real(self, *args))
    enter(pg_db)
    pg_db.connect(reuse_if_open=True)
    try:
        for n in (1, 2, 3):
            assert sql.run("INSERT INTO scratch VALUES (?)", (n,)).rowcount == 1
        reading = "SELECT n, CAST(n AS TEXT) AS t, CAST(n AS NUMERIC) AS d FROM scratch WHERE n >= ? ORDER BY 1"
        assert sql.run(reading, (2,)).fetchall() == [(2, "2", 2), (3, "3", 3)]
        looked_up.clear()
        assert sql.run(reading, (3,)).fetchall() == [(3, "3", 3)]
        assert looked_up == []  # the first run's adapters served the second
        outer = [(n, sql.run("SELECT count(*) FROM scratch WHERE n <= ?", (n,)).fetchone()[0])
                 for (n, *_rest) in sql.run(reading, (0,))]
        assert outer == [(1, 1), (2, 2), (3, 3)]
        answer = sql.run(reading, (0,))
        assert answer.rowcount == 3 and answer.fetchone()[0] == 1 and [r[0] for r in answer.fetchmany(5)] == [2, 3]
        assert answer.fetchone() is None and answer.fetchall() == []
        assert sql.run("UPDATE scratch SET n = n WHERE n > ?", (1,)).rowcount == 2
        with pytest.raises(IntegrityError):  # raised as peewee's error, and the statement runs again after it
            sql.run("INSERT INTO scratch VALUES (?)", (2,))
        assert sql.run("INSERT INTO scratch VALUES (?)", (4,)).rowcount == 1
        monkeypatch.setattr(dbmodule, "KEPT_ROWS", 2)  # a long answer's cursor is not kept with it
        assert len(sql.run(reading, (0,)).fetchall()) == 4
        assert reading not in pg_db.connection()._onestop_cursors
    finally:
        pg_db.close()
        enter(None)


def test_a_deferred_write_run_again_in_a_later_pipeline_looks_up_no_adapter_and_each_answer_is_its_own(
        pg_db, monkeypatch):
    """The deferred writes' statements (sent in the pipeline, their answers read when the pipeline is left)
    keep their cursors with the connection for the next unit's pipeline too; a text sent twice in one
    pipeline takes two cursors, each with its own answer."""
    from psycopg.adapt import AdaptersMap

    from onestop import sql
    from onestop.db import LOCK_AUDIT, LOCK_FIGURES, defer, enter, run_write

    looked_up, counted = [], []
    for name in ("get_loader", "get_dumper"):
        real = getattr(AdaptersMap, name)
        monkeypatch.setattr(AdaptersMap, name, lambda self, *args, real=real: looked_up.append(1) or real(self, *args))

    def unit(n, twice=False):
        def work():
            sql.run("INSERT INTO scratch VALUES (?)", (n,))
            defer((LOCK_FIGURES, 0), lambda: sql.run("INSERT INTO scratch VALUES (?) RETURNING n", (n + 100,)))
            defer((LOCK_AUDIT, 0), lambda: counted.append(sql.run(
                "SELECT count(*) FROM scratch WHERE n >= ?", (n,)).fetchone()[0]))
            if twice:  # the same text again in the same pipeline: its own cursor, its own answer
                first = sql.run("SELECT n + ? FROM scratch WHERE n = ?", (1, n))
                second = sql.run("SELECT n + ? FROM scratch WHERE n = ?", (2, n))
                defer((LOCK_AUDIT, 1), lambda: counted.append((first.fetchone()[0], second.fetchone()[0])))
        return work

    enter(pg_db)
    try:
        run_write(unit(1))
        run_write(unit(2))
        looked_up.clear()
        run_write(unit(3))
        assert looked_up == []  # the earlier pipelines' cursors served this one
        run_write(unit(4, twice=True))
        assert counted == [2, 3, 4, 5, (5, 6)]  # each unit's rows counted after its own insert
        assert [n for (n,) in pg_db.execute_sql("SELECT n FROM scratch ORDER BY n")] == [1, 2, 3, 4, 101, 102, 103, 104]
    finally:
        pg_db.close()
        enter(None)


def _through_unix_socket(admin_url: str, dbname: str) -> list[str]:
    """URLs of database `dbname` through its server's Unix socket, in libpq's two forms (a ``host``
    parameter naming the folder; the folder percent-encoded as the host); the test is skipped when this
    machine cannot reach the server so (a server elsewhere, or one whose socket does not let the role in)."""
    from urllib.parse import quote

    import psycopg
    import psycopg2

    conn = psycopg2.connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('unix_socket_directories'), current_setting('port')")
            folders, port = cur.fetchone()
    finally:
        conn.close()
    admin = psycopg.conninfo.conninfo_to_dict(admin_url)
    login = quote(admin.get("user", ""), safe="") + (":" + quote(admin["password"], safe="") if admin.get("password") else "")
    for folder in (f.strip() for f in folders.split(",")):
        if folder.startswith("/"):
            urls = [f"postgresql://{login}@/{dbname}?host={quote(folder, safe='/')}&port={port}",
                    f"postgresql://{login}@{quote(folder, safe='')}:{port}/{dbname}"]
            try:
                psycopg2.connect(urls[0], connect_timeout=5).close()
            except psycopg2.OperationalError:
                continue
            return urls
    pytest.skip(f"the server's Unix socket ({folders!r}) cannot be reached from here with the tests' role")


def test_a_database_url_naming_a_unix_socket_folder_reaches_the_server_through_that_socket():
    """A server on the same host is cheaper to reach through its Unix socket than through loopback TCP (docs/deploy.md):
    onestop read the URL's host with urlparse, so neither libpq form of a socket folder could be given."""
    from onestop.db import open_database

    admin_url = admin_url_or_skip()
    url = create_test_database(admin_url)
    try:
        dbname = url.rsplit("/", 1)[1]
        for socket_url in _through_unix_socket(admin_url, dbname):
            db = open_database(socket_url)
            try:
                # inet_server_addr() is NULL on a Unix-socket session, the server's address on a TCP one
                assert db.execute_sql("SELECT inet_server_addr(), current_database()").fetchone() == (None, dbname)
            finally:
                db.close_all()
    finally:
        drop_test_database(url)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://u:p%40ss@db.example:5433/app", {"user": "u", "password": "p@ss", "host": "db.example", "port": 5433}),
    ("postgres://u@/app", {"user": "u", "host": "localhost", "port": 5432}),  # no host: localhost over TCP, as before
    ("postgresql://u@/app?host=/run/postgresql&port=5499", {"user": "u", "host": "/run/postgresql", "port": 5499}),
    ("postgresql://u@%2Frun%2Fpostgresql/app?sslmode=require",
     {"user": "u", "host": "/run/postgresql", "port": 5432, "sslmode": "require"}),
    ("postgresql://u@db1:5432,db2:5433/app?target_session_attrs=read-write",  # several hosts, as libpq takes them
     {"user": "u", "host": "db1,db2", "port": "5432,5433", "target_session_attrs": "read-write"}),
])
def test_a_postgresql_url_is_read_as_libpq_reads_it(url, expected):
    from onestop.db import postgres_url_parameters

    assert postgres_url_parameters(url) == {"dbname": "app", **expected}


def test_a_connection_handed_back_a_moment_ago_is_handed_out_again_without_a_round_trip(pg_db, monkeypatch):
    from onestop import db as dbmodule

    pg_db.connect(reuse_if_open=True)
    conn = pg_db.connection()
    pg_db.close()
    sent = []
    real_cursor = conn.cursor
    conn.cursor = lambda *args, **kwargs: sent.append(1) or real_cursor(*args, **kwargs)
    pg_db.connect()
    assert pg_db.connection() is conn and sent == []  # peewee's pool sent SELECT 1 on every check-out
    pg_db.close()
    monkeypatch.setattr(dbmodule, "PING_IDLE_AFTER", 0.0)  # idle for longer: checked as before
    pg_db.connect()
    assert pg_db.connection() is conn and sent == [1]
    pg_db.close()


def test_deferred_writes_sent_pipelined_with_the_commit_are_all_kept_or_all_undone(pg_db):
    from peewee import IntegrityError

    from onestop.db import LOCK_AUDIT, LOCK_FIGURES, defer, enter, run_write

    enter(pg_db)
    try:
        def unit(values):
            def work():
                pg_db.execute_sql("INSERT INTO scratch VALUES (%s)", (values[0],))
                for i, n in enumerate(values[1:]):
                    defer((LOCK_FIGURES, i), lambda n=n: pg_db.execute_sql("INSERT INTO scratch VALUES (%s)", (n,)))
                defer((LOCK_AUDIT, 0), lambda: pg_db.execute_sql("SELECT max(n) FROM scratch").fetchone())
            return work

        run_write(unit([10, 11, 12]))
        with pytest.raises(IntegrityError):  # raised as peewee's error, from the pipeline
            run_write(unit([20, 21, 10]))
        assert [n for (n,) in pg_db.execute_sql("SELECT n FROM scratch ORDER BY n")] == [10, 11, 12]
    finally:
        enter(None)


def test_deferred_writes_after_the_last_answer_read_leave_with_the_commit_in_one_wait_on_the_socket(pg_db):
    """A deferred write that reads its answer (the code counter's, the audit head's) holds a row every writer
    of the centre wants until the COMMIT. Each wait on the socket from there on lets the thread's GIL go, and
    under load it waits ~5 ms or more to get it back, with the row held. The writes after that answer (that
    read nothing back) and the COMMIT are queued and leave together: one wait (the pipeline's end), not one
    or two per statement."""
    from onestop import sql
    from onestop.db import LOCK_AUDIT, LOCK_CODE, defer, enter, run_write

    waits, marked = [], []

    def counted(gen):  # the socket waits of one call of psycopg's wait(): the times its generator yields
        sent, polls = None, 0
        try:
            while True:
                try:
                    ready = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
                polls += 1
                sent = yield ready
        finally:
            if marked and polls:
                waits.append(polls)

    def work():
        pg_db.execute_sql("INSERT INTO scratch VALUES (1)")
        conn = pg_db.connection()
        real_wait = conn.wait
        conn.wait = lambda gen, *args, **kwargs: real_wait(counted(gen), *args, **kwargs)

        def hot_row():
            assert sql.run("SELECT max(n) FROM scratch").fetchone()[0] == 1
            marked.append(True)
        defer((LOCK_CODE, 0), hot_row)
        for n in (2, 3, 4):
            defer((LOCK_AUDIT, n), lambda n=n: sql.run("INSERT INTO scratch VALUES (?)", (n,)))

    enter(pg_db)
    try:
        run_write(work)
        del pg_db.connection().wait
        assert [n for (n,) in pg_db.execute_sql("SELECT n FROM scratch ORDER BY n")] == [1, 2, 3, 4]
    finally:
        enter(None)
    assert len(waits) == 1, waits


def test_writes_queued_while_another_process_holds_the_writers_lock_go_into_the_next_commit_together(tmp_path):
    import fcntl
    import os
    import threading
    import time

    from onestop.db import LocalDatabase

    path = tmp_path / "queue.db"
    db = LocalDatabase(str(path), pragmas={"journal_mode": "wal", "synchronous": "full"})
    db.execute_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    commits = []
    original = db.commit
    db.commit = lambda *args, **kwargs: commits.append(1) or original(*args, **kwargs)
    other_process = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT)  # its own lock, as another process's
    fcntl.flock(other_process, fcntl.LOCK_EX)
    works = [lambda n=n: db.execute_sql("INSERT INTO t (n) VALUES (?)", (n,)) for n in range(3)]
    threads = [threading.Thread(target=lambda w=w: (db.run_write(w), db.close())) for w in works]
    threads[0].start()  # the first in line: waits for the other process
    deadline = time.monotonic() + 30
    while not db._leading and time.monotonic() < deadline:
        time.sleep(0.005)
    for t in threads[1:]:
        t.start()
    while {id(w) for w in works} - {id(ticket.work) for ticket in db._pending} - {id(works[0])} \
            and time.monotonic() < deadline:
        time.sleep(0.005)  # the two others queued behind it
    fcntl.flock(other_process, fcntl.LOCK_UN)
    os.close(other_process)
    for t in threads:
        t.join(30)
    assert sorted(n for (n,) in db.execute_sql("SELECT n FROM t")) == [0, 1, 2]
    assert len(commits) == 1  # before: the first committed alone, the two that queued meanwhile after it
    db.close()
def test_a_unit_of_work_run_inside_another_on_sqlite_joins_it_instead_of_waiting_for_it_forever(sqlite_app):
    import threading

    from onestop import sql
    from onestop.db import run_write

    outcome = []

    def outer():
        sql.run('CREATE TABLE IF NOT EXISTS "nested" ("n" INTEGER)')
        sql.run('INSERT INTO "nested" VALUES (1)')
        return run_write(lambda: sql.run('INSERT INTO "nested" VALUES (2)') and "inner done")

    def call():
        with sqlite_app.app_context():
            database.connect(reuse_if_open=True)
            try:
                outcome.append(run_write(outer))
                outcome.append(sql.run('SELECT count(*) FROM "nested"').fetchone()[0])
            finally:
                database.close()

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the inner unit waited for the batch it runs in"
    assert outcome == ["inner done", 2]  # one commit holds both


def test_the_units_of_a_sqlite_batch_run_in_savepoints_of_one_name_and_one_that_fails_is_undone_alone(sqlite_app):
    # peewee's atomic() names each savepoint anew: a random read and two statements SQLite prepares again, per unit,
    # while the writers' lock is held.
    from onestop import sql
    from tests.services.test_audit import one_sqlite_batch

    def insert(n, fails=False):
        def work():
            sql.run('INSERT INTO "batched" VALUES (?)', (n,))
            if fails:
                raise ValueError("refused")
            return n
        return work

    with sqlite_app.app_context():
        sql.run('CREATE TABLE "batched" ("n" INTEGER)')
        errors, statements = one_sqlite_batch([insert(1), insert(2, fails=True), insert(3)])
        assert [type(e) for e in errors] == [type(None), ValueError, type(None)]
        assert [n for (n,) in sql.run('SELECT "n" FROM "batched" ORDER BY "n"')] == [1, 3]
    savepoints = [s for s in statements if "SAVEPOINT" in s.upper()]
    # SAVEPOINT (3) and the failing unit's ROLLBACK TO; no RELEASE (before: one a unit that ended well)
    assert savepoints == ['SAVEPOINT "unit"'] * 2 + ['ROLLBACK TO SAVEPOINT "unit"', 'SAVEPOINT "unit"'], savepoints


def test_the_units_of_a_sqlite_batch_undo_what_they_wrote_and_no_more_without_releasing_their_savepoints(sqlite_app):
    # Savepoints left open nest: each failing unit goes back to its own (the latest of the name), whatever came
    # before it or fails after it.
    from onestop import sql
    from tests.services.test_audit import one_sqlite_batch

    def add(n, fails=False):
        def work():
            sql.run('UPDATE "kept" SET "n" = "n" + ?', (n,))
            sql.run('INSERT INTO "batched" VALUES (?)', (n,))
            if fails:
                raise ValueError("refused")
        return work

    with sqlite_app.app_context():
        sql.run('CREATE TABLE "batched" ("n" INTEGER)')
        sql.run('CREATE TABLE "kept" ("n" INTEGER)')
        sql.run('INSERT INTO "kept" VALUES (0)')
        errors, _ = one_sqlite_batch([add(1, True), add(2), add(4, True), add(8, True), add(16), add(32, True)])
        assert [e is None for e in errors] == [False, True, False, False, True, False]
        assert [n for (n,) in sql.run('SELECT "n" FROM "batched" ORDER BY "n"')] == [2, 16]
        assert sql.run('SELECT "n" FROM "kept"').fetchone()[0] == 18
        assert not database.in_transaction()


def _temporary_files() -> list:
    """The temporary files SQLite has open in this process (it unlinks them as it opens them)."""
    import os

    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


def test_a_sqlite_batch_keeps_its_savepoints_journal_in_memory_and_the_connection_its_temp_store(sqlite_app):
    # What the batch's units change is journaled for their savepoints; past 64 kB SQLite moved that journal to a
    # temporary file (created, unlinked and written page by page under the writers' lock) with every batch of steps.
    from onestop import sql
    from tests.services.test_audit import one_sqlite_batch

    seen = []

    def rewrite(n):
        def work():
            sql.run('UPDATE "wide" SET "text" = ? || substr("text", 2)', (str(n),))  # 40 rows, each on a page
            seen.append(_temporary_files())
        return work

    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)
        sql.run('CREATE TABLE "wide" ("id" INTEGER PRIMARY KEY, "text" TEXT)')
        for i in range(40):
            sql.run('INSERT INTO "wide" VALUES (?, ?)', (i, "x" * 3000))
        errors, _ = one_sqlite_batch([rewrite(1), rewrite(2)])
        assert errors == [None, None]
        assert seen == [[], []]  # before: the journal's file, open from the first unit on
        assert [t for (t,) in sql.run('SELECT DISTINCT substr("text", 1, 1) FROM "wide"')] == ["2"]
        assert database.execute_sql("PRAGMA temp_store").fetchone()[0] == 0  # as every connection is opened
        database.close()


def test_a_statement_on_sqlite_binds_none_and_booleans_as_before_through_adapters_found_at_once(sqlite_app):
    # sqlite3 found no adapter for None or a bool and then failed a look-up of `__adapt__` (an AttributeError
    # raised and cleared, a parameter at a time); the adapters hand back what it bound without them.
    import sqlite3

    from onestop import sql

    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters
    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)
        row = sql.run("SELECT typeof(?), typeof(?), ?, typeof(?), ?", (None, True, True, False, False)).fetchone()
        assert tuple(row) == ("null", "integer", 1, "integer", 0)
        database.close()


def test_a_statement_on_sqlite_goes_to_the_connection_without_peewees_wrapper_and_fails_as_peewees(
        sqlite_app, monkeypatch):
    # Entered and left around every statement before (two Python calls, ~2 us); now only when one fails.
    import peewee

    from onestop import sql

    entered = []
    with sqlite_app.app_context():
        database.connect(reuse_if_open=True)  # (peewee's connect enters it: not a statement)
        monkeypatch.setattr(peewee.ExceptionWrapper, "__enter__", lambda self: entered.append(1))
        sql.run('CREATE TABLE "once" ("n" INTEGER PRIMARY KEY)')
        assert sql.run('INSERT INTO "once" VALUES (?) RETURNING "n"', [1]).fetchone()[0] == 1
        assert entered == []
        with pytest.raises(peewee.IntegrityError) as failed:
            sql.run('INSERT INTO "once" VALUES (?)', (1,))
        assert "UNIQUE constraint failed" in str(failed.value) and len(entered) == 1
        database.close()


def test_on_sqlite_tells_the_contexts_database_apart(pg_db, tmp_path):
    """The services ask one question wherever SQLite and PostgreSQL take different statements (db.on_sqlite), of
    this context's database (db.enter), not of the process's."""
    import contextvars

    from onestop.db import enter, on_sqlite, open_database

    local = open_database(f"sqlite:///{tmp_path / 'onestop.db'}")

    def inside(db):
        enter(db)
        return on_sqlite()

    try:
        assert contextvars.copy_context().run(inside, local) is True
        assert contextvars.copy_context().run(inside, pg_db) is False
    finally:
        local.close()


@contextlib.contextmanager
def _grouped(app):
    """The app's PostgreSQL pool with group commit on and its commits counted (the list yielded), the
    table "pair" made (_pg_pair); both undone afterwards."""
    _pg_pair(app)
    db = database.obj
    commits, original = [], db.commit
    db.commit = lambda *args, **kwargs: commits.append(1) or original(*args, **kwargs)
    db.group_commit = True
    try:
        yield commits
    finally:
        db.commit, db.group_commit = original, False


def _run_write_in(app, work):
    """run_write(work) as a request thread of `app` runs it, on a connection of its own."""
    from onestop.db import run_write

    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            return run_write(work)
        finally:
            database.close()


def _queued_behind_a_running_batch(app, writer, count):
    """writer(0) ... writer(count - 1), each in a thread, their units queued while a batch of `app`'s database runs
    (one that waits until they all are), so that they make the next batch together; returns when all have ended."""
    import threading
    import time

    db, blocking = database.obj, threading.Event()
    blocker = threading.Thread(target=_run_write_in, args=(app, lambda: blocking.wait(30)))
    blocker.start()
    while not db._leading:
        time.sleep(0.005)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    while len(db._pending) < count:
        time.sleep(0.005)
    blocking.set()
    for t in [blocker, *threads]:
        t.join(60)


def test_with_group_commit_on_postgresql_concurrent_units_share_commits_and_a_failing_one_is_undone_alone(pg_app):
    from onestop import sql

    outcomes = {}

    def writer(n):
        def work():
            sql.run('INSERT INTO "pair" ("id", "n") VALUES (?, ?)', (10 + n, n))
            sql.run('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = 1')  # the row every unit writes
            if n % 5 == 2:
                raise ValueError(f"refused {n}")
            return n

        try:
            outcomes[n] = _run_write_in(pg_app, work)
        except ValueError as exc:
            outcomes[n] = str(exc)

    with _grouped(pg_app) as commits:
        _queued_behind_a_running_batch(pg_app, writer, 12)
    refused = {n for n in range(12) if n % 5 == 2}
    assert outcomes == {n: (f"refused {n}" if n in refused else n) for n in range(12)}
    with pg_app.app_context():
        database.connect(reuse_if_open=True)
        assert {i for (i,) in sql.run('SELECT "id" FROM "pair" WHERE "id" >= 10').fetchall()} == \
            {10 + n for n in range(12) if n not in refused}
        assert sql.run('SELECT "n" FROM "pair" WHERE "id" = 1').fetchone() == (12 - len(refused),)
        database.close()
    assert len(commits) == 2  # the blocker's, and one for the twelve units (alone: one for each that kept its write)


def test_with_group_commit_on_postgresql_a_unit_of_a_batch_that_meets_a_deadlock_is_undone_alone_and_runs_again(pg_app):
    import threading
    import time

    import psycopg

    from onestop import sql

    db = database.obj
    blocking, first_done, runs, errors = threading.Event(), threading.Event(), {"a1": 0, "a2": 0}, []

    def a1():
        runs["a1"] += 1
        sql.run('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = 1')
        first_done.set()

    def a2():
        runs["a2"] += 1
        sql.run('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = 2')  # held by the other transaction

    def call(work):
        try:
            _run_write_in(pg_app, work)
        except Exception as exc:  # the outcome under test: none may reach the caller
            errors.append(exc)

    with _grouped(pg_app) as commits, psycopg.connect(dbname=db.database, **{  # another process's connection
            k: v for k, v in db.connect_params.items() if k in ("host", "port", "user", "password")}) as other:
        other.execute("SET deadlock_timeout = '60s'")  # the batch's side detects the deadlock: its unit is the victim
        blocker = threading.Thread(target=call, args=(lambda: blocking.wait(30),))
        blocker.start()  # a batch that runs until released: the two units queue meanwhile, for the next one
        while not db._leading:
            time.sleep(0.005)
        units = [threading.Thread(target=call, args=(work,)) for work in (a1, a2)]
        for t in units:
            t.start()
        while len(db._pending) < 2:
            time.sleep(0.005)
        other.execute('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = 2')  # the other transaction ...
        blocking.set()
        assert first_done.wait(30)
        other.execute('UPDATE "pair" SET "n" = "n" + 1 WHERE "id" = 1')  # ... waits for the batch, which waits for it
        other.commit()  # once the batch's unit a2, the deadlock's victim, was undone alone
        for t in [blocker, *units]:
            t.join(60)
    assert errors == []
    assert runs == {"a1": 1, "a2": 2}  # a1 ran once and kept its write; a2 was undone and ran again
    with pg_app.app_context():
        database.connect(reuse_if_open=True)
        assert sql.run('SELECT "n" FROM "pair" ORDER BY "id"').fetchall() == [(2,), (2,)]
        database.close()
    assert len(commits) == 3  # the blocker's; a1's and a2's first run together; a2's second run

def test_postgres_group_commit_is_off_unless_set_and_the_setting_reaches_the_pool(tmp_path, monkeypatch):
    from onestop.assemble import build_runtime
    from onestop.config import load_settings

    url = "postgresql://onestop@127.0.0.1:1/onestop"  # never connected to: the pool opens connections when asked
    monkeypatch.delenv("ONESTOP_POSTGRES_GROUP_COMMIT", raising=False)
    assert build_runtime(load_settings(home=tmp_path, database_url=url), engine=False).database.group_commit is False
    monkeypatch.setenv("ONESTOP_POSTGRES_GROUP_COMMIT", "1")
    assert build_runtime(load_settings(home=tmp_path, database_url=url), engine=False).database.group_commit is True


class _Stop(BaseException):
    """What a thread may be told that is not an error (as KeyboardInterrupt or SystemExit are)."""


@pytest.mark.parametrize("app_fixture", ["sqlite_app", "pg_app"])
def test_a_unit_of_a_batch_told_to_stop_stops_the_whole_batch_and_none_of_it_is_committed(request, app_fixture):
    # A KeyboardInterrupt or SystemExit raised while a batch runs is its thread's, whichever unit it ran in (a
    # signal reaches the main thread): before, on SQLite, it escaped the batch undoing all of it with the other
    # units' errors left unset; then it was taken for that unit's own error and the batch went on, the stop lost.
    # PostgreSQL's batches (group commit) run their units the same way.
    import contextvars

    from onestop import sql
    from onestop.db import _Ticket

    app = request.getfixturevalue(app_fixture)

    def stops():
        sql.run('INSERT INTO "stopped" VALUES (2)')
        raise _Stop()

    with app.app_context():
        sql.run('CREATE TABLE "stopped" ("n" INTEGER)')
        tickets = [_Ticket(work, contextvars.copy_context())
                   for work in (lambda: sql.run('INSERT INTO "stopped" VALUES (1)'), stops,
                                lambda: sql.run('INSERT INTO "stopped" VALUES (3)'))]
        with pytest.raises(_Stop):
            database.obj._commit_batch(tickets)
        assert all(isinstance(t.error, _Stop) for t in tickets)  # run_write tells the other callers WriteInterrupted
        assert sql.run('SELECT COUNT(*) FROM "stopped"').fetchone() == (0,)


def test_when_the_thread_leading_a_sqlite_batch_is_told_to_stop_before_its_commit_no_other_unit_is_told_it_was_made(
        sqlite_app, monkeypatch):
    # Before: the leader's KeyboardInterrupt or SystemExit left run_write and the other units' callers were
    # answered as if their writes had been committed.
    from onestop import sql
    from onestop.db import WriteInterrupted

    with sqlite_app.app_context():
        sql.run('CREATE TABLE "stopped" ("n" INTEGER)')
    db = database.obj
    commit_batch = db._commit_batch

    def interrupted(batch):
        if len(batch) > 1:
            raise _Stop()
        return commit_batch(batch)

    monkeypatch.setattr(db, "_commit_batch", interrupted)
    outcomes = []

    def writer(n):
        try:
            _run_write_in(sqlite_app, lambda: sql.run('INSERT INTO "stopped" VALUES (?)', (n,)) and n)
            outcomes.append("made")
        except _Stop:
            outcomes.append("stopped")
        except WriteInterrupted:
            outcomes.append("not made")

    _queued_behind_a_running_batch(sqlite_app, writer, 3)
    assert sorted(outcomes) == ["not made", "not made", "stopped"]
    with sqlite_app.app_context():
        assert sql.run('SELECT COUNT(*) FROM "stopped"').fetchone() == (0,)
