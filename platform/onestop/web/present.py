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
            "created_at": _iso(item.created_at), "due_at": _iso(item.due_at)}
    if with_dossier:
        body["dossier"] = item.dossier.code
    return body


def dossier(d):
    rows = dossier_service.page_rows(d)
    body = {
        "code": d.code,
        "procedure": d.procedure.code,
        "version": d.version.version,
        "state": d.state,
        "status": d.status,
        "data": d.data,
        "applicant": d.applicant,
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
        "received_at": _iso(d.received_at),
        "due_at": _iso(d.due_at),
        "tasks": [{"id": i, "element_id": e, "name": n, "lane": lane, "created_at": _iso(at), "due_at": _iso(due)}
                  for i, e, n, lane, at, due in rows["tasks"]],
        "waiting": [{"element_id": e, "type": t, "name": n, "due_at": _iso(due)} for e, t, n, due in rows["waiting"]],
        "history": [{"element_id": e, "name": n, "state": s, "at": _iso(at), "actor": who}
                    for e, n, s, at, who in rows["history"]],
        "events": [{"at": _iso(at), "actor": who, "action": a, "element_id": e} for at, who, a, e in rows["events"]],
        "attachments": [{"id": i, "field": f, "name": n, "media_type": t, "size": size, "sha256": sha}
                        for i, f, n, t, size, sha in rows["files"]],
    }
    if d.state == "error":
        body["error"] = {"element_id": d.error_element, "message": d.error_message}
    return body
