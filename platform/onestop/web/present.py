"""JSON shapes of the API: how procedures, dossiers and tasks look to outside clients."""

from ..services import centres
from ..services import dossiers as dossier_service
from ..services.procedures import current_version
from ..workdays import to_local


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def version(v):
    return {"code": v.procedure.code, "version": v.version, "warnings": v.warnings,
            "dialect": v.dialect, "start": {"kind": v.start_kind, "id": v.start_id}}


def procedure(p):
    """One procedure with its current version (GET /procedures/{code})."""
    v = current_version(p)
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


def dossier(d, tracking_url=None):
    """A dossier as the API shows it; `tracking_url` (with the lookup key) only to whoever created it."""
    rows = dossier_service.page_rows(d)
    body = {
        "code": d.code,
        "procedure": d.procedure.code,
        "version": d.version.version,
        "state": d.state,
        "status": d.status,
        "centre": centres.code_of(d.centre_id),
        "authority": d.authority,
        "data": d.data,
        "applicant": d.applicant,
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
        "received_at": _iso(d.received_at),
        "due_at": _iso(d.due_at),
        "due_date": _local_date(d.due_at),
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
