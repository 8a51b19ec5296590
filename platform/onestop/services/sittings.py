"""Decided on the spot: a dossier of a procedure marked `decided_on_the_spot` taken in at the counter
runs its own BPMN model (the bundled on_the_spot template's pattern: receive, check, the leader's
decision, return) in one sitting. The sitting records when the officer began taking it in, when it
was received, when a leader was asked for the decision and gave it, and when the result was handed
over, so that the statistics say how many were decided on the spot and in how many minutes.

The leader is asked through their pending-approvals page (polled every few seconds) and the
notification outbox (services.notify) as soon as the model reaches a leader's task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..db import run_write
from ..models import Dossier, Procedure, Sitting, User, WorkItem, utcnow
from ..status import Status
from ..workdays import to_local
from . import notify, papers
from .errors import NotFound

LEADER_ROLE = "leader"
LONGEST_SITTING = timedelta(hours=4)  # an intake form opened longer ago is not the same sitting


def on_the_spot(metadata: dict | None) -> bool:
    """Whether a procedure's record marks it decided on the spot."""
    return bool((metadata or {}).get("decided_on_the_spot"))


def open_sitting(actor, dossier: Dossier, metadata: dict, started_at: datetime | None) -> Sitting | None:
    """Open the sitting of a dossier just received at the counter, if its procedure's record
    (`metadata`) marks it decided on the spot; `started_at`: when the officer opened the intake form
    (the time of receiving when unknown or implausible)."""
    if not on_the_spot(metadata):
        return None
    received = dossier.received_at or utcnow()
    if started_at is None or not received - LONGEST_SITTING <= started_at <= received:
        started_at = received

    def write():
        sitting = Sitting.create(centre=dossier.centre_id, dossier=dossier.id, procedure=dossier.procedure_id,
                                 officer=actor.id, started_at=started_at, received_at=received)
        _ask_if_due(sitting, dossier)
        return sitting

    return run_write(write)


def after_task(actor, dossier: Dossier, item: WorkItem, sitting: int | None) -> None:
    """Follow a completed task of a dossier: a leader's task is the decision; the return hands the
    result over; a leader's task now ready asks for the decision. A returned dossier's results go to
    the citizen's store whether or not it was decided on the spot. `sitting`: the id of the dossier's
    sitting, or None (few dossiers have one), read after the step's commit with the answer's rows
    (sql.open_rows): every completion asks."""
    returned_at = None
    if dossier.status == Status.RETURNED:  # the object's status is up to date, its returned_at is not
        returned_at = Dossier.select(Dossier.returned_at).where(Dossier.id == dossier.id).scalar()
    if returned_at is not None:
        dossier.returned_at = returned_at
        papers.keep_results(actor, dossier)
    if sitting is None:
        return

    def write():
        now = utcnow()
        row = Sitting.get_by_id(sitting)
        changes = {}
        if item.role == LEADER_ROLE and row.decided_at is None:
            changes |= {"decided_at": now, "decided_by": actor.id}
        if returned_at is not None and row.returned_at is None:
            changes["returned_at"] = returned_at
        if changes:
            Sitting.update(**changes).where(Sitting.id == row.id).execute()
        _ask_if_due(row, dossier)

    run_write(write)


def _ask_if_due(sitting: Sitting, dossier: Dossier) -> None:
    """When a leader's task of the sitting is ready and no leader was asked yet: ask now (inside the
    caller's transaction)."""
    if sitting.asked_at is not None:
        return
    ready = WorkItem.select().where((WorkItem.dossier == dossier.id) & (WorkItem.role == LEADER_ROLE)).first()
    if ready is None:
        return
    Sitting.update(asked_at=utcnow()).where(Sitting.id == sitting.id).execute()
    leaders = User.select().where((User.centre == dossier.centre_id) & User.active
                                  & User.roles.contains(LEADER_ROLE))
    notify.queue_officers(dossier, "decision_asked", [u for u in leaders if u.has_role(LEADER_ROLE)],
                          Procedure.get_by_id(dossier.procedure_id).name, reason=ready.name)


def pending_approvals(actor) -> list[dict]:
    """The decisions waiting for a leader of the actor's centre: the leaders' tasks of open sittings,
    the longest waiting first."""
    rows = (WorkItem.select(WorkItem, Dossier, Sitting).join(Dossier, on=(WorkItem.dossier == Dossier.id))
            .join(Sitting, on=(Sitting.dossier == Dossier.id))
            .where((WorkItem.centre == actor.centre_id) & (WorkItem.role == LEADER_ROLE)
                   & Sitting.returned_at.is_null())
            .order_by(WorkItem.created_at, WorkItem.id).limit(200))
    now = utcnow()
    return [{"task": w.id, "name": w.name, "dossier": w.dossier.code,
             "applicant": str((w.dossier.applicant or {}).get("name") or ""),
             "waiting_minutes": max(0, int((now - w.created_at).total_seconds() // 60)),
             "claimed": w.claimed_by_id is not None} for w in rows]


def sitting_of(actor, code: str) -> dict:
    """A sitting of the actor's centre: its times and the tasks ready now; NotFound otherwise."""
    dossier = Dossier.get_or_none((Dossier.code == code) & (Dossier.centre == actor.centre_id))
    sitting = Sitting.get_or_none(Sitting.dossier == dossier.id) if dossier is not None else None
    if sitting is None:
        raise NotFound("no sitting of that dossier")
    ready = list(WorkItem.select().where(WorkItem.dossier == dossier.id).order_by(WorkItem.created_at))
    minutes = None
    if sitting.returned_at is not None:
        minutes = round((sitting.returned_at - sitting.started_at).total_seconds() / 60, 1)
    return {"code": dossier.code, "status": dossier.status, "state": dossier.state,
            "started_at": sitting.started_at, "received_at": sitting.received_at, "asked_at": sitting.asked_at,
            "decided_at": sitting.decided_at, "returned_at": sitting.returned_at, "minutes": minutes,
            "ready": [{"task": w.id, "name": w.name, "role": w.role, "leader": w.role == LEADER_ROLE} for w in ready],
            "papers": papers.of_dossier(dossier.id)}


def figures(centre_ids, lo: datetime, hi: datetime) -> dict:
    """Sittings begun in [lo, hi) at those centres: how many, how many decided on the spot (the
    result handed over the same day the officer began), and their minutes (average, longest) from
    the start of intake to the result handed over; the minutes of the decision alone (asked to given)."""
    rows = list(Sitting.select(Sitting.started_at, Sitting.asked_at, Sitting.decided_at, Sitting.returned_at)
                .where(Sitting.centre.in_(list(centre_ids)) & (Sitting.started_at >= lo) & (Sitting.started_at < hi))
                .tuples())
    spot = [(s, r) for s, _a, _d, r in rows if r is not None and to_local(r).date() == to_local(s).date()]
    minutes = [(r - s).total_seconds() / 60 for s, r in spot]
    waits = [(d - a).total_seconds() / 60 for _s, a, d, _r in rows if a is not None and d is not None]
    return {"sittings": len(rows), "on_the_spot": len(spot),
            "average_minutes": round(sum(minutes) / len(minutes), 1) if minutes else None,
            "longest_minutes": round(max(minutes), 1) if minutes else None,
            "decision_minutes": round(sum(waits) / len(waits), 1) if waits else None}
