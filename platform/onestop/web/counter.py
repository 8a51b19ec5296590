"""The officers' counters (under /desk/counter): open a counter of their centre, call the next
ticket of its groups or a given one, call again, skip a no-show, serve (straight into the desk's
counter intake with the ticket attached), finish; and the queue's figures. Every page is scoped to
the officer's centre by the queue service."""

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..models import local_today
from ..services import queue, stats
from ..services.errors import Conflict, Invalid
from . import exports, forms
from .args import date_arg
from .auth import officer_required

bp = Blueprint("counter", __name__)


class ActionForm(FlaskForm):
    """An empty form: its CSRF token guards every button of the counter."""


@bp.get("/")
@officer_required
def counters(actor):
    return render_template("desk/counters.html", counters=queue.counters(actor.centre_id), actor=actor,
                           action=ActionForm())


@bp.get("/<rowid:counter_id>")
@officer_required
def counter(actor, counter_id):
    return render_template("desk/counter.html", page=queue.counter_page(actor, counter_id), actor=actor,
                           action=ActionForm())


def _act(counter_id, act, done=None):
    """A button of the counter: CSRF checked, the verb done, back to the counter saying what happened."""
    if not ActionForm().validate_on_submit():
        flash(forms.CSRF_MESSAGE, "error")
        return redirect(url_for("counter.counter", counter_id=counter_id), 303)
    try:
        ticket = act()
    except Conflict as exc:
        flash(_("Not done: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("counter.counter", counter_id=counter_id), 303)
    if done is not None:
        flash(done(ticket), "notice")
    return redirect(url_for("counter.counter", counter_id=counter_id), 303)


@bp.post("/<rowid:counter_id>/open")
@officer_required
def open_counter(actor, counter_id):
    return _act(counter_id, lambda: queue.open_counter(actor, counter_id))


@bp.post("/<rowid:counter_id>/close")
@officer_required
def close_counter(actor, counter_id):
    if ActionForm().validate_on_submit():
        try:
            queue.close_counter(actor, counter_id)
        except Conflict as exc:
            flash(_("Not done: %(reason)s", reason=exc.message), "error")
    return redirect(url_for("counter.counters"), 303)


def _called(ticket):
    return _("Called %(number)s.", number=ticket.label) if ticket else _("Nobody is waiting for this counter.")


@bp.post("/<rowid:counter_id>/next")
@officer_required
def call_next(actor, counter_id):
    return _act(counter_id, lambda: queue.call_next(actor, counter_id), _called)


@bp.post("/<rowid:counter_id>/call/<rowid:ticket_id>")
@officer_required
def call_ticket(actor, counter_id, ticket_id):
    return _act(counter_id, lambda: queue.call_ticket(actor, counter_id, ticket_id), _called)


@bp.post("/<rowid:counter_id>/recall")
@officer_required
def recall(actor, counter_id):
    return _act(counter_id, lambda: queue.recall(actor, counter_id), _called)


@bp.post("/<rowid:counter_id>/skip")
@officer_required
def skip(actor, counter_id):
    return _act(counter_id, lambda: queue.skip(actor, counter_id),
                lambda t: _("%(number)s did not come; it can be called again later.", number=t.label))


@bp.post("/<rowid:counter_id>/finish")
@officer_required
def finish(actor, counter_id):
    return _act(counter_id, lambda: queue.finish(actor, counter_id),
                lambda t: _("%(number)s is finished.", number=t.label))


@bp.post("/<rowid:counter_id>/serve")
@officer_required
def serve(actor, counter_id):
    """The called person is here: into the counter intake, the ticket attached to the dossier it makes."""
    if not ActionForm().validate_on_submit():
        flash(forms.CSRF_MESSAGE, "error")
        return redirect(url_for("counter.counter", counter_id=counter_id), 303)
    try:
        ticket = queue.serve(actor, counter_id)
    except Conflict as exc:
        flash(_("Not done: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("counter.counter", counter_id=counter_id), 303)
    return redirect(url_for("desk.intake", ticket=ticket.id), 303)


@bp.get("/report")
@officer_required
def report(actor):
    """The queue's figures of the centre over a period (default: today)."""
    first = date_arg("from") or local_today()
    last = date_arg("to") or first
    if last < first or (last - first).days > stats.MAX_DAYS:
        raise Invalid(_("The period runs from a date to a later one."))
    figures = stats.queue_report(actor, first, last + timedelta(days=1))
    if request.args.get("format") == "csv":
        columns = ("kind", "name", "tickets", "called", "served", "skipped", "average_wait_minutes",
                   "longest_wait_minutes", "average_service_minutes", "tickets_per_hour")
        rows = [["total", "", *[figures["total"][c] for c in columns[2:]]]]
        rows += [[kind, line["name"], *[line[c] for c in columns[2:]]]
                 for kind in ("groups", "counters", "officers") for line in figures[kind]]
        return exports.csv_response(columns, rows, f"hang-doi-{first}-{last}")
    return render_template("desk/queue_report.html", figures=figures, actor=actor, action=ActionForm())
