"""The citizens' portal: the procedure catalogue, a procedure's page, online submission, the
confirmation with the dossier code and lookup key, and the status page. The portal acts as its
centre's portal account; what a citizen may see of a dossier needs code and key. A citizen may sign
in with their electronic identity (web/citizen.py): their form is filled from it, and they may
attach a document kept for them instead of uploading it again."""

import io
import re

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, MultipleFileField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..services import (
    centres,
    dossiers,
    identity,
    lifecycle,
    procedures,
    signing,
    slips,
    submissions,
    tracking,
)
from ..services.attachments import Upload
from ..services.errors import Conflict, NotFound, ServiceError
from ..services.users import portal_user
from ..text import fold
from . import formpage, forms, throttle
from .citizen import signed_in
from .errors import PageNotFound
from .i18n import current_language
from .links import tracking_url

bp = Blueprint("portal", __name__)
bp.record_once(lambda state: throttle.check_settings(state.app.config["ONESTOP"]))
LEVELS = {"province": "Cấp tỉnh", "commune": "Cấp xã", "ministry": "Cấp bộ",
          "province + commune": "Cấp xã, cấp tỉnh (liên thông)"}  # levels_of gives them in this order


@bp.context_processor
def online_levels():
    """The online service levels as procedure.json states them (the names Decision 766 counts by)."""
    return {"online_levels": {"full": _("Full online public service: submit, pay and receive online"),
                              "partial": _("Partial online public service: submit online, receive at the centre"),
                              "none": _("At the centre only")}}


# "civil status (hộ tịch)": the English name, then the Vietnamese one in brackets (the reference
# catalogue's way); a field named in Vietnamese only, brackets or not, is not one of these.
_BILINGUAL = re.compile(r"^\s*([A-Za-z][A-Za-z ,/&'-]*?)\s*\(([^()]+)\)\s*$")


@bp.app_template_filter("field_label")
def field_label(field) -> str:
    """A procedure's field in the page's language: 'civil status (hộ tịch)' is 'Hộ tịch' on a Vietnamese
    page and 'Civil status' on an English one; a field written in one language is shown as written."""
    found = _BILINGUAL.match(field or "")
    if not found:
        return field or ""
    label = found.group(1) if current_language() == "en" else found.group(2).strip()
    return label[:1].upper() + label[1:]


CENTRE_COOKIE = "onestop_centre"
REUSE_PREFIX = "_reuse:"  # a file field's kept document chosen instead of an upload (signed-in citizens)
PAGE_SIZE = 50  # a province's catalogue is ~936 procedures: a page a reader (and the server) can take


def _centre():
    """The centre whose portal this is: `?centre=CODE` (remembered in a cookie), else the one
    remembered, else the default centre. An unknown code asked for is a 404; a remembered one that
    is gone is forgotten."""
    asked = request.args.get("centre")
    if asked:
        return centres.portal_centre(asked)
    try:
        return centres.portal_centre(request.cookies.get(CENTRE_COOKIE))
    except NotFound:
        return centres.portal_centre(None)


@bp.after_request
def remember_centre(response):
    asked = request.args.get("centre")
    if asked and response.status_code < 400:
        response.set_cookie(CENTRE_COOKIE, asked[:64], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.get("/")
def home():
    query, field, level = (request.args.get(k, "").strip()[:200] for k in ("q", "field", "level"))
    centre = _centre()
    actor = portal_user(centre)
    entries = procedures.catalogue(actor, query, field, level)
    # Every field of the centre, whatever was searched: the filter stays for the next search.
    fields = sorted(procedures.catalogue_fields(actor), key=lambda f: fold(field_label(f)))
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    return render_template("portal/home.html", entries=entries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
                           total=len(entries), page=page, pages=pages, query=query, field=field, level=level,
                           fields=fields, levels=LEVELS, centre=centre)


@bp.get("/centres")
def choose_centre():
    """Where a citizen picks the centre whose procedures they see and submit to."""
    province, query = (request.args.get(k, "").strip()[:200] for k in ("province", "q"))
    return render_template("portal/centres.html", entries=centres.directory(province or None, query),
                           province=province, query=query, centre=_centre(), levels=LEVELS)


@bp.get("/procedures/<code>")
def procedure(code):
    centre = _centre()
    entry, _version = procedures.catalogue_entry(portal_user(centre), code)
    return render_template("portal/procedure.html", entry=entry, levels=LEVELS, centre=centre)


def _uploads(files):
    return {path: Upload(f.filename or "", f.read()) for path, f in files.items()}


@bp.route("/procedures/<code>/submit", methods=["GET", "POST"])
def submit(code):
    actor = portal_user(_centre())
    entry, version = procedures.catalogue_entry(actor, code)
    definition = procedures.start_form(version)
    if definition is None:
        raise PageNotFound(_("This procedure is not open for online submission yet: please bring the documents "
                             "to the centre."))
    html = forms.html_form(definition)
    citizen = signed_in()
    filled = identity.fill(definition, version.metadata, citizen)
    block = _citizen_block(actor, html, citizen, filled)

    def page(form, loose=(), status=200):
        return render_template("portal/submit.html", entry=entry, html=html, form=form, data={}, loose=list(loose),
                               submission=formpage.submission_token(), block=block), status

    if request.method == "GET":
        return page(html.build(filled.values))
    first = submissions.first_dossier(formpage.sent_token())
    if first is not None:  # the same form sent again (Back, then Submit): its dossier, not a second one
        return _show_submitted(first, first.lookup_key, again=True)
    wait = throttle.submission_wait(actor.centre_id, entry.code, count=False)
    if wait is not None:  # refused before the body is even read
        return _too_many(render_template("portal/busy.html", entry=entry, minutes=-(-wait // 60)), wait)
    form = html.build(submitted=True)
    for name in filled.locked & set(form._fields):  # what the identity vouches for is drawn and taken as it says
        form[name].data = str(filled.values[name])
    if html.edit_rows(form, request.form):
        return page(form)
    if not form.validate_on_submit():
        return page(form, [forms.CSRF_MESSAGE], 400)
    wait = throttle.submission_wait(actor.centre_id, entry.code)
    if wait is not None:
        return _too_many(render_template("portal/busy.html", entry=entry, minutes=-(-wait // 60)), wait)
    data, files = forms.submitted(html, form)
    try:
        if citizen is None:
            dossier, key = dossiers.submit_online(actor, code, data, _uploads(files), submission=formpage.sent_token())
        else:
            dossier, key = identity.submit(actor, code, citizen, data, _uploads(files), formpage.sent_token(),
                                           block.chosen, definition, version.metadata)
    except ServiceError as exc:
        loose = forms.put_errors(html, form, exc.field_errors) if exc.field_errors else [exc.message]
        return page(form, loose, exc.status)
    return _show_submitted(dossier, key, again=getattr(dossier, "resubmitted", False))


class CitizenBlock:
    """What a signed-in citizen's form draws differently: the fields their identity locks, their
    kept documents offered beside the file fields, and which of those they chose (field -> id)."""

    def __init__(self, locked, kept, chosen):
        self.locked, self.kept, self.chosen = locked, kept, chosen


def _citizen_block(actor, html, citizen, filled):
    if citizen is None:
        return None
    has_files = any(item.kind == "file" for item in html.layout)
    chosen = {}
    if request.method == "POST":
        for name, value in request.form.items():
            if name.startswith(REUSE_PREFIX) and value.isdigit():
                chosen[name[len(REUSE_PREFIX):][:255]] = int(value)
    return CitizenBlock(filled.locked, identity.kept_documents(actor, citizen) if has_files else [], chosen)


def _show_submitted(dossier, key, again=False):
    """To the confirmation of the dossier this browser submitted (`again`: the form had made it already)."""
    session["submitted"] = {"code": dossier.code, "key": key}
    if again:
        flash(_("This form had already been sent: here is the dossier it made. Nothing was submitted twice."),
              "notice")
    return redirect(url_for("portal.submitted", code=dossier.code), 303)


def _own_submission(code):
    """(dossier, lookup key) of the submission this browser just made, or None for any other code."""
    shown = session.get("submitted") or {}
    if shown.get("code") != code:
        return None
    return dossiers.track(shown["code"], shown["key"]), shown["key"]


@bp.get("/submitted/<code>")
def submitted(code):
    dossier, key = _own_submission_or_404(code)
    return render_template("portal/submitted.html", dossier=dossier, key=key, page=dossiers.page_rows(dossier))


def _own_submission_or_404(code):
    own = _own_submission(code)
    if own is None:
        raise PageNotFound(_("This confirmation is shown only to whoever submitted the dossier, right after "
                             "submitting. Look the dossier up with its code and lookup key at %(where)s.",
                             where=url_for("portal.track")))
    return own


@bp.get("/submitted/<code>/receipt")
def receipt(code):
    dossier, key = _own_submission_or_404(code)
    return render_template("portal/receipt.html", slip=slips.receipt(portal_user(dossier.centre), dossier,
                                                                     tracking_url(dossier.code, key)))


@bp.get("/submitted/<code>/receipt.pdf")
def receipt_pdf(code):
    """The receipt and appointment slip as a PDF/A file."""
    dossier, key = _own_submission_or_404(code)
    slip = slips.receipt(portal_user(dossier.centre), dossier, tracking_url(dossier.code, key))
    from ..services import pdfs  # fpdf2 is loaded by the first paper asked for, not at start-up

    return _pdf(pdfs.receipt(slip), f"giay-tiep-nhan-{dossier.code}.pdf")


def _pdf(content, name):
    return send_file(io.BytesIO(content), mimetype="application/pdf", as_attachment=True, download_name=name,
                     max_age=0)


@bp.post("/track/<code>/result")
def result(code):
    """The signed result of the citizen's own dossier (its code and lookup key), once it is ready."""
    try:
        record, content = signing.applicant_result(code, request.form.get("key", ""))
    except NotFound:
        return _wrong_key(code)
    except Conflict:
        flash(_("The result of this dossier is not ready yet."), "error")
        return _lookup(code, request.form.get("key", ""))
    except signing.NoSigningKey:
        flash(_("The signed result cannot be made now: the centre's signing key is not set up. Please try "
                "again later or contact the centre."), "error")
        return _lookup(code, request.form.get("key", ""))
    return _pdf(content, record.name)


def _too_many(page, wait):
    """A 429 answer that says when to come back."""
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(wait)
    return response


def _wrong_key(code):
    """The answer to a wrong code or key: 404, or 429 once this dossier or address has had too many."""
    wait = throttle.wrong_key(code)
    if wait is None:
        return render_template("portal/track.html", code=code, error=True), 404
    return _too_many(render_template("portal/track.html", code=code, error="busy", minutes=-(-wait // 60)), wait)


@bp.post("/track/<code>/papers/<int:paper_id>")
def paper_copy(code, paper_id):
    """The digitised copy of a paper of the citizen's own dossier (its code and lookup key)."""
    try:
        found = tracking.paper_copy(code, request.form.get("key", ""), paper_id)
    except NotFound:
        return _wrong_key(code)
    if found is None:
        abort(404)
    name, media_type, content = found
    return send_file(io.BytesIO(content), mimetype=media_type, as_attachment=True, download_name=name, max_age=0)


@bp.route("/track", methods=["GET", "POST"])
def track():
    if request.method == "GET":
        return render_template("portal/track.html", code=request.args.get("code", ""), error=None)
    return _lookup(request.form.get("code", ""), request.form.get("key", ""))


class SupplyForm(FlaskForm):
    note = TextAreaField()
    files = MultipleFileField()


def _applicant_action(code, form, ready, act, done, refused, not_ready):
    """An applicant's action on their dossier (code and lookup key in the form): CSRF checked, a wrong
    key counted like any lookup's, then the dossier's page again with what happened."""
    key = request.form.get("key", "")
    if not (form.validate_on_submit() and ready(form)):
        flash(not_ready, "error")
        return _lookup(code, key)
    try:
        act(key)
        flash(done, "notice")
    except NotFound:
        return _wrong_key(code)
    except Conflict:
        flash(refused, "error")
    except ServiceError as exc:
        flash(forms.message_for(exc.field_errors[0]) if exc.field_errors else exc.message, "error")
    return _lookup(code, key)


@bp.post("/track/<code>/supplement")
def supply(code):
    """The applicant sends the documents asked for."""
    form = SupplyForm()

    def act(key):
        uploads = {str(i): Upload(f.filename or "", f.read()) for i, f in enumerate(form.files.data or []) if f.filename}
        lifecycle.supplement_online(code, key, form.note.data or "", uploads)

    return _applicant_action(
        code, form, lambda f: True, act,
        _("Thank you: your documents have been received and your dossier is being processed again."),
        _("This dossier is not waiting for documents from you."), forms.CSRF_MESSAGE)


class RatingForm(FlaskForm):
    level = RadioField(choices=[SelectChoice("rat_hai_long", _l("Very satisfied")),
                                SelectChoice("hai_long", _l("Satisfied")),
                                SelectChoice("khong_hai_long", _l("Not satisfied"))])
    comment = TextAreaField()


@bp.post("/track/<code>/rating")
def rate(code):
    """The applicant rates the dossier once its result is ready."""
    form = RatingForm()
    return _applicant_action(
        code, form, lambda f: bool(f.level.data),
        lambda key: lifecycle.rate(code, key, form.level.data, form.comment.data or ""),
        _("Thank you for your rating."), _("This dossier cannot be rated now, or has been rated already."),
        _("Choose how satisfied you are."))


class WithdrawForm(FlaskForm):
    confirm = BooleanField()
    reason = TextAreaField()


@bp.post("/track/<code>/withdraw")
def withdraw(code):
    """The applicant takes the dossier back."""
    form = WithdrawForm()
    return _applicant_action(
        code, form, lambda f: f.confirm.data, lambda key: lifecycle.withdraw_online(code, key, form.reason.data or ""),
        _("Your dossier is withdrawn."), _("This dossier can no longer be withdrawn."),
        _("Tick the box to confirm that you withdraw the dossier."))


@bp.get("/track/<code>")
def track_link(code):
    """The address on the receipt's QR code: the dossier's page, with its lookup key."""
    return _lookup(code, request.args.get("k", ""))


def _lookup(code, key):
    """The dossier's page for the right code and key, always (also behind a shared address); a wrong
    one is counted (web/throttle.py)."""
    try:
        view = tracking.public_view(code, key)
    except NotFound:
        return _wrong_key(code)
    response = make_response(render_template(
        "portal/status.html", view=view, dossier=view.dossier, page=view.page, key=key, asked=view.asked,
        ended=view.ended, supply=SupplyForm(), withdrawal=WithdrawForm(formdata=None), rating=RatingForm(formdata=None)))
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Cache-Control"] = "no-store"
    return response
