"""The citizens' side of the queue, no sign-in: take a number at the kiosk or on a phone (the QR
code at the door leads there), book a slot, follow the ticket, and the hall screen.

The ticket page and the hall screen poll a small JSON answer whose ETag is the centre's board
version (it moves with every call): an unchanged poll is answered 304 after one indexed read,
without tying up a worker (no long-lived connection: the embedded server and gunicorn's sync
workers serve it like any short request)."""

from datetime import date, datetime, timedelta

import segno
from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from ..models import local_today
from ..ratelimit import Limit
from ..services import queue
from ..services.errors import Conflict, Invalid, NotFound, ServiceError
from . import forms, throttle

bp = Blueprint("queue", __name__)

PRIORITY_NAMES = {"elderly": _l("Elderly person (60 or older)"), "disability": _l("Person with a disability"),
                  "pregnant": _l("Pregnant woman"), "small_child": _l("Person with a small child")}
TICKET_POLL_SECONDS = 4
SCREEN_POLL_SECONDS = 0.5
# Numbers taken from a phone (or booked) per address: a family takes a few, a script filling the
# line with numbers nobody will answer is stopped. The kiosk in the hall is not limited.
PHONE_TICKETS = Limit("queue-phone", "6 per hour")


def _phone_wait() -> int | None:
    """Count one number taken from a phone; the seconds to wait when this address has had its share."""
    counts, address = current_app.extensions["onestop.runtime"].limiter, throttle.client_address()
    return None if counts.hit(PHONE_TICKETS, address) else counts.retry_after(PHONE_TICKETS, address)


def _too_many(wait):
    response = make_response(render_template("queue/busy.html", minutes=-(-wait // 60)), 429)
    response.headers["Retry-After"] = str(wait)
    return response


class TakeForm(FlaskForm):
    """An empty form: its CSRF token guards taking a number (the group and priority are buttons)."""


def _centre_or_404(code):
    return queue.public_centre(code)


def _take_page(code, kiosk):
    centre = _centre_or_404(code)
    form, problem = TakeForm(), None
    if request.method == "POST":
        if not form.validate_on_submit():
            problem = forms.CSRF_MESSAGE
        elif not kiosk and (wait := _phone_wait()) is not None:
            return _too_many(wait)
        else:
            try:
                ticket = queue.issue(code, request.form.get("group", type=int), "kiosk" if kiosk else "phone",
                                     request.form.get("priority") or None)
                return redirect(url_for("queue.ticket", code=code, token=ticket.token, kiosk=1 if kiosk else None), 303)
            except (Conflict, Invalid, NotFound) as exc:
                problem = _("The centre is not giving numbers now; come back on its next working day.") \
                    if isinstance(exc, Conflict) else _("Choose one of the services shown.")
    page = render_template("queue/take.html", centre=centre, groups=queue.groups(centre.id), form=form,
                           kiosk=kiosk, problem=problem, priorities=PRIORITY_NAMES)
    return page, (422 if problem else 200)


@bp.route("/<code>/kiosk", methods=["GET", "POST"])
def kiosk(code):
    """The kiosk in the hall: big buttons, one per service group, and a priority choice."""
    return _take_page(code, kiosk=True)


@bp.route("/<code>/take", methods=["GET", "POST"])
def take(code):
    """The phone page the QR code at the door leads to."""
    return _take_page(code, kiosk=False)


@bp.get("/<code>/door")
def door(code):
    """The poster for the door: a QR code of the phone page, to print."""
    centre = _centre_or_404(code)
    address = url_for("queue.take", code=centre.code, _external=True)
    qr = segno.make(address, error="m").svg_inline(scale=8, dark="#000", omitsize=False)
    return render_template("queue/door.html", centre=centre, qr=qr, address=address)


def _day_arg() -> date:
    try:
        return date.fromisoformat(request.args.get("day") or "")
    except ValueError:
        return local_today() + timedelta(days=1)


@bp.route("/<code>/book", methods=["GET", "POST"])
def book(code):
    """Book a slot: a group, a working day, one of its free slots."""
    centre, form, problem = _centre_or_404(code), TakeForm(), None
    booking = [g for g in queue.groups(centre.id) if g.slot_capacity > 0]
    chosen = request.values.get("group", type=int) or (booking[0].id if booking else None)
    day = _day_arg()
    if request.method == "POST":
        try:
            start = datetime.fromisoformat(request.form.get("start") or "")
            if not form.validate_on_submit():
                raise Invalid("csrf")
            wait = _phone_wait()
            if wait is not None:
                return _too_many(wait)
            ticket = queue.book(code, chosen, start, request.form.get("priority") or None)
            return redirect(url_for("queue.ticket", code=code, token=ticket.token), 303)
        except (ValueError, ServiceError) as exc:
            problem = _("That slot was just taken; choose another.") if isinstance(exc, Conflict) \
                else _("Choose one of the free slots shown.")
    slots = queue.slots(code, chosen, day) if chosen else []
    days = [local_today() + timedelta(days=n) for n in range(queue.tickets.BOOKING_DAYS + 1)]
    return render_template("queue/book.html", centre=centre, groups=booking, chosen=chosen, day=day, days=days,
                           slots=slots, form=form, problem=problem, priorities=PRIORITY_NAMES), (422 if problem else 200)


def _conditional(version, build):
    """A poll's answer: 304 if the client holds this version, else build() as JSON with it as ETag."""
    etag = f"v{version}"
    if etag in request.if_none_match:
        response = make_response("", 304)
    else:
        response = jsonify(build())
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _ticket_json(code, token):
    status = queue.ticket_status(token)
    if status["centre"] != code:
        raise NotFound("no such ticket")
    booked = status["booked_for"]
    return status | {"booked_for": booked.strftime("%d/%m/%Y %H:%M") if booked else None}


@bp.get("/<code>/ticket/<token>")
def ticket(code, token):
    """The citizen's ticket: number, people ahead, the estimated wait; the counter once called."""
    status = _ticket_json(code, token)
    return render_template("queue/ticket.html", status=status, code=code, token=token, kiosk=bool(request.args.get("kiosk")),
                           poll=TICKET_POLL_SECONDS, priorities=PRIORITY_NAMES)


@bp.get("/<code>/ticket/<token>.json")
def ticket_json(code, token):
    """The ticket page's poll: 304 while no call was made at the centre."""
    return _conditional(queue.version_of(code), lambda: _ticket_json(code, token))


@bp.get("/<code>/screen")
def screen(code):
    """The hall screen: the last calls, number → counter, in large type; spoken where the browser can."""
    return render_template("queue/screen.html", board=queue.screen(code), poll=SCREEN_POLL_SECONDS)


@bp.get("/<code>/screen.json")
def screen_json(code):
    """The hall screen's poll: 304 while no call was made at the centre."""
    return _conditional(queue.version_of(code), lambda: queue.screen(code))
