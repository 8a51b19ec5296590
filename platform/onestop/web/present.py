"""JSON shapes of the API: how procedures, dossiers and tasks look to outside clients."""

from ..services import dossiers as dossier_service
from ..services.procedures import current_version


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def version(v):
    return {"code": v.procedure.code, "version": v.version, "warnings": v.warnings,
            "dialect": v.dialect, "start": {"kind": v.start_kind, "id": v.start_id}}


def procedure(p, detail=False):
    body = {"code": p.code, "name": p.name, "version": p.latest_version, "updated_at": _iso(p.updated_at)}
    if detail:
        v = current_version(p)
        body.update(version(v) | {"process_ids": v.process_ids, "metadata": v.metadata,
                                  "has_scripts": v.has_scripts, "created_at": _iso(v.created_at)})
    return body


def work_item(item, with_dossier=False):
    body = {"id": item.id, "element_id": item.element_id, "name": item.name, "lane": item.lane,
            "created_at": _iso(item.created_at)}
    if with_dossier:
        body["dossier"] = item.dossier.code
    return body


def dossier(d):
    body = {
        "code": d.code,
        "procedure": d.procedure.code,
        "version": d.version.version,
        "state": d.state,
        "data": d.data,
        "applicant": d.applicant,
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
        "tasks": [work_item(i) for i in dossier_service.tasks_of(d)],
        "waiting": [{"element_id": w.element_id, "type": w.type, "name": w.name, "due_at": _iso(w.due_at)}
                    for w in dossier_service.waiting(d)],
        "history": [{"element_id": h.element_id, "name": h.name, "state": h.state, "at": _iso(h.at),
                     "actor": h.actor.username if h.actor_id else None} for h in dossier_service.history(d)],
        "events": [{"at": _iso(e.at), "actor": e.actor.username if e.actor_id else None, "action": e.action,
                    "element_id": e.element_id} for e in dossier_service.events(d)],
    }
    if d.state == "error":
        body["error"] = {"element_id": d.error_element, "message": d.error_message}
    return body
