"""A centre's queue as the back office sets it up: service groups (a field or a group of counters,
each with the letter its numbers carry and its booking slots) and counters (the groups each serves)."""

import re

from peewee import IntegrityError

from ...db import write_transaction
from ...models import Centre, QueueGroup, ServiceCounter
from .. import audit
from ..errors import Conflict, Invalid, NotFound, shown

_LETTER = re.compile(r"^[A-Z]{1,2}$")
_NUMBER = re.compile(r"^[0-9A-Za-z]{1,16}$")


def public_centre(code) -> Centre:
    """A centre by its public code (kiosks, phones and hall screens name it); NotFound otherwise."""
    centre = Centre.get_or_none(Centre.code == str(code)[:64])
    if centre is None:
        raise NotFound(f"no centre {shown(code)}")
    return centre


def groups(centre_id, active_only=True) -> list[QueueGroup]:
    """The centre's service groups by letter."""
    query = QueueGroup.select().where(QueueGroup.centre == centre_id)
    if active_only:
        query = query.where(QueueGroup.active == True)  # noqa: E712 (peewee's comparison)
    return list(query.order_by(QueueGroup.letter))


def counters(centre_id) -> list[ServiceCounter]:
    """The centre's counters by number."""
    return list(ServiceCounter.select().where(ServiceCounter.centre == centre_id).order_by(ServiceCounter.number))


def _checked_group(letter, name, slot_minutes, slot_capacity):
    letter = (letter or "").strip().upper()
    if not _LETTER.match(letter):
        raise Invalid("a group's letter is one or two letters A-Z")
    if not (name or "").strip() or len(name) > 255:
        raise Invalid("give the group's name (at most 255 characters)")
    if not (isinstance(slot_minutes, int) and 5 <= slot_minutes <= 240):
        raise Invalid("a booking slot lasts 5 to 240 minutes")
    if not (isinstance(slot_capacity, int) and 0 <= slot_capacity <= 100):
        raise Invalid("a slot takes 0 (no booking) to 100 people")
    return letter, name.strip()


def save_group(actor, letter, name, slot_minutes=15, slot_capacity=0, active=True, group_id=None) -> QueueGroup:
    """Create (group_id None) or change a service group of the actor's centre."""
    letter, name = _checked_group(letter, name, slot_minutes, slot_capacity)
    values = {"letter": letter, "name": name, "slot_minutes": slot_minutes, "slot_capacity": slot_capacity,
              "active": bool(active)}
    with write_transaction():
        try:
            if group_id is None:
                group = QueueGroup.create(centre=actor.centre_id, **values)
            else:
                group = _group_of(actor, group_id)
                QueueGroup.update(**values).where(QueueGroup.id == group.id).execute()
        except IntegrityError:
            raise Conflict(f"the centre already has a group {shown(letter)}") from None
        audit.record("queue.group_saved", actor, detail={"id": group.id, **values})
    return QueueGroup.get_by_id(group.id)


def _group_of(actor, group_id) -> QueueGroup:
    group = QueueGroup.get_or_none((QueueGroup.id == group_id) & (QueueGroup.centre == actor.centre_id))
    if group is None:
        raise NotFound("no such group")
    return group


def save_counter(actor, number, name="", group_ids=(), counter_id=None) -> ServiceCounter:
    """Create (counter_id None) or change a counter of the actor's centre and the groups it serves."""
    number = (number or "").strip()
    if not _NUMBER.match(number):
        raise Invalid("a counter's number is 1-16 letters or digits")
    known = {g.id for g in groups(actor.centre_id, active_only=False)}
    chosen = sorted({int(g) for g in group_ids})
    if not chosen or not set(chosen) <= known:
        raise Invalid("choose at least one of the centre's groups for the counter")
    values = {"number": number, "name": (name or "").strip()[:255], "groups": chosen}
    with write_transaction():
        try:
            if counter_id is None:
                counter = ServiceCounter.create(centre=actor.centre_id, **values)
            else:
                counter = ServiceCounter.get_or_none((ServiceCounter.id == counter_id)
                                                     & (ServiceCounter.centre == actor.centre_id))
                if counter is None:
                    raise NotFound("no such counter")
                ServiceCounter.update(**values).where(ServiceCounter.id == counter.id).execute()
        except IntegrityError:
            raise Conflict(f"the centre already has a counter {shown(number)}") from None
        audit.record("queue.counter_saved", actor, detail={"id": counter.id, **values})
    return ServiceCounter.get_by_id(counter.id)
