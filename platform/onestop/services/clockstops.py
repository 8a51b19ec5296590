"""Stopping and restarting a dossier's legal clock: ONE mechanism, whoever stops it.

The clock stops while the dossier waits on the citizen: for supplementary documents (the platform's
supplement action, services.lifecycle, or a supplement step drawn in the model and listed in
procedure.json "deadline.supplement", services.steps) or for the taxes and fees the tax office set
("deadline.financial_obligation"). Both ways of asking for a supplement write the same things: the
dossier's `paused_at`, the status "supplement requested", the same audit events, the citizen's
notification and the count of supplemented dossiers; when the documents arrive the due time moves
by the procedure's policy (deadlines.resumed_due) and so do the open tasks' due times.

Every function here runs inside the caller's unit of work.
"""

from ..models import AuditEvent, Dossier
from . import audit, deadlines, notify, stats

SUPPLEMENT, FINANCIAL_OBLIGATION = "supplement", "financial_obligation"
_STOPPED = {SUPPLEMENT: "dossier.supplement_requested", FINANCIAL_OBLIGATION: "dossier.financial_obligation_awaited"}
_RESUMED = {SUPPLEMENT: "dossier.supplement_received", FINANCIAL_OBLIGATION: "dossier.financial_obligation_met"}


def stopped(dossier, actor, kind, reason="", element_id=None) -> None:
    """What follows once the clock has stopped (the caller set `paused_at`): for a supplement, the
    count of supplemented dossiers (once per dossier), the audit event and the citizen's notice."""
    if kind == SUPPLEMENT:
        first = not AuditEvent.select().where((AuditEvent.dossier == dossier.id)
                                              & (AuditEvent.action == _STOPPED[SUPPLEMENT])).exists()
        if first and dossier.received_at:
            stats.count(stats.centre_of(dossier), dossier.procedure_id, dossier.received_at, supplemented=1)
        audit.record(_STOPPED[kind], actor, dossier=dossier, element_id=element_id, detail={"reason": reason})
        notify.queue(dossier, "supplement_requested", reason=reason)
    else:
        audit.record(_STOPPED[kind], actor, dossier=dossier, element_id=element_id)


def resume(dossier, actor, plan, now, kind, element_id=None, detail=None):
    """The clock runs again now: the dossier's new due time (returned) and its open tasks' due times
    move, `paused_at` is cleared, and the audit event says since when it stood still."""
    due_at = deadlines.resumed_due(dossier, plan, now, supplement=kind == SUPPLEMENT)
    if plan is not None and dossier.paused_at is not None:
        deadlines.shift_open_tasks(dossier.id, dossier.centre_id, dossier.paused_at, now)
    Dossier.update(paused_at=None, due_at=due_at).where(Dossier.id == dossier.id).execute()
    audit.record(_RESUMED[kind], actor, dossier=dossier, element_id=element_id, detail={
        **(detail or {}), "paused_since": dossier.paused_at.isoformat() if dossier.paused_at else None,
        "policy": plan.on_supplement if plan and kind == SUPPLEMENT else None,
        "due_at": due_at.isoformat() if due_at else None})
    return due_at
