"""The audit trail: one event per domain action, written in the action's own transaction."""

from .. import sql
from ..models import utcnow

_COLUMNS = ("centre_id", "dossier_id", "actor_id", "action", "element_id", "detail", "at")


def record(action, actor=None, *, centre=None, dossier=None, element_id=None, detail=None):
    """Append an audit event; call it inside the transaction of the action it describes."""
    centre_id = centre.id if centre is not None else (
        dossier.centre_id if dossier is not None else getattr(actor, "centre_id", None))
    sql.insert_rows("auditevent", _COLUMNS, [(
        centre_id,
        dossier.id if dossier is not None else None,
        actor.id if actor is not None else None,
        action,
        element_id,
        sql.to_json(detail),
        utcnow(),
    )])
