"""Deadlines: a procedure's processing time (procedure.json "deadline") turned into the dossier's
promised return and each task's due time, on the receiving centre's working calendar.

    "deadline": {
        "working_days": 15,                 # or "working_hours": 4, or "calendar_days": 15 (the law's
                                            # "ngày"); 0 = decided the same day
        "on_supplement": "pause",           # or "restart" (the full period from the supplement)
        "steps": {"Task_Appraise": {"working_days": 10}, "Lãnh đạo UBND xã": {"working_days": 3}},
        "not_counted": ["Task_Return"],     # steps outside the legal clock (returning the result...)
        "financial_obligation": ["Task_Paid"],  # while offered: awaiting the citizen's taxes, clock paused
        "supplement": ["Task_Supplement"],  # while offered: the model's own supplement loop waits on the
                                            # citizen, the clock stops exactly as with the supplement action
        "by": {"field": "work_type",        # a limit that depends on the dossier (the construction permit:
               "cases": {"nha_o_rieng_le": {"calendar_days": 15}}}  # 15 days for a house, 20 otherwise)
    }

A step's allocation is looked up by its element id, then by its lane; a step with none is due when
the dossier is. Times are stored in UTC and computed in Vietnam's local time. The working calendar
of a centre is the official one (services.calendar: the country's notices, its province's days)
under its own exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from ..db import write_transaction
from ..models import AuditEvent, CalendarDay, Centre, OfficialDay, WorkItem
from ..workdays import (
    DEFAULT_CUTOFF,
    DEFAULT_PERIODS,
    UNITS,
    Calendar,
    Deadline,
    national_day_off,
    to_local,
    to_utc,
)
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
    supplement: frozenset = frozenset()  # the model's supplement steps: the citizen's turn, clock stopped
    by_field: str | None = None  # the dossier's field whose value chooses the limit ("deadline.by")
    cases: dict = field(default_factory=dict)  # that field's value -> Deadline; others: `total`
    case_labels: dict = field(default_factory=dict)  # that field's value -> how the catalogue names it

    def total_for(self, data) -> Deadline:
        """The legal limit of a dossier with that data: its case's if the field names one, else `total`."""
        if self.by_field and isinstance(data, dict):
            value = data.get(self.by_field)
            if isinstance(value, str) and value in self.cases:
                return self.cases[value]
        return self.total

    @property
    def waiting(self) -> frozenset:
        """Steps during which the clock stands still: they have no due time of their own."""
        return self.financial_obligation | self.supplement


def _deadline(value, where) -> Deadline:
    if not isinstance(value, dict) or len(value.keys() & set(UNITS)) != 1:
        raise ValueError(f"{where} needs exactly one of {', '.join(UNITS)}")
    unit = next(u for u in UNITS if u in value)
    amount = value[unit]
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise ValueError(f"{where}: {unit} must be a number")
    try:
        return Deadline(amount, unit)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


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
    lists = {key: spec.get(key) or [] for key in ("not_counted", "financial_obligation", "supplement")}
    if not isinstance(steps, dict) or not all(isinstance(v, list) for v in lists.values()):
        raise ValueError('"deadline.steps" must be an object, "deadline.not_counted", '
                         '"deadline.financial_obligation" and "deadline.supplement" lists')
    total = _deadline({k: v for k, v in spec.items() if k in UNITS}, '"deadline"')
    by_field, cases, labels = _cases(spec.get("by"), total)
    return Plan(total,
                policy, {key: _deadline(value, f'"deadline.steps.{key}"') for key, value in steps.items()},
                *(frozenset(str(x) for x in lists[key]) for key in ("not_counted", "financial_obligation", "supplement")),
                by_field=by_field, cases=cases, case_labels=labels)


def _cases(by, total: Deadline):
    """"deadline.by": {"field": name, "cases": {value: {unit: amount, "label": text}}}: limits chosen by
    a field of the dossier, in the same unit as the default limit (a pause then adds the same kind of
    time); the optional label names the case in the catalogue."""
    if by is None:
        return None, {}, {}
    if not isinstance(by, dict) or not isinstance(by.get("field"), str) or not by["field"] \
            or not isinstance(by.get("cases"), dict) or not by["cases"]:
        raise ValueError('"deadline.by" needs a "field" name and an object of "cases"')
    cases = {str(value): _deadline(limit, f'"deadline.by.cases.{value}"') for value, limit in by["cases"].items()}
    if any(limit.unit != total.unit for limit in cases.values()):
        raise ValueError(f'"deadline.by.cases" must be in {total.unit}, as the whole limit is')
    labels = {str(value): str(limit["label"])[:200] for value, limit in by["cases"].items()
              if isinstance(limit, dict) and limit.get("label")}
    return by["field"], cases, labels


def problems(metadata: dict) -> list[str]:
    try:
        plan(metadata)
    except ValueError as exc:
        return [f"procedure.json: {exc}"]
    return []


# centre id -> Calendar; a change made through any process is seen by every other within a second.
_calendars = runtime.SharedCache("calendars", CACHE_SECONDS)


def changed() -> None:
    """Call in the transaction of a write that changes any centre's working days (its own, its
    province's or the country's): every process forgets every centre's calendar."""
    _calendars.changed()


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
        official={d.day: d.working for d in official_days(centre)},
    )


def ancestors(centre) -> list:
    """The ids of the centres above a centre, nearest first (its province, then the nation)."""
    ids, parent_id = [], centre.parent_id
    while parent_id is not None and parent_id not in ids and len(ids) < 8:
        ids.append(parent_id)
        parent_id = Centre.select(Centre.parent).where(Centre.id == parent_id).scalar()
    return ids


def official_days(centre) -> list:
    """The official days a centre inherits, the country's first and then its province's (a province's
    own day overrides the country's for the same date): the province is the centre itself or the
    nearest centre above it that has days of its own."""
    scopes = [centre.id, *ancestors(centre)]
    rows = list(OfficialDay.select().where(OfficialDay.province.is_null() | OfficialDay.province.in_(scopes)))
    nearest = min((scopes.index(r.province_id) for r in rows if r.province_id is not None), default=None)
    national = [r for r in rows if r.province_id is None]
    return national + [r for r in rows if nearest is not None and r.province_id == scopes[nearest]]


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
    official = {d.day: d for d in official_days(Centre.get_by_id(actor.centre_id)) if start <= d.day <= end}
    days, day = [], start
    while day <= end:
        override, notice = overrides.get(day), official.get(day)
        if override is not None:
            why, source = override.note or ("worked" if override.working else "closed"), "centre"
        elif notice is not None:
            why, source = f"{notice.name} ({notice.source})", "province" if notice.province_id else "national"
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


def dossier_due(centre_id, deadline_plan: Plan, received: datetime, data=None) -> datetime:
    """The promised return (UTC) of a dossier received then (UTC), with that data ("deadline.by")."""
    calendar = calendar_for(centre_id)
    return to_utc(calendar.due(to_local(received), deadline_plan.total_for(data)))


def due_may_change(dossier, deadline_plan: Plan | None, after: dict) -> bool:
    """Whether `chosen_due` may give a new promise once the dossier's data becomes `after` (it reads the
    dossier's events then); False when it is None for certain: no field chooses the limit, the clock is
    stopped or the field's choice stayed. The dossier's data is read only when a field chooses the limit
    (a step's dossier holds its data's JSON unread until then: models.UnreadJSON)."""
    if deadline_plan is None or not deadline_plan.by_field or dossier.due_at is None or dossier.paused_at is not None:
        return False
    return deadline_plan.total_for(dossier.data) != deadline_plan.total_for(after)


def chosen_due(dossier, deadline_plan: Plan | None, after: dict):
    """The dossier's promised return once a step changed the field that chooses its limit
    ("deadline.by", e.g. the kind of works recorded at reception), counted again from where the
    clock last started: the receipt, or the supplement that restarted it. None (the promise
    stands) while the clock is stopped, or when it was paused and extended before (the time
    added then is not recomputed)."""
    if not due_may_change(dossier, deadline_plan, after):
        return None
    resumes = list(AuditEvent.select(AuditEvent.action, AuditEvent.at, AuditEvent.detail).where(
        (AuditEvent.dossier == dossier.id)
        & AuditEvent.action.in_(("dossier.supplement_received", "dossier.financial_obligation_met")))
        .order_by(AuditEvent.at, AuditEvent.id))
    if any(e.action != "dossier.supplement_received" or (e.detail or {}).get("policy") != "restart" for e in resumes):
        return None
    started = resumes[-1].at if resumes else dossier.received_at
    return dossier_due(dossier.centre_id, deadline_plan, started, after)


def task_due(centre_id, deadline_plan: Plan | None, element_id, lane, now: datetime, dossier_due_at) -> datetime | None:
    """When a task offered now (UTC) is due (UTC): its own allocation, else the dossier's due time;
    None for steps outside the clock."""
    if deadline_plan is None or element_id in deadline_plan.not_counted | deadline_plan.waiting:
        return None
    allocation = deadline_plan.steps.get(element_id) or (deadline_plan.steps.get(lane) if lane else None)
    if allocation is None:
        return dossier_due_at
    due = to_utc(calendar_for(centre_id).due(to_local(now), allocation))
    return min(due, dossier_due_at) if dossier_due_at else due


def extended_due(centre_id, due_at, paused_at, now, unit="working_days"):
    """The dossier's due time (UTC) once its clock, stopped at paused_at, runs again now: later by the
    office time it stood still (by the calendar days, for a limit in calendar days)."""
    calendar = calendar_for(centre_id)
    return to_utc(calendar.extended(to_local(due_at), to_local(paused_at), to_local(now), unit))


def resumed_due(dossier, deadline_plan: Plan | None, now, supplement=True):
    """The dossier's due time (UTC) once its stopped clock runs again now. After a supplement (the
    supplement action or a model's supplement step alike), by the procedure's policy: the full
    period from now ("restart") or the old due time plus the time waited ("pause"); after a
    financial obligation, always the time waited."""
    if dossier.due_at is None or dossier.paused_at is None or deadline_plan is None:
        return dossier.due_at
    if supplement and deadline_plan.on_supplement == "restart":
        return dossier_due(dossier.centre_id, deadline_plan, now, dossier.data)
    return extended_due(dossier.centre_id, dossier.due_at, dossier.paused_at, now, deadline_plan.total.unit)


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
