"""SQLite's WAL is checkpointed beside the requests, not inside one of their commits, stays bounded, and
a process killed mid-load loses no committed write."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from onestop.assemble import build_runtime
from onestop.config import load_settings
from onestop.db import open_database

PAGE = 4096
BLOB = 40 * 1024  # ~10 pages of WAL per row written


def _write_rows(db, first: int, count: int):
    for n in range(first, first + count):
        db.run_write(lambda n=n: db.execute_sql("INSERT INTO t (n, blob) VALUES (?, randomblob(?))", (n, BLOB)))


def _opened(path: Path, **options):
    db = open_database(f"sqlite:///{path}", **options)
    db.execute_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, blob BLOB)")
    return db


def _wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


def test_a_commit_that_makes_the_wal_cross_its_bound_does_not_copy_it_into_the_database_file(tmp_path):
    path = tmp_path / "onestop.db"
    db = _opened(path, checkpoint_seconds=3600, wal_pages=100)  # the checkpointer is not due during this test
    size_before = os.path.getsize(path)
    _write_rows(db, 0, 15)  # ~150 pages: past the bound, under SQLite's backstop (twice the bound)
    assert os.path.getsize(path) == size_before  # SQLite's own checkpoint (at 100 pages) would have copied them
    assert _wal_bytes(path) > 100 * PAGE
    db.close()


def test_a_checkpoint_copies_the_wal_and_one_past_the_bound_makes_the_next_writer_start_it_over(tmp_path):
    path = tmp_path / "onestop.db"
    db = _opened(path, checkpoint_seconds=3600, wal_pages=100)
    _write_rows(db, 0, 15)
    in_wal, copied = db.checkpoint()
    assert in_wal >= 100 and copied == in_wal  # all of it copied (the rest under the writers' lock)
    assert os.path.getsize(path) > 150 * PAGE  # the rows are in the database file now
    wal_size = _wal_bytes(path)
    _write_rows(db, 15, 3)
    assert _wal_bytes(path) == wal_size  # written from the WAL's beginning again, not appended
    assert db.checkpoint()[0] < 100  # only what came after the restart
    assert db.execute_sql("SELECT count(*) FROM t").fetchone()[0] == 18
    db.close()


def test_the_checkpointer_thread_copies_the_wal_of_a_database_this_process_wrote_to(tmp_path):
    path = tmp_path / "onestop.db"
    db = _opened(path, checkpoint_seconds=0.05, wal_pages=50)
    size_before = os.path.getsize(path)
    _write_rows(db, 0, 6)  # ~66 pages: past the bound, under the backstop (100)
    deadline = time.monotonic() + 30
    while db.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert db.checkpoints >= 1
    assert os.path.getsize(path) > size_before  # copied by the thread: SQLite's backstop (100 pages) was not reached
    db.close()


def test_without_the_checkpointer_sqlite_checkpoints_at_the_bound_and_with_it_only_at_twice_the_bound(tmp_path):
    own = open_database(f"sqlite:///{tmp_path / 'a.db'}", checkpoint_seconds=0, wal_pages=300)
    backstop = open_database(f"sqlite:///{tmp_path / 'b.db'}", checkpoint_seconds=0.25, wal_pages=300)
    assert own.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 300
    assert backstop.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 600
    own.close()
    backstop.close()


def test_the_checkpoint_settings_are_read_from_the_environment_and_reach_the_database(tmp_path, monkeypatch):
    assert (load_settings(home=tmp_path).sqlite_checkpoint_seconds, load_settings(home=tmp_path).sqlite_wal_pages) \
        == (0.0, 1000)
    monkeypatch.setenv("ONESTOP_SQLITE_CHECKPOINT_SECONDS", "0.5")
    monkeypatch.setenv("ONESTOP_SQLITE_WAL_PAGES", "2000")
    database = build_runtime(load_settings(home=tmp_path), engine=False).database
    assert (database.checkpoint_seconds, database.wal_pages) == (0.5, 2000)


WRITER = textwrap.dedent("""
    import sys
    from onestop.db import open_database

    db = open_database("sqlite:///" + sys.argv[1], checkpoint_seconds=0.01, wal_pages=20)
    db.execute_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, blob BLOB)")
    n = 0
    while True:
        db.run_write(lambda: db.execute_sql("INSERT INTO t (n, blob) VALUES (?, randomblob(?))", (n, 20000)))
        print(n, flush=True)  # committed
        n += 1
""")


def test_a_process_killed_while_writing_and_checkpointing_loses_no_committed_row(tmp_path):
    path = tmp_path / "onestop.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env, text=True)
    committed = -1
    try:
        for line in process.stdout:
            committed = int(line)
            if committed >= 300:  # ~1,500 pages through a 20-page WAL bound: many checkpoints and restarts
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        process.stdout.close()
    assert committed >= 300
    db = open_database(f"sqlite:///{path}", checkpoint_seconds=0)
    assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {n for (n,) in db.execute_sql("SELECT n FROM t")}
    assert set(range(committed + 1)) <= stored
    db.close()


def _wait_for(condition):
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_checkpointer_waits_idle_with_nothing_written_and_a_write_after_a_quiet_spell_wakes_it(tmp_path):
    from onestop.db import CHECKPOINTER

    path = tmp_path / "onestop.db"
    db = _opened(path, checkpoint_seconds=0.05, wal_pages=1000)
    _write_rows(db, 0, 1)
    assert _wait_for(lambda: db.checkpoints >= 1 and CHECKPOINTER._idle)  # no wake-ups while nothing is written
    _write_rows(db, 1, 1)
    assert _wait_for(lambda: db.checkpoints >= 2)
    db.close()
