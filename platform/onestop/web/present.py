"""JSON shapes of the API: how procedures, dossiers and tasks look to outside clients.

A presenter shapes only what it is given: the views fetch through the services and hand the rows
over, so that this module reads no table and calls no service.

Beside each presenter stands the JSON Schema of what it returns (gathered in SCHEMAS): the OpenAPI
document (web/openapi.py) publishes these, and the tests and schemathesis check every answer against
them, so a field added here without its schema is refused (each object is closed with
additionalProperties: false).
"""

from ..status import Status
from ..workdays import to_local

_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def closed(properties: dict, optional=()) -> dict:
    """An object with exactly these properties, all required except `optional` ones."""
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [name for name in properties if name not in optional]}


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


VERSION = {
    "code": _TEXT, "version": {"type": "integer"}, "warnings": {"type": "array", "items": {"type": "object"}},
    "dialect": {"type": "string", "enum": ["spiff", "camunda"]},
    "start": closed({"kind": _TEXT_OR_NULL, "id": _TEXT_OR_NULL})}


def version(v, tests=None):
    """A stored version; with `tests`, the run of the unit-test files uploaded with it (unittests.TestReport)."""
    out = {"code": v.procedure.code, "version": v.version, "warnings": v.warnings,
           "dialect": v.dialect, "start": {"kind": v.start_kind, "id": v.start_id}}
    if tests is not None:
        out["tests"] = {"passed": tests.passed, "failed": tests.failed, "cases": [
            {"file": r["file"], "case": r["case"], "passed": r["passed"],
             "element_id": (r["reason"] or {}).get("element_id"), "reason": (r["reason"] or {}).get("message")}
            for r in tests.results], "problems": [{"file": p.get("file"), "message": p["message"]} for p in tests.problems]}
    return out


TEST_RUN = closed({
    "passed": {"type": "integer"}, "failed": {"type": "integer"},
    "cases": {"type": "array", "items": closed({"file": _TEXT, "case": _TEXT, "passed": {"type": "boolean"},
                                                "element_id": _TEXT_OR_NULL, "reason": _TEXT_OR_NULL})},
    "problems": {"type": "array", "items": closed({"file": _TEXT_OR_NULL, "message": _TEXT})}})


FINDING = {"level": {"enum": ["error", "warning"]}, "kind": {"enum": ["structure", "catalogue", "convention"]},
           "message": _TEXT, "element_id": _TEXT_OR_NULL}
UPLOADED = VERSION | {"findings": {"type": "array", "items": closed(FINDING)}}


def uploaded(v, findings, tests=None):
    """A version stored through the API, with what the back office's lint finds in it that did not
    block the upload (an incomplete catalogue record, advice), and the run of the test files
    uploaded with it, if any."""
    return version(v, tests) | {"findings": [f.as_dict() for f in findings]}


PROCEDURE = {"code": _TEXT, "name": _TEXT, "version": {"type": "integer"}, "updated_at": _TIME_OR_NULL} | VERSION | {
    "process_ids": {"type": "array", "items": _TEXT}, "metadata": {"type": "object"},
    "has_scripts": {"type": "boolean"}, "created_at": _TIME_OR_NULL}


def procedure(p, v):
    """One procedure with its current version `v` (GET /procedures/{code})."""
    return {"code": p.code, "name": p.name, "version": p.latest_version, "updated_at": _iso(p.updated_at)} | version(v) | {
        "process_ids": v.process_ids, "metadata": v.metadata, "has_scripts": v.has_scripts,
        "created_at": _iso(v.created_at)}


CATALOGUE_ENTRY = {
    "code": _TEXT, "name": _TEXT, "version": {"type": "integer"}, "updated_at": _TIME_OR_NULL,
    "field": _TEXT_OR_NULL, "level": _TEXT_OR_NULL, "agency": _TEXT_OR_NULL, "processing": _TEXT_OR_NULL,
    "fee": _TEXT_OR_NULL, "fee_note": _TEXT_OR_NULL, "documents": {"type": "array", "items": {"type": "object"}},
    "online": {"type": "boolean"}, "online_level": {"description": "from procedure.json, as written there"},
    "decided_on_the_spot": {"type": "boolean"}, "legal_basis": {"type": "array", "items": _TEXT},
    "result": {"description": "from procedure.json, as written there"}}


def catalogue(entry):
    """A procedure as the catalogue lists it: its record from procedure.json, and whether it can be
    submitted online."""
    meta = entry.metadata
    return {"code": entry.code, "name": entry.name, "version": entry.version, "updated_at": _iso(entry.updated_at),
            "field": entry.field or None, "level": entry.level or None, "agency": entry.agency or None,
            "processing": entry.processing or None, "fee": entry.fee or None, "fee_note": entry.fee_note or None,
            "documents": entry.documents,
            "online": entry.online, "online_level": meta.get("online_level"), "decided_on_the_spot": entry.on_the_spot,
            "legal_basis": entry.legal_basis, "result": meta.get("result")}


TASK = {"id": _TEXT, "element_id": _TEXT, "name": _TEXT_OR_NULL, "lane": _TEXT_OR_NULL, "created_at": _TIME,
        "due_at": _TIME_OR_NULL | {"description": "this step's deadline in working time; null: not counted"}}
WORK_ITEM = TASK | {"dossier": _TEXT}
TASK_DETAIL = WORK_ITEM | {"data": {"type": "object"}, "form": {"type": ["object", "null"]},
                           "ui": {"type": ["object", "null"]}}


def work_item(item, with_dossier=False):
    body = {"id": item.id, "element_id": item.element_id, "name": item.name, "lane": item.lane,
            "created_at": _iso(item.created_at), "due_at": _iso(item.due_at)}
    if with_dossier:
        body["dossier"] = item.dossier.code
    return body


def _local_date(value):
    return to_local(value).date().isoformat() if value else None


HISTORY_ENTRY = {"element_id": _TEXT, "name": _TEXT_OR_NULL, "state": _TEXT, "at": _TIME, "actor": _TEXT_OR_NULL}
EVENT = {"at": _TIME, "actor": _TEXT_OR_NULL, "action": _TEXT, "element_id": _TEXT_OR_NULL}
LINKS = {"self": _TEXT | {"description": "the dossier"}, "history": _TEXT | {"description": "its history, paged"},
         "events": _TEXT | {"description": "its audit events, paged"}}


def history_entry(h):
    return {"element_id": h.element_id, "name": h.name, "state": h.state, "at": _iso(h.at), "actor": h.actor}


def event(e):
    return {"at": _iso(e.at), "actor": e.actor, "action": e.action, "element_id": e.element_id}


def page(kind, rows, next_link):
    """A page of a dossier's history or events (GET /dossiers/{code}/history, /events)."""
    shape = history_entry if kind == "history" else event
    return {kind: [shape(r) for r in rows], "next": next_link}


DOSSIER = {
    "code": _TEXT, "procedure": _TEXT, "version": {"type": "integer"},
    "state": {"type": "string", "enum": ["active", "completed", "error", "cancelled"]},
    "status": {"type": "string", "enum": [s.value for s in Status], "description":
               "the national status (its code in the national catalogue: "
               + ", ".join(f"{s.value} {s.national_code}" for s in Status) + ")"},
    "centre": _TEXT | {"description": "the code of the centre handling it: the one that received it, or the "
                                      "successor a merger handed it over to"},
    "received_by": _TEXT_OR_NULL | {"description": "after a merger's hand-over: the centre that received it, "
                                                   "whose figures count it; null otherwise"},
    "authority": _TEXT_OR_NULL | {"description": "the competent authority that decides"},
    "data": {"type": "object"}, "applicant": {"type": ["object", "null"]},
    "created_at": _TIME, "updated_at": _TIME_OR_NULL, "received_at": _TIME_OR_NULL,
    "due_at": _TIME_OR_NULL | {"description": "the promised return, in the centre's working time"},
    "due_date": {"type": ["string", "null"], "format": "date", "description": "the promised return date in Vietnam"},
    "tasks": {"type": "array", "items": closed(TASK)},
    "waiting": {"type": "array", "items": closed({
        "element_id": _TEXT, "type": _TEXT, "name": _TEXT_OR_NULL, "due_at": _TIME_OR_NULL,
        "message": _TEXT_OR_NULL | {"description": "a message wait: the name to send it by (POST /messages)"}})},
    "history": {"type": "array", "items": closed(HISTORY_ENTRY),
                "description": "the first page of the history (links.history_next: the rest)"},
    "events": {"type": "array", "items": closed(EVENT),
               "description": "the first page of the audit events (links.events_next: the rest)"},
    "links": closed(LINKS | {"history_next": _TEXT_OR_NULL, "events_next": _TEXT_OR_NULL}),
    "attachments": {"type": "array", "items": closed({
        "id": {"type": "integer"}, "field": _TEXT, "name": _TEXT, "media_type": _TEXT, "size": {"type": "integer"},
        "sha256": _TEXT})},
    "error": closed({"element_id": _TEXT_OR_NULL, "message": _TEXT_OR_NULL}),
    "tracking_url": _TEXT | {"description": "the public page with the lookup key; only in the answer to the "
                             "request that created the dossier"},
    "lookup_key": _TEXT | {"description": "for the applicant's receipt; shown once"}}


def _tasks(rows) -> list:
    """Ready tasks (sql.TaskRow) as the API shows them."""
    return [{"id": t.id, "element_id": t.element_id, "name": t.name, "lane": t.lane,
             "created_at": _iso(t.created_at), "due_at": _iso(t.due_at)} for t in rows]


def waiting(w):
    """An event a dossier waits for (a timer with its due time, a message with its name...)."""
    return {"element_id": w.element_id, "type": w.type, "name": w.name, "due_at": _iso(w.due_at),
            "message": w.message}


def dossier(d, rows, centre, links, tracking_url=None, received_by=None):
    """A dossier as the API shows it, with the rows its page shows beside it (sql.dossier_rows, named
    rows: the first page of the history and of the events), its centre's code (and the receiving
    centre's, if a merger handed it over) and its links;
    `tracking_url` (with the lookup key) only to whoever created it."""
    body = {
        "code": d.code,
        "procedure": d.procedure.code,
        "version": d.version.version,
        "state": d.state,
        "status": d.status,
        "centre": centre,
        "received_by": received_by,
        "authority": d.authority,
        "data": d.data,
        "applicant": d.applicant,
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
        "received_at": _iso(d.received_at),
        "due_at": _iso(d.due_at),
        "due_date": _local_date(d.due_at),
        "tasks": _tasks(rows["tasks"]),
        "waiting": [waiting(w) for w in rows["waiting"]],
        "history": [history_entry(h) for h in rows["history"]],
        "events": [event(e) for e in rows["events"]],
        "attachments": [{"id": f.id, "field": f.field, "name": f.name, "media_type": f.media_type, "size": f.size,
                         "sha256": f.sha256} for f in rows["files"]],
        "links": links,
    }
    if d.state == "error":
        body["error"] = {"element_id": d.error_element, "message": d.error_message}
    if tracking_url:
        body["tracking_url"], body["lookup_key"] = tracking_url, getattr(d, "lookup_key", None)
    return body


STEP = {key: DOSSIER[key] for key in ("code", "state", "status", "due_at", "due_date", "tasks", "waiting",
                                      "error")} | {
    "links": closed(LINKS | {"self": _TEXT | {"description": "the whole dossier (GET)"}})}
SUBMITTED = STEP | {key: DOSSIER[key] for key in ("tracking_url", "lookup_key")}


def step(d, rows, links, tracking_url=None):
    """The lean answer to a submission or a step (a task completed): what the caller acts on next,
    the dossier's code, state, national status, promised return, its ready tasks and open waits, and
    links to the rest. Its size does not grow with the dossier's past: the whole record, its data,
    files, history and events are on the links (GET). `tracking_url` (with the lookup key) only to
    whoever created it."""
    body = {"code": d.code, "state": d.state, "status": d.status, "due_at": _iso(d.due_at),
            "due_date": _local_date(d.due_at), "tasks": _tasks(rows["tasks"]),
            "waiting": [waiting(w) for w in rows["waiting"]], "links": links}
    if d.state == "error":
        body["error"] = {"element_id": d.error_element, "message": d.error_message}
    if tracking_url:
        body["tracking_url"], body["lookup_key"] = tracking_url, getattr(d, "lookup_key", None)
    return body


OUTCOME = {"centre": _TEXT, "code": _TEXT, "outcome": {"enum": ["adopted", "kept_override", "unchanged", "conflict",
                                                                             "other_level"]},
           "version": {"type": ["integer", "null"]}, "detail": _TEXT_OR_NULL}


def outcome(o):
    return {"centre": o.centre, "code": o.code, "outcome": o.outcome, "version": o.version, "detail": o.detail}


ROLLOUT = {"seconds": {"type": "number"}, "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
           "outcomes": {"type": "array", "items": closed(OUTCOME)}}


def rollout(report):
    return {"seconds": round(report.seconds, 3), "counts": report.counts(),
            "outcomes": [outcome(o) for o in report.outcomes]}


UNIT = {"code": _TEXT, "name": _TEXT, "kind": _TEXT_OR_NULL}


def unit(u):
    return {"code": u.code, "name": u.name, "kind": u.kind}


OFFICIAL_DAY = {"date": {"type": "string", "format": "date"}, "working": {"type": "boolean"}, "name": _TEXT,
                "source": _TEXT, "source_date": {"type": ["string", "null"], "format": "date"},
                "source_url": _TEXT_OR_NULL, "confirmed": {"type": "boolean"}, "note": _TEXT}


def official_day(d):
    return {"date": d.day.isoformat(), "working": d.working, "name": d.name, "source": d.source,
            "source_date": d.source_date.isoformat() if d.source_date else None, "source_url": d.source_url,
            "confirmed": d.confirmed, "note": d.note}


MESSAGE_OUTCOME = {"result": {"enum": ["delivered", "started"]},
                   "dossier": closed(DOSSIER, optional=("error", "tracking_url", "lookup_key"))}


def message_outcome(result, dossier_body):
    """The answer to a message sent by name: what it did, and the dossier as the API shows it."""
    return {"result": result, "dossier": dossier_body}


PORTAL_RECEIPT = {
    "portal_dossier_id": _TEXT, "dossier_code": _TEXT, "centre": _TEXT,
    "status": closed({"code": {"type": "integer"}, "name": _TEXT, "value": _TEXT}),
    "received_at": _TIME, "appointment_at": _TIME_OR_NULL,
    "appointment_date": {"type": ["string", "null"], "format": "date"},
    "lookup_key": _TEXT_OR_NULL, "duplicate": {"type": "boolean"}}


def portal_receipt(r):
    """The statutory receipt of a dossier the national portal pushed (services.national_portal.inbound)."""
    due = to_local(r.due_at) if r.due_at else None
    return {"portal_dossier_id": r.portal_dossier_id, "dossier_code": r.dossier_code, "centre": r.centre,
            "status": {"code": r.status.national_code, "name": r.status.national_name, "value": r.status.value},
            "received_at": to_local(r.received_at).isoformat(), "appointment_at": due.isoformat() if due else None,
            "appointment_date": due.date().isoformat() if due else None, "lookup_key": r.lookup_key,
            "duplicate": r.duplicate}


# The components of the OpenAPI document, by name.
SCHEMAS = {
    "ProcedureVersion": closed(VERSION),
    "UploadedVersion": closed(UPLOADED | {"tests": TEST_RUN}, optional=("tests",)),
    "Procedure": closed(PROCEDURE),
    "CatalogueEntry": closed(CATALOGUE_ENTRY),
    "Task": closed(WORK_ITEM, optional=("dossier",)),
    "TaskDetail": closed(TASK_DETAIL),
    "Dossier": closed(DOSSIER, optional=("error", "tracking_url", "lookup_key")),
    "Step": closed(STEP, optional=("error",)),
    "Submitted": closed(SUBMITTED, optional=("error", "tracking_url", "lookup_key")),
    "MessageOutcome": closed(MESSAGE_OUTCOME),
    "PortalReceipt": closed(PORTAL_RECEIPT),
    "History": closed({"history": {"type": "array", "items": closed(HISTORY_ENTRY)}, "next": _TEXT_OR_NULL}),
    "Events": closed({"events": {"type": "array", "items": closed(EVENT)}, "next": _TEXT_OR_NULL}),
    "Outcome": closed(OUTCOME),
    "Rollout": closed(ROLLOUT),
    "Unit": closed(UNIT),
    "OfficialDay": closed(OFFICIAL_DAY),
}
