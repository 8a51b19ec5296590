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
    """Empty every registered cache: another database was bound (a test, a CLI command)."""
    for store in _caches:
        store.clear()
