"""SpiffWorkflow's timers read the engine's clock instead of the wall clock.

SpiffWorkflow 3.2 decides whether a timer is due (and where a duration or cycle starts) by calling
`datetime.now(timezone.utc)` inside its module `bpmn.specs.event_definitions.timer`, with no way to
pass a time in. The narrowest seam is that module's own `datetime` name: it is replaced, once, by a
stand-in whose `now()` answers with the clock of the engine step under way in this thread (a
context variable the engine sets around each step), or with the process's bound clock outside a
step. Nothing else of SpiffWorkflow or of the process changes: parsing and arithmetic are the real
`datetime`'s, and a task's own bookkeeping (`last_state_change`) stays on the wall clock, which the
engine maps to business time with `Clock.at`. The same module's `LOCALTZ` (the zone of a timer date
written without one) becomes Vietnam's, whatever the server's zone.
"""

import contextvars
from contextlib import contextmanager
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from .. import clock as clocks

_stepping = contextvars.ContextVar("onestop_engine_clock", default=None)


class _DatetimeOnTheClock(type):
    """Everything but `now()` is the real `datetime`'s: values made through it are plain datetimes
    (never a subclass a database driver would refuse) and isinstance checks against it hold."""

    def __getattr__(cls, name):
        return getattr(datetime, name)

    def __instancecheck__(cls, value):
        return isinstance(value, datetime)

    def __call__(cls, *args, **kwargs):
        return datetime(*args, **kwargs)


class ClockedDatetime(metaclass=_DatetimeOnTheClock):
    """`datetime` as SpiffWorkflow's timer module sees it: `now()` is business time."""

    @staticmethod
    def now(tz=None) -> datetime:
        moment = aware_now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def current():
    """The clock of the engine step under way in this thread, else the process's bound clock."""
    return _stepping.get() or clocks.current()


def aware_now() -> datetime:
    """Business time now, as an aware UTC datetime (what SpiffWorkflow compares timers with)."""
    return current().now().replace(tzinfo=UTC)


def install() -> None:
    """Point SpiffWorkflow's timers at business time (idempotent; done when the engine is imported)."""
    spiff_timer.datetime = ClockedDatetime
    # A timer date written without a zone (timeDate 2027-01-04T08:00:00) is read in LOCALTZ, which
    # SpiffWorkflow takes from the server's zone at import: it means the centres' time instead.
    spiff_timer.LOCALTZ = clocks.VIETNAM_TIME


@contextmanager
def stepping_on(clock):
    """A block (one engine step) whose timers see `clock`; None: the process's bound clock."""
    token = _stepping.set(clock)
    try:
        yield
    finally:
        _stepping.reset(token)


install()
