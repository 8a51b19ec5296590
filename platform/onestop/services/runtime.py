"""The engine instance services use, bound once by the app factory, the CLI or a test; and the
per-process caches of database rows, emptied whenever a database is bound.

Caches of rows another process may change (agency codes, units, local overrides) are SharedCaches:
a cachetools TTL cache per kind, plus a version per kind in the `cacheversion` table that the write
changing those rows bumps in its own transaction. A process reads all the versions in one query at
most once every STAMP_CHECK_SECONDS and empties the caches whose version moved, so a change made
through any process is seen by every other within that interval, and a cache hit costs no query.
"""

import threading
import time

from cachetools import TTLCache
from peewee import fn

from ..engine import Engine
from ..models import CacheVersion

_engine: Engine | None = None


def bind_engine(engine: Engine) -> Engine:
    global _engine
    _engine = engine
    return engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("no engine bound: call onestop.services.runtime.bind_engine() first")
    return _engine


def on_behalf_of(centre_id):
    """A block whose engine work runs for this centre: its scripts take the centre's fair share of the
    process's sandbox pool, so one centre's slow scripts cannot starve another's."""
    return engine().sandbox.on_behalf_of(centre_id)


_caches: list = []


def cache(store: dict) -> dict:
    """Register a per-process cache of rows (calendars, agency codes, units, overrides)."""
    _caches.append(store)
    return store


def forget_caches() -> None:
    """Empty every cache: another database was bound (a test, a CLI command)."""
    global _stamps_read_at
    for store in _caches:
        store.clear()
    for shared in _shared.values():
        shared.clear()
    _stamps.clear()
    _stamps_read_at = float("-inf")


STAMP_CHECK_SECONDS = 1.0  # how stale another process's change may be seen; one small query a second at most
_shared: dict = {}  # kind -> SharedCache
_stamps: dict = {}  # kind -> the version this process last saw
_stamps_read_at = float("-inf")
_stamps_lock = threading.Lock()


class SharedCache:
    """A per-process cache of one kind of rows, emptied in every process when a write bumps the kind."""

    def __init__(self, kind: str, seconds: float, maxsize: int = 4096):
        self.kind = kind
        self._store = TTLCache(maxsize=maxsize, ttl=seconds)
        self._lock = threading.Lock()
        _shared[kind] = self

    def get(self, key, load):
        """The cached value of key, or load() kept for next time. The versions are checked before
        loading, so a value loaded before a change can never be kept under the changed version."""
        _check_stamps()
        with self._lock:
            value = self._store.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            with self._lock:
                self._store[key] = value
        return value

    def changed(self):
        """Call inside the transaction of a write that changes this kind of rows: every process,
        this one now and the others within STAMP_CHECK_SECONDS of the commit, forgets them."""
        inserted = CacheVersion.insert(kind=self.kind, version=1).on_conflict(
            conflict_target=[CacheVersion.kind], update={CacheVersion.version: CacheVersion.version + 1})
        inserted.execute()
        self.clear()  # the last version seen stays: the next check forgets again what a racing reader kept

    def clear(self):
        with self._lock:
            self._store.clear()


_MISSING = object()


def _check_stamps() -> None:
    global _stamps_read_at
    if time.monotonic() - _stamps_read_at < STAMP_CHECK_SECONDS:
        return
    with _stamps_lock:
        if time.monotonic() - _stamps_read_at < STAMP_CHECK_SECONDS:
            return
        seen = dict(CacheVersion.select(CacheVersion.kind, fn.COALESCE(CacheVersion.version, 0)).tuples())
        for kind, cache in _shared.items():
            if seen.get(kind, 0) != _stamps.get(kind, 0):
                cache.clear()
        _stamps.clear()
        _stamps.update(seen)
        _stamps_read_at = time.monotonic()
