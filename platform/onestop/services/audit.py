"""The audit trail: one event per domain action, written in the action's own transaction."""

from ..models import AuditEvent


def record(action, actor=None, *, centre=None, dossier=None, element_id=None, detail=None):
    """Append an audit event; call it inside the transaction of the action it describes."""
    centre_id = centre.id if centre is not None else (
        dossier.centre_id if dossier is not None else getattr(actor, "centre_id", None))
    return AuditEvent.create(
        centre=centre_id,
        dossier=dossier,
        actor=actor,
        action=action,
        element_id=element_id,
        detail=detail,
    )
