"""Taking a number: at the kiosk or on a phone (the QR code at the door), or by booking a slot of
the centre's office hours on one of its working days. Numbers restart each day, per group (A001,
A002 ...); the group's day counter is taken by one upsert inside the ticket's transaction, so two
kiosks at once never get the same number and a failed booking gives its number back.

Priority tickets (the elderly, people with disabilities, pregnant women, people with small
children) are called before ordinary ones: docs/queue.md says where the rule comes from.
"""

import secrets
from datetime import datetime, timedelta

from peewee import fn

from ... import sql
from ...db import run_write
from ...models import QueueGroup, QueueTicket, ServiceCounter, local_today, utcnow
from ...workdays import to_local, to_utc
from .. import deadlines
from ..errors import Conflict, Invalid, NotFound
from .setup import public_centre

PRIORITIES = ("elderly", "disability", "pregnant", "small_child")
CHANNELS = ("kiosk", "phone")
OPEN = ("waiting", "called", "serving")
DEFAULT_SERVICE_SECONDS = 300.0  # a group's estimate until it has served anyone
RECENT = 20  # the estimate is the mean of the group's last RECENT services
BOOKING_DAYS = 14  # how far ahead a slot can be booked

_NEXT_NUMBER = ('INSERT INTO "queuesequence" ("group_id", "day", "value") VALUES (?, ?, 1) '
                'ON CONFLICT ("group_id", "day") DO UPDATE SET "value" = "queuesequence"."value" + 1 '
                'RETURNING "value"')


def _group(centre, group_id) -> QueueGroup:
    group = QueueGroup.get_or_none((QueueGroup.id == group_id) & (QueueGroup.centre == centre.id)
                                   & (QueueGroup.active == True))  # noqa: E712
    if group is None:
        raise NotFound("no such service group at this centre")
    return group


def _priority(priority):
    if priority in (None, ""):
        return None
    if priority not in PRIORITIES:
        raise Invalid(f"priority is one of: {', '.join(PRIORITIES)}")
    return priority


def _new_ticket(centre_id, group, day, channel, priority, queued_at, booked_for=None) -> QueueTicket:
    """Inside the ticket's transaction: the group's next number of that day, and the ticket."""
    number = sql.run(_NEXT_NUMBER, (group.id, day)).fetchone()[0]
    return QueueTicket.create(centre=centre_id, group=group.id, day=day, number=number,
                              label=f"{group.letter}{number:03d}", token=secrets.token_urlsafe(12), channel=channel,
                              priority=priority, queued_at=queued_at, booked_for=booked_for, issued_at=utcnow())


def issue(centre_code, group_id, channel="kiosk", priority=None) -> QueueTicket:
    """A number of today for the group, taken at the kiosk or on a phone; Conflict when the centre is
    not open today (a day off, after closing, or merged away)."""
    centre = public_centre(centre_code)
    if channel not in CHANNELS:
        raise Invalid(f"channel is one of: {', '.join(CHANNELS)}")
    group, priority = _group(centre, group_id), _priority(priority)
    now = utcnow()
    calendar, local = deadlines.calendar_for(centre.id), to_local(now)
    if centre.closed(local.date()) or not calendar.is_working_day(local.date()) or local >= calendar.closing(local.date()):
        raise Conflict("the centre is not open for numbers now; come back on its next working day")
    return run_write(lambda: _new_ticket(centre.id, group, local.date(), channel, priority, now))


def slots(centre_code, group_id, day) -> list[dict]:
    """The group's booking slots of a day (local): [{start (local), end, free}], none on a day off,
    before today, beyond BOOKING_DAYS or for a group without booking."""
    centre = public_centre(centre_code)
    group = _group(centre, group_id)
    today = local_today()
    calendar = deadlines.calendar_for(centre.id)
    if group.slot_capacity <= 0 or not today <= day <= today + timedelta(days=BOOKING_DAYS) \
            or not calendar.is_working_day(day):
        return []
    now, step, starts = to_local(utcnow()), timedelta(minutes=group.slot_minutes), []
    for begin, end in calendar.periods:
        start = datetime.combine(day, begin)
        while start + step <= datetime.combine(day, end):
            if start > now:
                starts.append(start)
            start += step
    taken = dict(QueueTicket.select(QueueTicket.booked_for, fn.COUNT(QueueTicket.id)).where(
        (QueueTicket.group == group.id) & (QueueTicket.day == day) & QueueTicket.booked_for.is_null(False)
        & (QueueTicket.state != "cancelled")).group_by(QueueTicket.booked_for).tuples())
    return [{"start": s, "end": s + step, "free": max(group.slot_capacity - taken.get(to_utc(s), 0), 0)}
            for s in starts]


def book(centre_code, group_id, start, priority=None) -> QueueTicket:
    """A ticket for a slot (its local start): numbered in that day's sequence, placed in the line at
    the slot's start. Conflict when the slot is full (checked after the day's counter is locked, so
    two bookings of the last place never both get it) or not offered."""
    centre = public_centre(centre_code)
    group, priority = _group(centre, group_id), _priority(priority)
    if not any(s["start"] == start for s in slots(centre_code, group_id, start.date())):
        raise Invalid("that slot is not offered: choose one of the centre's free slots")
    begins = to_utc(start)

    def work():
        ticket = _new_ticket(centre.id, group, start.date(), "booking", priority, begins, booked_for=begins)
        booked = QueueTicket.select().where((QueueTicket.group == group.id) & (QueueTicket.booked_for == begins)
                                            & (QueueTicket.state != "cancelled")).count()
        if booked > group.slot_capacity:
            raise Conflict("that slot was just taken; choose another")
        return ticket

    return run_write(work)


def ahead_of(ticket) -> int:
    """Waiting tickets of the group that will be called before this one: priority tickets first,
    then by place in the line."""
    earlier = (QueueTicket.queued_at < ticket.queued_at) | (
        (QueueTicket.queued_at == ticket.queued_at) & (QueueTicket.id < ticket.id))
    if ticket.priority:
        before = QueueTicket.priority.is_null(False) & earlier
    else:
        before = QueueTicket.priority.is_null(False) | earlier
    return QueueTicket.select().where((QueueTicket.group == ticket.group_id) & (QueueTicket.day == ticket.day)
                                      & (QueueTicket.state == "waiting") & (QueueTicket.id != ticket.id)
                                      & before).count()


def mean_service_seconds(group_id) -> float:
    """The mean time the group's last RECENT tickets spent at a counter (from call to finish)."""
    rows = list(QueueTicket.select(QueueTicket.called_at, QueueTicket.finished_at).where(
        (QueueTicket.group == group_id) & (QueueTicket.state == "done") & QueueTicket.finished_at.is_null(False)
        & QueueTicket.called_at.is_null(False)).order_by(QueueTicket.finished_at.desc()).limit(RECENT).tuples())
    spans = [(finished - called).total_seconds() for called, finished in rows if finished > called]
    return sum(spans) / len(spans) if spans else DEFAULT_SERVICE_SECONDS


def open_counters(centre_id, group_id) -> int:
    """How many of the centre's counters serving the group are open now."""
    return sum(1 for c in ServiceCounter.select(ServiceCounter.groups).where(
        (ServiceCounter.centre == centre_id) & ServiceCounter.officer.is_null(False)) if group_id in (c.groups or []))


def ticket_status(token) -> dict:
    """What the citizen's ticket page shows: the number, its state, the people ahead, the estimated
    wait in minutes and, once called, the counter to go to."""
    ticket = QueueTicket.get_or_none(QueueTicket.token == str(token)[:32])
    if ticket is None:
        raise NotFound("no such ticket")
    group = QueueGroup.get_by_id(ticket.group_id)
    status = {"label": ticket.label, "group": group.name, "state": ticket.state, "priority": ticket.priority,
              "day": ticket.day.isoformat(), "booked_for": to_local(ticket.booked_for) if ticket.booked_for else None,
              "ahead": None, "wait_minutes": None, "counter": None, "calls": ticket.calls,
              "centre": ticket.centre.code}
    if ticket.state == "waiting":
        ahead = ahead_of(ticket)
        per_person = mean_service_seconds(group.id) / max(open_counters(ticket.centre_id, group.id), 1)
        status |= {"ahead": ahead, "wait_minutes": round(ahead * per_person / 60)}
    elif ticket.state in ("called", "serving") and ticket.counter_id:
        status["counter"] = ServiceCounter.get_by_id(ticket.counter_id).number
    return status
