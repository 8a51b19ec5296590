"""A dossier's business key: the key another system knows it by (Camunda's business key), unique
within its centre. A message that starts a dossier gives it one; a procedure may declare one of its
variables as the key (procedure.json "business_key"). Messages find their dossier by it."""

from peewee import IntegrityError

from ..models import Dossier
from .errors import Conflict, shown


def declared_key(model, data) -> str | None:
    """The business key the procedure declares (procedure.json "business_key": the name of a
    variable), read from the dossier's data; None if it declares none or the data lacks it."""
    name = (model.metadata or {}).get("business_key")
    value = data.get(name) if isinstance(name, str) and isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        return None
    return str(value).strip()[:255]


def holder(centre_id, business_key) -> str | None:
    """The code of the centre's dossier with that business key, if one has it."""
    return Dossier.select(Dossier.code).where((Dossier.centre == centre_id)
                                              & (Dossier.business_key == business_key)).scalar()


def _taken(code, business_key):
    return Conflict(f"dossier {code or 'another'} already has the business key {shown(business_key)}")


def check_free(centre_id, business_key):
    """Conflict (409) if another dossier of the centre has the key already."""
    if business_key is not None:
        code = holder(centre_id, business_key)
        if code is not None:
            raise _taken(code, business_key)


def stored_once(centre_id, business_key, store):
    """`store()`, the unit of work inserting a dossier with the key: of two stored at once with the
    same key the unique index keeps one, and the other is told (Conflict)."""
    try:
        return store()
    except IntegrityError:
        code = holder(centre_id, business_key) if business_key is not None else None
        if code is None:
            raise
        raise _taken(code, business_key) from None
