"""Deadlines: a procedure's processing time (procedure.json "deadline") turned into the dossier's
promised return and each task's due time, on the receiving centre's working calendar.

    "deadline": {
        "working_days": 15,                 # or "working_hours": 4; 0 = decided the same day
        "on_supplement": "pause",           # or "restart" (the full period from the supplement)
        "steps": {"Task_Appraise": {"working_days": 10}, "Lãnh đạo UBND xã": {"working_days": 3}},
        "not_counted": ["Task_Return"],     # steps outside the legal clock (returning the result...)
        "financial_obligation": ["Task_Paid"]  # while offered: awaiting the citizen's taxes, clock paused
    }

A step's allocation is looked up by its element id, then by its lane; a step with none is due when
the dossier is. Times are stored in UTC and computed in Vietnam's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from ..db import write_transaction
from ..models import CalendarDay, Centre, WorkItem
from ..workdays import DEFAULT_CUTOFF, DEFAULT_PERIODS, Calendar, Deadline, national_day_off, to_local, to_utc
from . import audit, runtime
from .errors import Invalid

POLICIES = ("pause", "restart")
CACHE_SECONDS = 60.0  # a backstop: a calendar changed through onestop is seen everywhere within a second


@dataclass(frozen=True)
class Plan:
    total: Deadline
    on_supplement: str = "pause"
    steps: dict = field(default_factory=dict)  # element id or lane name -> Deadline
    not_counted: frozenset = frozenset()
    financial_obligation: frozenset = frozenset()  # steps that wait on the citizen's taxes and fees


def _deadline(value, where) -> Deadline:
    if not isinstance(value, dict) or len(value.keys() & {"working_days", "working_hours"}) != 1:
        raise ValueError(f"{where} needs exactly one of working_days or working_hours")
    unit = "working_days" if "working_days" in value else "working_hours"
    amount = value[unit]
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise ValueError(f"{where}: {unit} must be a number")
    return Deadline(amount, unit)


def plan(metadata: dict) -> Plan | None:
    """The procedure's deadline plan, or None if it sets none. Raises ValueError if it is malformed."""
    spec = metadata.get("deadline")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError('"deadline" must be an object')
    policy = spec.get("on_supplement", "pause")
    if policy not in POLICIES:
        raise ValueError(f'"deadline.on_supplement" must be one of: {", ".join(POLICIES)}')
    steps = spec.get("steps") or {}
    not_counted = spec.get("not_counted") or []
    paying = spec.get("financial_obligation") or []
    if not isinstance(steps, dict) or not isinstance(not_counted, list) or not isinstance(paying, list):
        raise ValueError('"deadline.steps" must be an object, "deadline.not_counted" and '
                         '"deadline.financial_obligation" lists')
    return Plan(_deadline({k: v for k, v in spec.items() if k in ("working_days", "working_hours")}, '"deadline"'),
                policy, {key: _deadline(value, f'"deadline.steps.{key}"') for key, value in steps.items()},
                frozenset(str(x) for x in not_counted), frozenset(str(x) for x in paying))


def problems(metadata: dict) -> list[str]:
    try:
        plan(metadata)
    except ValueError as exc:
        return [f"procedure.json: {exc}"]
    return []


# centre id -> Calendar; a change made through any process is seen by every other within a second.
_calendars = runtime.SharedCache("calendars", CACHE_SECONDS)


def calendar_for(centre_id) -> Calendar:
    """The centre's working calendar (office hours, cut-off, its own closures and working days)."""
    return _calendars.get(centre_id, lambda: _load_calendar(centre_id))


def _load_calendar(centre_id) -> Calendar:
    centre = Centre.get_by_id(centre_id)
    days = list(CalendarDay.select().where(CalendarDay.centre == centre_id))
    return Calendar(
        periods=tuple((_time(a), _time(b)) for a, b in centre.office_hours) if centre.office_hours else DEFAULT_PERIODS,
        cutoff=_time(centre.cutoff) if centre.cutoff else DEFAULT_CUTOFF,
        days_off=frozenset(d.day for d in days if not d.working),
        days_on=frozenset(d.day for d in days if d.working),
    )


def _time(text: str) -> time:
    return time.fromisoformat(text)


def set_day(actor, day, working: bool, note="") -> CalendarDay:
    """Mark a day of the actor's centre as worked or closed, whatever the national calendar says."""
    with write_transaction():
        row = CalendarDay.get_or_none((CalendarDay.centre == actor.centre_id) & (CalendarDay.day == day))
        if row is None:
            row = CalendarDay.create(centre=actor.centre_id, day=day, working=working, note=note[:255])
        else:
            CalendarDay.update(working=working, note=note[:255]).where(CalendarDay.id == row.id).execute()
        audit.record("calendar.day_set", actor, detail={"day": day.isoformat(), "working": working, "note": note[:255]})
        _calendars.changed()
    return row


def clear_day(actor, day) -> bool:
    """Drop the centre's exception for that day: the national calendar decides again."""
    with write_transaction():
        gone = CalendarDay.delete().where((CalendarDay.centre == actor.centre_id) & (CalendarDay.day == day)).execute()
        if gone:
            audit.record("calendar.day_cleared", actor, detail={"day": day.isoformat()})
            _calendars.changed()
    return bool(gone)


MAX_VIEW_DAYS = 400


def calendar_view(actor, start, end) -> dict:
    """The actor's centre's working calendar from start to end (dates, inclusive): office hours,
    cut-off, and every day with whether it is worked and why."""
    if end < start or (end - start).days >= MAX_VIEW_DAYS:
        raise Invalid(f"ask for 1 to {MAX_VIEW_DAYS} days, from a date to a later one")
    calendar = calendar_for(actor.centre_id)
    overrides = {d.day: d for d in CalendarDay.select().where(
        (CalendarDay.centre == actor.centre_id) & (CalendarDay.day >= start) & (CalendarDay.day <= end))}
    days, day = [], start
    while day <= end:
        override = overrides.get(day)
        if override is not None:
            why, source = override.note or ("worked" if override.working else "closed"), "centre"
        else:
            why, source = national_day_off(day) or ("weekend" if day.weekday() >= 5 else ""), "national"
        days.append({"date": day.isoformat(), "working": calendar.is_working_day(day), "source": source, "why": why})
        day += timedelta(days=1)
    return {"office_hours": [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in calendar.periods],
            "cutoff": calendar.cutoff.strftime("%H:%M") if calendar.cutoff else None, "days": days}


def set_office_hours(actor, periods, cutoff=None) -> None:
    """The centre's office hours ([("07:30", "11:30"), ...]) and afternoon cut-off ("15:00" or None)."""
    try:
        Calendar(periods=tuple((_time(a), _time(b)) for a, b in periods), cutoff=_time(cutoff) if cutoff else None)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"office hours are not valid: {exc}") from None
    with write_transaction():
        Centre.update(office_hours=[list(p) for p in periods], cutoff=cutoff).where(
            Centre.id == actor.centre_id).execute()
        audit.record("calendar.hours_set", actor, detail={"periods": [list(p) for p in periods], "cutoff": cutoff})
        _calendars.changed()


def dossier_due(centre_id, deadline_plan: Plan, received: datetime) -> datetime:
    """The promised return (UTC) of a dossier received then (UTC)."""
    calendar = calendar_for(centre_id)
    return to_utc(calendar.due(to_local(received), deadline_plan.total))


def task_due(centre_id, deadline_plan: Plan | None, element_id, lane, now: datetime, dossier_due_at) -> datetime | None:
    """When a task offered now (UTC) is due (UTC): its own allocation, else the dossier's due time;
    None for steps outside the clock."""
    if deadline_plan is None or element_id in deadline_plan.not_counted | deadline_plan.financial_obligation:
        return None
    allocation = deadline_plan.steps.get(element_id) or (deadline_plan.steps.get(lane) if lane else None)
    if allocation is None:
        return dossier_due_at
    due = to_utc(calendar_for(centre_id).due(to_local(now), allocation))
    return min(due, dossier_due_at) if dossier_due_at else due


def extended_due(centre_id, due_at, paused_at, now):
    """The dossier's due time (UTC) once its clock, stopped at paused_at, runs again now: later by the
    office time it stood still."""
    calendar = calendar_for(centre_id)
    return to_utc(calendar.extended(to_local(due_at), to_local(paused_at), to_local(now)))


def shift_open_tasks(dossier_id, centre_id, paused_at, now) -> None:
    """Move the ready tasks' due times by the office time the dossier's clock stood still."""
    calendar = calendar_for(centre_id)
    waited = calendar.office_time(to_local(paused_at), to_local(now))
    for item in WorkItem.select(WorkItem.id, WorkItem.due_at).where(
            (WorkItem.dossier == dossier_id) & WorkItem.due_at.is_null(False)):
        WorkItem.update(due_at=to_utc(calendar.add(to_local(item.due_at), waited))).where(WorkItem.id == item.id).execute()


def soon(centre_id, now: datetime) -> datetime:
    """The instant (UTC) one working day from now: tasks due before it are due soon."""
    calendar = calendar_for(centre_id)
    return to_utc(calendar.add(calendar.clock_start(to_local(now)), calendar.day_length))
