"""Comparing two versions of a procedure element by element: what the review page and the version
comparison list, and what their diagrams colour (added, removed, changed)."""

from dataclasses import dataclass

from ..models import Procedure, ProcedureVersion
from .errors import NotFound, shown
from .procedures import model_for


def diff(old, new) -> dict:
    """What changes from one version to another, readably: BPMN elements added, removed or changed
    (name, type, lane), forms and their fields, and the catalogue metadata keys."""
    result = diff_models(model_for(old), model_for(new), old.version, new.version)
    result["same_model"] = old.content_hash == new.content_hash
    return result


def diff_models(a, b, from_version=None, to_version=None) -> dict:
    """diff, of two compiled models (one may not be stored yet). Elements are "changed" when their
    name, type, lane, form, instructions, (a gateway's) outgoing conditions or the elements they
    lead to differ, or when the content of the form they use changed; `what` says which of these
    for each, `conditions` the old and new expression per target, `names` each element's name (the
    newer one) for listing. Sequence flows added or removed are read from the two diagrams."""
    ea, eb = a.element_details(), b.element_details()
    fields, changed_forms = {}, []
    for name in sorted(set(a.forms) | set(b.forms)):
        fa = set(((a.forms.get(name) or {}).get("schema") or {}).get("properties") or {})
        fb = set(((b.forms.get(name) or {}).get("schema") or {}).get("properties") or {})
        if fa != fb:
            fields[name] = {"added": sorted(fb - fa), "removed": sorted(fa - fb)}
        if name in a.forms and name in b.forms and a.forms[name] != b.forms[name]:
            changed_forms.append(name)
    what, conditions = {}, {}
    for element in sorted(set(ea) & set(eb)):
        old, new = ea[element], eb[element]
        aspects = [key for key in ("name", "type", "lane", "form", "instructions", "conditions", "outputs") if old[key] != new[key]]
        if new["form"] in changed_forms and "form" not in aspects:
            aspects.append("form_content")
        if old["conditions"] != new["conditions"]:
            conditions[element] = {target: [old["conditions"].get(target), new["conditions"].get(target)]
                                   for target in sorted(set(old["conditions"]) | set(new["conditions"]))
                                   if old["conditions"].get(target) != new["conditions"].get(target)}
        if aspects:
            what[element] = aspects
    flows_a, flows_b = _flow_ids(a), _flow_ids(b)
    return {
        "from": from_version, "to": to_version, "same_model": a.content_hash == b.content_hash,
        "elements": {"added": sorted(set(eb) - set(ea)), "removed": sorted(set(ea) - set(eb)),
                     "changed": sorted(what), "what": what, "conditions": conditions,
                     "names": {i: (eb.get(i) or ea.get(i))["name"] for i in set(ea) | set(eb)}},
        "flows": {"added": sorted(flows_b - flows_a), "removed": sorted(flows_a - flows_b)},
        "forms": {"added": sorted(set(b.forms) - set(a.forms)), "removed": sorted(set(a.forms) - set(b.forms)),
                  "fields": fields, "changed": changed_forms},
        "metadata": sorted(k for k in set(a.metadata) | set(b.metadata) if a.metadata.get(k) != b.metadata.get(k)),
    }


@dataclass
class Comparison:
    """Two versions of a procedure of the actor's centre, side by side."""

    code: str
    name: str
    versions: list  # every version number of the procedure, oldest first
    old: ProcedureVersion
    new: ProcedureVersion
    old_model: object
    new_model: object
    diff: dict


def compare(actor, code, from_version=None, to_version=None) -> Comparison:
    """Versions `from_version` and `to_version` of the centre's procedure `code` (by default the one
    before the newest, and the newest) with their compiled models and the diff. NotFound for a
    procedure of another centre or a version it does not have."""
    procedure = Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == code))
    if procedure is None or not procedure.latest_version:
        raise NotFound(f"no procedure {shown(code)} at this centre")
    numbers = [v.version for v in ProcedureVersion.select(ProcedureVersion.version)
               .where(ProcedureVersion.procedure == procedure).order_by(ProcedureVersion.version)]
    to_version = numbers[-1] if to_version is None else to_version
    from_version = (numbers[-2] if len(numbers) > 1 else numbers[-1]) if from_version is None else from_version
    found = {}
    for number in (from_version, to_version):
        version = ProcedureVersion.get_or_none((ProcedureVersion.procedure == procedure)
                                               & (ProcedureVersion.version == number))
        if version is None:
            raise NotFound(f"{shown(code)} has no version {shown(number)}")
        found[number] = version
    old, new = found[from_version], found[to_version]
    return Comparison(code, procedure.name, numbers, old, new, model_for(old), model_for(new), diff(old, new))


def _flow_ids(model) -> set:
    return {e["id"] for e in (model.diagram or {}).get("edges", ()) if e.get("id")}
