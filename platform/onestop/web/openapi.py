"""The OpenAPI 3.1 description of /api/v1, kept beside the handlers it describes."""

from .. import __version__
from ..services import centres, stats
from ..status import ENDED
from . import external_task_contract, present
from .present import closed

_TEXT = {"type": "string"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_REASON = {"type": "string", "minLength": 1, "maxLength": 4000}

# The JSON body of each operation that takes one, by the name of its handler in api.py. The
# handlers validate every body against these before reading it (web.bodies) and the document
# below describes them: one declaration, so the contract and the checks cannot drift apart.
REQUEST_BODIES = {
    "start_dossier": {"type": "object", "required": ["procedure"], "properties": {
        "procedure": {"type": "string", "minLength": 1}, "applicant": {"type": ["object", "null"]},
        "centre": {"type": ["string", "null"], "description": "the receiving centre's code, if not the caller's "
                   "own (within the caller's province or, for the nation, anywhere)"},
        "data": {"type": ["object", "null"], "description": "must fit the procedure's start form, if it has one; "
                 "files as data URLs (data:<type>;name=<name>;base64,<data>)"}}},
    "request_supplement": {"type": "object", "required": ["reason"], "properties": {
        "reason": _REASON | {"description": "what is missing"}}},
    "supplement": {"type": "object", "properties": {
        "note": _TEXT_OR_NULL,
        "files": {"type": ["array", "null"], "items": {"type": "string", "description": "a data URL"}}}},
    "end_dossier": {"type": "object", "required": ["how", "reason"], "properties": {
        "how": {"type": "string", "enum": [s.value for s in ENDED]}, "reason": _REASON}},
    "apologise": {"type": "object", "required": ["new_due", "reason"], "properties": {
        "new_due": {"type": "string", "format": "date"}, "reason": _REASON}},
    "deliver_message": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255}, "payload": {"type": ["object", "null"]},
        "to": _TEXT_OR_NULL}},
    "send_message": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "the message's name"},
        "payload": {"type": ["object", "null"], "description": "variables the message carries into the dossier"},
        "business_key": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "description":
                         "the dossier's code or business key; a dossier the message starts is given it"},
        "correlation": {"type": ["object", "null"], "additionalProperties": {
            "type": ["string", "number", "integer", "boolean", "null"]},
            "description": "variables the waiting dossier's data must hold, with these values"},
        "centre": {"type": ["string", "null"], "description": "the centre's code, if not the caller's own "
                   "(within the caller's scope)"}}},
    "update_centre": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
        name: {"type": "string", "minLength": 1, "maxLength": limit} for name, limit in centres.EDITABLE.items()}},
    "create_unit": {"type": "object", "required": ["code", "name"], "properties": {
        "code": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "kind": {"enum": ["department", "counter", None]}}},
    "adopt_template": {"type": "object", "properties": {"force": {"type": "boolean"}}},
    "set_local_override": {"type": "object", "additionalProperties": False, "properties": {
        "lanes": {"type": "object", "additionalProperties": {"type": "string"}},
        "fee_vnd": {"type": ["string", "integer"]}, "fee_note": _TEXT, "agency": _TEXT}},
    "migrate_dossiers": {"type": "object", "properties": {
        "dossiers": {"type": ["array", "null"], "items": _TEXT}}},
    "set_calendar_day": {"type": "object", "required": ["working"], "properties": {
        "working": {"type": "boolean"}, "note": {"type": ["string", "null"], "maxLength": 255}}},
    "set_office_hours": {"type": "object", "required": ["office_hours"], "properties": {
        "office_hours": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                     "items": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}}},
        "cutoff": {"type": ["string", "null"]}}},
    "set_official_day": {"type": "object", "required": ["working", "name", "source"], "properties": {
        "working": {"type": "boolean", "description": "true: a working day (the Saturday worked in a swap); "
                    "false: a day off"},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "source": {"type": "string", "minLength": 1, "maxLength": 255,
                   "description": "the decision or notice, e.g. Công văn 12729/VPCP-KGVX"},
        "source_date": {"type": ["string", "null"], "format": "date"},
        "source_url": {"type": ["string", "null"], "maxLength": 500},
        "confirmed": {"type": "boolean"}, "note": {"type": ["string", "null"], "maxLength": 500}}},
    "rate_dossier": {"type": "object", "required": ["key", "level"], "properties": {
        "key": _TEXT, "level": {"enum": ["rat_hai_long", "hai_long", "khong_hai_long"]},
        "comment": {"type": ["string", "null"], "maxLength": 4000}}},
    "complete_task": {"type": "object", "properties": {"data": {"type": ["object", "null"]}}},
    "national_portal_dossier": {
        "type": "object", "required": ["portal_dossier_id", "procedure_code", "agency_code"],
        "additionalProperties": False, "properties": {
            "portal_dossier_id": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._:-]+$",
                                  "description": "the dossier's id at the national portal (the same id pushed "
                                                 "again makes no second dossier)"},
            "procedure_code": {"type": "string", "minLength": 1, "maxLength": 128,
                               "description": "the national procedure code (1.001193)"},
            "agency_code": {"type": "string", "minLength": 1, "maxLength": 64,
                            "description": "the receiving agency's electronic identity code (000.00.07.H22)"},
            "submitted_at": {"type": "string", "maxLength": 64, "description": "when the citizen submitted it"},
            "applicant": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                key: {"type": "string", "maxLength": 200}
                for key in ("name", "citizen_id", "phone", "email", "address")}},
            "form_data": {"type": ["object", "null"], "description": "the procedure's application form's data"},
            "documents": {"type": "array", "maxItems": 50, "items": {
                "type": "object", "required": ["field"], "additionalProperties": False,
                "properties": {"field": {"type": "string", "minLength": 1, "maxLength": 200,
                                         "description": "the form's file field the document fills"},
                               "name": {"type": "string", "maxLength": 255},
                               "content_base64": {"type": "string"},
                               "url": {"type": "string", "maxLength": 2000,
                                       "description": "a document the portal serves (fetched from its own address)"}},
                "oneOf": [{"required": ["content_base64"]}, {"required": ["url"]}]}}}},
} | external_task_contract.REQUEST_BODIES


def _body(handler):
    """The request body of an operation; optional when its schema requires nothing, since the body
    reader takes a missing body for {} (web.bodies.read_object)."""
    schema = REQUEST_BODIES[handler]
    return {"required": bool(schema.get("required") or schema.get("minProperties")), **_json(schema)}


# A period's end in a query: left out or empty, it takes the default (HTML forms send empty fields).
_DATE_ARG = {"in": "query", "allowEmptyValue": True, "schema": {"type": "string", "format": "date"}}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes):
    """The error answers of an operation: `codes`, and those any request can meet (400, 413)."""
    codes = sorted({400, 413, *codes})
    text = {400: "Bad request", 401: "No or invalid token (or signature)", 403: "Role missing", 404: "Not found (or another centre's)",
            409: "Conflict: no longer possible (someone else acted first)", 413: "Too large",
            429: "Too many lookups from this address",
            422: "Refused: the details list each problem"}
    return {str(c): {"description": text[c]} | _json(_ref("Error")) for c in codes}


_LEVEL = {"enum": ["nation", "province", "commune", "district", "centre"]}
_OBJECT = {"type": "object"}
_DATE = {"type": "string", "format": "date"}
_COUNT = {"type": "integer", "minimum": 0}
_MINUTES = {"type": ["number", "null"]}
# Sittings decided on the spot in the period (docs/statistics.md, "Decided on the spot").
_ON_THE_SPOT = closed({"sittings": {"type": "integer"}, "on_the_spot": {"type": "integer"}, "average_minutes": _MINUTES,
                       "longest_minutes": _MINUTES, "decision_minutes": _MINUTES})
_REPORT_ROW = closed({"field": _TEXT} | dict.fromkeys(stats.REPORT_COLUMNS[1:], {"type": "integer"}))
_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 100, "description": "a percentage; null: nothing to count"}

# The components built outside web/present.py (by the services, or by web/errors.py).
SCHEMAS = {
    "Centre": closed({"code": _TEXT, "name": _TEXT, "level": _LEVEL, "agency_code": _TEXT_OR_NULL,
                      "agency_code_source": _TEXT_OR_NULL,
                      "ready": {"type": "boolean", "description": "false: no identity code yet, dossier codes would "
                                                                  "start with 000.00.00.H00"},
                      "admin_code": _TEXT_OR_NULL, "parent": _TEXT_OR_NULL, "closed_on": _TEXT_OR_NULL,
                      "successor": _TEXT_OR_NULL}),
    "Calendar": closed({
        "office_hours": {"type": "array", "items": {"type": "array", "items": _TEXT}}, "cutoff": _TEXT_OR_NULL,
        "days": {"type": "array", "items": closed({"date": {"type": "string", "format": "date"},
                                                   "working": {"type": "boolean"},
                                                   "source": {"enum": ["national", "province", "centre"]}, "why": _TEXT})}}),
    "Figures": closed({
        "centre": _TEXT, "from": _DATE, "to": _DATE,
        **dict.fromkeys(("received", "online", "resolved", "early", "on_time", "late", "without_deadline", "returned",
                         "not_accepted", "supplemented", "pending_now", "overdue_now"), _COUNT),
        **dict.fromkeys(("online_share", "on_time_rate", "refusal_rate", "supplement_rate", "satisfaction_rate"),
                        _RATE),
        "ratings": {"type": "object", "additionalProperties": _COUNT},
        "units": {"type": "array", "items": _OBJECT},
        "steps": {"type": "array", "items": _OBJECT, "description": "only for a token of the centre's scope"},
        "officials": {"type": "array", "items": _OBJECT, "description": "only for a token of the centre's scope"},
    }, optional=("steps", "officials")),
    "ProvinceFigures": closed({"province": _TEXT, "name": _TEXT, "received": _COUNT, "resolved": _COUNT,
                               "on_time": _COUNT, "late": _COUNT, "on_time_rate": _RATE, "online_share": _RATE,
                               "satisfaction_rate": _RATE}),
    "PeriodicReport": closed({"centre": _TEXT, "name": _TEXT, "from": _DATE, "to": _DATE,
                              "rows": {"type": "array", "items": _REPORT_ROW}, "total": _REPORT_ROW,
                              "on_the_spot": _ON_THE_SPOT}),
    "Error": closed({"error": _TEXT, "message": _TEXT, "details": {"type": "array", "items": {
        "type": "object", "properties": {"element_id": _TEXT_OR_NULL, "field": _TEXT, "message": _TEXT}}}},
        optional=("details",)),
}


def _answer(description, schema=None):
    return {"description": description} | (_json(schema) if schema else {})


CODE_PARAM = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
TASK_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
DAY_PARAM = {"name": "day", "in": "path", "required": True, "schema": {"type": "string", "format": "date"}}

# A page of a dossier's history or events: `next` of the page before is the whole link to the next one.
PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
    {"name": "after", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
     "description": "where the page before ended (in its `next` link)"},
    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}, "deprecated": True,
     "description": "the former name of `after`"}]


PROVINCE_PARAM = {"name": "province", "in": "path", "required": True, "schema": {"type": "string"},
                  "description": "the province centre's code, e.g. P22"}


def _official_paths(base, whose, params):
    """The official calendar of `whose`: its days (anyone signed in), one day set or dropped, a file imported."""
    days = closed({"province": _TEXT_OR_NULL, "days": {"type": "array", "items": _ref("OfficialDay")}})
    return {
        base: {"get": {"summary": f"The official days off and day swaps of {whose}, each with its notice",
                       "parameters": params + [{"name": "year", "in": "query", "schema": {"type": "integer"}}],
                       "responses": {"200": _answer("The days, by date", days), **_errors(401, 404, 422)}}},
        f"{base}/{{day}}": {
            "put": {"summary": f"Add or replace one official day of {whose}", "parameters": params + [DAY_PARAM],
                    "requestBody": _body("set_official_day"),
                    "responses": {"200": _answer("The day as stored", _ref("OfficialDay")),
                                  **_errors(401, 403, 404, 422)}},
            "delete": {"summary": f"Drop one official day of {whose}: the fallback decides it again",
                       "parameters": params + [DAY_PARAM],
                       "responses": {"204": {"description": "Dropped (or there was none)"},
                                     **_errors(401, 403, 404, 422)}}},
        f"{base}/import": {"post": {
            "summary": f"Import official days of {whose} from a CSV or JSON file: every row is checked first, "
                       "nothing is imported if one is wrong (422 with one detail per row)",
            "parameters": params,
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"200": _answer("What was written", closed({"added": {"type": "integer"},
                                                                    "updated": {"type": "integer"}})),
                          **_errors(401, 403, 404, 413, 422)}}},
    }


# Every operation of /api/v1, by path and method.
PATHS = {
    "/procedures": {
        "post": {
            "summary": "Upload a procedure model (a new version)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                              "description": ".bpmn, .dmn, form .json, procedure.json, or one .zip"},
                    "process_id": {"type": "string",
                                   "description": "process to start, or a collaboration id"}}}}}},
            "description": "Refused (422, each problem with its element) when the model cannot be compiled or "
                           "the back office's lint finds a structural error in it: no path from an element to "
                           "an end, not even by a path that stops (a loop without a way out), a people's task "
                           "in no lane or in a lane procedure.json maps to no role. What else the lint finds "
                           "(no required documents, no fee, no processing time, no lane mapping, a path "
                           "without an end event, scripts) does not block the upload: it comes back as "
                           "`findings`, each with its `kind`.",
            "responses": {"201": {"description": "New version stored"} | _json(_ref("UploadedVersion")),
                          "200": {"description": "Identical to the latest version"} | _json(_ref("UploadedVersion")),
                          **_errors(401, 403, 413, 422)}},
        "get": {"summary": "List procedures",
                "responses": {"200": {"description": "The centre's procedures"} | _json(
                    closed({"procedures": {"type": "array", "items": _ref("CatalogueEntry")}})),
                    **_errors(401)}}},
    "/procedures/{code}": {"get": {"summary": "One procedure", "parameters": [CODE_PARAM],
                                   "responses": {"200": {"description": "The procedure"} | _json(_ref("Procedure")),
                                                 **_errors(401, 404)}}},
    "/dossiers": {"post": {
        "summary": "Start a dossier",
        "requestBody": _body("start_dossier"),
        "responses": {"201": {"description": "Started: the lean answer (the whole dossier: links.self)"}
                      | _json(_ref("Submitted")), **_errors(401, 404, 422)}}},
    "/dossiers/{code}": {"get": {"summary": "A dossier with its tasks, waits, files and the first page of its "
                                            "history and events",
                                 "parameters": [CODE_PARAM],
                                 "responses": {"200": {"description": "The dossier"} | _json(_ref("Dossier")),
                                               **_errors(401, 404)}}},
    "/dossiers/{code}/history": {"get": {
        "summary": "The dossier's history (the elements it went through), oldest first, a page at a time",
        "parameters": [CODE_PARAM, *PAGE_PARAMS],
        "responses": {"200": {"description": "A page"} | _json(_ref("History")), **_errors(401, 404, 422)}}},
    "/dossiers/{code}/events": {"get": {
        "summary": "The dossier's audit events, oldest first, a page at a time",
        "parameters": [CODE_PARAM, *PAGE_PARAMS],
        "responses": {"200": {"description": "A page"} | _json(_ref("Events")), **_errors(401, 404, 422)}}},
    "/dossiers/{code}/attachments/{id}": {"get": {
        "summary": "Download one of the dossier's files", "parameters": [
            CODE_PARAM, {"name": "id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}],
        "responses": {"200": {"description": "The file, with its media type",
                              "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                "format": "binary"}}}},
                      **_errors(401, 404)}}},
    "/dossiers/{code}/supplement-request": {"post": {
        "summary": "Ask the applicant for supplementary documents: the dossier's clock stops",
        "parameters": [CODE_PARAM],
        "requestBody": _body("request_supplement"),
        "responses": {"200": {"description": "The dossier, waiting"} | _json(_ref("Dossier")),
                      **_errors(401, 403, 404, 409, 422)}}},
    "/dossiers/{code}/supplement": {"post": {
        "summary": "Record the applicant's supplement: the clock resumes by the procedure's policy",
        "parameters": [CODE_PARAM],
        "requestBody": _body("supplement"),
        "responses": {"200": {"description": "The dossier, running again"} | _json(_ref("Dossier")),
                      **_errors(401, 403, 404, 409, 413, 422)}}},
    "/dossiers/{code}/end": {"post": {
        "summary": "End a dossier where it stands: withdrawn, stopped, or not accepted at reception",
        "parameters": [CODE_PARAM],
        "requestBody": _body("end_dossier"),
        "responses": {"200": {"description": "The ended dossier"} | _json(_ref("Dossier")),
                      **_errors(401, 403, 404, 409, 422)}}},
    "/dossiers/{code}/apology": {"post": {
        "summary": "Apologise before the deadline and promise a new return date",
        "parameters": [CODE_PARAM],
        "requestBody": _body("apologise"),
        "responses": {"200": {"description": "The dossier with its new due time"} | _json(_ref("Dossier")),
                      **_errors(401, 403, 404, 409, 422)}}},
    "/dossiers/{code}/messages": {"post": {
        "summary": "Deliver a BPMN message to a waiting catch event", "parameters": [CODE_PARAM],
        "requestBody": _body("deliver_message"),
        "responses": {"200": {"description": "The dossier after delivery"} | _json(_ref("Dossier")),
                      **_errors(401, 404, 409, 422)}}},
    "/messages": {"post": {
        "summary": "Send a message by its name: delivered to the one dossier of the centre that waits for it "
                   "(by business key, correlation variables or the model's correlation properties), or "
                   "starting a dossier of the procedure whose process starts with it",
        "requestBody": _body("send_message"),
        "responses": {"200": {"description": "Delivered to a waiting dossier"} | _json(_ref("MessageOutcome")),
                      "201": {"description": "A new dossier started by the message"} | _json(_ref("MessageOutcome")),
                      **_errors(401, 404, 409, 422)}}},
    "/centres": {"get": {
        "summary": "The centres in the caller's scope",
        "parameters": [{"name": "parent", "in": "query", "schema": {"type": "string"}},
                       {"name": "level", "in": "query", "allowEmptyValue": True, "schema": _LEVEL,
                        "description": "left empty: every level"}],
        "responses": {"200": {"description": "Centres"} | _json(closed({
            "centres": {"type": "array", "items": _ref("Centre")}})), **_errors(401, 404, 422)}}},
    "/centres/{code}": {"patch": {
        "summary": "Change a centre's name, electronic identity code or address (its admin, or one above it)",
        "parameters": [CODE_PARAM],
        "requestBody": _body("update_centre"),
        "responses": {"200": {"description": "The centre"} | _json(_ref("Centre")), **_errors(401, 403, 404, 422)}}},
    "/units": {
        "get": {"summary": "The units (departments, counters) of the caller's centre",
                "responses": {"200": _answer("Units", closed({"units": {"type": "array", "items": _ref("Unit")}})),
                              **_errors(401)}},
        "post": {"summary": "Create a unit of the centre (admin)",
                 "requestBody": _body("create_unit"),
                 "responses": {"201": _answer("Created", _ref("Unit")), **_errors(401, 403, 409, 422)}}},
    "/units/{unit_code}/members/{username}": {"put": {
        "summary": "Put a user of the centre in the unit (admin)",
        "parameters": [{"name": "unit_code", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _answer("Done", closed({"unit": _TEXT, "username": _TEXT})), **_errors(401, 403, 404)}}},
    "/procedures/{code}/template": {"get": {
        "summary": "The template offered to the caller's centre and how it differs from the version in force",
        "parameters": [CODE_PARAM],
        "responses": {"200": _answer("The template and the diff", closed({
            "code": _TEXT, "template_version": {"type": "integer"}, "from_centre": _TEXT,
            "current_version": {"type": ["integer", "null"]}, "adopted": {"type": "boolean"},
            "diff": {"type": ["object", "null"]}})), **_errors(401, 403, 404)}}},
    "/procedures/{code}/adopt": {"post": {
        "summary": "Adopt the newest template offered to the caller's centre (admin)",
        "parameters": [CODE_PARAM],
        "requestBody": _body("adopt_template"),
        "responses": {"200": {"description": "adopted, kept_override or unchanged"} | _json(_ref("Outcome")),
                      "409": {"description": "conflict: the centre runs its own version"} | _json(_ref("Outcome")),
                      **_errors(401, 403, 404, 422)}}},
    "/procedures/{code}/local": {"put": {
        "summary": "The centre's local overrides of an adopted procedure: lanes, fee_vnd, fee_note, agency (admin)",
        "parameters": [CODE_PARAM],
        "requestBody": _body("set_local_override"),
        "responses": {"200": _answer("The overrides as stored", closed({"code": _TEXT, "local": _OBJECT})),
                      **_errors(401, 403, 404, 422)}}},
    "/procedures/{code}/migrate": {"post": {
        "summary": "Carry running dossiers onto the procedure's current version where nothing they reached changed (admin)",
        "parameters": [CODE_PARAM],
        "requestBody": _body("migrate_dossiers"),
        "responses": {"200": _answer("Each dossier: migrated, or why not", closed({
            "code": _TEXT, "dossiers": {"type": "array", "items": closed({
                "code": _TEXT, "migrated": {"type": "boolean"}, "reason": _TEXT_OR_NULL})}})),
                      **_errors(401, 403, 404, 422)}}},
    "/rollouts": {"post": {
        "summary": "Verify a pack, publish it as templates and adopt it at the selected centres",
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["pack", "to"], "properties": {
                "pack": {"type": "string", "format": "binary"},
                "to": {"type": "string", "description": "nation, province:NN, province:NN/*, or codes"},
                "force": {"type": "string", "enum": ["true", "false"]}}}}}},
        "responses": {"200": _answer("The per-centre report", _ref("Rollout")), **_errors(401, 403, 404, 413, 422)}}},
    "/coverage/{code}": {"get": {
        "summary": "Which provinces' communes (none for a province-level procedure) and own centres run the "
                   "newest template of a procedure, an older one, or none",
        "parameters": [CODE_PARAM],
        "responses": {"200": _answer("By province", closed({"code": _TEXT, "provinces": {"type": "array", "items": closed({
            "province": _TEXT, "name": _TEXT, "communes": {"type": "integer"}, "current": {"type": "integer"},
            "older": {"type": "integer"}, "missing": {"type": "integer"},
            "province_centre": {"enum": ["current", "older", "missing"], "description": "whether the province's "
                                "own centre runs the newest template, an older version, or none"}})}})),
            **_errors(401, 403)}}},
    "/calendar": {"get": {
        "summary": "The centre's working calendar: office hours, cut-off, and each day worked or not and why",
        "parameters": [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}],
        "responses": {"200": {"description": "The calendar"} | _json(_ref("Calendar")), **_errors(401, 422)}}},
    "/calendar/days/{day}": {
        "put": {"summary": "An exception for one day: a working Saturday, an extra closure (admin)",
                "parameters": [DAY_PARAM],
                "requestBody": _body("set_calendar_day"),
                "responses": {"200": _answer("The exception as stored", closed({
                    "date": {"type": "string", "format": "date"}, "working": {"type": "boolean"}, "note": _TEXT})),
                    **_errors(401, 403, 422)}},
        "delete": {"summary": "Drop the exception: the national calendar decides that day again (admin)",
                   "parameters": [DAY_PARAM],
                   "responses": {"204": {"description": "Dropped (or there was none)"}, **_errors(401, 403, 422)}}},
    "/calendar/hours": {"put": {
        "summary": "The centre's office hours and afternoon cut-off (admin)",
        "requestBody": _body("set_office_hours"),
        "responses": {"200": {"description": "The calendar of today"} | _json(_ref("Calendar")),
                      **_errors(401, 403, 422)}}},
    **_official_paths("/calendar/national", "the country (system administrator)", []),
    **_official_paths("/calendar/provinces/{province}", "a province, inherited by its communes (its province "
                      "administrator or a system administrator)", [PROVINCE_PARAM]),
    "/stats": {"get": {
        "summary": "A centre's figures over a period (docs/statistics.md); public without a token, with the "
                   "per-official lines for a token of the centre's scope",
        "security": [{}, {"bearer": []}],
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                       ("centre", "unit", "procedure")] + [
            _DATE_ARG | {"name": n} for n in ("from", "to")],
        "responses": {"200": _answer("The figures (docs/statistics.md)", _ref("Figures")), **_errors(401, 404, 422)}}},
    "/stats/provinces": {"get": {
        "summary": "The national roll-up: each province's figures (its centre and communes) over a period",
        "security": [{}],
        "parameters": [_DATE_ARG | {"name": n} for n in ("from", "to")],
        "responses": {"200": _answer("By province", closed({
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "provinces": {"type": "array", "items": _ref("ProvinceFigures")}})), **_errors(422)}}},
    "/stats/report": {"get": {
        "summary": "The periodic report a centre sends upward, by field (leader or administrator of its "
                   "scope; default last month)",
        "parameters": [{"name": "centre", "in": "query", "schema": {"type": "string"}}] + [
            _DATE_ARG | {"name": n} for n in ("from", "to")],
        "responses": {"200": _answer("Rows by field and their total", _ref("PeriodicReport")),
                      **_errors(401, 403, 404, 422)}}},
    "/dossiers/{code}/rating": {"post": {
        "summary": "The citizen rates the dossier once its result is ready (code and lookup key, no token)",
        "security": [{}], "parameters": [CODE_PARAM],
        "requestBody": _body("rate_dossier"),
        "responses": {"201": _answer("Recorded", closed({"code": _TEXT, "level": _TEXT})), **_errors(404, 409, 422, 429)}}},
    "/tasks": {"get": {"summary": "The caller's worklist, oldest first, a page at a time",
                       "parameters": [
                           {"name": "dossier", "in": "query", "schema": {"type": "string"}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                        "maximum": 500, "default": 100}},
                           {"name": "after", "in": "query", "schema": {"type": "string"},
                            "description": "the `next` cursor of the previous page"}],
                       "responses": {"200": {"description": "Ready tasks"} | _json(closed({
                           "tasks": {"type": "array", "items": _ref("Task")}, "next": _TEXT_OR_NULL})),
                           **_errors(401, 422)}}},
    "/tasks/{id}": {"get": {"summary": "A ready task with its data and form", "parameters": [TASK_PARAM],
                            "responses": {"200": {"description": "The task"} | _json(_ref("TaskDetail")),
                                          **_errors(401, 404, 409)}}},
    "/tasks/{id}/complete": {"post": {
        "summary": "Complete a ready task", "parameters": [TASK_PARAM],
        "requestBody": _body("complete_task"),
        "description": "Answers lean: the dossier's code, state, status, due date, ready tasks and open "
                       "waits, and its links (GET the dossier for its data and files, its history or its "
                       "events a page at a time): the answer's size does not grow with the dossier's past.",
        "responses": {"200": {"description": "The dossier after the step"} | _json(_ref("Step")),
                      **_errors(401, 403, 404, 409, 422)}}},
    "/national-portal/dossiers": {"post": {
        "summary": "The national public service portal pushes an online dossier (signed: Standard Webhooks "
                   "headers webhook-id, webhook-timestamp, webhook-signature); answered with the statutory "
                   "receipt. The same portal dossier pushed again answers its first receipt (200).",
        "security": [], "requestBody": _body("national_portal_dossier"),
        "responses": {"201": {"description": "Received"} | _json(_ref("PortalReceipt")),
                      "200": {"description": "Received before: its receipt"} | _json(_ref("PortalReceipt")),
                      "503": {"description": "Not connected to the portal"} | _json(_ref("Error")),
                      **_errors(401, 422)}}},
    "/openapi.json": {"get": {"summary": "This document", "security": [],
                              "responses": {"200": _answer("OpenAPI 3.1", _OBJECT)}}},
}


def openapi_document():
    """The document served at /api/v1/openapi.json: the paths below, the request bodies above and
    the response schemas that web/present.py declares beside its presenters."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "onestop API", "version": __version__,
                 "description": "Procedures (BPMN models), dossiers (running instances) and tasks."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": present.SCHEMAS | SCHEMAS | external_task_contract.SCHEMAS},
        "paths": PATHS | external_task_contract.paths(_body, _errors),
    }
