"""Paying a dossier's fee online (services.payments): the applicant's "pay the fee" (code and lookup
key) sends the browser to the payment gateway; the gateway sends it back to the return URL with the
signed result, and notifies the server itself at the IPN URL. The return only shows the result
(the notification, or the reconciliation, is what settles a payment); the IPN answers in the
gateway's JSON and never with an error page."""

import logging

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from ..services import dossiers, payments
from ..services.errors import Conflict, NotFound
from . import forms, throttle
from .i18n import current_language
from .links import tracking_url

log = logging.getLogger("onestop.web.payment")
bp = Blueprint("payment", __name__)
RETURN_MESSAGES = {
    "paid": ("notice", _l("Your payment is recorded. Thank you.")),
    "pending": ("notice", _l("The gateway says you paid; the centre is confirming the payment. This page will show "
                             "it within a few minutes.")),
    "not_paid": ("error", _l("The payment was not made. You can try again.")),
}


class PayForm(FlaskForm):
    """The applicant's "pay the fee" button (its CSRF token; code and key come with it)."""


@bp.app_context_processor
def pay_form():
    """The pay button's form and the words for a payment's state, for the portal's and the desk's pages."""
    return {"pay_form": PayForm, "payment_states": {
        "pending": _("to pay"), "paid": _("paid"), "refund_due": _("being refunded"), "refunded": _("refunded"),
        "cancelled": _("cancelled")}}


@bp.post("/track/<code>/pay")
def pay(code):
    """To the gateway's payment page for the dossier's pending fee."""
    key = request.form.get("key", "")
    back = tracking_url(code, key)
    try:
        if not PayForm().validate_on_submit():
            dossiers.track(code, key)  # a wrong code or key is answered as such first
            flash(forms.CSRF_MESSAGE, "error")
            return redirect(back, 303)
        address = payments.checkout(code, key, url_for("payment.came_back", _external=True),
                                    request.remote_addr or "127.0.0.1", "en" if current_language() == "en" else "vn")
    except NotFound:  # a wrong key counts as the lookup's do (web/throttle.py)
        wait = throttle.wrong_key(code)
        if wait is None:
            return render_template("portal/track.html", code=code, error=True), 404
        return (render_template("portal/track.html", code=code, error="busy", minutes=-(-wait // 60)), 429,
                {"Retry-After": str(wait)})
    except payments.GatewayUnavailable:
        flash(_("Online payment is not available right now. Try again later, or pay at the centre."), "error")
        return redirect(back, 303)
    except Conflict:
        flash(_("This dossier has no fee to pay."), "error")
        return redirect(back, 303)
    session["paying"] = {"code": code, "key": key}
    return redirect(address, 303)


@bp.get("/payment/vnpay/return")
def came_back():
    """The gateway sends the applicant back here: their dossier's page, with what happened."""
    dossier, result = payments.browser_return(request.args.to_dict())
    paying = session.pop("paying", None) or {}
    if dossier is None:
        flash(_("This payment result could not be checked. If you paid, the centre will confirm it."), "error")
        return redirect(url_for("portal.track"), 303)
    tone, message = RETURN_MESSAGES[result]
    flash(str(message), tone)
    if paying.get("code") == dossier.code and paying.get("mine"):  # paid from "My dossiers"
        return redirect(url_for("citizen.my_dossier", code=dossier.code), 303)
    if paying.get("code") == dossier.code:
        return redirect(tracking_url(dossier.code, paying["key"]), 303)
    return redirect(url_for("portal.track", code=dossier.code), 303)


@bp.get("/payment/vnpay/ipn")
def notified():
    """The gateway's server notification; the answer is the gateway's JSON, whatever happens."""
    try:
        code, message = payments.notification(request.args.to_dict())
    except payments.GatewayUnavailable:
        code, message = "99", "Unknown error"
    except Exception:  # the gateway must get its answer; the failure is logged, not shown
        log.exception("payment notification failed")
        code, message = "99", "Unknown error"
    return jsonify({"RspCode": code, "Message": message})
