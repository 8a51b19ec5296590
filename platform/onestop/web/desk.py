"""The officers' desk: sign in, the worklist with counts, a task with everything needed to do it,
claim and release, complete; a dossier's files for download. Every page is scoped to the
officer's centre by the services it calls."""

import io
from datetime import date

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, MultipleFileField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ..models import local_today
from ..services import (
    attachments,
    dossiers,
    lifecycle,
    procedures,
    signing,
    slips,
    stats,
    users,
    worklist,
)
from ..services.attachments import Upload
from ..services.errors import Conflict, Forbidden, NotFound, ServiceError
from ..status import Status
from . import exports, forms, intake, throttle
from .args import date_arg
from .auth import local_target, officer_required, sign_in, sign_out
from .errors import PageInvalid

bp = Blueprint("desk", __name__)


class SignInForm(FlaskForm):
    username = StringField()
    password = PasswordField()


class ActionForm(FlaskForm):
    """An empty form: its CSRF token guards claim, release and sign-out."""


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = SignInForm()
    failed = False
    if form.validate_on_submit():
        wait = throttle.sign_in_wait(form.username.data)
        if wait is not None:  # not even checked: a guesser learns nothing more until the wait is over
            return _throttled(wait, "desk/login.html", form=form, failed=False, wait_minutes=-(-wait // 60))
        user = users.authenticate(form.username.data, form.password.data)
        if user is not None and user.has_role("officer", "leader", "admin", "province_admin", "system_admin"):
            sign_in(user)
            if not request.args.get("next") and not user.has_role("officer", "leader", "admin"):
                target = "/admin/"  # province and system administrators work in the back office
            else:
                target = local_target(request.args.get("next"))
            return throttle.signed_in(form.username.data, redirect(target, 303))
        throttle.sign_in_failed(form.username.data)
        failed = True
    return render_template("desk/login.html", form=form, failed=failed), (401 if failed else 200)


@bp.post("/logout")
def logout():
    if ActionForm().validate_on_submit():
        sign_out()
    return redirect(url_for("portal.home"), 303)


def _throttled(wait: int, template: str, **context):
    """The page again, answered 429 with Retry-After: the attempt was not even checked."""
    response = make_response(render_template(template, **context), 429)
    response.headers["Retry-After"] = str(wait)
    return response


class PasswordForm(FlaskForm):
    current = PasswordField()
    new = PasswordField()
    repeat = PasswordField()


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Any signed-in user changes their own password; every session of theirs ends, this one too."""
    if not current_user.is_authenticated:
        return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
    actor, form = current_user.user, PasswordForm()
    page = {"form": form, "actor": actor, "action": ActionForm(), "problem": None}
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("desk/password.html", **page | {"problem": forms.CSRF_MESSAGE if status == 400 else None}), status
    wait = throttle.sign_in_wait(actor.username)
    if wait is not None:  # the current password is guarded like the sign-in's
        return _throttled(wait, "desk/password.html", **page | {"problem": _(
            "Too many failed sign-ins from here. Try again in %(minutes)s minutes.", minutes=-(-wait // 60))})
    if form.new.data != form.repeat.data:
        return render_template("desk/password.html", **page | {"problem": _("The two new passwords differ.")}), 422
    try:
        users.change_own_password(actor, form.current.data, form.new.data)
    except Forbidden:
        throttle.sign_in_failed(actor.username)
        return render_template("desk/password.html", **page | {"problem": _("The current password is not right.")}), 401
    except ServiceError:
        problem = _("A password has %(least)s to 200 characters.", least=users.MIN_PASSWORD)
        return render_template("desk/password.html", **page | {"problem": problem}), 422
    sign_out()
    flash(_("Your password is changed; sign in with it."), "notice")
    return redirect(url_for("desk.login"), 303)


@bp.get("/", endpoint="worklist")
@officer_required
def worklist_view(actor):
    view = request.args.get("view", "all")
    number = request.args.get("page", "1")
    query = request.args.get("q", "").strip()[:200]  # the applicant's name or ID, or the dossier's code
    page = worklist.worklist(actor, view if view in worklist.VIEWS else "all", 50,
                             int(number) if number.isdigit() and 0 < int(number) <= 10_000 else 1, words=query)
    return render_template("desk/worklist.html", page=page, view=view, actor=actor, action=ActionForm(), query=query)


def _task_page(actor, task_id, form=None, loose=(), status=200):
    page = worklist.task_page(actor, task_id)
    html = forms.html_form(page.form) if page.form is not None else None
    if form is None:
        form = html.build(page.data) if html is not None else ActionForm()
    return render_template("desk/task.html", page=page, html=html, form=form, loose=list(loose), actor=actor,
                           back=local_target(request.values.get("back")) if request.values.get("back") else None,
                           action=ActionForm(), ask=SupplementRequestForm(), supplied=SupplementForm(),
                           ending=EndForm(formdata=None), apology=ApologyForm(formdata=None)), status


def _gone(actor, task_id, message):
    """A task of the centre done meanwhile: back to the worklist saying so. Another centre's task,
    or none, is the same 404 as any unknown address."""
    if not worklist.was_task_of(actor, task_id):
        raise NotFound("no such task")
    flash(message, "error")
    return redirect(url_for("desk.worklist"), 303)


def _not_yours():
    flash(_("This task belongs to a lane your roles do not cover."), "error")
    return redirect(url_for("desk.worklist"), 303)


@bp.get("/tasks/<task_id>")
@officer_required
def task(actor, task_id):
    try:
        return _task_page(actor, task_id)
    except Forbidden:
        return _not_yours()
    except NotFound:
        return _gone(actor, task_id, _("That task has already been done or is no longer waiting."))
    except Conflict:
        flash(_("That task has already been done or is no longer waiting."), "error")
        return redirect(url_for("desk.worklist"), 303)


@bp.post("/tasks/<task_id>")
@officer_required
def complete(actor, task_id):
    try:
        page = worklist.task_page(actor, task_id)
    except Forbidden:
        return _not_yours()
    except NotFound:
        return _gone(actor, task_id, _("A colleague completed this task meanwhile; nothing you entered was saved on it."))
    except Conflict:
        flash(_("A colleague completed this task meanwhile; nothing you entered was saved on it."), "error")
        return redirect(url_for("desk.worklist"), 303)
    if page.item.claimed_by_id and page.item.claimed_by_id != actor.id:
        flash(_("A colleague has taken this task; ask them to release it before you complete it."), "error")
        return redirect(url_for("desk.task", task_id=task_id), 303)
    html = forms.html_form(page.form) if page.form is not None else None
    form = html.build(page.data, submitted=True) if html is not None else ActionForm()
    if html is not None and html.edit_rows(form, request.form):
        return _task_page(actor, task_id, form)
    if not form.validate_on_submit():
        return _task_page(actor, task_id, form, [forms.CSRF_MESSAGE], 400)
    data, files = forms.submitted(html, form, page.data) if html is not None else ({}, {})
    try:
        dossier = dossiers.complete_task(actor, task_id, data,
                                         {p: Upload(f.filename or "", f.read()) for p, f in files.items()})
    except (NotFound, Conflict):
        flash(_("A colleague completed or took this task meanwhile; nothing you entered was saved on it."), "error")
        return redirect(url_for("desk.worklist"), 303)
    except ServiceError as exc:
        loose = forms.put_errors(html, form, exc.field_errors) if exc.field_errors and html is not None else [exc.message]
        return _task_page(actor, task_id, form, loose, exc.status)
    flash(_("Done: %(task)s for dossier %(code)s.", task=page.item.name, code=dossier.code), "notice")
    return redirect(local_target(request.values.get("back")), 303)


@bp.post("/tasks/<task_id>/claim")
@officer_required
def claim(actor, task_id):
    if ActionForm().validate_on_submit():
        try:
            dossiers.claim_task(actor, task_id)
        except Forbidden:
            return _not_yours()
        except NotFound:
            return _gone(actor, task_id, _("A colleague completed or took this task meanwhile."))
        except Conflict:
            flash(_("A colleague completed or took this task meanwhile."), "error")
            return redirect(url_for("desk.worklist"), 303)
    return redirect(url_for("desk.task", task_id=task_id), 303)


@bp.post("/tasks/<task_id>/release")
@officer_required
def release(actor, task_id):
    if ActionForm().validate_on_submit():
        try:
            dossiers.release_task(actor, task_id)
        except NotFound:
            return _gone(actor, task_id, _("Only the officer handling a task, or a leader, can release it."))
        except Conflict:
            flash(_("Only the officer handling a task, or a leader, can release it."), "error")
    return redirect(url_for("desk.worklist"), 303)


def _reason(exc) -> str:
    return forms.message_for(exc.field_errors[0]) if exc.field_errors else exc.message


class SupplementRequestForm(FlaskForm):
    reason = TextAreaField()


class SupplementForm(FlaskForm):
    note = TextAreaField()
    files = MultipleFileField()


def _dossier_action(form, act, done, failed, back=None):
    """An officer's action on a dossier from its task page: CSRF checked, then back with what happened."""
    if form.validate_on_submit():
        try:
            act()
            flash(done, "notice")
        except NotFound:
            raise  # another centre's dossier, or none: 404 like any unknown address
        except ServiceError as exc:
            flash(failed % {"reason": _reason(exc)}, "error")
    else:
        flash(forms.CSRF_MESSAGE, "error")
    return redirect(back or local_target(request.form.get("back")), 303)


@bp.post("/dossiers/<code>/supplement-request")
@officer_required
def request_supplement(actor, code):
    form = SupplementRequestForm()
    return _dossier_action(form, lambda: lifecycle.request_supplement(actor, code, form.reason.data),
                           _("The applicant is asked for the documents; the dossier's clock has stopped."),
                           _("The request was not recorded: %(reason)s", reason="%(reason)s"))


@bp.post("/dossiers/<code>/supplement")
@officer_required
def record_supplement(actor, code):
    form = SupplementForm()

    def act():
        uploads = {str(i): Upload(f.filename or "", f.read()) for i, f in enumerate(form.files.data or []) if f.filename}
        lifecycle.supplement_received(actor, code, form.note.data or "", uploads)

    return _dossier_action(form, act, _("The supplement is recorded; the dossier's clock runs again."),
                           _("The supplement was not recorded: %(reason)s", reason="%(reason)s"))


class EndForm(FlaskForm):
    how = SelectField(choices=[SelectChoice(Status.STOPPED.value, _l("Stop processing")),
                               SelectChoice(Status.NOT_ACCEPTED.value, _l("Refuse to accept at reception"))])
    reason = TextAreaField()


class ApologyForm(FlaskForm):
    new_due = DateField()
    reason = TextAreaField()


@bp.post("/dossiers/<code>/end")
@officer_required
def end_dossier(actor, code):
    form = EndForm()
    ended = []

    def act():
        lifecycle.end(actor, code, form.how.data, form.reason.data)
        ended.append(code)

    response = _dossier_action(form, act, _("Dossier %(code)s is ended; the applicant sees why.", code=code),
                               _("The dossier was not ended: %(reason)s", reason="%(reason)s"))
    return redirect(url_for("desk.worklist"), 303) if ended else response


@bp.post("/dossiers/<code>/apology")
@officer_required
def apologise(actor, code):
    form = ApologyForm()
    return _dossier_action(form, lambda: lifecycle.apologise(actor, code, form.new_due.data, form.reason.data),
                           _("The apology and the new date are recorded; the applicant sees them."),
                           _("The apology was not recorded: %(reason)s", reason="%(reason)s"))


@bp.get("/dossiers/<code>/control-sheet")
@officer_required
def control_sheet(actor, code):
    return render_template("desk/control_sheet.html", sheet=slips.control_sheet(actor, code),
                           result_ready=slips.result_ready(actor, code))


@bp.get("/dossiers/<code>/control-sheet.pdf")
@officer_required
def control_sheet_pdf(actor, code):
    from ..services import pdfs  # fpdf2 is loaded by the first paper asked for, not at start-up

    return _pdf(pdfs.control_sheet(slips.control_sheet(actor, code)), f"phieu-kiem-soat-{code}.pdf")


@bp.get("/dossiers/<code>/result.pdf")
@officer_required
def result_pdf(actor, code):
    """The dossier's signed result (made and signed on first download, the same file ever after)."""
    try:
        record, content = signing.officer_result(actor, code)
    except Conflict:
        flash(_("The result of this dossier is not ready yet."), "error")
        return redirect(url_for("desk.control_sheet", code=code), 303)
    except signing.NoSigningKey:
        flash(_("The result cannot be signed: this centre has no signing key. An administrator creates one with "
                "the command onestop keys create."), "error")
        return redirect(url_for("desk.control_sheet", code=code), 303)
    return _pdf(content, record.name)


def _pdf(content, name):
    return send_file(io.BytesIO(content), mimetype="application/pdf", as_attachment=True, download_name=name,
                     max_age=0)


@bp.get("/intake", endpoint="intake")
@officer_required
def intake_list(actor):
    return render_template("desk/intake.html", entries=procedures.catalogue(actor, request.args.get("q", "")[:200]),
                           query=request.args.get("q", ""), actor=actor, action=ActionForm(),
                           ticket=intake.served_ticket(actor))


bp.add_url_rule("/intake/<code>", "intake_form", intake.intake_form, methods=["GET", "POST"])
bp.add_url_rule("/intake/<code>/receipt", "intake_receipt", intake.intake_receipt, methods=["GET", "POST"])


@bp.get("/ledger")
@officer_required
def ledger(actor):
    today = local_today()
    try:
        first = date.fromisoformat(request.args.get("from") or today.isoformat())
        last = date.fromisoformat(request.args.get("to") or first.isoformat())
    except ValueError:
        first = last = today
    query = request.args.get("q", "").strip()[:200]  # the applicant's name or ID, or the dossier's code
    return render_template("desk/ledger.html", rows=worklist.ledger(actor, first, last, words=query), first=first,
                           last=last, actor=actor, action=ActionForm(), query=query)


@bp.get("/scorecard")
@officer_required
def scorecard(actor):
    today = local_today()
    try:
        month = date.fromisoformat((request.args.get("month") or today.strftime("%Y-%m")) + "-01")
    except ValueError:
        month = today.replace(day=1)
    card = stats.scorecard(actor, month)
    kind = request.args.get("format")
    if kind in ("csv", "xlsx"):
        columns = ("name", "full_name", "done", "on_time", "late", "rework", "average_hours", "p90_hours")
        columns += ("very_satisfied", "satisfied", "not_satisfied")
        tables = {title: (columns, [[r.get(c) for c in columns[:8]] + list(r["ratings"].values()) for r in card[key]])
                  for title, key in (("Đơn vị", "units"), ("Cán bộ", "officials"))}
        name = f"scorecard-{month:%Y-%m}"
        if kind == "xlsx":
            return exports.xlsx_response(tables, name)
        headers, rows = tables["Cán bộ"]
        return exports.csv_response(headers, rows, name)
    return render_template("desk/scorecard.html", card=card, actor=actor, action=ActionForm())


@bp.get("/report")
@officer_required
def periodic_report(actor):
    """The periodic report a leader sends upward: the period's dossiers by field (default last month)."""
    if not actor.has_role("leader", "admin"):
        abort(403)
    wrong = {}
    for name in ("from", "to"):
        try:
            date_arg(name)
        except PageInvalid:  # the page again, for the default period, saying which date to correct
            wrong[name] = _("Enter the date as day, month and year, for example 31/12/2026.")
    if wrong:
        report = stats.report_for(actor, None, None, None, local_today())
        return render_template("desk/report.html", report=report, actor=actor, action=ActionForm(), wrong=wrong,
                               asked=request.args), 422
    report = stats.report_for(actor, None, date_arg("from"), date_arg("to"), local_today())
    kind = request.args.get("format")
    if kind in ("csv", "xlsx"):
        rows = [[r[c] for c in stats.REPORT_COLUMNS] for r in report["rows"] + [report["total"]]]
        name = f"bao-cao-{report['from']}-{report['to']}"
        if kind == "xlsx":
            return exports.xlsx_response({"Báo cáo": (stats.REPORT_HEADINGS, rows)}, name)
        return exports.csv_response(stats.REPORT_HEADINGS, rows, name)
    return render_template("desk/report.html", report=report, actor=actor, action=ActionForm())


@bp.get("/dossiers/<code>/notices/<kind>")
@officer_required
def notice(actor, code, kind):
    return render_template("desk/notice.html", notice=slips.notice(actor, code, kind))


@bp.get("/dossiers/<code>/notices/<kind>.pdf")
@officer_required
def notice_pdf(actor, code, kind):
    from ..services import pdfs  # fpdf2 is loaded by the first paper asked for, not at start-up

    return _pdf(pdfs.notice(slips.notice(actor, code, kind)), f"{kind}-{code}.pdf")


@bp.get("/dossiers/<code>/files/<rowid:attachment_id>")
@officer_required
def download(actor, code, attachment_id):
    attachment, content = attachments.open_for(actor, code, attachment_id)
    return send_file(io.BytesIO(content), mimetype=attachment.media_type, as_attachment=True,
                     download_name=attachment.name, max_age=0)
