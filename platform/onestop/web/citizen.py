"""Citizens' sign-in with their electronic identity (OpenID Connect, services.identity) and their
"my dossiers" page: a dossier's progress, its fees, and its signed result, without the lookup key.

A signed-in citizen is not an officer's session: Flask-Login (web/auth.py) knows nothing of it. The
verified claims are kept in the browser's signed session cookie under `citizen`, with the time of
sign-in; it ends with sign-out or after ONESTOP_SESSION_HOURS. While signing in, the state, nonce
and PKCE verifier wait in the same signed cookie (never in a URL)."""

import io

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from .. import clock
from ..services import identity, payments, signing
from ..services.errors import Conflict
from ..services.identity import Citizen, ProviderUnavailable, SignInRefused
from . import forms
from .auth import local_target
from .errors import PageNotFound
from .i18n import current_language

bp = Blueprint("citizen", __name__)
SESSION_KEY = "citizen"
PENDING_KEY = "oidc_pending"


class SignOutForm(FlaskForm):
    pass


class ResultForm(FlaskForm):
    """A signed-in citizen's button on their dossier's page (its CSRF token): pay the fee, download
    the signed result."""


def provider() -> identity.Provider | None:
    """The OpenID provider citizens sign in with here, or None (citizen sign-in is off)."""
    found = current_app.config["ONESTOP"].identity_provider()
    return identity.Provider(*found) if found else None


def signed_in() -> Citizen | None:
    """The citizen signed in in this browser, or None (also once the session is too old)."""
    kept = session.get(SESSION_KEY)
    if not isinstance(kept, dict):
        return None
    hours = current_app.config["ONESTOP"].session_hours
    if not isinstance(kept.get("at"), int | float) or _now() - kept["at"] > hours * 3600:
        session.pop(SESSION_KEY, None)
        return None
    return Citizen.from_dict(kept.get("claims"))


def _now() -> int:
    return int(clock.current().now().timestamp())


@bp.app_context_processor
def citizen_context():
    """The signed-in citizen and whether citizens can sign in, for every page's header."""
    if request.blueprint not in ("portal", "citizen"):
        return {}
    return {"citizen": signed_in(), "citizen_sign_in": provider() is not None, "citizen_sign_out": SignOutForm}


@bp.get("/signin")
def sign_in():
    """Off to the identity provider; back at /signin/callback."""
    found = provider()
    if found is None:
        raise PageNotFound(_("Signing in with the electronic identity is not offered here."))
    try:
        url, pending = identity.begin(found, url_for("citizen.callback", _external=True))
    except ProviderUnavailable:
        return render_template("portal/signin_failed.html", unavailable=True), 503
    pending["next"] = local_target(request.args.get("next"), url_for("portal.home"))
    session[PENDING_KEY] = pending
    return redirect(url, 303)


@bp.get("/signin/callback")
def callback():
    """The provider's answer: signed in (to where the citizen was going), or why not."""
    found = provider()
    if found is None:
        raise PageNotFound(_("Signing in with the electronic identity is not offered here."))
    pending = session.pop(PENDING_KEY, None)  # one answer per sign-in started, whatever happens
    try:
        citizen = identity.finish(found, pending, request.args.to_dict())
    except ProviderUnavailable:
        return render_template("portal/signin_failed.html", unavailable=True), 503
    except SignInRefused:
        current_app.logger.info("a citizen's sign-in was refused", exc_info=True)
        return render_template("portal/signin_failed.html", unavailable=False), 400
    session[SESSION_KEY] = {"claims": citizen.as_dict(), "at": _now()}
    flash(_("You are signed in as %(name)s.", name=citizen.name), "notice")
    return redirect(local_target(pending.get("next"), url_for("portal.home")), 303)


@bp.post("/signout")
def sign_out():
    if SignOutForm().validate_on_submit():
        session.pop(SESSION_KEY, None)
    return redirect(url_for("portal.home"), 303)


@bp.get("/my/dossiers")
def my_dossiers():
    """The signed-in citizen's dossiers, at every centre."""
    citizen = signed_in()
    if citizen is None:
        return redirect(url_for("citizen.sign_in", next=request.path), 303)
    return render_template("portal/my_dossiers.html", rows=identity.my_dossiers(citizen))


def _signed_in_or_not_found() -> Citizen:
    citizen = signed_in()
    if citizen is None:  # a 404 like any code that is not one's own, never a hint that it exists
        raise PageNotFound(_("Sign in with your electronic identity to see your dossiers: %(where)s.",
                             where=url_for("citizen.my_dossiers")))
    return citizen


def _own_dossier_posted(code):
    """For a form posted on one of the signed-in citizen's dossiers: (the dossier, the redirect back to
    its page, whether the form was refused: its CSRF token missing or stale, said on that page)."""
    dossier, _page = identity.my_dossier(_signed_in_or_not_found(), code)
    back = redirect(url_for("citizen.my_dossier", code=dossier.code), 303)
    if not ResultForm().validate_on_submit():
        flash(forms.CSRF_MESSAGE, "error")
        return dossier, back, True
    return dossier, back, False


@bp.get("/my/dossiers/<code>")
def my_dossier(code):
    """The progress of one of the signed-in citizen's dossiers, without its lookup key."""
    dossier, page = identity.my_dossier(_signed_in_or_not_found(), code)
    return render_template("portal/my_dossier.html", dossier=dossier, page=page, fees=payments.of_dossier(dossier),
                           result_form=ResultForm(formdata=None))


@bp.post("/my/dossiers/<code>/pay")
def my_payment(code):
    """To the gateway's page for the pending fee of one of the signed-in citizen's dossiers (no
    lookup key: the identity says whose dossier it is); back on its "My dossiers" page."""
    dossier, back, refused = _own_dossier_posted(code)
    if refused:
        return back
    try:
        address = payments.checkout_dossier(dossier, url_for("payment.came_back", _external=True),
                                            request.remote_addr or "127.0.0.1",
                                            "en" if current_language() == "en" else "vn")
    except payments.GatewayUnavailable:
        flash(_("Online payment is not available right now. Try again later, or pay at the centre."), "error")
        return back
    except Conflict:
        flash(_("This dossier has no fee to pay."), "error")
        return back
    session["paying"] = {"code": dossier.code, "mine": True}
    return redirect(address, 303)


@bp.post("/my/dossiers/<code>/result")
def my_result(code):
    """The signed result of one of the signed-in citizen's dossiers, once it is ready (no lookup key:
    the identity says whose dossier it is)."""
    dossier, back, refused = _own_dossier_posted(code)
    if refused:
        return back
    try:
        record, content = signing.result(dossier)
    except Conflict:
        flash(_("The result of this dossier is not ready yet."), "error")
        return back
    except signing.NoSigningKey:
        flash(_("The signed result cannot be made now: the centre's signing key is not set up. Please try "
                "again later or contact the centre."), "error")
        return back
    return send_file(io.BytesIO(content), mimetype="application/pdf", as_attachment=True, download_name=record.name,
                     max_age=0)
