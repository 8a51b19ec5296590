"""What the modeller's side panel asks while an administrator edits a draft of their centre: is this
gateway condition or this timer usable, which roles and units may a lane map to, which forms does
the draft hold. Nothing is written here: the panel writes into the draft's files, which
`drafts.save` keeps.
"""

from __future__ import annotations

import json

from ..engine import ConditionCheck, TimerCheck, check_condition, check_timer_value, classify, declared_names
from . import drafts, units
from .errors import Forbidden
from .procedures import LANE_ROLES
from .runtime import engine

MAX_TEXT = 4_000


def _state(actor, draft_id):
    if not actor.has_role(*drafts.DRAFT_ROLES):
        raise Forbidden("only an administrator edits procedures")
    return drafts.state(actor, draft_id)  # NotFound for another centre's draft


def authorise(actor, draft_id) -> None:
    """Raise Forbidden or NotFound unless the actor may edit this draft (one of their centre)."""
    _state(actor, draft_id)


def condition(actor, draft_id, text: str) -> ConditionCheck:
    """Check a gateway condition of the draft as the engine would run it, and name what it reads that
    neither the draft's forms nor its model (formData fields, message variables, scripts) set."""
    state = _state(actor, draft_id)
    known = form_field_names(state.files) | declared_names([f.content for f in state.files if classify(f.name) == "bpmn"])
    return check_condition(str(text or "")[:MAX_TEXT], known)


def timer(actor, draft_id, kind: str, text: str) -> TimerCheck:
    """Check an ISO 8601 timer value (duration, date or cycle) against the engine's budgets."""
    _state(actor, draft_id)
    return check_timer_value(kind, str(text or "")[:MAX_TEXT], engine().budgets, iso=True)


def lane_choices(actor, draft_id) -> dict:
    """What a lane of the draft may map to: a role, optionally done by one unit of the centre."""
    _state(actor, draft_id)
    return {"roles": list(LANE_ROLES),
            "units": [{"code": u.code, "name": u.name} for u in units.list_units(actor)]}


def forms(actor, draft_id) -> list[dict]:
    """The draft's form files a task may use: [{name, ui}] (ui: the UI schema paired with it, if any)."""
    names = {f.name for f in _state(actor, draft_id).files if classify(f.name) == "form"}
    out = []
    for name in sorted(names):
        if name.endswith("-uischema.json"):
            continue
        ui = name[: -len("-schema.json")] + "-uischema.json" if name.endswith("-schema.json") else None
        out.append({"name": name, "ui": ui if ui in names else None})
    return out


def form_field_names(files) -> set:
    """The data names the draft's forms fill in: JSON Schema properties and Camunda Forms keys."""
    names = set()
    for f in files:
        if classify(f.name) != "form":
            continue
        try:
            document = json.loads(f.content)
        except (ValueError, UnicodeDecodeError):
            continue  # the review reports it; here it simply fills nothing in
        _collect(document, names)
    return names


def _collect(document, names, depth=0):
    if not isinstance(document, dict) or depth > 20:
        return
    properties = document.get("properties")
    for key, sub in properties.items() if isinstance(properties, dict) else ():
        names.add(str(key))
        _collect(sub, names, depth + 1)
    components = document.get("components")
    for component in components if isinstance(components, list) else ():
        if isinstance(component, dict):
            for attr in ("key", "path"):
                if isinstance(component.get(attr), str) and component[attr]:
                    names.add(component[attr].split(".")[0])
            _collect(component, names, depth + 1)
