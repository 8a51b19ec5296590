"""Working time: Vietnam's official days off and day swaps, a province's own days, a centre's own
dated exceptions, its office hours and the afternoon cut-off; deadlines counted in working days,
working hours or calendar days, and the clock stopped while a dossier waits on the citizen.

Pure arithmetic on naive local (Vietnam, UTC+7, no daylight saving) datetimes; no I/O. Whether a
day is worked is decided, first match wins, by: the centre's own exception, the official calendar
(the government's notices kept as data, a province's days over the country's: `official`), then
the `holidays` package as the fallback for days the official data is silent on (years without
official data), then the weekend. A working day is the centre's office hours, e.g. 07:30-11:30 and
13:30-17:00: N working days from an instant end N office-days of time later (received Monday 10:00
with 3 working days: due Thursday 10:00). A dossier received after the cut-off, or on a day off,
starts its clock at the next working day's opening; "after 15 giờ" (NĐ 23/2015/NĐ-CP Điều 7) is
strictly after, so 15:00:00 is still the same day and 15:00:01 is not.

N calendar days ("ngày" where the legal text means calendar days) end at the closing of the N-th
day after the day the clock starts (the first day is not counted, Civil Code 2015 Art. 147); a
last day that is not a working day moves to the closing of the next working day (Art. 148.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

VIETNAM = timedelta(hours=7)
DEFAULT_PERIODS = ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))
DEFAULT_CUTOFF = time(15, 0)
MAX_DAYS = 3660  # nothing legitimate looks ten years ahead


def to_local(utc: datetime) -> datetime:
    return utc + VIETNAM


def to_utc(local: datetime) -> datetime:
    return local - VIETNAM


@lru_cache(maxsize=64)
def _national(year: int, language: str = "en_US"):
    import holidays  # on the first holiday asked about: every command and worker imports this module, few ask

    return holidays.Vietnam(years=year, language=language)


def national_day_off(day: date, language: str = "vi") -> str | None:
    """The name of the national holiday on that day (in Vietnamese by default), or None."""
    return _national(day.year, language).get(day)


UNITS = ("working_days", "working_hours", "calendar_days")


@dataclass(frozen=True)
class Deadline:
    """A processing time: an amount of working days, working hours or (whole) calendar days."""

    amount: float
    unit: str = "working_days"  # or "working_hours", "calendar_days"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")
        if not 0 <= self.amount <= MAX_DAYS * (24 if self.unit == "working_hours" else 1):
            raise ValueError(f"amount {self.amount!r} is out of range")
        if self.unit == "calendar_days" and self.amount != int(self.amount):
            raise ValueError("calendar days are whole days")


@dataclass(frozen=True)
class Calendar:
    """A centre's working time."""

    periods: tuple = DEFAULT_PERIODS
    cutoff: time | None = DEFAULT_CUTOFF
    days_off: frozenset = field(default_factory=frozenset)  # the centre's extra closures
    days_on: frozenset = field(default_factory=frozenset)  # days it works though they are off nationally
    official: dict = field(default_factory=dict, hash=False, compare=False)  # date -> worked? (notices)

    def __post_init__(self):
        if not self.periods or any(a >= b for a, b in self.periods) or \
                any(self.periods[i][1] > self.periods[i + 1][0] for i in range(len(self.periods) - 1)):
            raise ValueError("office hours must be ordered, non-overlapping periods")

    @property
    def day_length(self) -> timedelta:
        return sum((_span(a, b) for a, b in self.periods), timedelta())

    def is_working_day(self, day: date) -> bool:
        if day in self.days_off:
            return False
        if day in self.days_on:
            return True
        official = self.official.get(day)
        if official is not None:
            return official
        return _national(day.year).is_working_day(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for _ in range(MAX_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("no working day within ten years")

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, self.periods[0][0])

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, self.periods[-1][1])

    def clock_start(self, received: datetime) -> datetime:
        """When the clock starts for something received at that (local) instant: at once on a working
        day before the cut-off (at the opening if earlier), else at the next working day's opening."""
        day = received.date()
        late = self.cutoff is not None and received.time() > self.cutoff  # "sau 15 giờ": strictly after
        if not self.is_working_day(day) or late or received >= self.closing(day):
            return self.opening(self.next_working_day(day))
        return max(received, self.opening(day))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant `amount` of office time after `start` (which may be outside office time)."""
        if amount < timedelta():
            raise ValueError("negative office time")
        if not amount:
            return start
        day, now = start.date(), start
        for _ in range(MAX_DAYS + 1):
            if self.is_working_day(day):
                for a, b in self.periods:
                    begin, end = datetime.combine(day, a), datetime.combine(day, b)
                    if now >= end:
                        continue
                    now = max(now, begin)
                    available = end - now
                    if amount <= available:  # ending exactly at a closing counts as that day
                        return now + amount
                    amount -= available
                    now = end
            day += timedelta(days=1)
            now = datetime.combine(day, time())
        raise ValueError("the deadline is more than ten years away")

    def office_time(self, start: datetime, end: datetime) -> timedelta:
        """Office time between two instants (zero if end is not after start)."""
        total, day = timedelta(), start.date()
        if end <= start:
            return total
        for _ in range((end.date() - day).days + 1):
            if self.is_working_day(day):
                for a, b in self.periods:
                    begin, finish = max(datetime.combine(day, a), start), min(datetime.combine(day, b), end)
                    if finish > begin:
                        total += finish - begin
            day += timedelta(days=1)
        return total

    def due(self, received: datetime, deadline: Deadline) -> datetime:
        """The (local) instant something received then is due. Zero working days: by the close of the
        day the clock starts (the same day, or the next working day if received after the cut-off)."""
        start = self.clock_start(received)
        if deadline.amount == 0:
            return self.closing(start.date())
        if deadline.unit == "calendar_days":
            return self.calendar_days_end(start.date(), int(deadline.amount))
        if deadline.unit == "working_hours":
            return self.add(start, timedelta(hours=deadline.amount))
        return self.add(start, self.day_length * deadline.amount)

    def calendar_days_end(self, first: date, days: int) -> datetime:
        """The end of `days` calendar days counted after `first`: the closing of that day, or of the
        next working day if it is not one (Civil Code 2015 Art. 148.5)."""
        last = first + timedelta(days=days)
        return self.closing(last if self.is_working_day(last) else self.next_working_day(last))

    def extended(self, due: datetime, paused: datetime, resumed: datetime, unit: str = "working_days") -> datetime:
        """The due instant moved on by the time the clock was stopped (pause and extend): the office
        time waited, or for a limit in calendar days the calendar days waited (the day it stopped
        is not counted again)."""
        if unit == "calendar_days":
            waited = max((resumed.date() - paused.date()).days, 0)
            return self.calendar_days_end(due.date(), waited) if waited else due
        return self.add(due, self.office_time(paused, resumed))


def _span(a: time, b: time) -> timedelta:
    return datetime.combine(date.min, b) - datetime.combine(date.min, a)
