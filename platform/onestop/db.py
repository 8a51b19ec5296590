"""The database handle: declared unbound here, bound by the app factory or the CLI.

`database` is peewee's proxy resolved per context: the database of the runtime active in this context
(services.runtime.enter: an app's context, a worker thread), else the process's (`bind`). So two
apps in one process each talk to their own database.

SQLite (embedded default) runs in WAL mode with synchronous=FULL; PostgreSQL is chosen by a
postgresql:// URL and spoken to with psycopg 3 (server-side parameters, each connection preparing the
statements it runs often) through a pool of connections per process (`PostgresPool`). Everything else
in onestop talks to `database` and never knows which.

Write transactions are units of work (`run_write`, `write_transaction`) that take the rows every
writer shares in ONE order (docs/architecture.md, "Lock order"): the work's own rows as it runs
(its dossier first), then, just before the commit, the deferred writes (`defer`): the kept figures
(LOCK_FIGURES, table by table and key by key), a new dossier's code counter and the rows that name
the code (LOCK_CODE), then the audit chain's head (LOCK_AUDIT, last; a new dossier's unit locks and
reads its chain's head together with the counter, on PostgreSQL in the same exchange).
`run_write` runs its unit again, from the start and in a new transaction, when the database
reports a deadlock or a serialization failure (a few times, after short random pauses).
On SQLite, and on PostgreSQL with `group_commit` (ONESTOP_POSTGRES_GROUP_COMMIT), the units that
threads of a process bring at the same time share one transaction and one commit (`_GroupCommit`).
"""

import contextlib
import contextvars
import fcntl
import functools
import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from contextvars import ContextVar
from urllib.parse import urlparse

from peewee import DatabaseProxy, OperationalError, SqliteDatabase, __exception_wrapper__
from playhouse.pool import PooledPostgresqlDatabase

try:  # psycopg 3 (a dependency); psycopg2 still serves if only it is installed
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency
    psycopg = None

log = logging.getLogger("onestop.db")

# The database not reached, or not usable (refused, gone, its disk full), as the driver says it: the error the layers
# above the models name when they tell a user so in a line (the command line does) instead of failing on it.
DatabaseUnusable = OperationalError
_PEEWEE_LOG = logging.getLogger("peewee")  # where peewee logs each statement at DEBUG

_in_context: ContextVar = ContextVar("onestop_database", default=None)


class ContextDatabaseProxy(DatabaseProxy):
    """A DatabaseProxy whose target is this context's database (`enter`), else the process's
    (`initialize`, as peewee's)."""

    __slots__ = ("_process",)

    def __init__(self):
        object.__setattr__(self, "_process", None)
        super().__init__()

    @property
    def obj(self):
        found = _in_context.get()
        return found if found is not None else self._process

    @obj.setter
    def obj(self, value):
        object.__setattr__(self, "_process", value)

    def __setattr__(self, attr, value):
        if attr not in ("obj", "_callbacks", "_Model"):
            raise AttributeError("Cannot set attribute on proxy.")
        object.__setattr__(self, attr, value)


def _forwarded(name):
    """The target's attribute `name`, read through the proxy without failing the normal lookup first
    (peewee's Proxy reaches its target in __getattr__, after Python built an AttributeError)."""

    def read(self):
        target = self.obj
        if target is None:
            raise AttributeError("Cannot use uninitialized Proxy.")
        return getattr(target, name)

    return property(read)


# What every request reads through the proxy (each statement, the connection, the transaction check).
for _name in ("param", "execute_sql", "in_transaction", "connect", "is_closed"):
    setattr(ContextDatabaseProxy, _name, _forwarded(_name))

database = ContextDatabaseProxy()


def on_sqlite() -> bool:
    """Whether this context's database is SQLite (in the process, `?` parameters, nothing to save by fusing
    statements) rather than PostgreSQL. Read from the proxy's target: an attribute read through the proxy costs
    more, and this is asked on every step's path."""
    return database.obj.param == "?"


def enter(db) -> None:
    """Make `db` (None: the process's) the database of this context; services.runtime calls it."""
    _in_context.set(db)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "cache_size": -16000,
}


# sqlite3 looks up an adapter for every parameter that is not exactly an int, float or str. For None and bool (15
# and more a step) it found none, then asked its PrepareProtocol type for `__adapt__`, which fails by raising and
# clearing an AttributeError: ~2,000 instructions a parameter. Adapters registered for them hand back what sqlite3
# then binds anyway (None: NULL; a bool: the integer 0 or 1), so the look-up is a hit and the values stored are the
# same. (`{}.get`: a function of C of one argument that returns None; sqlite3's registry is the process's.)
sqlite3.register_adapter(type(None), {}.get)
sqlite3.register_adapter(bool, int)


# Prepared statements kept per SQLite connection (sqlite3's default is 128). A server runs several
# hundred distinct statements (every multi-row INSERT's and IN list's length is one of its own), so
# with the default a step's statements were pushed out by the requests between two steps and
# prepared again.
SQLITE_CACHED_STATEMENTS = 1024


# SQLite's WAL: with CHECKPOINT_SECONDS > 0 (settings: ONESTOP_SQLITE_CHECKPOINT_SECONDS) the checkpointer
# copies it into the database file at most that long apart and keeps it under about WAL_PAGES pages
# (ONESTOP_SQLITE_WAL_PAGES); with 0, the default, SQLite does it inside the commit that crosses WAL_PAGES.
CHECKPOINT_SECONDS = 0.0
WAL_PAGES = 1000  # SQLite's own default threshold (4 MB of 4 kB pages)
MIN_CHECKPOINT_PAUSE = 0.01  # seconds: the checkpointer's shortest pause, however fast the WAL grows


class WriteInterrupted(RuntimeError):
    """A unit of work that was not made because the commit it was batched into was interrupted (a
    KeyboardInterrupt or SystemExit in the thread that led the batch).

    Such an exception is the batch's thread's, whichever unit it ran in (Python hands a signal to the main
    thread, which may be running another thread's unit): the whole batch is undone, that thread stops as
    told, and the other units' callers get this error, never an answer that their write was made."""


class _GroupCommit:
    """Group commit: `run_write` queues a unit of work; whoever finds no batch being committed takes every
    queued unit (its own among them) and commits them together (`_commit_batch`), the others wait for that
    commit. `_taking_batch()` is held while the batch is taken and committed (SQLite: the writers' lock)."""

    group_commit = True  # run_write groups this database's units (PostgresPool: only when asked)

    def _init_group(self):
        self._turn = threading.Condition()
        self._pending = []
        self._leading = False

    @contextlib.contextmanager
    def _unit_savepoint(self):
        """A batch's unit in a savepoint, as peewee's nested atomic() runs it (undone if the unit raises), but
        always of one name (SQLite and PostgreSQL both take the latest savepoint of a name): atomic() names each
        anew (a uuid4, i.e. a random read, and two statements to prepare again, for every unit of every batch).

        A unit that ends well leaves its savepoint open (no RELEASE: one statement fewer a unit under the
        writers' lock): the next unit's savepoint nests in it, a failing unit's ROLLBACK TO goes back to the
        latest savepoint of the name, its own, and the batch's COMMIT ends them all. (On SQLite their journal, ~100 kB
        a step, is held until then: a batch holds at most one unit of each of the process's threads, which wait for
        theirs.)"""
        self.execute_sql('SAVEPOINT "unit"')
        try:
            yield
        except BaseException:
            self.execute_sql('ROLLBACK TO SAVEPOINT "unit"')
            raise

    def run_write(self, work):
        """Run `work()` in a write transaction shared with the writes other threads queue
        meanwhile: one commit, one fsync for all of them (group commit). Each runs in its own
        savepoint, so one that raises is undone alone and its exception reaches only its caller.
        Whoever finds no batch being committed commits the waiting ones, its own among them."""
        ticket = _Ticket(work, self._unit_context())
        with self._turn:
            self._pending.append(ticket)
            while not ticket.finished and self._leading:
                self._turn.wait()
            leads = not ticket.finished
            if leads:
                self._leading = True
        if leads:
            batch, committed, interrupted = [], False, None
            try:
                # The lock across processes first, then the batch: the writes queued here while another
                # process held it go into this commit instead of waiting for the next one.
                with self._taking_batch():
                    with self._turn:
                        batch, self._pending = self._pending, []
                    self._commit_batch(batch)
                    committed = True
            except BaseException as exc:  # (KeyboardInterrupt too: no unit of the batch may be told it was made)
                if not isinstance(exc, Exception):
                    interrupted = exc
                if committed:  # giving the lock back failed, after the commit: the writes are kept
                    log.exception("releasing the writers' lock of %s failed", self.database)
                    if not isinstance(exc, Exception):
                        ticket.error = exc  # the leader stops as it was told to; its write stands
                else:  # taking it failed: the writes waiting here did not happen
                    with self._turn:
                        if not batch:
                            batch, self._pending = self._pending, []
                    for done in batch:
                        done.error = done.error or exc
            finally:
                with self._turn:
                    for done in batch:
                        if interrupted is not None and done is not ticket and done.error is interrupted:
                            # Stopping the leader's thread (KeyboardInterrupt, SystemExit) is not for the others'
                            # threads: their writes were not made, which they are told as an error of their own.
                            done.error = WriteInterrupted("the commit this write was part of was interrupted")
                        done.finished = True
                    self._leading = False
                    self._turn.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result


class LocalDatabase(_GroupCommit, SqliteDatabase):
    """SQLite with fair queueing of writers.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to
    100 ms a try), so under load a writer could wait far longer than the work ahead of it. Here
    writers queue instead: on a lock within the process, then on an OS file lock beside the
    database across processes (gunicorn workers, the worker), which wakes the next in line as soon
    as the previous commits.
    """

    def __init__(self, path, *, checkpoint_seconds: float = 0.0, wal_pages: int = WAL_PAGES, **kwargs):
        self.checkpoint_seconds = checkpoint_seconds if path != ":memory:" else 0.0
        self.wal_pages = wal_pages
        if path != ":memory:":
            # With the checkpointer, commits leave the WAL to it, and SQLite's own checkpoint in a commit
            # stays as the backstop (at twice the bound) should the checkpointer ever fall behind.
            kwargs["pragmas"] = {**dict(kwargs.get("pragmas") or ()),
                                 "wal_autocheckpoint": 2 * wal_pages if self.checkpoint_seconds > 0 else wal_pages}
        super().__init__(path, **kwargs)
        self._written = False  # a write committed in this process since the checkpointer last looked
        self._last_checkpoint = (time.monotonic(), 0)  # when the last one ran, and the pages the WAL held then
        self.checkpoint_pause = self.checkpoint_seconds  # seconds from one checkpoint to the next
        self.checkpoints = 0  # checkpoints run by this process (CHECKPOINTER's, or `checkpoint()` called)
        self._writer = threading.RLock()
        self._depth = 0
        self._init_group()
        self._lock_file = None if path == ":memory:" else f"{path}-writers.lock"
        self._temp_store = dict(self._pragmas).get("temp_store", "DEFAULT")  # as its connections are set up
        self._lock_fd = None
        self._lock_pid = None

    def execute_sql(self, sql, params=None):
        """peewee's execute_sql without its per-statement bookkeeping when nothing uses it (no query hook, no
        debug log of statements): the connection's own execute, its errors raised as peewee's. A step runs a
        dozen and a half statements; the bookkeeping cost ~4 us each."""
        state = self._state
        if self.query_hooks or state.closed or _PEEWEE_LOG.isEnabledFor(logging.DEBUG):
            return super().execute_sql(sql, params)
        try:
            return state.conn.execute(sql, params or ())
        except Exception:
            # Raised as peewee's, as `with __exception_wrapper__:` around the call would (its __enter__ and __exit__
            # are two Python calls a statement, ~2 us; here only when the statement failed).
            with __exception_wrapper__:
                raise

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
                    if self.checkpoint_seconds > 0:
                        self._written = True
                        CHECKPOINTER.watch(self)

    def checkpoint(self) -> tuple[int, int]:
        """Copy the WAL's pages into the database file, off the writers' path: a PASSIVE checkpoint,
        which waits for no reader or writer. When the WAL holds `wal_pages` or more, the rest is
        copied again under the writers' lock (a few pages then), so that the next writer starts the
        WAL over from its beginning and it stays bounded. Returns (pages in the WAL, pages copied)."""
        # A connection of its own, for this checkpoint only: a database object that is dropped holds no
        # file open here (and opening one costs far less than the copy and its syncs).
        conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous = FULL")  # the database file is synced after the copy
            _busy, in_wal, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            now, (then, before) = time.monotonic(), self._last_checkpoint
            grown = in_wal - before if in_wal >= before else in_wal  # (smaller: the WAL was started over since)
            if in_wal >= self.wal_pages:
                with self.writer():
                    _busy, in_wal, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self._last_checkpoint = (now, 0)  # the next writer starts the WAL over
            else:
                self._last_checkpoint = (now, in_wal)
        finally:
            conn.close()
        # Paced by the pages written since the last one: the next comes when about a quarter of the bound
        # more is expected, so the WAL crosses its bound here (and starts over) well before SQLite's backstop.
        self.checkpoint_pause = self.checkpoint_seconds if grown <= 0 else min(
            self.checkpoint_seconds, max(MIN_CHECKPOINT_PAUSE, (now - then) * self.wal_pages / 4 / grown))
        self.checkpoints += 1
        return in_wal, copied

    def _taking_batch(self):
        return self.writer()

    def _unit_context(self):
        return None  # a batch's units run in its leader's context (onestop's SQLite path reads no context of its own)

    def _commit_batch(self, batch):
        if len(batch) == 1:  # alone: no savepoint needed, a failure rolls the whole transaction back
            ticket = batch[0]
            try:
                with self.writer(), self.atomic("IMMEDIATE"):
                    ticket.result, _unit = _run_unit(ticket.work)
            except BaseException as exc:  # handed to the ticket's own caller
                ticket.error = exc
            return
        # Each audit chain's head as the batch's units have left it in its transaction (number, hash): the
        # next unit appends from there without reading the head again (services.audit: one statement
        # fewer a unit while the writers' lock is held). A unit that fails leaves it as it was.
        # The writes its units left for the commit (at_batch_commit) join the batch's once the unit's savepoint is
        # released, and are written together after the last unit.
        heads, ends = {}, []
        try:
            with self.writer(), self._savepoints_in_memory(), self.atomic("IMMEDIATE"):
                for ticket in batch:
                    try:
                        with self._unit_savepoint():
                            ticket.result, unit = _run_unit(ticket.work, heads, batched=True)
                        heads = unit.heads
                        ends += unit.ends
                    except BaseException as exc:  # handed to the ticket's own caller
                        ticket.error = exc
                        if not isinstance(exc, Exception):
                            raise  # KeyboardInterrupt, SystemExit: the batch's thread is told to stop (_stopped)
                _write_at_commit(ends)  # failing, it fails the batch: nothing of it is committed
        except BaseException as exc:  # the commit itself failed: none of the batch happened
            for ticket in batch:
                ticket.error = ticket.error or exc
            if not isinstance(exc, Exception):  # (its leader's thread was told to stop: run_write tells the others)
                raise

    @contextlib.contextmanager
    def _savepoints_in_memory(self):
        """The batch's transaction with its savepoints' journal kept in memory. SQLite keeps what a savepoint
        would undo (the pages its unit changes, ~100 kB for a step) in a journal that moves to a temporary file
        once it passes 64 kB, and with the default temp_store every batch of several units did: a file created,
        unlinked and written in some 200 writes, all under the writers' lock. `temp_store` is read when the
        transaction begins; it is set back after the commit, so that no other query of the connection (a large
        sort, say) keeps its temporary data in memory."""
        self.execute_sql("PRAGMA temp_store = MEMORY")
        try:
            yield
        finally:
            try:
                self.execute_sql(f"PRAGMA temp_store = {self._temp_store}")
            except Exception:  # after the commit: the writes stand; the connection only keeps the setting
                log.exception("setting temp_store back on %s failed", self.database)

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


class _Checkpointer:
    """One thread per process that checkpoints the WAL of the SQLite databases this process wrote to.

    SQLite's own checkpoint runs inside the commit that makes the WAL cross its threshold: that
    request copies ~1,000 pages and syncs the database file while holding the writers' lock, and
    every writer queued behind it waits too. Here the copy is made beside the writers instead, by a
    daemon thread (started again in a forked child), which never runs a request."""

    def __init__(self):
        self._databases = weakref.WeakSet()
        self._due = weakref.WeakKeyDictionary()  # database -> time.monotonic() of its next checkpoint
        self._forked()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self):
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None  # the process whose thread runs; a forked child starts its own
        self._idle = False  # the thread waits for a write (none of its databases has one to copy)

    def watch(self, db: "LocalDatabase") -> None:
        """Have this process's thread checkpoint `db` (which has just committed a write)."""
        if self._pid == os.getpid() and db in self._due:
            if self._idle:  # (db._written was set before: the thread either sees it or is woken here)
                self._idle = False
                self._wake.set()
            return
        with self._lock:
            self._databases.add(db)
            self._due.setdefault(db, time.monotonic() + db.checkpoint_pause)
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="onestop-sqlite-checkpointer", daemon=True).start()
            self._wake.set()  # its next round is due sooner than the thread's pause may be

    def _run(self):
        while True:
            pause = self._round()
            if pause is None:  # nothing written since: no wake-ups until something is
                self._idle = True
                if not any(db._written for db in list(self._databases)):
                    self._wake.wait()
                self._idle = False
            else:
                self._wake.wait(pause)
            self._wake.clear()

    def _round(self) -> float | None:
        """Checkpoint the databases that are due and were written to; the seconds until the next
        written one is due, or None if none was written since its last checkpoint."""
        now = time.monotonic()
        for db in list(self._databases):
            if self._due.get(db, now) <= now:
                self._due[db] = now + db.checkpoint_seconds
                if db._written:
                    db._written = False
                    try:
                        db.checkpoint()
                        self._due[db] = now + db.checkpoint_pause
                    except Exception:  # the next round tries again; SQLite's backstop bounds the WAL meanwhile
                        log.exception("WAL checkpoint of %s failed", db.database)
        pending = [self._due.get(db, now) for db in list(self._databases) if db._written]
        return max(0.0, min(pending) - time.monotonic()) if pending else None


CHECKPOINTER = _Checkpointer()


# psycopg 3 prepares a statement on a connection once it has run this many times (the statements of a
# step, whose texts are fixed: onestop.sql); the server then skips parsing and planning them.
PREPARE_THRESHOLD = 2
# A connection handed back to the pool less than this many seconds ago is handed out again without
# the round trip that checks it is still alive (peewee's pool sends SELECT 1 on every check-out).
PING_IDLE_AFTER = 5.0
# onestop.sql's statements run on a cursor the connection keeps per statement text (PostgresPool.
# _execute_answered outside a pipeline, _pipelined_cursor in it): at most this many of each kind a connection,
# and none whose answer had more rows.
KEPT_CURSORS = 64
KEPT_ROWS = 100


class PostgresPool(_GroupCommit, PooledPostgresqlDatabase):
    """peewee's pool of PostgreSQL connections, with fewer round trips per unit of work on psycopg 3:

    * a connection used a moment ago is handed out again without peewee's `SELECT 1` check (a
      connection idle for longer, broken, or left in a transaction is checked as before);
    * the deferred writes at the end of a unit of work (`_Unit.flush`) are pipelined: queued in libpq's
      buffer without touching the socket (`_PipelinedCursor.queue`), they leave when an answer is read
      or with the COMMIT, which is flushed at once (no poll, so no lost GIL, while the hot rows are held).

    What the server runs, and in which order, is what it ran before; errors are raised as peewee's
    errors, at the latest when the statement that waits for them (or the COMMIT) returns.
    """

    def __init__(self, *args, group_commit: bool = False, **kwargs):
        self._returned = {}  # id(connection) -> time.monotonic() when it came back to the pool
        # With group_commit, `run_write` groups the units of this process's threads into shared commits
        # (`_commit_batch`); without, each unit commits alone and units of several threads run side by side.
        self.group_commit = group_commit
        self._init_group()
        super().__init__(*args, **kwargs)

    # group commit (run_write) ------------------------------------------------------------------

    def _taking_batch(self):
        return contextlib.nullcontext()

    def _unit_context(self):
        # A unit run by another thread's batch sees its own thread's context (the rows read ahead with its token).
        return contextvars.copy_context()

    def _commit_batch(self, batch):
        """The units of `batch` in one transaction on this thread's connection, each in its own savepoint
        (undone alone if it raises, its error handed to its own caller, who retries a transient one), and
        one COMMIT: one WAL flush, and the rows every unit writes (the audit head, a new dossier's code counter) taken
        once, for all of them. Alone, a unit runs as `write_transaction` runs it."""
        if len(batch) == 1:
            ticket = batch[0]
            try:
                with self.atomic(), _unit_of_work():
                    ticket.result = ticket.work()
            except BaseException as exc:
                ticket.error = exc
            return
        try:
            with self.atomic():
                for ticket in batch:
                    try:
                        with self._unit_savepoint():
                            ticket.result, _unit = ticket.context.run(_run_unit, ticket.work)
                            self._release_pipeline()  # its pipelined writes answered here: an error is its own
                    except BaseException as exc:  # handed to the ticket's own caller
                        ticket.error = exc
                        if not isinstance(exc, Exception):
                            raise  # KeyboardInterrupt, SystemExit: the batch's thread is told to stop (_stopped)
        except BaseException as exc:  # the commit itself failed: none of the batch happened
            for ticket in batch:
                ticket.error = ticket.error or exc
            if not isinstance(exc, Exception):  # (its leader's thread was told to stop: run_write tells the others)
                raise

    def _connect(self):
        conn = super()._connect()
        if _is_psycopg3(conn):
            # What psycopg's own pool marks its connections with: a pooled connection still open when
            # the process (or an app and its pool) goes away is normal, not a leak to warn about.
            conn._pool = self
        return conn

    def _is_closed(self, conn):
        if conn.closed or getattr(conn, "broken", False):
            return True
        returned = self._returned.get(id(conn))
        if (returned is not None and time.monotonic() - returned < PING_IDLE_AFTER
                and self._adapter.txn_status(conn) == self._adapter.txn_idle):
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn=False):
        self._release_pipeline()
        if close_conn:
            self._returned.pop(id(conn), None)
        else:
            self._returned[id(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._returned.pop(id(conn), None)
        super()._close_raw(conn)

    def _execute_cursor(self, sql, params, **cursor_options):
        self._release_pipeline()
        return super()._execute_cursor(sql, params, **cursor_options)

    def execute_pipelined(self, sql, params=()):
        """One of onestop.sql's statements (`sql.run`): sent in the held pipeline when there is one (what
        it answers is waited for only when read: rows, rowcount), else on the connection's own cursor,
        its answer read at once (`_execute_answered`). peewee's own queries and savepoints (`execute_sql`)
        leave the pipeline first, as before."""
        if self._held() is None:
            return self._execute_answered(sql, params)
        self._log_query(sql, params)
        cursor = self._pipelined_cursor(sql)
        with __exception_wrapper__:
            cursor.queue(sql, params)
        return cursor

    def _pipelined_cursor(self, sql):
        """A cursor for `sql` in the held pipeline: the one its connection kept from an earlier pipeline for
        that text (its adapters looked up already, as `_execute_answered`'s), else a new one. It stays out of
        the kept ones until the pipeline is left and its answer read (`_release_pipeline`): the same text
        twice in one pipeline takes two cursors."""
        conn, _pipeline, out = self._state.pipeline
        kept = getattr(conn, "_onestop_pipelined", None)
        cursor = kept.pop(sql, None) if kept else None
        if cursor is None or cursor.closed:
            cursor = _PipelinedCursor(conn)
        out.append((sql, cursor))
        return cursor

    def _execute_answered(self, sql, params):
        """A statement outside the pipeline, run on the cursor its connection keeps for that statement's text,
        its rows read at once into an `_Answered` (what `sql.run`'s callers read: rows, rowcount). A psycopg
        cursor keeps its adapters (a dumper per parameter's type, a loader per column of the answer) while it
        runs the same query object again (onestop.sql's texts are kept objects); a new cursor per statement,
        as peewee makes, looked them all up again: ~20-30 us of client CPU a statement, more for a work
        item's fifty columns. A cursor that read more than KEPT_ROWS rows is not kept (its answer would
        stay in memory), nor more than KEPT_CURSORS a connection. Query hooks, peewee's debug log,
        psycopg2 or a pipeline left over take peewee's own way."""
        state = self._state
        conn = state.conn
        if (self.query_hooks or state.closed or not _is_psycopg3(conn) or getattr(state, "pipeline", None)
                is not None or _PEEWEE_LOG.isEnabledFor(logging.DEBUG)):
            return self.execute_sql(sql, params)
        kept = getattr(conn, "_onestop_cursors", None)
        if kept is None:
            kept = conn._onestop_cursors = {}
        cursor = kept.pop(sql, None)  # out of the dict while it runs: the last used go to the end
        if cursor is None or cursor.closed:
            cursor = conn.cursor()
        with __exception_wrapper__:
            cursor.execute(sql, params or ())
            answer = _Answered(cursor)
        if len(answer._rows) <= KEPT_ROWS:
            kept[sql] = cursor
            if len(kept) > KEPT_CURSORS:
                kept.pop(next(iter(kept))).close()
        else:
            cursor.close()
        return answer

    def commit(self):
        held = self._held()
        if held is None:
            return super().commit()
        conn = self._state.conn
        with __exception_wrapper__:
            self._pipelined_cursor("COMMIT").queue("COMMIT")  # queued behind the deferred writes ...
            conn.pgconn.flush()  # ... and sent with them now: the rows are free once the server reads it
        self._release_pipeline()  # their answers and the COMMIT's come back together
        return None

    def rollback(self):
        with contextlib.suppress(Exception):  # rolling back because something failed: that error is the one to see
            self._release_pipeline()
        return super().rollback()

    # the deferred writes' pipeline ----------------------------------------------------------

    def hold_pipeline(self) -> bool:
        """Enter pipeline mode on this thread's connection until the next statement, COMMIT or
        ROLLBACK (`_Unit.flush`); False where there is none (psycopg2, no open transaction).
        (Sending a transaction's BEGIN pipelined with its first statement was measured too: on one
        machine it cost 30-40 us more of client CPU per transaction than the round trip it saves.)"""
        conn = self._state.conn
        if not _is_psycopg3(conn) or conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS \
                or self._held() is not None:
            return False
        pipeline = conn.pipeline()
        pipeline.__enter__()
        self._state.pipeline = (conn, pipeline, [])  # the connection, its pipeline, (text, cursor) sent in it
        return True

    def _held(self):
        held = getattr(self._state, "pipeline", None)
        return held[1] if held is not None and held[0] is self._state.conn else None

    def _release_pipeline(self, error: BaseException | None = None):
        """Leave the held pipeline: what it queued is sent and its answers read (their first error raised,
        as peewee's error) — or, with `error` (the unit failed meanwhile), only left."""
        held = getattr(self._state, "pipeline", None)
        if held is None:
            return
        self._state.pipeline = None
        if error is not None:
            held[1].__exit__(type(error), error, error.__traceback__)
            return
        with __exception_wrapper__:
            held[1].__exit__(None, None, None)
        # Every answer is in: the statements' cursors serve the next pipeline (not one that read a long answer).
        conn, _pipeline, out = held
        kept = getattr(conn, "_onestop_pipelined", None)
        if kept is None:
            kept = conn._onestop_pipelined = {}
        for sql, cursor in out:
            result = cursor.pgresult
            if result is None or result.ntuples <= KEPT_ROWS:
                kept[sql] = cursor
        while len(kept) > KEPT_CURSORS:
            kept.pop(next(iter(kept))).close()


if psycopg is not None:
    class _PipelinedCursor(psycopg.Cursor):
        """A cursor of a statement sent in the held pipeline: reading its answer (its rows or its
        rowcount) waits for it, and an error the server gave meanwhile is raised as peewee's error."""

        def queue(self, query, params=()):
            """Put the statement in libpq's output buffer, behind those queued before it, without
            touching the socket: it leaves with the next statement whose answer is read, the next peewee
            query, or the COMMIT (`PostgresPool.commit`). psycopg's own `execute` in pipeline mode polls
            the socket before and after each statement, and a thread that polls lets the GIL go: under
            load it waited for it again ~5 ms (the interpreter's switch interval) or more, several
            times between taking a hot row (the code counter, the audit head) and the COMMIT that frees
            it. This is `execute` without those polls (psycopg's internals, as of 3.2-3.3; where they
            differ, `execute` itself)."""
            pipeline = self._conn._pipeline
            commands = getattr(pipeline, "command_queue", None)
            if commands is None or not hasattr(self, "_maybe_prepare_gen"):
                return self.execute(query, params)
            with self._conn.lock:
                self._conn.wait(self._queue_gen(query, params, commands))
            return self

        def _queue_gen(self, query, params, commands):
            yield from self._start_query(query)
            pgq = self._convert_query(query, params)
            yield from self._maybe_prepare_gen(pgq)  # in pipeline mode: appends its commands, waits for nothing
            self._last_query = query
            yield from self._conn._prepared.maintain_gen(self._conn)
            while commands:  # libpq buffers them (a non-blocking connection): nothing is sent, nothing waited for
                commands.popleft()()

        def fetchone(self):
            with __exception_wrapper__:
                return super().fetchone()

        def fetchmany(self, size=0):
            with __exception_wrapper__:
                return super().fetchmany(size)

        def fetchall(self):
            with __exception_wrapper__:
                return super().fetchall()

        @property
        def rowcount(self):
            with __exception_wrapper__:
                self._fetch_pipeline()  # (psycopg's own first step of every fetch in pipeline mode)
            return super().rowcount


class _Answered:
    """A statement's whole answer, read from its cursor as soon as it came (the cursor serves the next
    statement): its rows and rowcount, read as from a DB-API cursor. (Not its `description`: psycopg builds
    an object per column for it, which no caller of `sql.run` reads.)"""

    __slots__ = ("_rows", "_at", "rowcount")

    def __init__(self, cursor):
        self.rowcount = cursor.rowcount
        result = cursor.pgresult
        self._rows = cursor.fetchall() if result is not None and result.status == _ROWS else []
        self._at = 0

    def fetchone(self):
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size=1):
        rows = self._rows[self._at:self._at + size]
        self._at += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._at:]
        self._at = len(self._rows)
        return rows

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row


_ROWS = psycopg.pq.ExecStatus.TUPLES_OK if psycopg is not None else None


def _is_psycopg3(conn) -> bool:
    return psycopg is not None and isinstance(conn, psycopg.Connection)


class _Ticket:
    __slots__ = ("work", "context", "result", "error", "finished")

    def __init__(self, work, context=None):
        self.work, self.context, self.result, self.error, self.finished = work, context, None, None, False


def postgres_url_parameters(url: str) -> dict:
    """The connection parameters of a postgresql:// URL, read by libpq's own parser: a percent-encoded
    host or a ``host=`` parameter naming a folder is a Unix socket
    (``postgresql://user@/name?host=/run/postgresql&port=5432``, or ``postgresql://user@%2Frun%2Fpostgresql/name``),
    user and password are percent-decoded, and the query's other libpq parameters (``sslmode`` ...) are kept.
    With no host the server is sought on localhost over TCP, with no port on 5432 (as onestop always did,
    where libpq alone would try its default socket folder)."""
    if psycopg is not None:
        params = psycopg.conninfo.conninfo_to_dict(url)
    else:  # pragma: no cover - psycopg is a dependency
        from psycopg2.extensions import parse_dsn

        params = parse_dsn(url)
    params.setdefault("host", "localhost")
    port = params.get("port") or "5432"
    params["port"] = int(port) if port.isdigit() else port  # (several hosts: libpq's "5432,5433" as it is)
    return params


def open_database(url: str, *, checkpoint_seconds: float = CHECKPOINT_SECONDS, wal_pages: int = WAL_PAGES,
                  group_commit: bool = False):
    """A peewee Database for a sqlite:///path or postgresql://user:pw@host:port/name URL. SQLite's WAL is
    checkpointed by the checkpointer thread every `checkpoint_seconds` (0: by SQLite itself, inside the
    commit that crosses `wal_pages`). `group_commit`: on PostgreSQL, concurrent units of work of this
    process share commits as SQLite's always do (`PostgresPool.group_commit`; settings:
    ONESTOP_POSTGRES_GROUP_COMMIT)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        if path in ("", "/:memory:"):
            path = ":memory:"
        return LocalDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=30, checkpoint_seconds=checkpoint_seconds,
                             wal_pages=wal_pages, cached_statements=SQLITE_CACHED_STATEMENTS)
    if parsed.scheme in ("postgres", "postgresql"):
        options = {"prefer_psycopg3": True, "prepare_threshold": PREPARE_THRESHOLD} if psycopg is not None else {}
        params = postgres_url_parameters(url)
        return PostgresPool(
            params.pop("dbname", ""),
            group_commit=group_commit,
            max_connections=64,
            stale_timeout=300,
            timeout=30,
            **params,
            **options,
        )
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)")


def bind(url: str):
    """Bind the module-level proxy to the database at url and return it."""
    db = open_database(url)
    database.initialize(db)
    return db


def release() -> None:
    """Give back the calling thread's connection once its work is done: PostgreSQL's to the pool; SQLite's
    stays open with its thread, for its next request or round (opening one runs the connection's pragmas,
    which cost more than many a request, and more than an idle background round's queries)."""
    if not on_sqlite() and not database.is_closed():
        database.close()


def init_app(app):
    """A connection for each request, given back afterwards (`release`)."""

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        release()


# -- units of work: the lock order and the retries ------------------------------------------------

# The ranks of the deferred writes, in the order they are written at the end of a unit of work. The
# rows a unit takes while it runs (its dossier, that dossier's tasks and waits) come before all of
# them; see docs/architecture.md, "Lock order".
LOCK_FIGURES = 0  # the kept figures: dayfigure, dayunit, daystep, monthstep, dayrating (services.stats)
LOCK_CODE = 1  # a new dossier's code: its agency's day counter (services.codes), then the rows naming the code
LOCK_AUDIT = 2  # the audit chain's head (services.audit): always the last row a unit locks

RETRIES = 3  # a unit that meets a deadlock or a serialization failure runs again up to this many times
_PAUSE = 0.02  # seconds: the first retry waits up to this (at random), each next one up to twice as long
_TRANSIENT_CODES = {"40P01", "40001"}  # PostgreSQL: deadlock_detected, serialization_failure
_units = threading.local()


class _Unit:
    """The writes a unit of work defers to its end, kept in the order they are to be written."""

    __slots__ = ("writes", "deferred", "heads", "ends", "batched")

    def __init__(self, heads=None, batched=False):
        self.writes = []  # (order, number, write, together)
        self.deferred = 0  # how many writes were deferred: the next one's number (equal orders keep theirs)
        # audit chain -> its head as this unit locked and read it ahead, or as its transaction holds it
        # (services.audit): given by the batch the unit runs in, and kept up to date by its appends
        self.heads = dict(heads) if heads else {}
        self.ends = []  # (together, item) left for the batch's commit (at_batch_commit)
        self.batched = batched  # run in a SQLite batch of several units, which writes `ends` after its last unit

    def add(self, order, write, together=None):
        self.writes.append((order, self.deferred, write, together))
        self.deferred += 1

    def flush(self):
        # A write may defer others (a new dossier's code, once taken, has the rows that name it written,
        # and those record their audit events): they join the queue, each after the write
        # that deferred it in the lock order, which they must not step back in.
        pending, self.writes = sorted(self.writes, key=_write_order, reverse=True), []
        # On PostgreSQL (psycopg 3) in pipeline mode: the writes whose results are not read (a new code's
        # dossier and search rows, the figures' upserts, an audit event's insert, its head's new hash) go
        # to the server together, a write that reads its result (the code counter's or the audit head's
        # RETURNING) sends what is queued and waits once, and the COMMIT goes with the last of them
        # (PostgresPool); after a model query (peewee's own, which leaves the pipeline) the next write
        # enters it again. So the rows the writers share (the code counter, the figures, the audit
        # head) are held for few round trips. An error in any of them is raised inside the unit's
        # transaction, which rolls back (and run_write retries a transient one) as before.
        db = database.obj
        pipelined = isinstance(db, PostgresPool)
        try:
            while pending:
                order, write = _next_call(pending)
                if pipelined:
                    db.hold_pipeline()
                write()
                if self.writes:
                    if min(self.writes, key=_write_order)[0] < order:
                        raise RuntimeError(f"a deferred write at {order} deferred one before it in the lock order")
                    pending, self.writes = sorted(pending + self.writes, key=_write_order, reverse=True), []
        except BaseException as exc:
            if pipelined and db._held() is not None:
                db._release_pipeline(exc)
            raise


def _write_at_commit(ends) -> None:
    """Write the items left for the commit [(together, item)]: one call `together([items])` per function, in
    the order each was first given."""
    groups = {}
    for together, item in ends:
        groups.setdefault(together, []).append(item)
    for together, items in groups.items():
        together(items)


def _write_order(write):
    return write[0], write[1]


def _next_call(pending):
    """Take the next write off `pending` (sorted last-first) as a call: a plain write, or, for an item
    deferred with `together`, one call of it with every item of equal order and the same `together`."""
    order, _, write, together = pending.pop()
    if together is None:
        return order, write
    items = [write]
    for entry in reversed(pending):
        if entry[0] != order:
            break
        if entry[3] is together:
            items.append(entry[2])
    pending[:] = [entry for entry in pending if entry[0] != order or entry[3] is not together]
    return order, functools.partial(together, items)


def defer(order: tuple, write, together=None) -> None:
    """Have `write()` run at the end of the current unit of work, after the work itself, in the
    order of `order` (a tuple starting with LOCK_CODE, LOCK_FIGURES or LOCK_AUDIT, then the row's
    key; writes of equal order keep the order they were deferred in). A deferred write may defer
    more, later in that order. Outside a unit it runs now.

    With `together` (a function), `write` is an item, not a function: the unit's items of equal
    order deferred with the same `together` are written by one call `together([items])`, in the
    order they were deferred, where the first of them would have run (an audit chain's events of
    one step, appended with one advance of the chain's head)."""
    unit = getattr(_units, "current", None)
    if unit is None:
        together([write]) if together is not None else write()
        return
    unit.add(order, write, together)


def at_batch_commit(together, item) -> bool:
    """In a unit of work run in a SQLite batch of several units (LocalDatabase.run_write): have `item`
    written by `together([items])`, called once for the items of all the batch's units after its last
    unit, just before its commit (a unit that fails takes its items with it), and return True. Anywhere
    else: False, and nothing done (the caller writes the item its usual way). For rows that nothing reads
    before the commit and that no other unit writes, whose writing costs less once for many (an FTS5
    index's new rows: services.search; the kept figures' additions: services.stats.counters)."""
    unit = getattr(_units, "current", None)
    if unit is None or not unit.batched:
        return False
    unit.ends.append((together, item))
    return True


def pipelined() -> bool:
    """Whether this thread's statements of onestop.sql are queued in a held pipeline now (PostgreSQL,
    a unit's deferred writes): their answers come back when one of them is read."""
    db = database.obj
    return isinstance(db, PostgresPool) and db._held() is not None


def current_unit():
    """The unit of work running in this thread (an opaque object, the same one until it ends), or None."""
    return getattr(_units, "current", None)


@contextlib.contextmanager
def _unit_of_work(heads=None, batched=False):
    """The unit's deferred writes run when its body ends well (inside its transaction, before the
    commit) and are dropped when it fails. A nested unit joins the one it runs in, and what it
    deferred is dropped with its savepoint if it fails. Yields the unit (`heads`: see _Unit)."""
    outer = getattr(_units, "current", None)
    if outer is not None:
        mark, ends = len(outer.writes), len(outer.ends)
        try:
            yield outer
        except BaseException:
            del outer.writes[mark:]
            del outer.ends[ends:]
            raise
        return
    unit = _units.current = _Unit(heads, batched)
    try:
        yield unit
        unit.flush()
    finally:
        _units.current = None


def _run_unit(work, heads=None, batched=False):
    """`work()` as a unit of work: (its result, the unit). `heads`: the audit chains' heads as the transaction
    held them when the unit started (a batch's earlier units), None if unknown; `batched`: its writes left
    for the commit (at_batch_commit) are the batch's to write."""
    with _unit_of_work(heads, batched) as unit:
        result = work()
    return result, unit


def is_transient(exc: BaseException) -> bool:
    """Whether an error is one that running the same unit of work again may not meet: a
    PostgreSQL deadlock or serialization failure, or SQLite's busy database."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if (getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)) in _TRANSIENT_CODES:  # psycopg 3, 2
            return True
        if isinstance(exc, sqlite3.OperationalError) and ("database is locked" in str(exc)
                                                          or "database is busy" in str(exc)):
            return True
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = cause or exc.__cause__ or exc.__context__  # peewee keeps the driver's error as its first argument
    return False


@contextlib.contextmanager
def write_transaction():
    """A write transaction and unit of work (its deferred writes are written before the commit):
    on SQLite queued fairly and holding the write lock from its start. It cannot run its body
    again: a verb that may meet a deadlock uses `run_write`."""
    db = database.obj
    if isinstance(db, LocalDatabase):
        with db.writer(), db.atomic("IMMEDIATE"), _unit_of_work():
            yield
    elif isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"), _unit_of_work():
            yield
    else:
        with db.atomic(), _unit_of_work():
            yield


def run_write(work):
    """`work()` as a unit of work in a write transaction; on SQLite (and on PostgreSQL with group_commit)
    grouped with concurrent writes of this process into one commit. On a deadlock or serialization failure the transaction is rolled back and
    `work()` runs again from its start (at most RETRIES more times, after short random pauses), so
    `work` must do nothing outside the database that it cannot do twice, and must not change the
    objects it was given. Inside another transaction it runs once: the outer one owns the retry."""
    db = database.obj
    nested = db.in_transaction()
    attempt = 0
    while True:
        try:
            if getattr(db, "group_commit", False) and not nested:
                return db.run_write(work)  # (nested: it would queue behind its own batch)
            with write_transaction():
                return work()
        except Exception as exc:
            if nested or attempt >= RETRIES or not is_transient(exc):
                raise
            attempt += 1
            pause = random.uniform(0, _PAUSE * 2 ** (attempt - 1))  # noqa: S311 (jitter, not a secret)
            log.info("write retried (%d of %d) after %.0f ms: %s", attempt, RETRIES, pause * 1000,
                     str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            time.sleep(pause)
