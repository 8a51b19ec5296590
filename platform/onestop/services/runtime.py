"""The application's runtime: everything a running onestop holds besides its code — the database,
the clock, the engine, the attachment store, the timer queue, the notification senders, the rate
limiter's counts, the audit trail's keys, the dossier-code settings and the caches of rows — in one
object, `Runtime`, built by one function (`onestop.assemble.build_runtime`) that both the app factory and
the CLI call. The app holds it (`app.extensions["onestop.runtime"]`).

The seam: services reach it only through `current()`, the runtime active in this context — the
app's whose context is pushed (a request, a test's `app.app_context()`), or the one a thread was
started in (`active()`) — else the process's own (`install()`: the CLI's, the worker's, the last
app built). Two apps in one process each keep their own; a test builds an app and nothing needs
undoing afterwards.

Caches of rows another process may change (agency codes, units, calendars, local overrides,
centre codes) are SharedCaches: each declares a kind and a lifetime; the values live in the active
runtime, one cachetools TTL cache per kind, plus a version per kind in the `cacheversion` table that
the write changing those rows bumps in its own transaction. A runtime reads all the versions in one
query at most once every STAMP_CHECK_SECONDS and empties the caches whose version moved, so a change
made through any process is seen by every other within that interval, and a cache hit costs no query.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cachetools import TTLCache
from peewee import fn

from .. import clock as clocks
from .. import db
from ..models import CacheVersion

if TYPE_CHECKING:  # the engine's modules load when a command or the app builds one, not with every service
    from ..engine import Engine

STAMP_CHECK_SECONDS = 1.0  # how stale another process's change may be seen; one small query a second at most


@dataclass(eq=False)
class Runtime:
    """What one running onestop holds (see the module's docstring). Built by `assemble.build_runtime`;
    tests and benchmarks may build one with only the parts they use."""

    database: object = None  # the peewee database (db.open_database)
    clock: clocks.Clock | None = None  # business time (None: the real clock)
    engine: Engine | None = None
    files: object = None  # where attachments are kept (attachments.FileStore)
    scheduler: object = None  # scheduler(dossier_id, due_at): the timer queue (None: the timer loop polls)
    queue: object = None  # the job queue the scheduler puts timers on (huey), if any
    senders: dict = field(default_factory=dict)  # channel ("email", "sms") -> sender; missing: the log
    limiter: object = None  # the rate limiter's counts (ratelimit.Limiter)
    audit_keys: object = None  # the audit trail's keys and checkpoint file (audit.Keys)
    payments: object = None  # payment_gateway.Gateway: the payment gateway (None: none configured)
    connectors: object = None  # connectors.Options: the secrets' key, timeouts and tries of connector calls
    national_portal: object = None  # national_portal.options.Options: the portal's URL, secret, timeout
    signing: object = None  # signing.Options: where the signing keys are, the roots trusted, the public address
    code_system: str = ""  # the 2-digit system-owner code of national-service dossier codes
    passwords: object = None  # an argon2 PasswordHasher other than the standard one (tests: a cheap one)
    caches: dict = field(default_factory=dict)  # SharedCache kind -> TTLCache
    stamps: dict = field(default_factory=dict)  # kind -> the version this runtime last saw
    stamps_read_at: float = float("-inf")
    lock: threading.RLock = field(default_factory=threading.RLock)

    def store(self, shared: SharedCache) -> TTLCache:
        """This runtime's cache of one kind of rows (made on first use)."""
        store = self.caches.get(shared.kind)
        if store is None:
            with self.lock:
                store = self.caches.setdefault(shared.kind, TTLCache(maxsize=shared.maxsize, ttl=shared.seconds))
        return store

    def forget_caches(self) -> None:
        """Empty every cache of rows (the next use reads the versions again)."""
        with self.lock:
            for store in self.caches.values():
                store.clear()
            self.stamps.clear()
            self.stamps_read_at = float("-inf")

    def check_stamps(self) -> None:
        """Empty the caches whose kind another process changed (at most once per STAMP_CHECK_SECONDS)."""
        if time.monotonic() - self.stamps_read_at < STAMP_CHECK_SECONDS:
            return
        with self.lock:
            if time.monotonic() - self.stamps_read_at < STAMP_CHECK_SECONDS:
                return
            seen = dict(CacheVersion.select(CacheVersion.kind, fn.COALESCE(CacheVersion.version, 0)).tuples())
            for kind, store in self.caches.items():
                if seen.get(kind, 0) != self.stamps.get(kind, 0):
                    store.clear()
            self.stamps = seen
            self.stamps_read_at = time.monotonic()


# --- the seam -------------------------------------------------------------------------------------

_active: ContextVar = ContextVar("onestop_runtime", default=None)
_process: Runtime | None = None  # the one process-wide slot: where no app's context is active (install())


def current() -> Runtime:
    """The runtime services act in: this context's, else the process's."""
    found = _active.get() or _process
    if found is None:
        raise RuntimeError("no onestop runtime: build one with onestop.assemble.build_runtime() (or create_app)")
    return found


def install(runtime: Runtime) -> Runtime:
    """Make `runtime` the process's: used wherever no app's context or thread names another."""
    global _process
    _process = runtime
    db.database.initialize(runtime.database)
    clocks.bind(runtime.clock)
    return runtime


def enter(runtime: Runtime | None) -> None:
    """Make `runtime` (None: the process's) the one this context acts in, with its database and
    clock. The app factory calls it when an app's context is pushed or popped."""
    _active.set(runtime)
    db.enter(runtime.database if runtime is not None else None)
    clocks.enter(runtime.clock if runtime is not None else None)


_before: ContextVar = ContextVar("onestop_runtimes_before", default=())


def push(runtime: Runtime | None) -> None:
    """Act in `runtime` until the matching pop(), which hands back whatever was active before (the
    app factory calls them as an app's context is pushed and popped)."""
    _before.set(_before.get() + (_active.get(),))
    enter(runtime)


def pop() -> None:
    stack = _before.get()
    if stack:
        _before.set(stack[:-1])
        enter(stack[-1])


@contextmanager
def active(runtime: Runtime):
    """A block (e.g. a thread's whole life) that acts in `runtime`."""
    previous = _active.get()
    enter(runtime)
    try:
        yield runtime
    finally:
        enter(previous)


# --- what services take from it -------------------------------------------------------------------


def engine() -> Engine:
    found = current().engine
    if found is None:
        raise RuntimeError("this runtime has no engine (onestop.assemble.build_runtime builds one)")
    return found


def bind_engine(engine: Engine) -> Engine:
    """Give the current runtime another engine (a benchmark, a test comparing engines)."""
    current().engine = engine
    return engine


@contextmanager
def on_behalf_of(centre_id, model=None):
    """A block whose engine work runs for this centre: its scripts take the centre's fair share of the
    process's sandbox pool, so one centre's slow scripts cannot starve another's; and, given the
    model, the centre's lookup tables its data stores read are handed in (services.lookup_tables)."""
    from .lookup_tables import handed_in  # imported here: lookup_tables stands above the runtime

    with engine().sandbox.on_behalf_of(centre_id), handed_in(centre_id, model):
        yield


def forget_caches() -> None:
    """Empty every cache of rows of the current runtime."""
    current().forget_caches()


class SharedCache:
    """A kind of rows cached per runtime, emptied in every process when a write bumps the kind. The
    object is only the declaration (kind, lifetime); the values live in the current runtime."""

    def __init__(self, kind: str, seconds: float, maxsize: int = 4096):
        self.kind, self.seconds, self.maxsize = kind, seconds, maxsize

    def get(self, key, load):
        """The cached value of key, or load() kept for next time. The versions are checked before
        loading, so a value loaded before a change can never be kept under the changed version."""
        runtime = current()
        runtime.check_stamps()
        store = runtime.store(self)
        with runtime.lock:
            value = store.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            with runtime.lock:
                store[key] = value
        return value

    def changed(self):
        """Call inside the transaction of a write that changes this kind of rows: every process,
        this one now and the others within STAMP_CHECK_SECONDS of the commit, forgets them."""
        inserted = CacheVersion.insert(kind=self.kind, version=1).on_conflict(
            conflict_target=[CacheVersion.kind], update={CacheVersion.version: CacheVersion.version + 1})
        inserted.execute()
        self.clear()  # the last version seen stays: the next check forgets again what a racing reader kept

    def clear(self):
        runtime = current()
        with runtime.lock:
            runtime.store(self).clear()


_MISSING = object()
