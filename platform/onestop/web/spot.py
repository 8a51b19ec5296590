"""The counter floor's fast path and papers (issue 20): the documents section of counter intake
(what the officer did with each paper), the sitting of a dossier decided on the spot at the
counter, a leader's decisions waiting (polled), and a citizen's kept documents for the officers of
the province. Counter intake itself is desk.intake_form."""

import io
from datetime import datetime

from flask import Blueprint, abort, jsonify, render_template, request, send_file, session
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..services import papers, sittings
from ..services.attachments import Upload
from .auth import officer_required

bp = Blueprint("spot", __name__)


class ActionForm(FlaskForm):
    """An empty form: its CSRF token guards the sign-out on these pages' bar."""


def paper_message(exc: papers.PaperRefused) -> str:
    """What the officer is told of a paper refused at intake, in their language."""
    where = (_("Paper %(slot)s, page %(page)s", slot=exc.slot, page=exc.page) if exc.page
             else _("Paper %(slot)s", slot=exc.slot) if exc.slot else _("The papers"))
    why = {
        "no_pages": _("no page was scanned."),
        "not_a_scan": _("the file is not a photo (JPEG, PNG, TIFF) or a PDF."),
        "unreadable": _("the file cannot be read."),
        "too_many_pages": _("more than %(n)s pages.", n=papers.MAX_PAGES),
        "too_large": _("the scan is too large; scan at a lower resolution or in fewer pages."),
        "not_confirmed": _("tick that you saw the original and that the copy matches it."),
        "not_theirs": _("that kept copy is not this citizen's."),
        "no_slot": _("the procedure has no such paper."),
        "dossier_too_large": _("together they exceed the dossier's size limit."),
    }.get(exc.reason, _("the paper cannot be taken in."))
    return f"{where}: {why}"


def slot_inputs(count: int) -> list[papers.SlotInput]:
    """What the officer did with each document slot of the intake form's documents section."""
    out = []
    for i in range(count):
        pages = [Upload(f.filename or "", f.read()) for name in (f"paper-{i}-pages", f"paper-{i}-camera")
                 for f in request.files.getlist(name) if f and f.filename]
        reuse = request.form.get(f"paper-{i}-reuse", "")
        out.append(papers.SlotInput(i, pages, int(reuse) if reuse.isdigit() else None,
                                    original_seen=bool(request.form.get(f"paper-{i}-seen")),
                                    confirmed=bool(request.form.get(f"paper-{i}-matches")),
                                    paper_only=bool(request.form.get(f"paper-{i}-paper"))))
    return out


def intake_started(code):
    """When this officer opened the intake form of that procedure (kept in their signed session)."""
    started = session.pop("intake_started", None) or {}
    try:
        return datetime.fromisoformat(started["at"]) if started.get("code") == code else None
    except (KeyError, TypeError, ValueError):
        return None


@bp.get("/sittings/<code>")
@officer_required
def sitting(actor, code):
    """A dossier decided on the spot, at the counter: its times, its papers, the steps ready now
    (the leader's decision awaited on their own page), the receipt and the printed result."""
    shown = sittings.sitting_of(actor, code)
    receipt = (session.get("intake") or {}).get("code") == code
    return render_template("desk/sitting.html", s=shown, receipt=receipt, actor=actor, action=ActionForm(),
                           version=_sitting_version(shown))


@bp.get("/sittings/<code>.json")
@officer_required
def sitting_state(actor, code):
    """What the counter's page polls: a version that changes when the sitting moves on."""
    return jsonify({"version": _sitting_version(sittings.sitting_of(actor, code))})


def _sitting_version(shown) -> str:
    return "|".join([shown["status"], *(r["task"] for r in shown["ready"]), str(shown["decided_at"]),
                     str(shown["returned_at"])])


@bp.get("/approvals")
@officer_required
def approvals(actor):
    """A leader's decisions waiting at the counter, refreshed within seconds by polling."""
    if not actor.has_role("leader"):
        abort(403)
    pending = sittings.pending_approvals(actor)
    return render_template("desk/approvals.html", pending=pending, actor=actor, action=ActionForm(),
                           version=",".join(p["task"] for p in pending))


@bp.get("/approvals.json")
@officer_required
def approvals_state(actor):
    if not actor.has_role("leader"):
        abort(403)
    pending = sittings.pending_approvals(actor)
    return jsonify({"version": ",".join(p["task"] for p in pending), "pending": pending})


@bp.get("/kept/<int:document_id>")
@officer_required
def kept_document(actor, document_id):
    """A citizen's kept document, to the officers of the province's centres only."""
    document, content = papers.document_for(actor, document_id)
    return send_file(io.BytesIO(content), mimetype=document.media_type, as_attachment=True,
                     download_name=document.name, max_age=0)
