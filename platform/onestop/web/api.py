"""The REST API under /api/v1: JSON only, bearer-token auth. The contract outside clients use.

Each handler parses and authorises, makes one service call, and renders the result.
"""

import io
from contextlib import nullcontext
from datetime import timedelta
from functools import wraps

from flask import Blueprint, current_app, jsonify, request, send_file, url_for

from ..models import local_today
from ..services import (
    attachments,
    centres,
    deadlines,
    dossiers,
    lifecycle,
    messages,
    onboarding,
    procedures,
    rollout,
    stats,
    steps,
    units,
    version_moves,
)
from ..services import (
    calendar as official_calendar,
)
from ..services.errors import Forbidden, Invalid, NotFound, ServiceError, TooLarge
from ..services.national_portal import inbound as portal_inbound
from ..services.users import reads_ahead, user_for_token
from . import bodies, present, throttle
from .args import date_arg, parse_date
from .errors import error_response
from .links import quick_url, tracking_url
from .openapi import REQUEST_BODIES, openapi_document

bp = Blueprint("api", __name__)


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


def authenticated(*roles, ahead=None):
    """Resolve the bearer token to the acting user (and check roles); passes `actor` first. `ahead`: a function
    of the view's arguments giving its first read (e.g. steps.task_ahead), read with the token's user."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request._get_current_object().headers.get("Authorization", "")  # (the proxy's look-up: ~1 us)
            scheme, _, token = header.partition(" ")
            with reads_ahead() if ahead is not None else nullcontext():
                first = ahead and (lambda: ahead(**kwargs))
                actor = user_for_token(token.strip(), first) if scheme.lower() == "bearer" else None
                if actor is None:
                    raise Unauthorized("a valid bearer token is required (Authorization: Bearer ...)")
                if roles and not actor.has_role("admin", *roles):
                    raise Forbidden(f"this needs one of the roles: {', '.join(('admin',) + roles)}")
                return view(actor, *args, **kwargs)

        return wrapper

    return decorator


def json_body():
    """The request's JSON object, read within bounds and checked against the operation's declared
    body (openapi.REQUEST_BODIES): anything else is a 400, 413 or 422 before the handler runs."""
    return bodies.read_object(REQUEST_BODIES.get(request._get_current_object().endpoint.rpartition(".")[2]))


def _dossier(d, tracking_url=None):
    """A dossier as the API shows it, with what its page shows beside it: the first page of its
    history and of its events, and links to the next ones."""
    page = dossiers.HISTORY_PAGE
    rows = dossiers.page_rows(d, page)
    links = _links(d.code)
    for kind in ("history", "events"):
        more = len(rows[kind]) > page
        rows[kind] = rows[kind][:page]
        links[f"{kind}_next"] = _page_link(kind, d.code, page, str(rows[kind][-1].id)) if more else None
    return present.dossier(d, rows, centres.code_of(d.centre_id), links, tracking_url=tracking_url,
                           received_by=centres.code_of(d.received_by_id) if d.received_by_id else None)


def _links(code) -> dict:
    # The history and events routes are the dossier's own path plus a segment (one URL built, not three).
    own = quick_url("api.get_dossier", code=code)
    return {"self": own, "history": f"{own}/history", "events": f"{own}/events"}


def _page_link(kind, code, limit, cursor):
    return url_for(f"api.dossier_{kind}", code=code, limit=limit, after=cursor)


def _rows_page(actor, code, kind):
    """GET /dossiers/<code>/history or /events: a page, with the link to the next one."""
    limit = request.args.get("limit", str(dossiers.HISTORY_PAGE))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 6):
        raise Invalid(f"limit must be a whole number from 1 to {dossiers.MAX_PAGE}")
    # `after` as on /tasks; `cursor`, its first name, still read, and still checked beside `after`
    after, former = request.args.get("after"), request.args.get("cursor")
    if after is not None and former is not None:
        dossiers.rows_page(actor, code, kind, int(limit), former)  # refuses a cursor it cannot read
    rows, cursor = dossiers.rows_page(actor, code, kind, int(limit), after if after is not None else former)
    return jsonify(present.page(kind, rows, _page_link(kind, code, int(limit), cursor) if cursor else None))


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/procedures")
@authenticated("admin")
def upload_procedure(actor):
    uploads = [procedures.Upload(f.filename or "upload", f.read()) for f in request.files.getlist("files")]
    if not uploads:
        raise Invalid("send the model as multipart field 'files' (repeat it for several files, or send one .zip)")
    settings = current_app.config["ONESTOP"]
    version, created, findings, tests = onboarding.upload(
        actor, uploads, request.form.get("process_id") or None, max_bytes=settings.max_model_bytes)
    return jsonify(present.uploaded(version, findings, tests)), 201 if created else 200


@bp.get("/procedures")
@authenticated()
def list_procedures(actor):
    return jsonify({"procedures": [present.catalogue(e) for e in procedures.catalogue(actor)]})


@bp.get("/procedures/<code>")
@authenticated()
def get_procedure(actor, code):
    procedure = procedures.get_procedure(actor, code)
    return jsonify(present.procedure(procedure, procedures.current_version(procedure)))


def _intake_ahead():  # a submission's first read (steps.intake_ahead) when it names a procedure at the user's centre
    body = bodies.peek_object() or {}  # (any other body is read and checked by the handler, as ever)
    code = body.get("procedure")
    return steps.intake_ahead(code) if isinstance(code, str) and code and body.get("centre") is None else None


@bp.post("/dossiers")
@authenticated(ahead=_intake_ahead)
def start_dossier(actor):
    body = json_body()
    code = body.get("procedure")
    if not isinstance(code, str) or not code:
        raise Invalid("procedure (the procedure's code) is required")
    centre = body.get("centre")
    if centre is not None and not isinstance(centre, str):
        raise Invalid("centre must be a centre's code")
    # A client's Idempotency-Key, scoped to the caller: the same request sent again returns the first dossier.
    again = request.headers.get("Idempotency-Key", "").strip()
    dossier = dossiers.start_dossier(actor, code, body.get("data"), body.get("applicant"), centre=centre,
                                     submission=f"api:{actor.id}:{again}" if again else None)
    links = _links(dossier.code)
    response = jsonify(present.step(dossier, dossiers.step_rows(dossier), links,
                                    tracking_url=tracking_url(dossier.code, dossier.lookup_key)))
    response.headers["Location"] = links["self"]
    return response, 201


@bp.post("/national-portal/dossiers")
def national_portal_dossier():
    """A dossier the national portal pushes: the signature is checked on the bytes as sent, then the
    body against the contract; the answer is the statutory receipt (docs/integrations.md, the national portal)."""
    if request.content_length and request.content_length > bodies.max_json_bytes():
        raise TooLarge("the body is larger than the limit")
    portal_inbound.verify(request.get_data(cache=True), dict(request.headers), request.remote_addr)
    receipt = portal_inbound.receive(json_body(), request.remote_addr)
    return jsonify(present.portal_receipt(receipt)), 200 if receipt.duplicate else 201


@bp.get("/dossiers/<code>")
@authenticated()
def get_dossier(actor, code):
    return jsonify(_dossier(dossiers.get_dossier(actor, code)))


@bp.get("/dossiers/<code>/history")
@authenticated()
def dossier_history(actor, code):
    return _rows_page(actor, code, "history")


@bp.get("/dossiers/<code>/events")
@authenticated()
def dossier_events(actor, code):
    return _rows_page(actor, code, "events")


@bp.get("/dossiers/<code>/attachments/<rowid:attachment_id>")
@authenticated()
def get_attachment(actor, code, attachment_id):
    attachment, content = attachments.open_for(actor, code, attachment_id)
    return send_file(io.BytesIO(content), mimetype=attachment.media_type, as_attachment=True,
                     download_name=attachment.name, max_age=0)


@bp.post("/dossiers/<code>/messages")
@authenticated()
def deliver_message(actor, code):
    body = json_body()
    dossier = messages.deliver_message(actor, code, body.get("name"), body.get("payload"), body.get("to"))
    return jsonify(_dossier(dossier))


@bp.post("/messages")
@authenticated()
def send_message(actor):
    body = json_body()
    outcome = messages.send_message(actor, body.get("name"), body.get("payload"), body.get("business_key"),
                                    body.get("correlation"), body.get("centre"))
    if outcome.result == "delivered":
        return jsonify(present.message_outcome("delivered", _dossier(outcome.dossier)))
    dossier = outcome.dossier
    response = jsonify(present.message_outcome("started", _dossier(
        dossier, tracking_url=tracking_url(dossier.code, dossier.lookup_key))))
    response.headers["Location"] = quick_url("api.get_dossier", code=dossier.code)
    return response, 201


@bp.post("/dossiers/<code>/supplement-request")
@authenticated("officer", "leader")
def request_supplement(actor, code):
    body = json_body()
    return jsonify(_dossier(lifecycle.request_supplement(actor, code, body.get("reason"))))


@bp.post("/dossiers/<code>/supplement")
@authenticated("officer", "leader", "integration")
def supplement(actor, code):
    body = json_body()
    files = body.get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise Invalid("files must be a list of data URLs")
    uploads = {str(i): attachments.upload_of_data_url("supplement", f) for i, f in enumerate(files)}
    return jsonify(_dossier(lifecycle.supplement_received(actor, code, body.get("note") or "", uploads)))


@bp.post("/dossiers/<code>/end")
@authenticated("officer", "leader")
def end_dossier(actor, code):
    body = json_body()
    return jsonify(_dossier(lifecycle.end(actor, code, body.get("how"), body.get("reason"))))


@bp.post("/dossiers/<code>/apology")
@authenticated("officer", "leader")
def apologise(actor, code):
    body = json_body()
    new_due = parse_date(body.get("new_due"), "new_due")
    return jsonify(_dossier(lifecycle.apologise(actor, code, new_due, body.get("reason"))))


@bp.get("/centres")
@authenticated()
def list_centres(actor):
    found = centres.list_centres(actor, parent=request.args.get("parent"), level=request.args.get("level"))
    return jsonify({"centres": centres.describe(found)})


@bp.patch("/centres/<code>")
@authenticated("admin", "province_admin", "system_admin")
def update_centre(actor, code):
    return jsonify(centres.describe([centres.update_centre(actor, code, json_body())])[0])


@bp.get("/units")
@authenticated()
def list_units(actor):
    return jsonify({"units": [present.unit(u) for u in units.list_units(actor)]})


@bp.post("/units")
@authenticated("admin")
def create_unit(actor):
    body = json_body()
    unit = units.create_unit(actor, body.get("code"), body.get("name"), body.get("kind") or "department")
    return jsonify(present.unit(unit)), 201


@bp.put("/units/<unit_code>/members/<username>")
@authenticated("admin")
def add_unit_member(actor, unit_code, username):
    units.assign(actor, username, unit_code)
    return jsonify({"unit": unit_code, "username": username})


@bp.get("/procedures/<code>/template")
@authenticated("admin")
def offered_template(actor, code):
    return jsonify(rollout.offered(actor, code))


@bp.post("/procedures/<code>/adopt")
@authenticated("admin")
def adopt_template(actor, code):
    outcome = rollout.adopt(actor, code, force=bool(json_body().get("force")))
    return jsonify(present.outcome(outcome)), 409 if outcome.outcome == "conflict" else 200


@bp.put("/procedures/<code>/local")
@authenticated("admin")
def set_local_override(actor, code):
    return jsonify({"code": code, "local": rollout.set_override(actor, code, json_body())})


@bp.post("/procedures/<code>/migrate")
@authenticated("admin")
def migrate_dossiers(actor, code):
    body = json_body()
    codes = body.get("dossiers")
    if codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)):
        raise Invalid("dossiers must be a list of dossier codes (or left out: every running dossier)")
    results = version_moves.migrate_dossiers(actor, code, codes)
    return jsonify({"code": code, "dossiers": [{"code": r.code, "migrated": r.migrated, "reason": r.reason}
                                               for r in results]})


@bp.post("/rollouts")
@authenticated("province_admin", "system_admin")
def start_rollout(actor):
    pack = request.files.get("pack")
    selector = request.form.get("to", "")
    if pack is None:
        raise Invalid("send the pack as the multipart field 'pack' and the centres as 'to'")
    settings = current_app.config["ONESTOP"]
    report = rollout.rollout_pack(actor, pack.read(), selector, force=request.form.get("force") == "true",
                                  max_bytes=settings.max_model_bytes)
    return jsonify(present.rollout(report))


@bp.get("/coverage/<code>")
@authenticated("province_admin", "system_admin")
def procedure_coverage(actor, code):
    return jsonify({"code": code, "provinces": rollout.coverage(actor, code)})


@bp.get("/calendar")
@authenticated()
def calendar(actor):
    today = local_today()
    start = parse_date(request.args.get("from", today.isoformat()), "from")
    end = parse_date(request.args["to"], "to") if "to" in request.args else start.replace(day=1) + timedelta(days=62)
    return jsonify(deadlines.calendar_view(actor, start, end))


@bp.put("/calendar/days/<day>")
@authenticated("admin")
def set_calendar_day(actor, day):
    body = json_body()
    if not isinstance(body.get("working"), bool):
        raise Invalid("working must be true (the centre works that day) or false (it is closed)")
    note = body.get("note") or ""
    if not isinstance(note, str):
        raise Invalid("note must be text")
    deadlines.set_day(actor, parse_date(day, "the day"), body["working"], note)
    return jsonify({"date": day, "working": body["working"], "note": note[:255]})


@bp.delete("/calendar/days/<day>")
@authenticated("admin")
def clear_calendar_day(actor, day):
    deadlines.clear_day(actor, parse_date(day, "the day"))
    return "", 204


@bp.put("/calendar/hours")
@authenticated("admin")
def set_office_hours(actor):
    body = json_body()
    deadlines.set_office_hours(actor, body.get("office_hours"), body.get("cutoff"))
    today = local_today()
    return jsonify(deadlines.calendar_view(actor, today, today))


@bp.get("/calendar/national")
@bp.get("/calendar/provinces/<province>")
@authenticated()
def official_days(actor, province=None):
    year = request.args.get("year")
    if year is not None and not (year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100):
        raise Invalid("year must be a year from 2000 to 2100")
    days = official_calendar.list_days(actor, int(year) if year else None, province)
    return jsonify({"province": province, "days": [present.official_day(d) for d in days]})


@bp.put("/calendar/national/<isoday:day>")
@bp.put("/calendar/provinces/<province>/<isoday:day>")
@authenticated()
def set_official_day(actor, day, province=None):
    body = json_body()
    stored = official_calendar.set_day(actor, {**body, "date": parse_date(day, "the day").isoformat()}, province)
    return jsonify(present.official_day(stored))


@bp.delete("/calendar/national/<isoday:day>")
@bp.delete("/calendar/provinces/<province>/<isoday:day>")
@authenticated()
def clear_official_day(actor, day, province=None):
    official_calendar.clear_day(actor, parse_date(day, "the day"), province)
    return "", 204


@bp.post("/calendar/national/import")
@bp.post("/calendar/provinces/<province>/import")
@authenticated()
def import_official_days(actor, province=None):
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("send the file (CSV or JSON) as the multipart field 'file'")
    report = official_calendar.import_days(actor, upload.read(official_calendar.MAX_BYTES + 1), upload.filename or "", province)
    return jsonify({"added": report.added, "updated": report.updated})


@bp.get("/stats")
def statistics():
    """Public figures need no token; a token of the centre's scope adds the per-official lines."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    actor = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if header and actor is None:
        raise Unauthorized("the bearer token is not valid (leave it out for the public figures)")
    args = request.args
    return jsonify(stats.report(actor, args.get("centre"), args.get("procedure"), args.get("unit"),
                                date_arg("from"), date_arg("to"), local_today()))


@bp.get("/stats/provinces")
def statistics_by_province():
    """The national roll-up, public: each province's figures over a period (default this month)."""
    start, end = stats.period(date_arg("from"), date_arg("to"), local_today())
    return jsonify({"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat(),
                    "provinces": stats.by_province(start, end)})


@bp.get("/stats/report")
@authenticated("leader", "admin", "province_admin", "system_admin")
def statistics_report(actor):
    """The periodic report a centre sends upward (default: last month), by field."""
    return jsonify(stats.report_for(actor, request.args.get("centre"), date_arg("from"), date_arg("to"),
                                    local_today()))


@bp.post("/dossiers/<code>/rating")
def rate_dossier(code):
    """The citizen rates a dossier with its code and lookup key (no token): once, after the result.
    A wrong key is counted with the portal's lookups of the same dossier (web/throttle.py)."""
    body = json_body()
    try:
        rating = lifecycle.rate(code, str(body.get("key") or ""), body.get("level"), body.get("comment") or "",
                                channel="api")
    except NotFound:
        wait = throttle.wrong_key(code)
        if wait is None:
            raise
        response, status = error_response(429, "too_many_requests",
                                           f"too many wrong keys for this dossier; try again in {wait} seconds "
                                           "(the right key is always accepted)")
        response.headers["Retry-After"] = str(wait)
        return response, status
    return jsonify({"code": code, "level": rating.level}), 201


@bp.get("/tasks")
@authenticated()
def list_tasks(actor):
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise Invalid("limit must be a whole number") from None
    items, cursor = dossiers.work_items(actor, request.args.get("dossier") or None, limit, request.args.get("after"))
    return jsonify({"tasks": [present.work_item(i, with_dossier=True) for i in items], "next": cursor})


@bp.get("/tasks/<task_id>")
@authenticated()
def get_task(actor, task_id):
    item, data, form = dossiers.task_detail(actor, task_id)
    return jsonify(present.work_item(item, with_dossier=True) | {
        "data": data, "form": form.schema if form else None, "ui": form.ui if form else None})


@bp.post("/tasks/<task_id>/complete")
@authenticated("officer", "leader", "integration", ahead=steps.task_ahead)
def complete_task(actor, task_id):
    body = json_body()
    data = body.get("data", {})
    dossier, rows = dossiers.complete_task_with_rows(actor, task_id, data)
    return jsonify(present.step(dossier, rows, _links(dossier.code)))
