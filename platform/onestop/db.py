"""The database handle: declared unbound here, bound by the app factory or the CLI.

SQLite (embedded default) runs in WAL mode with synchronous=FULL; PostgreSQL is chosen by a
postgresql:// URL. Everything else in onestop talks to `database` and never knows which.
"""

import contextlib
import fcntl
import os
import threading
from urllib.parse import urlparse

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "cache_size": -16000,
}


class LocalDatabase(SqliteDatabase):
    """SQLite with fair queueing of writers.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to
    100 ms a try), so under load a writer could wait far longer than the work ahead of it. Here
    writers queue instead: on a lock within the process, then on an OS file lock beside the
    database across processes (gunicorn workers, the worker), which wakes the next in line as soon
    as the previous commits.
    """

    def __init__(self, path, **kwargs):
        super().__init__(path, **kwargs)
        self._writer = threading.RLock()
        self._depth = 0
        self._turn = threading.Condition()
        self._pending = []
        self._leading = False
        self._lock_file = None if path == ":memory:" else f"{path}-writers.lock"
        self._lock_fd = None
        self._lock_pid = None

    @contextlib.contextmanager
    def writer(self):
        with self._writer:
            if self._depth == 0:
                self._acquire_file_lock()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release_file_lock()

    def run_write(self, work):
        """Run `work()` in a write transaction shared with the writes other threads queue
        meanwhile: one commit, one fsync for all of them (group commit). Each runs in its own
        savepoint, so one that raises is undone alone and its exception reaches only its caller.
        Whoever finds no batch being committed commits the waiting ones, its own among them."""
        ticket = _Ticket(work)
        with self._turn:
            self._pending.append(ticket)
            while not ticket.finished and self._leading:
                self._turn.wait()
            if not ticket.finished:
                self._leading = True
                batch, self._pending = self._pending, []
        if not ticket.finished:
            try:
                self._commit_batch(batch)
            finally:
                with self._turn:
                    for done in batch:
                        done.finished = True
                    self._leading = False
                    self._turn.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _commit_batch(self, batch):
        if len(batch) == 1:  # alone: no savepoint needed, a failure rolls the whole transaction back
            ticket = batch[0]
            try:
                with self.writer(), self.atomic("IMMEDIATE"):
                    ticket.result = ticket.work()
            except Exception as exc:  # handed to the ticket's own caller
                ticket.error = exc
            return
        try:
            with self.writer(), self.atomic("IMMEDIATE"):
                for ticket in batch:
                    try:
                        with self.atomic():
                            ticket.result = ticket.work()
                    except Exception as exc:  # handed to the ticket's own caller
                        ticket.error = exc
        except Exception as exc:  # the commit itself failed: none of the batch happened
            for ticket in batch:
                ticket.error = ticket.error or exc

    def _acquire_file_lock(self):
        if self._lock_file is None:
            return
        if self._lock_fd is None or self._lock_pid != os.getpid():  # a forked child needs its own descriptor
            self._lock_fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _release_file_lock(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


class _Ticket:
    __slots__ = ("work", "result", "error", "finished")

    def __init__(self, work):
        self.work, self.result, self.error, self.finished = work, None, None, False


def open_database(url: str):
    """A peewee Database for a sqlite:///path or postgresql://user:pw@host:port/name URL."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        if path in ("", "/:memory:"):
            path = ":memory:"
        return LocalDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=30)
    if parsed.scheme in ("postgres", "postgresql"):
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"),
            user=parsed.username,
            password=parsed.password,
            host=parsed.hostname or "localhost",
            port=parsed.port or 5432,
            max_connections=64,
            stale_timeout=300,
            timeout=30,
        )
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)")


def bind(url: str):
    """Bind the module-level proxy to the database at url and return it."""
    db = open_database(url)
    database.initialize(db)
    return db


def init_app(app):
    """A connection for each request: PostgreSQL's goes back to the pool afterwards; SQLite's stays
    open with its thread (opening one costs more than many a request)."""

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not isinstance(database.obj, SqliteDatabase) and not database.is_closed():
            database.close()


@contextlib.contextmanager
def write_transaction():
    """A write transaction: on SQLite queued fairly and holding the write lock from its start."""
    db = database.obj
    if isinstance(db, LocalDatabase):
        with db.writer(), db.atomic("IMMEDIATE"):
            yield
    elif isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


def run_write(work):
    """`work()` in a write transaction; on SQLite grouped with concurrent writes into one commit."""
    db = database.obj
    if isinstance(db, LocalDatabase):
        return db.run_write(work)
    with write_transaction():
        return work()
