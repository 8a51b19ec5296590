"""The engine instance services use, bound once by the app factory, the CLI or a test."""

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
