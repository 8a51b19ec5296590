"""The desk's counter: a paper dossier received from the applicant in person, each paper scanned
into its slot (or reused from a kept copy, or recorded as paper only), a sitting opened for a
procedure decided on the spot, and its receipt printed (again). The applicant's name and ID are asked once: what the
procedure's form already asks is not asked beside it. The desk's blueprint routes to these
views (web/desk.py)."""

import io

from flask import flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from .. import formdefs
from ..models import utcnow
from ..services import dossiers, papers, procedures, queue, sittings, slips, submissions
from ..services.attachments import Upload
from ..services.errors import ServiceError
from . import formpage, forms, spot
from .auth import officer_required
from .links import tracking_url

# The applicant's details the counter asks for, checked by the formats of formdefs.
APPLICANT_SCHEMA = {"type": "object", "properties": {
    "citizen_id": {"type": "string", "format": "citizen-id"}, "phone": {"type": "string", "format": "phone"},
    "email": {"type": "string", "format": "email"}}}
RECENT_RECEIPTS = 20  # receipts an officer can print again with their key, from this session


class ActionForm(FlaskForm):
    """An empty form: its CSRF token guards issuing a new lookup key."""


def _reason(exc) -> str:
    return forms.message_for(exc.field_errors[0]) if exc.field_errors else exc.message


class ApplicantForm(FlaskForm):
    """Who hands the dossier in at the counter, for what the procedure's own form does not ask."""

    applicant_name = StringField()
    applicant_citizen_id = StringField()
    applicant_phone = StringField()
    applicant_email = StringField()


def asked_at_the_counter(entry, definition) -> list[str]:
    """The applicant keys (name, citizen_id, phone, email) the procedure's form does not carry."""
    carried = set((definition.schema.get("properties") or {}) if definition is not None else ())
    mapping = entry.metadata.get("applicant") if isinstance(entry.metadata.get("applicant"), dict) else {}
    return [key for key, names in dossiers.APPLICANT_KEYS.items()
            if not carried.intersection([mapping[key]] if isinstance(mapping.get(key), str) else names)]


def _typed_applicant(who, asked) -> tuple[dict, bool]:
    """(the applicant's details typed at the counter, tidied; whether any is wrong, put on its field)."""
    typed = {key: (getattr(who, f"applicant_{key}").data or "").strip() for key in asked}
    typed = formdefs.tidy(APPLICANT_SCHEMA, {k: v for k, v in typed.items() if v})
    errors = formdefs.validate(APPLICANT_SCHEMA, typed)
    for error in errors:
        field = getattr(who, f"applicant_{error.field}")
        field.errors = list(field.errors or []) + [forms.message_for(error)]
    return typed, bool(errors)


def served_ticket(actor):
    """The queue ticket served at the officer's counter that this intake is for (`?ticket=ID`), if any."""
    ticket_id = request.args.get("ticket", type=int)
    return queue.serving_ticket(actor, ticket_id) if ticket_id else None


@officer_required
def intake_form(actor, code):
    entry, version = procedures.catalogue_entry(actor, code)
    definition = procedures.start_form(version)
    html = forms.html_form(definition) if definition else None
    who, posted = ApplicantForm(), request.method == "POST"
    form = html.build(submitted=posted) if html else None
    citizen_id = (request.form.get("applicant_citizen_id") or request.args.get("citizen_id") or "").strip()[:32]
    page = {"entry": entry, "html": html, "form": form, "who": who, "actor": actor, "action": ActionForm(formdata=None),
            "loose": [], "asked": asked_at_the_counter(entry, definition),
            "slots": papers.slots(version.metadata), "kept": papers.kept_for(actor, citizen_id),
            "on_the_spot": sittings.on_the_spot(version.metadata), "form_values": request.form,
            "submission": formpage.submission_token(), "ticket": served_ticket(actor)}
    if not posted:
        who.applicant_citizen_id.data = who.applicant_citizen_id.data or citizen_id or None
        session["intake_started"] = {"code": code, "at": utcnow().isoformat()}  # the sitting's start
        return render_template("desk/intake_form.html", **page)
    first = submissions.first_dossier(formpage.sent_token())
    if first is not None:  # the same form sent again: its dossier's receipt, not a second dossier
        return _received(first, _("This form had already been sent: here is the dossier it made. Nothing was "
                                  "received twice."))
    if html is not None and html.edit_rows(form, request.form):
        return render_template("desk/intake_form.html", **page)
    if not who.validate_on_submit():
        return render_template("desk/intake_form.html", **page | {"loose": [forms.CSRF_MESSAGE]}), 400
    typed, wrong = _typed_applicant(who, page["asked"])
    data, files = forms.submitted(html, form) if html else ({}, {})
    uploads = {p: Upload(f.filename or "", f.read()) for p, f in files.items()}
    try:
        if wrong:  # the form's own fields are checked too: every error at once
            dossiers.check_start(actor, code, data, uploads)
            return render_template("desk/intake_form.html", **page), 422
        applicant = (dossiers.applicant_from(entry.metadata, data) or {}) | typed
        prepared = papers.prepare(actor, version.metadata, citizen_id, spot.slot_inputs(len(page["slots"])))
        dossier = dossiers.start_dossier(actor, code, data, applicant or None, uploads, channel="counter",
                                         submission=formpage.sent_token(), papers=[p.title for p in prepared])
    except papers.PaperRefused as exc:
        return render_template("desk/intake_form.html", **page | {"loose": [spot.paper_message(exc)]}), exc.status
    except ServiceError as exc:
        loose = forms.put_errors(html, form, exc.field_errors) if exc.field_errors and html else [_reason(exc)]
        return render_template("desk/intake_form.html", **page | {"loose": loose}), exc.status
    if getattr(dossier, "resubmitted", False):
        return _received(dossier, _("This form had already been sent: here is the dossier it made. Nothing was "
                                    "received twice."))
    if page["ticket"] is not None:
        queue.attach_dossier(actor, page["ticket"].id, dossier.code)
    papers.record(actor, dossier, (dossier.applicant or {}).get("citizen_id") or citizen_id, prepared)
    sitting = sittings.open_sitting(actor, dossier, version.metadata, spot.intake_started(code))
    received = _received(dossier, _("Dossier %(code)s is received.", code=dossier.code))
    return redirect(url_for("spot.sitting", code=dossier.code), 303) if sitting is not None else received


def _received(dossier, message):
    """To the receipt of a dossier just received, its key remembered to print it again this session."""
    recent = dict(session.get("intakes") or {})
    recent.pop(dossier.code, None)
    recent[dossier.code] = dossier.lookup_key
    session["intakes"] = dict(list(recent.items())[-RECENT_RECEIPTS:])
    flash(message, "notice")
    return redirect(url_for("desk.intake_receipt", code=dossier.code), 303)


@officer_required
def intake_receipt(actor, code):
    """The receipt of a dossier of the centre, to print (again). One received in this session keeps
    its lookup key; another's copy opens the tracking page without it, and a new key can be issued
    (POST, audited; the old key stops working) for a receipt the applicant can track with."""
    dossier = dossiers.get_dossier(actor, code)
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            flash(forms.CSRF_MESSAGE, "error")
            return redirect(url_for("desk.intake_receipt", code=code), 303)
        return _received(slips.reissue_lookup_key(actor, code),
                         _("A new lookup key is issued for dossier %(code)s; the old one no longer works.", code=code))
    key = (session.get("intakes") or {}).get(code)
    slip = slips.receipt(actor, dossier, url_for("portal.track", code=code, _external=True) if key is None
                         else tracking_url(code, key))
    if request.args.get("format") == "pdf":  # the same slip as a PDF/A file
        from ..services import pdfs  # fpdf2 is loaded by the first paper asked for, not at start-up

        return send_file(io.BytesIO(pdfs.receipt(slip)), mimetype="application/pdf", as_attachment=True,
                         download_name=f"giay-tiep-nhan-{code}.pdf", max_age=0)
    if key is None:
        return render_template("portal/receipt.html", slip=slip, action=ActionForm(),
                               reissue=url_for("desk.intake_receipt", code=code))
    return render_template("portal/receipt.html", slip=slip)
