"""The engine instance services use, bound once by the app factory, the CLI or a test; and the
per-process caches of database rows, emptied whenever a database is bound."""

from ..engine import Engine

_engine: Engine | None = None


def bind_engine(engine: Engine) -> Engine:
    global _engine
    _engine = engine
    return engine


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("no engine bound: call onestop.services.runtime.bind_engine() first")
    return _engine


_caches: list = []


def cache(store: dict) -> dict:
    """Register a per-process cache of rows (calendars, agency codes, units, overrides)."""
    _caches.append(store)
    return store


def forget_caches() -> None:
    """Empty every registered cache: another database was bound (a test, a CLI command)."""
    for store in _caches:
        store.clear()
