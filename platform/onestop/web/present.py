"""JSON shapes of the API: how procedures, dossiers and tasks look to outside clients.

A presenter shapes only what it is given: the views fetch through the services and hand the rows
over, so that this module reads no table and calls no service.
"""

from ..workdays import to_local


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def version(v):
    return {"code": v.procedure.code, "version": v.version, "warnings": v.warnings,
            "dialect": v.dialect, "start": {"kind": v.start_kind, "id": v.start_id}}


def procedure(p, v):
    """One procedure with its current version `v` (GET /procedures/{code})."""
    return {"code": p.code, "name": p.name, "version": p.latest_version, "updated_at": _iso(p.updated_at)} | version(v) | {
        "process_ids": v.process_ids, "metadata": v.metadata, "has_scripts": v.has_scripts,
        "created_at": _iso(v.created_at)}


def catalogue(entry):
    """A procedure as the catalogue lists it: its record from procedure.json, and whether it can be
    submitted online."""
    meta = entry.metadata
    return {"code": entry.code, "name": entry.name, "version": entry.version, "updated_at": _iso(entry.updated_at),
            "field": entry.field or None, "level": entry.level or None, "agency": entry.agency or None,
            "processing": entry.processing or None, "fee": entry.fee or None, "documents": entry.documents,
            "online": entry.online, "online_level": meta.get("online_level"), "decided_on_the_spot": entry.on_the_spot,
            "legal_basis": entry.legal_basis, "result": meta.get("result")}


def work_item(item, with_dossier=False):
    body = {"id": item.id, "element_id": item.element_id, "name": item.name, "lane": item.lane,
            "created_at": _iso(item.created_at), "due_at": _iso(item.due_at)}
    if with_dossier:
        body["dossier"] = item.dossier.code
    return body


def _local_date(value):
    return to_local(value).date().isoformat() if value else None


def dossier(d, rows, centre, tracking_url=None):
    """A dossier as the API shows it, with the rows its page shows beside it (sql.dossier_rows, named
    rows) and its centre's code; `tracking_url` (with the lookup key) only to whoever created it."""
    body = {
        "code": d.code,
        "procedure": d.procedure.code,
        "version": d.version.version,
        "state": d.state,
        "status": d.status,
        "centre": centre,
        "authority": d.authority,
        "data": d.data,
        "applicant": d.applicant,
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
        "received_at": _iso(d.received_at),
        "due_at": _iso(d.due_at),
        "due_date": _local_date(d.due_at),
        "tasks": [{"id": t.id, "element_id": t.element_id, "name": t.name, "lane": t.lane,
                   "created_at": _iso(t.created_at), "due_at": _iso(t.due_at)} for t in rows["tasks"]],
        "waiting": [{"element_id": w.element_id, "type": w.type, "name": w.name, "due_at": _iso(w.due_at)}
                    for w in rows["waiting"]],
        "history": [{"element_id": h.element_id, "name": h.name, "state": h.state, "at": _iso(h.at), "actor": h.actor}
                    for h in rows["history"]],
        "events": [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "element_id": e.element_id}
                   for e in rows["events"]],
        "attachments": [{"id": f.id, "field": f.field, "name": f.name, "media_type": f.media_type, "size": f.size,
                         "sha256": f.sha256} for f in rows["files"]],
    }
    if d.state == "error":
        body["error"] = {"element_id": d.error_element, "message": d.error_message}
    if tracking_url:
        body["tracking_url"], body["lookup_key"] = tracking_url, getattr(d, "lookup_key", None)
    return body


def outcome(o):
    return {"centre": o.centre, "code": o.code, "outcome": o.outcome, "version": o.version, "detail": o.detail}


def rollout(report):
    return {"seconds": round(report.seconds, 3), "counts": report.counts(),
            "outcomes": [outcome(o) for o in report.outcomes]}


def unit(u):
    return {"code": u.code, "name": u.name, "kind": u.kind}
