"""Carrying a procedure's running dossiers onto its current version: each dossier moves only if
nothing it has reached changed, in its own transaction, audited."""

from dataclasses import dataclass

from ..engine import EngineError
from ..models import Dossier, HistoryEntry, WaitingEvent, WorkItem
from .dossiers import stored_state
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import save_step


@dataclass
class Migration:
    code: str
    migrated: bool
    reason: str = ""


def migrate_dossiers(actor, procedure_code, codes=None) -> list[Migration]:
    """Carry the procedure's running dossiers (all, or those codes) onto its current version. A
    dossier moves only if no element it has already reached (done, under way or waiting) was
    removed or changed in the new version, or has another form; otherwise it stays on its
    version and the answer says why. Each dossier moves in its own transaction, audited."""
    from .procedures import current_version, get_procedure

    procedure = get_procedure(actor, procedure_code)
    target = current_version(procedure)
    query = (Dossier.select().where((Dossier.procedure == procedure.id) & (Dossier.centre == actor.centre_id)
                                    & (Dossier.state == "active") & (Dossier.version != target.id)))
    if codes is not None:
        query = query.where(Dossier.code.in_([str(c) for c in codes]))
    new_model, results, changes = model_for(target), [], {}
    for dossier in query.order_by(Dossier.id):
        if dossier.version_id not in changes:
            changes[dossier.version_id] = _changed_elements(model_for(dossier.version), new_model)
        touched = ({e for (e,) in HistoryEntry.select(HistoryEntry.element_id).where(
            HistoryEntry.dossier == dossier.id).tuples()}
            | {e for (e,) in WorkItem.select(WorkItem.element_id).where(WorkItem.dossier == dossier.id).tuples()}
            | {e for (e,) in WaitingEvent.select(WaitingEvent.element_id).where(
                WaitingEvent.dossier == dossier.id).tuples()})
        clash = sorted(touched & changes[dossier.version_id])
        if clash:
            results.append(Migration(dossier.code, False, "already reached, and changed in the new version: "
                                     + ", ".join(clash)))
            continue
        try:
            with on_behalf_of(dossier.centre_id, new_model):
                step = engine().migrate(new_model, stored_state(dossier))
        except EngineError as exc:
            results.append(Migration(dossier.code, False, str(exc)))
            continue
        from_version = dossier.version.version
        dossier.version = target
        save_step(dossier, step, actor, "dossier.migrated", None,
                  {"from_version": from_version, "to_version": target.version}, version=target)
        results.append(Migration(dossier.code, True))
    return results


def _changed_elements(old, new) -> set:
    """Elements of the old model that the new one removed, or changed (name, type, lane, form)."""
    a, b = old.elements(), new.elements()
    changed = {e for e in a if e not in b or a[e] != b[e]}
    for element in set(a) & set(b):
        fa, fb = old.element_forms.get(element), new.element_forms.get(element)
        if fa != fb or (fa and old.forms.get(fa) != new.forms.get(fb)):
            changed.add(element)
    return changed
