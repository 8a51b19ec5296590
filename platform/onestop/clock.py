"""The one clock of onestop: business time for services, engine timers, pages and tests.

`now()` is naive UTC (both databases store it alike), `today()` the calendar day at the service
centres (Vietnam, UTC+7), whatever the server's time zone. The app factory and the CLI bind the
clock their settings name (the real one unless a test gives another); everything else reads it
through `models.utcnow()` / `models.local_today()` or, in the engine, through the clock the engine
was given. Tests bind a `ShiftedClock` and `advance()` it instead of sleeping until a timer is due.

Durations are measured with `time.monotonic()`, which is no business time and stays where it is
used. Nothing outside this module reads the wall clock (tests/test_architecture.py checks it).
"""

import time
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone

from .workdays import VIETNAM, to_local

# The centres' time zone (no daylight saving): what a time written without a zone means.
VIETNAM_TIME = timezone(VIETNAM)


class Clock:
    """Real time."""

    def now(self) -> datetime:
        """Naive UTC now."""
        return datetime.now(UTC).replace(tzinfo=None)

    def today(self) -> date:
        """Today at the service centres (Vietnam's calendar day)."""
        return to_local(self.now()).date()

    def at(self, wall_seconds: float) -> datetime:
        """The business time (naive UTC) of an instant a library stamped with the wall clock
        (`time.time()`), such as SpiffWorkflow's `task.last_state_change`."""
        return datetime.fromtimestamp(wall_seconds, UTC).replace(tzinfo=None)


class ShiftedClock(Clock):
    """Real time moved forward by however much a test has advanced it: time still flows (so the
    order of events is kept as in production), and a test jumps over a wait with `advance()`."""

    def __init__(self, shift: timedelta = timedelta(0)):
        self.shift = shift

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back: stored times must stay in the past)."""
        if seconds < 0:
            raise ValueError("a clock is only advanced forward")
        self.shift += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return super().now() + self.shift

    def at(self, wall_seconds: float) -> datetime:
        return super().at(wall_seconds) + self.shift


def wall_seconds() -> float:
    """The wall clock as libraries stamp their own records (SpiffWorkflow's task state changes):
    for comparing with those stamps only, never as business time (that is `current().now()`)."""
    return time.time()


_bound: Clock = Clock()
_in_context: ContextVar = ContextVar("onestop_clock", default=None)


def bind(clock: Clock | None) -> Clock:
    """Make `clock` (the real clock if None) the process's business time; returns it."""
    global _bound
    _bound = clock if clock is not None else Clock()
    return _bound


def enter(clock: Clock | None) -> None:
    """Make `clock` (None: the process's) the business time of this context: an app's own clock
    while its context is active (services.runtime.enter)."""
    _in_context.set(clock)


def current() -> Clock:
    """The clock of this context (its app's), else the process's."""
    found = _in_context.get()
    return found if found is not None else _bound
