"""Messages from other systems: delivered to the dossier that waits for them, or starting a new one.

Another system (the tax office, the land registry, the national portal) sends a message by its
name, without knowing our dossier codes. It is correlated, within ONE centre (the caller's, or
one of its scope that it names), in this order:

1. the active dossiers of the centre that wait for a message of that name (an intermediate
   catch, a boundary or an event subprocess's message event), narrowed by the `business_key` (the
   dossier's code, or the key it was given: by the message that started it, or read from its data
   by the procedure's "business_key"), by `correlation` (variables the dossier's data must hold,
   as Camunda 7 matches process variables) and by the model's own correlation properties
   (SpiffArena's correlation keys, read from the payload with their retrieval expressions and
   compared with the values the waiting workflow was correlated with);
2. exactly one left: the message is delivered to it; more than one: Conflict (409) naming the
   message and how many, nothing delivered;
3. none: if the business key names a dossier of the centre (which then waits for no such
   message), Conflict; otherwise the procedure of the centre whose process starts with that
   message starts a new dossier with the payload (and the business key); none or more than one
   such procedure: NotFound or Conflict naming the message.

A message never reaches another centre's dossier: every query is bounded by the centre.
`deliver_message` delivers one to a dossier named by its code (with the catch event, `to`, if the
dossier waits at several).
"""

import json
from dataclasses import dataclass

from peewee import JOIN

from .. import sql
from ..engine import NotWaiting
from ..models import Dossier, Procedure, ProcedureVersion, WaitingEvent, local_today
from . import centres, dossiers
from .errors import Conflict, Invalid, NotFound, shown
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import save_step

MAX_CANDIDATES = 500  # dossiers of a centre waiting for one message that one request looks at
MAX_SHOWN = 5  # dossier codes an ambiguous message's answer names


@dataclass
class Outcome:
    """What a message did: "delivered" to a waiting dossier, or "started" a new one."""

    result: str
    dossier: Dossier


def send_message(actor, name, payload=None, business_key=None, correlation=None, centre=None) -> Outcome:
    """Correlate a message to the one dossier of the centre that waits for it, or start a new
    dossier of the procedure whose process starts with it (see the module's docstring)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Invalid("name (the message's name, at most 255 characters) is required")
    payload = dossiers.check_data(payload, "payload")
    if business_key is not None and (not isinstance(business_key, str) or not business_key.strip()
                                     or len(business_key) > 255):
        raise Invalid("business_key must be a text of 1 to 255 characters")
    if correlation is not None and (not isinstance(correlation, dict) or any(
            isinstance(v, dict | list) for v in correlation.values())):
        raise Invalid("correlation must be an object of variable names and plain values")
    if centre is not None and not isinstance(centre, str):
        raise Invalid("centre must be a centre's code")
    centre_id = centres.get_centre(actor, centre).id if centre is not None else actor.centre_id
    business_key = business_key.strip() if business_key is not None else None
    detail = {"correlated_by": "business_key" if business_key else "correlation" if correlation else "message"}

    waiting = _waiting(centre_id, name, business_key, correlation or {}, payload)
    if len(waiting) > 1:
        codes = ", ".join(sorted(d.code for d in waiting)[:MAX_SHOWN])
        more = "" if len(waiting) <= MAX_SHOWN else f" and {len(waiting) - MAX_SHOWN} more"
        raise Conflict(f"message {shown(name)} matches {len(waiting)} waiting dossiers ({codes}{more}); "
                       "name one with business_key or correlation")
    if waiting:
        return Outcome("delivered", deliver_to(actor, _full(waiting[0].id), name, payload, detail=detail))
    if business_key is not None:
        holder = (Dossier.select(Dossier.code, Dossier.state)
                  .where((Dossier.centre == centre_id)
                         & ((Dossier.code == business_key) | (Dossier.business_key == business_key))).first())
        if holder is not None:
            raise Conflict(f"dossier {holder.code} ({holder.state}) does not wait for message {shown(name)}")
    return Outcome("started", _start(actor, centre_id, name, payload, business_key))


def deliver_message(actor, code, name, payload=None, to=None) -> Dossier:
    """Deliver a BPMN message to a dossier waiting for it."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise Invalid("name (the message's name or id, at most 255 characters) is required")
    if to is not None and not isinstance(to, str):
        raise Invalid("to must be the id of the catch event")
    payload = dossiers.check_data(payload, "payload")
    return deliver_to(actor, dossiers.get_dossier(actor, code), name, payload, to)


def deliver_to(actor, dossier, name, payload, to=None, detail=None) -> Dossier:
    """Deliver a checked message to a dossier already read (of a centre the actor may reach):
    Conflict (409) if it is not running, waits for no such message, or another step was stored
    on it meanwhile (of two messages at once, one wins)."""
    if dossier.state != "active":
        raise Conflict(f"dossier {dossier.code} is {dossier.state}")
    try:
        model = model_for(dossier.version)
        with on_behalf_of(dossier.centre_id, model):
            step = engine().deliver_message(model, dossiers.stored_state(dossier), name, payload, to)
    except NotWaiting as exc:
        raise Conflict(str(exc)) from None
    return save_step(dossier, step, actor, "message.delivered", to, {"message": name} | (detail or {}))


def _waiting(centre_id, name, business_key, correlation, payload) -> list:
    """The active dossiers of the centre waiting for message `name` that the key, the correlation
    variables and the model's correlation properties leave."""
    query = (WaitingEvent.select(WaitingEvent.correlations, Dossier.id.alias("dossier_id"), Dossier.code,
                                 Dossier.version.alias("version_id"), Dossier.data)
             .join(Dossier)
             .where((Dossier.centre == centre_id) & (Dossier.state == "active") & (WaitingEvent.type == "message")
                    # a wait stored before waits named their message (migration 34): by its element's name
                    & ((WaitingEvent.message == name) | (WaitingEvent.message.is_null() & (WaitingEvent.name == name)))))
    if business_key is not None:
        query = query.where((Dossier.code == business_key) | (Dossier.business_key == business_key))
    rows = list(query.order_by(Dossier.id).limit(MAX_CANDIDATES + 1).dicts())
    if len(rows) > MAX_CANDIDATES:  # the one it is for may be among those not looked at: refuse, never guess
        raise Conflict(f"more than {MAX_CANDIDATES} dossiers wait for message {shown(name)}; "
                       "name the one it is for with business_key")
    found, carried = {}, {}
    for row in rows:
        data, expected = _json(row["data"]) or {}, _json(row["correlations"])
        if row["dossier_id"] in found or any(data.get(k) != v for k, v in correlation.items()):
            continue
        if expected:
            if row["version_id"] not in carried:
                carried[row["version_id"]] = _carried(row["version_id"], name, payload)
            sent = carried[row["version_id"]]
            # SpiffWorkflow's rule: a correlated wait catches a message that agrees on one of its keys.
            if not any(sent.get(key) == expected.get(key) for key in sent):
                continue
        found[row["dossier_id"]] = row["code"]
    return [Waiting(dossier_id, code) for dossier_id, code in found.items()]


def _json(value):
    """A JSON column's value as read through a join (text on some drivers, decoded on others)."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass
class Waiting:
    """A dossier waiting for the message."""

    id: int
    code: str


def _carried(version_id, name, payload) -> dict:
    """The correlation keys' values the payload carries, by the retrieval expressions of the model."""
    version = ProcedureVersion.get_by_id(version_id)
    return engine().message_correlations(model_for(version), name, payload)


def _full(dossier_id) -> Dossier:
    """A dossier with its procedure and version, as a step needs it."""
    return (Dossier.select(*sql.DOSSIER_HEAD, Procedure, ProcedureVersion)
            .join(Procedure).switch(Dossier).join(ProcedureVersion)
            .where(Dossier.id == dossier_id).get())


def _start(actor, centre_id, name, payload, business_key) -> Dossier:
    """A new dossier of the centre's procedure whose process starts with message `name`."""
    starting = _starting(centre_id, name)
    if not starting:
        raise NotFound(f"no dossier of this centre waits for message {shown(name)} and no procedure starts with it")
    if len(starting) > 1:
        codes = ", ".join(sorted(p.code for p, _v in starting)[:MAX_SHOWN])
        raise Conflict(f"message {shown(name)} starts more than one procedure ({codes}); a message must start one")
    procedure, version = starting[0]
    centres.open_for_intake(centre_id, local_today())
    model = model_for(version)
    try:
        with on_behalf_of(centre_id, model):
            step = engine().start_by_message(model, name, payload)
    except NotWaiting:  # the version changed between the look-up and the start
        raise Conflict(f"procedure {procedure.code} no longer starts with message {shown(name)}; send it again") from None
    return dossiers.store_new_dossier(actor, centre_id, procedure, version, model, step, None, "api",
                                      business_key=business_key, detail={"message": name})


def _starting(centre_id, name) -> list:
    """(procedure, current version) of the centre's procedures whose process starts with message
    `name`. Only versions whose stored model mentions the name are parsed to make sure."""
    needle = json.dumps(name, ensure_ascii=False)[1:-1]  # as the stored model (JSON) spells it
    template = ProcedureVersion.alias()
    rows = (ProcedureVersion.select(ProcedureVersion, Procedure)
            .join(Procedure, on=((Procedure.id == ProcedureVersion.procedure)
                                 & (Procedure.latest_version == ProcedureVersion.version)))
            .switch(ProcedureVersion)
            .join(template, join_type=JOIN.LEFT_OUTER, on=(template.id == ProcedureVersion.template_version))
            .where((Procedure.centre == centre_id)
                   & (ProcedureVersion.compiled.contains(needle) | template.compiled.contains(needle)
                      | (ProcedureVersion.compiled.is_null() & ProcedureVersion.template_version.is_null()))))
    found = []
    for version in rows:
        if name in model_for(version).start_messages():
            found.append((version.procedure, version))
    return found

