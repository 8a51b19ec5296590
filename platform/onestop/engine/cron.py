"""Cron timer cycles, run through croniter on the engine's clock.

Camunda 7 accepts a Quartz cron expression as a timeCycle (`0 0/5 * * * ?`: seconds, minutes,
hours, day of month, month, day of week and an optional year; `?` for "no specific value"; days
of the week numbered from Sunday = 1). The five-field Unix form (`*/10 * * * *`, Sunday = 0) is
read too. A cron time means the centres' time (Vietnam), like a timer date written without a zone.

SpiffWorkflow 3.2 only knows ISO 8601 cycles (`R/PT1H`): `install()` teaches its cycle timer a
cron value, computed by croniter, without changing how an ISO cycle runs. A cron cycle repeats
until its last year (if it has one); one that missed several occurrences while the server was
down fires once, then waits for the next occurrence after now. `check()` bounds a cron like any
other cycle (engine.budgets): one that fires more often than the budget's shortest cycle, or
never again, is refused.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from croniter import CroniterError, croniter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition

from .. import clock as clocks
from .timeclock import aware_now

# Each field: numbers, names (MON, JAN), *, ?, ranges, lists, steps and Quartz's L, W and #.
_NAMES = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|MON|TUE|WED|THU|FRI|SAT|SUN"
_TOKEN = rf"(?:\d+[LW]?|\*|\?|L|LW|W|{_NAMES})"
_FIELD = re.compile(rf"^{_TOKEN}(?:[,\-/#]{_TOKEN})*$", re.I)
_QUARTZ_DAY_NUMBER = re.compile(r"(?<![#/\dA-Za-z])(\d+)")
# How many coming occurrences, within how long after the first, are looked at for the shortest
# gap between two (a rare cron, the fifth Monday of February, would otherwise be followed for
# centuries); and how far croniter looks for the next occurrence (the timer budget's default).
SAMPLED_OCCURRENCES = 64
SAMPLED_SPAN = timedelta(days=400)
MAX_YEARS = 100


class CronError(ValueError):
    """A cron expression croniter cannot follow, in plain words."""


def is_cron(value) -> bool:
    """Whether a timer value is a cron expression (5 to 7 fields) rather than ISO 8601 or Python."""
    if not isinstance(value, str):
        return False
    fields = value.split()
    # Five to seven such fields are never an ISO value nor a Python expression (Python never puts
    # two names or numbers side by side, and `a if b else c` has words that are no cron names).
    return 5 <= len(fields) <= 7 and all(_FIELD.match(f) for f in fields)


def to_croniter(text: str) -> tuple[str, bool]:
    """The expression as croniter reads it, and whether its first field is seconds.

    Quartz (6 or 7 fields): `?` becomes `*`, and the days of the week are renumbered from
    Sunday = 1 to croniter's Sunday = 0. Five fields are Unix cron and stay as they are."""
    fields = text.split()
    if len(fields) == 5:
        return " ".join(fields), False
    if len(fields) not in (6, 7):
        raise CronError(f"the cron expression {text!r} has {len(fields)} fields; Quartz cron has 6 or 7 "
                        "(seconds minutes hours day-of-month month day-of-week [year])")
    fields = ["*" if f == "?" else f for f in fields]
    fields[5] = _QUARTZ_DAY_NUMBER.sub(lambda m: _quartz_day(m.group(1), text), fields[5])
    return " ".join(fields), True


def _quartz_day(number: str, text: str) -> str:
    value = int(number)
    if not 1 <= value <= 7:
        raise CronError(f"in the cron expression {text!r}, days of the week are 1 (Sunday) to 7 (Saturday)")
    return str(value - 1)


def _iterator(text: str, start: datetime, max_years: int) -> croniter:
    form, seconds_first = to_croniter(text.strip())
    local_start = start.astimezone(clocks.VIETNAM_TIME)
    try:
        return croniter(form, local_start, ret_type=datetime, second_at_beginning=seconds_first,
                        max_years_between_matches=max_years)
    except CroniterError as exc:
        raise CronError(_unreadable(text, exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise CronError(_unreadable(text, exc)) from None


def _unreadable(text: str, exc: Exception) -> str:
    fields = text.split()
    odd = [f for f in fields if re.search(r"[LW]", f.upper()) and f.upper() != "L"]
    hint = f" (Quartz's {', '.join(odd)} is not supported)" if odd else ""
    return f"the cron expression {text!r} cannot be read{hint}"


def occurrences(text: str, after: datetime, count: int, max_years: int = MAX_YEARS,
                within: timedelta | None = None) -> list[datetime]:
    """Up to `count` occurrences after `after` (aware), as aware UTC datetimes, none more than
    `max_years` after the one before it nor (if given) more than `within` after the first; fewer
    if the expression's years run out. CronError if it cannot be read."""
    iterator = _iterator(text, after, max_years)
    found = []
    for _ in range(count):
        try:
            found.append(iterator.get_next(datetime).astimezone(UTC))
            if within is not None and found[-1] - found[0] > within:
                break
        except CroniterError as exc:
            if "failed to find" in str(exc) or type(exc).__name__ == "CroniterBadDateError":
                break
            raise CronError(_unreadable(text, exc)) from None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise CronError(_unreadable(text, exc)) from None
    return found


def next_after(text: str, moment: datetime) -> datetime | None:
    """The first occurrence after `moment` (aware UTC), None when there is none any more."""
    found = occurrences(text, moment, 1)
    return found[0] if found else None


def check(text: str, min_cycle_seconds: float, max_seconds: float, now: datetime) -> str | None:
    """Why a cron cycle may not be used (a plain sentence), or None.

    Refused: unreadable, never firing again, first firing further than `max_seconds` away, or two
    of its coming occurrences closer than `min_cycle_seconds`."""
    years = max(1, math.ceil(max_seconds / 31_557_600))
    try:
        coming = occurrences(text, now, SAMPLED_OCCURRENCES, years, SAMPLED_SPAN)
    except CronError as exc:
        return str(exc)
    if not coming:
        return f"the cron expression {text} never fires after now (within the next {years} years)"
    if (coming[0] - now).total_seconds() > max_seconds:
        return f"the cron expression {text} first fires more than {max_seconds / 31_557_600:g} years away"
    gaps = [(b - a).total_seconds() for a, b in zip(coming, coming[1:], strict=False)]
    if gaps and min(gaps) < min_cycle_seconds:
        return (f"the cron expression {text} repeats more often than once every {int(min_cycle_seconds)} seconds "
                f"(every {min(gaps):g} seconds)")
    return None


# ----------------------------------------------------------------------------- SpiffWorkflow

_iso_cycle_complete = CycleTimerEventDefinition.cycle_complete


def _cycle_complete(self, my_task):
    """CycleTimerEventDefinition.cycle_complete, for an ISO 8601 cycle or a cron expression."""
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        if is_cron(value):
            first = next_after(value, aware_now())
            event_value = {"cron": value.strip(), "cycles": -1 if first else 0,
                           "next": first.isoformat() if first else None}
        else:  # what SpiffWorkflow does, without evaluating the expression a second time
            cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        my_task._set_internal_data(event_value=event_value)
    if "cron" not in event_value:
        return _iso_cycle_complete(self, my_task)
    if event_value["cycles"] == 0:
        my_task.internal_data.pop("event_value", None)
        my_task.internal_data["event_fired"] = True
        return False
    now = aware_now()
    if datetime.fromisoformat(event_value["next"]) >= now:
        return False
    # Due: fire once, however many occurrences passed meanwhile, and wait for the next one after now.
    following = next_after(event_value["cron"], now)
    event_value["next"] = following.isoformat() if following else None
    if following is None:
        event_value["cycles"] = 0
    my_task._set_internal_data(event_value=event_value)
    return True


def install() -> None:
    """Let SpiffWorkflow's cycle timers run cron values (idempotent; done when the engine is imported)."""
    CycleTimerEventDefinition.cycle_complete = _cycle_complete


install()
