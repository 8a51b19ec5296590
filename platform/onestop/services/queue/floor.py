"""Counters at work: an officer opens a counter of their centre, calls the next ticket of the groups
it serves (priority first, then by place in the line) or a given one, calls it again, skips a
no-show (who may be called later), serves the ticket (the desk then takes the papers in, the
ticket attached to the dossier) and finishes it. Calling the next ticket finishes the one at the
counter: served, it is done; called but never served, it is skipped.

Each call is one unit of work: the ticket is taken by compare-and-set (so two counters calling at
once never call the same person), the centre's board version is bumped (the hall screens' poll)
and the call is audited, in the lock order of onestop.db.
"""

from peewee import fn

from ... import sql
from ...db import run_write
from ...models import Dossier, QueueTicket, ServiceCounter, local_today, utcnow
from .. import audit
from ..errors import Conflict, Invalid, NotFound

CANDIDATES = 20  # next tickets tried by a call that loses a race for the first
_BUMP = ('INSERT INTO "queueboard" ("centre_id", "version") VALUES (?, 1) ON CONFLICT ("centre_id") '
         'DO UPDATE SET "version" = "queueboard"."version" + 1')


def _counter(actor, counter_id, mine=True) -> ServiceCounter:
    counter = ServiceCounter.get_or_none((ServiceCounter.id == counter_id) & (ServiceCounter.centre == actor.centre_id))
    if counter is None:
        raise NotFound("no such counter")
    if mine and counter.officer_id != actor.id:
        raise Conflict(f"counter {counter.number} is not open in your name; open it first")
    return counter


def open_counter(actor, counter_id) -> ServiceCounter:
    """The officer sits at the counter (leaving any other they had open); Conflict if a colleague has it."""
    counter = _counter(actor, counter_id, mine=False)
    if counter.officer_id not in (None, actor.id):
        raise Conflict(f"counter {counter.number} is open by a colleague; they close it first")

    def work():
        ServiceCounter.update(officer=None, opened_at=None).where(
            (ServiceCounter.officer == actor.id) & (ServiceCounter.id != counter.id)).execute()
        taken = ServiceCounter.update(officer=actor.id, opened_at=utcnow()).where(
            (ServiceCounter.id == counter.id) & (ServiceCounter.officer.is_null() | (ServiceCounter.officer == actor.id))
        ).execute()
        if not taken:
            raise Conflict(f"counter {counter.number} is open by a colleague; they close it first")
        audit.record("queue.counter_opened", actor, detail={"counter": counter.number})

    run_write(work)
    return ServiceCounter.get_by_id(counter.id)


def close_counter(actor, counter_id) -> None:
    counter = _counter(actor, counter_id)

    def work():
        ServiceCounter.update(officer=None, opened_at=None).where(ServiceCounter.id == counter.id).execute()
        audit.record("queue.counter_closed", actor, detail={"counter": counter.number})

    run_write(work)


def _at_counter(counter_id):
    return QueueTicket.select().where((QueueTicket.counter == counter_id)
                                      & QueueTicket.state.in_(("called", "serving"))).first()


def _line(counter, state="waiting"):
    """The counter's groups' tickets of today in that state, in the order they are called."""
    query = QueueTicket.select().where((QueueTicket.centre == counter.centre_id) & (QueueTicket.day == local_today())
                                       & QueueTicket.group.in_(counter.groups or []) & (QueueTicket.state == state))
    if state == "waiting":
        query = query.where(QueueTicket.queued_at <= utcnow())
    return query.order_by(QueueTicket.priority.is_null(), QueueTicket.queued_at, QueueTicket.id)


def counter_page(actor, counter_id) -> dict:
    """What the officer's counter page shows: the counter, the ticket at it, the line, the skipped."""
    counter = _counter(actor, counter_id, mine=False)
    return {"counter": counter, "current": _at_counter(counter.id), "waiting": list(_line(counter).limit(50)),
            "skipped": list(_line(counter, "skipped").limit(50)), "mine": counter.officer_id == actor.id}


def _finish_current(actor, counter):
    current = _at_counter(counter.id)
    if current is not None:
        state = "done" if current.state == "serving" else "skipped"
        QueueTicket.update(state=state, finished_at=utcnow() if state == "done" else None).where(
            (QueueTicket.id == current.id) & (QueueTicket.state == current.state)).execute()


def _called(actor, counter, ticket, recall=False):
    """The rest of a call's unit: the board bumped and the call audited."""
    sql.run(_BUMP, (counter.centre_id,))
    audit.record("queue.recalled" if recall else "queue.called", actor,
                 detail={"ticket": ticket.label, "counter": counter.number, "day": ticket.day.isoformat()})


def _take(actor, counter, ticket_id, states) -> bool:
    now = utcnow()
    return bool(QueueTicket.update(state="called", counter=counter.id, officer=actor.id, called_at=now,
                                   first_called_at=fn.COALESCE(QueueTicket.first_called_at, now),
                                   calls=QueueTicket.calls + 1).where(
        (QueueTicket.id == ticket_id) & QueueTicket.state.in_(states)).execute())


def call_next(actor, counter_id) -> QueueTicket | None:
    """Call the next ticket of the counter's groups (None: nobody is waiting)."""
    counter = _counter(actor, counter_id)

    def work():
        _finish_current(actor, counter)
        for candidate in _line(counter).limit(CANDIDATES):
            if _take(actor, counter, candidate.id, ("waiting",)):
                _called(actor, counter, candidate)
                return candidate.id
        return None

    ticket_id = run_write(work)
    return QueueTicket.get_by_id(ticket_id) if ticket_id else None


def call_ticket(actor, counter_id, ticket_id) -> QueueTicket:
    """Call a given ticket of the counter's groups today: waiting (out of turn) or skipped (came back)."""
    counter = _counter(actor, counter_id)
    ticket = QueueTicket.get_or_none((QueueTicket.id == ticket_id) & (QueueTicket.centre == actor.centre_id))
    if ticket is None or ticket.group_id not in (counter.groups or []) or ticket.day != local_today():
        raise NotFound("no such ticket in this counter's line today")

    def work():
        _finish_current(actor, counter)
        if not _take(actor, counter, ticket.id, ("waiting", "skipped")):
            raise Conflict(f"ticket {ticket.label} was called meanwhile")
        _called(actor, counter, ticket)

    run_write(work)
    return QueueTicket.get_by_id(ticket.id)


def _current_or_conflict(counter, states=("called", "serving")) -> QueueTicket:
    current = _at_counter(counter.id)
    if current is None or current.state not in states:
        raise Conflict("no ticket is called at this counter")
    return current


def recall(actor, counter_id) -> QueueTicket:
    """Call the ticket at the counter again (the screen and the phone show it once more)."""
    counter = _counter(actor, counter_id)
    current = _current_or_conflict(counter, ("called",))

    def work():
        if not _take(actor, counter, current.id, ("called",)):
            raise Conflict(f"ticket {current.label} is no longer called here")
        _called(actor, counter, current, recall=True)

    run_write(work)
    return QueueTicket.get_by_id(current.id)


def skip(actor, counter_id) -> QueueTicket:
    """The called person did not come: skipped, and recallable later from the counter's page."""
    counter = _counter(actor, counter_id)
    current = _current_or_conflict(counter, ("called",))

    def work():
        QueueTicket.update(state="skipped").where((QueueTicket.id == current.id) & (QueueTicket.state == "called")).execute()
        audit.record("queue.skipped", actor, detail={"ticket": current.label, "counter": counter.number})

    run_write(work)
    return QueueTicket.get_by_id(current.id)


def serve(actor, counter_id) -> QueueTicket:
    """The called person is at the counter: serving starts (the desk's intake follows)."""
    counter = _counter(actor, counter_id)
    current = _current_or_conflict(counter)
    if current.state == "called":
        run_write(lambda: QueueTicket.update(state="serving", served_at=utcnow()).where(
            (QueueTicket.id == current.id) & (QueueTicket.state == "called")).execute())
    return QueueTicket.get_by_id(current.id)


def finish(actor, counter_id) -> QueueTicket:
    """The ticket at the counter is done (served) or skipped (never served)."""
    counter = _counter(actor, counter_id)
    current = _current_or_conflict(counter)
    run_write(lambda: _finish_current(actor, counter))
    return QueueTicket.get_by_id(current.id)


def serving_ticket(actor, ticket_id) -> QueueTicket:
    """A ticket of the actor's centre being served by the actor (the intake shows it)."""
    ticket = QueueTicket.get_or_none((QueueTicket.id == ticket_id) & (QueueTicket.centre == actor.centre_id))
    if ticket is None or ticket.officer_id != actor.id or ticket.state not in ("serving", "done"):
        raise NotFound("no ticket of yours at the counter")
    return ticket


def attach_dossier(actor, ticket_id, dossier_code) -> QueueTicket:
    """The dossier received at the counter belongs to the ticket being served there."""
    ticket = serving_ticket(actor, ticket_id)
    dossier = Dossier.get_or_none((Dossier.code == dossier_code) & (Dossier.centre == actor.centre_id))
    if dossier is None:
        raise Invalid("no such dossier of the centre")

    def work():
        QueueTicket.update(dossier=dossier.id).where(QueueTicket.id == ticket.id).execute()
        audit.record("queue.dossier_attached", actor, dossier=dossier, detail={"ticket": ticket.label})

    run_write(work)
    return QueueTicket.get_by_id(ticket.id)
