"""Mergers of centres (administrative units keep merging): a dated event decided by a province's or
the country's administrator. From the merge's date the merged centre takes no new dossiers, and its
open dossiers and their tasks are handed over to the successor centre: each hand-over is audited,
the applicant is told through the outbox, and the dossier keeps its code and lookup key (tracking
links keep working). Its statistics stay with the centre that received it (`Dossier.received_by`).

A merge dated today hands over at once; one dated later is handed over by the worker's periodic run
(`hand_over_due`) on its date.
"""

import time
from dataclasses import dataclass
from datetime import date

from peewee import fn

from ..db import write_transaction
from ..models import Attachment, Centre, Dossier, Procedure, WorkItem, local_today, utcnow
from . import audit, notify, search
from .errors import Conflict, Forbidden, Invalid, NotFound, shown

OPEN_STATES = ("active", "error")  # not yet completed nor cancelled
BATCH = 500
CHECK_SECONDS = 60.0  # how often an embedded worker looks for merges that have come due


@dataclass
class Merger:
    merged: str
    successor: str
    on: date
    handed_over: int | None  # dossiers handed over; None: on the date, by the worker


def province_of(centre) -> int | None:
    """The id of the province a centre belongs to (itself for a province's centre); None above."""
    seen = 0
    while centre is not None and seen < 5:
        if centre.level == "province":
            return centre.id
        centre = Centre.get_or_none(Centre.id == centre.parent_id) if centre.parent_id else None
        seen += 1
    return None


def _checked(actor, codes, into, on) -> tuple[list, Centre]:
    """The centres to merge and their successor, if the merge is allowed; else a clear refusal."""
    from .centres import scope_ids

    if not actor.has_role("system_admin", "province_admin"):
        raise Forbidden("only a province's or the country's administrator merges centres")
    if not isinstance(on, date):
        raise Invalid("give the date the merge takes effect (YYYY-MM-DD)")
    if on < local_today():
        raise Invalid(f"the merge date {on:%d/%m/%Y} is in the past: a merge takes effect today or later")
    codes = [codes] if isinstance(codes, str) else list(codes or [])
    found = {c.code: c for c in Centre.select().where(Centre.code.in_(codes + [str(into)]))}
    allowed = scope_ids(actor)
    for code in codes + [str(into)]:
        if code not in found or (allowed is not None and found[code].id not in allowed):
            raise NotFound(f"no centre {shown(code)}")
    if not codes:
        raise Invalid("name the centre to merge")
    successor, merged = found[str(into)], [found[c] for c in codes]
    if successor.code in codes:
        raise Invalid("a centre cannot be merged into itself")
    if successor.closed_on is not None:
        raise Invalid(f"{successor.code} is itself merged (from {successor.closed_on:%d/%m/%Y}); merge into "
                      "the centre that took it over")
    for centre in merged:
        if centre.level not in ("province", "commune", "district", "centre"):
            raise Invalid(f"{centre.code} cannot be merged")
        if province_of(centre) != province_of(successor):
            raise Invalid(f"{centre.code} and {successor.code} belong to different provinces: a centre is "
                          "merged into one of its own province")
        if centre.closed_on is not None:
            raise Conflict(f"{centre.code} is already merged (from {centre.closed_on:%d/%m/%Y})")
    return merged, successor


def merge_centres(actor, merged, successor, on: date) -> list[Merger]:
    """Merge a centre (or several: a code or a list of codes) into `successor` from the date `on`
    (today or later): closed for new dossiers from that day, naming its successor; its open dossiers
    and tasks go to the successor on that day (at once if it is today)."""
    centres, into = _checked(actor, merged, successor, on)
    with write_transaction():
        for centre in centres:
            Centre.update(closed_on=on, successor=into.id).where(Centre.id == centre.id).execute()
        audit.record("centres.merged", actor, centre=into,
                     detail={"merged": [c.code for c in centres], "into": into.code, "on": on.isoformat()})
    out = []
    for centre in centres:
        moved = hand_over(actor, centre.code) if on <= local_today() else None
        out.append(Merger(centre.code, into.code, on, moved))
    return out


def _open_dossiers(centre_id) -> list:
    return list(Dossier.select(Dossier.id, Dossier.code, Dossier.centre, Dossier.received_by, Dossier.applicant,
                               Dossier.received_at, Dossier.created_at, Dossier.due_at, Procedure.name)
                .join(Procedure).where((Dossier.centre == centre_id) & Dossier.state.in_(OPEN_STATES))
                .order_by(Dossier.id))


def _move(ids, merged_id, successor_id):
    """The dossiers, their tasks and files now belong to the successor; a claimed task is released
    (its officer is not the successor's) and a task kept for a unit of the merged centre is offered
    to the successor's officers of its role."""
    for i in range(0, len(ids), BATCH):
        chunk = ids[i:i + BATCH]
        Dossier.update(centre=successor_id, received_by=fn.COALESCE(Dossier.received_by, merged_id),
                       updated_at=utcnow()).where(Dossier.id.in_(chunk)).execute()
        WorkItem.update(centre=successor_id, unit=None, claimed_by=None, claimed_at=None).where(
            WorkItem.dossier.in_(chunk)).execute()
        Attachment.update(centre=successor_id).where(Attachment.dossier.in_(chunk)).execute()
        search.move_dossiers(chunk, successor_id)


def hand_over(actor, code) -> int:
    """Hand a merged centre's open dossiers and their tasks over to its successor, in one
    transaction: each audited, its applicant told; returns how many. Nothing happens before the
    merge's date, nor twice."""
    with write_transaction():
        centre = Centre.get_or_none(Centre.code == code)
        if centre is None or centre.successor_id is None or centre.closed_on is None:
            raise NotFound(f"no merged centre {shown(code)}")
        if centre.closed_on > local_today() or centre.handed_over_at is not None:
            return 0
        successor = Centre.get_by_id(centre.successor_id)
        dossiers = _open_dossiers(centre.id)
        _move([d.id for d in dossiers], centre.id, successor.id)
        for dossier in dossiers:
            dossier.centre_id = successor.id
            audit.record("dossier.handed_over", actor, dossier=dossier,
                         detail={"from": centre.code, "to": successor.code, "merged_on": centre.closed_on.isoformat()})
            notify.queue(dossier, "handed_over", dossier.procedure.name, reason=successor.name)
        Centre.update(handed_over_at=utcnow()).where(Centre.id == centre.id).execute()
        audit.record("centres.handed_over", actor, centre=successor,
                     detail={"merged": centre.code, "into": successor.code, "dossiers": len(dossiers)})
    return len(dossiers)


def due() -> list[str]:
    """The codes of merged centres whose date has come and whose dossiers are not handed over yet."""
    return [c for (c,) in Centre.select(Centre.code).where(
        Centre.closed_on.is_null(False) & (Centre.closed_on <= local_today()) & Centre.successor.is_null(False)
        & Centre.handed_over_at.is_null()).order_by(Centre.closed_on, Centre.code).tuples()]


def hand_over_due() -> int:
    """The scheduled run: hand over every merge whose date has come (the worker calls it); returns
    the dossiers handed over."""
    return sum(hand_over(None, code) for code in due())


_last_check = [float("-inf")]


def hand_over_due_now_and_then() -> int:
    """hand_over_due at most once a CHECK_SECONDS (the embedded worker polls far more often)."""
    if time.monotonic() - _last_check[0] < CHECK_SECONDS:
        return 0
    _last_check[0] = time.monotonic()
    return hand_over_due()


def mergers(actor) -> list[dict]:
    """The merges in the actor's scope, newest first: who into whom, from when, handed over when."""
    from .centres import code_of, scope_ids

    query = Centre.select().where(Centre.successor.is_null(False)).order_by(Centre.closed_on.desc(), Centre.code)
    allowed = scope_ids(actor)
    if allowed is not None:
        query = query.where(Centre.id.in_(list(allowed)))
    return [{"merged": c.code, "name": c.name, "successor": code_of(c.successor_id),
             "on": c.closed_on.isoformat() if c.closed_on else None,
             "handed_over_at": c.handed_over_at.isoformat(timespec="minutes") if c.handed_over_at else None}
            for c in query]
