"""The worker's side of the national portal connection: sending the queued status changes, in
order per dossier, claimed before they are sent (two workers never send one at once), retried with
growing pauses while the portal is down, slow or answers nonsense, and failed after `attempts`
tries (an incident in the back office, retried from there). A worker killed while sending leaves
its change claimed; once the claim's lease runs out it is sent again with the same `seq`, which the
portal drops if it had it (so nothing is lost, and the portal applies nothing twice).

The reconciliation asks the portal which status change of each dossier it holds last and sends
again every change it lost. `health` and `refusals` are what the back office shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import JOIN, fn

from ...db import write_transaction
from ...models import Centre, Dossier, PortalDossier, PortalPush, PortalReconciliation, PortalRefusal, utcnow
from ...status import Status
from .. import audit
from ..centres import scope_ids
from ..errors import NotFound
from . import options as portal_options

log = logging.getLogger("onestop.national_portal")

RECONCILE_DAYS = 90  # dossiers pushed this long ago or less are compared with the portal's view
QUERY_BATCH = 200  # dossiers asked about in one query
MAX_PAUSE_SECONDS = 600


def pause(attempts: int) -> timedelta:
    """The pause before the next try of a change that failed `attempts` times: 5 s, 10 s, 20 s... 10 min."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), MAX_PAUSE_SECONDS))


def send_due(limit: int = 200, now: datetime | None = None) -> int:
    """Send the status changes that are due (each dossier's next one); returns how many the portal took."""
    opts = portal_options.current()
    if not opts.connected:
        return 0
    now = now or utcnow()
    # A claim whose lease ran out: its worker died while sending; send it again (same seq).
    PortalPush.update(state="pending").where((PortalPush.state == "sending") & (PortalPush.next_attempt_at <= now)
                                             ).execute()
    due = list(PortalPush.select(PortalPush, PortalDossier, Dossier.code)
               .join(PortalDossier).join(Dossier, on=(Dossier.id == PortalDossier.dossier))
               .where((PortalPush.state == "pending") & (PortalPush.next_attempt_at <= now)
                      & (PortalPush.seq == PortalDossier.acked_seq + 1))
               .order_by(PortalPush.next_attempt_at, PortalPush.id).limit(limit))
    lease = now + timedelta(seconds=opts.lease_seconds)
    sent = 0
    for push in due:
        claimed = (PortalPush.update(state="sending", next_attempt_at=lease, attempts=PortalPush.attempts + 1)
                   .where((PortalPush.id == push.id) & (PortalPush.state == "pending")).execute())
        if not claimed:
            continue  # another worker has it
        try:
            opts.post("/statuses", f"{push.link.portal_id}.{push.seq}", _message(push))
        except OSError as exc:
            attempts = push.attempts + 1
            failed = attempts >= opts.attempts
            PortalPush.update(state="failed" if failed else "pending", last_error=str(exc)[:2000],
                              next_attempt_at=utcnow() + pause(attempts)).where(PortalPush.id == push.id).execute()
            log.warning("national portal: status %s of %s not sent (attempt %d%s): %s", push.seq, push.link.portal_id,
                        attempts, ", given up" if failed else "", exc)
            continue
        with write_transaction():  # both or neither: a sent change with its dossier's mark behind it blocks the next
            PortalPush.update(state="sent", sent_at=utcnow(), last_error=None).where(PortalPush.id == push.id).execute()
            PortalDossier.update(acked_seq=push.seq).where((PortalDossier.id == push.link_id)
                                                           & (PortalDossier.acked_seq < push.seq)).execute()
        sent += 1
    return sent


def _message(push) -> dict:
    """The status change as the contract says (docs/integrations.md, the national portal)."""
    status = Status(push.status)
    return {"portal_dossier_id": push.link.portal_id, "dossier_code": push.link.dossier.code,
            "agency_code": push.link.agency_code, "procedure_code": push.link.procedure_code, "seq": push.seq,
            "status": {"code": status.national_code, "name": status.national_name, "value": status.value},
            "changed_at": push.changed_at.isoformat() + "Z"}


@dataclass
class Reconciled:
    centre_id: int
    checked: int = 0
    repaired: int = 0
    error: str | None = None


def reconcile(centre_id: int, now: datetime | None = None) -> Reconciled:
    """Compare the portal's view of the centre's recent portal dossiers with ours: every status
    change it lost is sent again (in order, same seq). The run is recorded, a failure included."""
    opts = portal_options.current()
    now = now or utcnow()
    result = Reconciled(centre_id)
    if not opts.connected:
        return result
    since = now - timedelta(days=RECONCILE_DAYS)
    last_id = 0
    try:
        while True:
            links = list(PortalDossier.select(PortalDossier.id, PortalDossier.portal_id, PortalDossier.acked_seq)
                         .where((PortalDossier.centre == centre_id) & (PortalDossier.created_at >= since)
                                & (PortalDossier.id > last_id) & (PortalDossier.acked_seq > 0))
                         .order_by(PortalDossier.id).limit(QUERY_BATCH))
            if not links:
                break
            last_id = links[-1].id
            answer = opts.post("/statuses/query", f"query.{centre_id}.{last_id}.{now:%Y%m%d%H%M%S}",
                               {"portal_dossier_ids": [link.portal_id for link in links]})
            held = answer.get("dossiers")
            if not isinstance(held, dict):
                raise OSError("the portal's answer has no \"dossiers\" object")
            for link in links:
                result.checked += 1
                seen = held.get(link.portal_id)
                seq = seen.get("seq") if isinstance(seen, dict) else 0
                if not isinstance(seq, int) or isinstance(seq, bool):
                    raise OSError(f"the portal's seq of {link.portal_id} is not a number")
                if seq < link.acked_seq:
                    result.repaired += _send_again(link, seq, now)
    except OSError as exc:
        result.error = str(exc)[:2000]
        log.warning("national portal: reconciliation of centre %s failed: %s", centre_id, exc)
    PortalReconciliation.create(centre=centre_id, at=now, checked=result.checked, repaired=result.repaired,
                                error=result.error)
    if result.repaired:
        log.info("national portal: the portal had lost %d status change(s) of centre %s; sending them again",
                 result.repaired, centre_id)
    return result


def _send_again(link, portal_seq: int, now) -> int:
    """The portal holds `portal_seq` of the link's dossier but we had it acknowledge more: those are
    queued again (unless the dossier moved on meanwhile, when the next reconciliation sees it)."""
    moved = (PortalDossier.update(acked_seq=max(portal_seq, 0))
             .where((PortalDossier.id == link.id) & (PortalDossier.acked_seq == link.acked_seq)).execute())
    if not moved:
        return 0
    return (PortalPush.update(state="pending", next_attempt_at=now, attempts=0, resent=PortalPush.resent + 1)
            .where((PortalPush.link == link.id) & (PortalPush.seq > portal_seq) & (PortalPush.state == "sent"))
            .execute())


def reconcile_due(now: datetime | None = None) -> list[Reconciled]:
    """Reconcile every centre with portal dossiers whose last reconciliation is older than the
    options' interval (the worker calls this every round)."""
    opts = portal_options.current()
    if not opts.connected:
        return []
    now = now or utcnow()
    last = dict(PortalReconciliation.select(PortalReconciliation.centre, fn.MAX(PortalReconciliation.at))
                .group_by(PortalReconciliation.centre).tuples())
    centres = [c for (c,) in PortalDossier.select(PortalDossier.centre).distinct().tuples()]
    due = [c for c in centres if last.get(c) is None or last[c] <= now - timedelta(seconds=opts.reconcile_seconds)]
    return [reconcile(c, now) for c in due]


def health(actor) -> list[dict]:
    """Each centre's (of the actor's scope) sync with the portal: changes waiting, being sent,
    failed (with the last error), the last one the portal took, the last reconciliation, the codes
    the portal pushed that no procedure has."""
    now, centre_ids = utcnow(), scope_ids(actor)
    counts, reconciliations = _counts(centre_ids), _last_reconciliations(centre_ids)
    unknown, last_errors = _unknown_codes(centre_ids), _last_errors(centre_ids)
    centres = set(counts) | set(reconciliations) | set(unknown)
    names = {c.id: c for c in Centre.select(Centre.id, Centre.code, Centre.name).where(Centre.id.in_(list(centres)))}
    rows = []
    for centre_id in sorted(centres & set(names), key=lambda c: names[c].code):
        count = counts.get(centre_id) or _no_counts()
        run = reconciliations.get(centre_id)
        rows.append({"centre_id": centre_id, "centre": names[centre_id].code, "name": names[centre_id].name,
                     **count, "last_error": last_errors.get(centre_id),
                     "last_reconciliation": run.at if run else None,
                     "last_reconciliation_checked": run.checked if run else None,
                     "last_reconciliation_repaired": run.repaired if run else None,
                     "last_reconciliation_error": run.error if run else None,
                     "unknown_procedures": sorted(unknown.get(centre_id, []), key=lambda u: u["code"] or ""),
                     "healthy": not count["failed"] and not (run and run.error) and not _stale(count, now)})
    return rows


def _scoped(query, column, centre_ids):
    return query.where(column.in_(centre_ids)) if centre_ids is not None else query


def _no_counts() -> dict:
    return {"pending": 0, "sending": 0, "failed": 0, "sent": 0, "last_success": None}


def _counts(centre_ids) -> dict:
    """centre id -> its changes by state and the last one sent."""
    counts: dict = {}
    query = (PortalPush.select(PortalPush.centre, PortalPush.state, fn.COUNT(PortalPush.id), fn.MAX(PortalPush.sent_at))
             .group_by(PortalPush.centre, PortalPush.state))
    for centre, state, count, last_sent in _scoped(query, PortalPush.centre, centre_ids).tuples():
        row = counts.setdefault(centre, _no_counts())
        row[state] = count
        if last_sent is not None:
            row["last_success"] = last_sent
    return counts


def _last_reconciliations(centre_ids) -> dict:
    """centre id -> its last reconciliation run."""
    last = (PortalReconciliation.select(PortalReconciliation.centre, fn.MAX(PortalReconciliation.id).alias("last"))
            .group_by(PortalReconciliation.centre))
    ids = [row.last for row in _scoped(last, PortalReconciliation.centre, centre_ids)]
    return {run.centre_id: run for run in PortalReconciliation.select().where(PortalReconciliation.id.in_(ids))}


def _unknown_codes(centre_ids) -> dict:
    """centre id -> the procedure codes the portal pushed there that it has no procedure for."""
    unknown: dict = {}
    query = (PortalRefusal.select(PortalRefusal.centre, PortalRefusal.procedure_code, fn.COUNT(PortalRefusal.id),
                                  fn.MAX(PortalRefusal.at))
             .where(PortalRefusal.reason == "unknown_procedure")
             .group_by(PortalRefusal.centre, PortalRefusal.procedure_code))
    for centre, code, count, at in _scoped(query, PortalRefusal.centre, centre_ids).tuples():
        unknown.setdefault(centre, []).append({"code": code, "count": count, "last_at": at})
    return unknown


def _last_errors(centre_ids) -> dict:
    """centre id -> the error of its latest change that failed (waiting to be tried again, or given up)."""
    errors: dict = {}
    query = (PortalPush.select(PortalPush.centre, PortalPush.last_error)
             .where(PortalPush.state.in_(("failed", "pending")) & PortalPush.last_error.is_null(False))
             .order_by(PortalPush.next_attempt_at.desc()).limit(200))
    for centre, error in _scoped(query, PortalPush.centre, centre_ids).tuples():
        errors.setdefault(centre, error)
    return errors


def _stale(count, now) -> bool:
    """Changes have waited while nothing went through for a quarter of an hour: the portal is not taking them."""
    last = count["last_success"]
    return bool(count["pending"]) and (last is None or last < now - timedelta(minutes=15))


def refusals(actor, limit: int = 50) -> list:
    """The latest pushes refused at the actor's centres (forged ones and those of an unknown agency
    have no centre and are shown to every administrator)."""
    centre_ids = scope_ids(actor)
    query = PortalRefusal.select(PortalRefusal, Centre.code).join(Centre, JOIN.LEFT_OUTER)
    if centre_ids is not None:
        query = query.where(PortalRefusal.centre.in_(centre_ids) | PortalRefusal.centre.is_null())
    return list(query.order_by(PortalRefusal.at.desc(), PortalRefusal.id.desc()).limit(limit))


def retry_failed(actor, centre_id: int) -> int:
    """Send the centre's failed status changes again now (and the waiting ones without their
    pause); returns how many. The back office's "retry" (audited)."""
    centre = Centre.get_or_none(Centre.id == centre_id)
    ids = scope_ids(actor)
    if centre is None or (ids is not None and centre.id not in ids):
        raise NotFound("no such centre")
    now = utcnow()
    with write_transaction():
        count = (PortalPush.update(state="pending", attempts=0, next_attempt_at=now)
                 .where((PortalPush.centre == centre_id) & PortalPush.state.in_(("failed", "pending"))).execute())
        audit.record("national_portal.retried", actor, centre=centre, detail={"changes": count})
    return count
