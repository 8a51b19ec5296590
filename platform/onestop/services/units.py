"""Units of a centre (departments, divisions, counters). A centre may have a lane done by one
unit's officers: its local override maps the lane to "role@UNIT" (e.g. "officer@TP")."""

import re

from peewee import IntegrityError

from ..db import write_transaction
from ..models import Unit, User
from . import audit, runtime
from .errors import Conflict, Invalid, NotFound, shown

KINDS = ("department", "counter")
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_cache = runtime.SharedCache("units", seconds=60.0)  # centre id -> {code: id}


def create_unit(actor, code, name, kind="department") -> Unit:
    """A unit of the actor's centre."""
    if not _CODE.match(code or ""):
        raise Invalid("a unit's code is 1-32 letters, digits or . _ -")
    if not (name or "").strip() or len(name) > 255:
        raise Invalid("give the unit's name (at most 255 characters)")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of: {', '.join(KINDS)}")
    with write_transaction():
        try:
            unit = Unit.create(centre=actor.centre_id, code=code, name=name.strip(), kind=kind)
        except IntegrityError:
            raise Conflict(f"the centre already has a unit {shown(code)}") from None
        audit.record("unit.created", actor, detail={"code": code, "name": name, "kind": kind})
        _cache.changed()
    return unit


def list_units(actor) -> list[Unit]:
    return list(Unit.select().where(Unit.centre == actor.centre_id).order_by(Unit.code))


def get_unit(actor, code) -> Unit:
    unit = Unit.get_or_none((Unit.centre == actor.centre_id) & (Unit.code == code))
    if unit is None:
        raise NotFound(f"no unit {shown(code)}")
    return unit


def assign(actor, username, code) -> User:
    """Put a user of the actor's centre in one of its units (or in none: code None)."""
    user = User.get_or_none((User.username == username) & (User.centre == actor.centre_id))
    if user is None:
        raise NotFound(f"no user {shown(username)}")
    unit = get_unit(actor, code) if code else None
    with write_transaction():
        User.update(unit=unit.id if unit else None).where(User.id == user.id).execute()
        audit.record("user.unit_set", actor, detail={"username": username, "unit": code})
    user.unit = unit
    return user


def ids(centre_id) -> dict:
    """code -> id of the centre's units (cached; a new unit is seen by every process within a second)."""
    return _cache.get(centre_id, lambda: dict(Unit.select(Unit.code, Unit.id).where(Unit.centre == centre_id).tuples()))


def role_and_unit(centre_id, mapping) -> tuple:
    """A lane's mapping ("officer", or "officer@TP" at a centre with unit TP) as (role, unit id)."""
    if not mapping or "@" not in mapping:
        return mapping, None
    role, _, code = mapping.partition("@")
    return role, ids(centre_id).get(code)
