"""The queue's figures over a period: tickets issued and served, the average and the longest wait
(issue, or a booking's slot, to the first call), the time at the counter (call to finish) and the
tickets served per hour the counters were open, for the centres and by group, counter and officer.
Counted from the tickets themselves (a centre issues a few hundred a day)."""

from datetime import date, timedelta

from ...models import QueueGroup, QueueTicket, ServiceCounter, User


def _minutes(seconds: list) -> dict:
    return {"average_wait_minutes": round(sum(seconds) / len(seconds) / 60, 1) if seconds else None,
            "longest_wait_minutes": round(max(seconds) / 60, 1) if seconds else None}


def _line(rows) -> dict:
    waits = [(t.first_called_at - t.queued_at).total_seconds() for t in rows if t.first_called_at]
    served = [t for t in rows if t.state == "done" and t.finished_at and t.called_at]
    service = [(t.finished_at - t.called_at).total_seconds() for t in served]
    hours = {(t.day, t.finished_at.replace(minute=0, second=0, microsecond=0)) for t in served}
    return {"tickets": len(rows), "called": len(waits), "served": len(served),
            "skipped": sum(1 for t in rows if t.state == "skipped"), **_minutes([max(w, 0) for w in waits]),
            "average_service_minutes": round(sum(service) / len(service) / 60, 1) if service else None,
            "tickets_per_hour": round(len(served) / len(hours), 1) if hours else None}


def queue_figures(centre_ids: list[int], start: date, end: date) -> dict:
    """The figures of [start, end) (local days) for the centres: {total, groups, counters, officers},
    each line {tickets, called, served, skipped, average_wait_minutes, longest_wait_minutes,
    average_service_minutes, tickets_per_hour}. Tickets per hour: served tickets over the hours in
    which at least one was finished."""
    rows = list(QueueTicket.select().where(QueueTicket.centre.in_(centre_ids) & (QueueTicket.day >= start)
                                           & (QueueTicket.day < end) & (QueueTicket.state != "cancelled")))
    names = {
        "groups": {g.id: f"{g.letter} — {g.name}" for g in QueueGroup.select().where(QueueGroup.centre.in_(centre_ids))},
        "counters": {c.id: c.number for c in ServiceCounter.select().where(ServiceCounter.centre.in_(centre_ids))},
        "officers": {u.id: u.display_name or u.username for u in User.select().where(
            User.id.in_({t.officer_id for t in rows if t.officer_id}))},
    }
    keys = {"groups": "group_id", "counters": "counter_id", "officers": "officer_id"}
    figures = {"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat(), "total": _line(rows)}
    for kind, attribute in keys.items():
        ids = sorted({getattr(t, attribute) for t in rows if getattr(t, attribute)})
        figures[kind] = [{"name": names[kind].get(i, str(i)), **_line([t for t in rows if getattr(t, attribute) == i])}
                         for i in ids]
    return figures



def queue_report(actor, start: date, end: date) -> dict:
    """The queue's figures of the actor's centre over [start, end)."""
    return queue_figures([actor.centre_id], start, end)
