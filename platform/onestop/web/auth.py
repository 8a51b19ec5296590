"""Officers' sign-in (Flask-Login; passwords checked by the users service with argon2).

A signed-in browser's cookie carries only the token of a session kept on the server (the users
service's SignInSession): signing out, a new password, ONESTOP_IDLE_MINUTES without a request or
ONESTOP_SESSION_HOURS in all end it, for every copy of the cookie. The back office (/admin) signs
in here too and is covered alike.
"""

from datetime import timedelta
from functools import wraps
from urllib.parse import unquote

from flask import abort, current_app, redirect, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user

from ..services import users

OFFICER_ROLES = ("officer", "leader", "admin")
login_manager = LoginManager()


class SignedIn:
    """The Flask-Login face of a signed-in session (kept apart from the model: the web layer's concern)."""

    def __init__(self, user, token):
        self.user = user
        self.token = token
        self.is_authenticated, self.is_active, self.is_anonymous = True, True, False

    def get_id(self):
        return self.token


def _limits():
    settings = current_app.config["ONESTOP"]
    return timedelta(minutes=settings.idle_minutes), timedelta(hours=settings.session_hours)


@login_manager.user_loader
def _load(token):
    user = users.session_user(token, *_limits())
    return SignedIn(user, token) if user is not None else None


def sign_in(user):
    """Open a server-side session for user in this browser (and tidy away ended ones)."""
    users.forget_stale_sessions(*_limits())
    login_user(SignedIn(user, users.open_session(user, request.remote_addr or "")))


def sign_out():
    """End this browser's session on the server, then forget it here."""
    if current_user.is_authenticated:
        users.close_session(current_user.token)
    logout_user()


def officer_required(view):
    """The signed-in officer (a User) is passed first; others go to the sign-in page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
        if not current_user.user.has_role(*OFFICER_ROLES):
            abort(403)
        return view(current_user.user, *args, **kwargs)

    return wrapper


def local_target(target, default=None) -> str:
    """Where a redirect asked for by the request may go: a path of this site, else `default` (the
    worklist). Refused: anything with a scheme or a host, `//` or a backslash (which browsers read
    as `/`), and any control character or space (browsers drop tabs and newlines, so `/<TAB>/evil`
    becomes `//evil`); the path is checked percent-decoded too, in case anything decodes it once
    more. Every redirect whose target comes from the request goes through here."""
    fallback = default or url_for("desk.worklist")
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return fallback
    path = target.split("?", 1)[0]
    for text in (target, unquote(path)):
        if text.startswith("//") or "\\" in text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
            return fallback
    return target


def local_referrer(default) -> str:
    """The page the request came from, if it is a page of this site (its path), else `default`."""
    referrer = request.referrer or ""
    origin = request.host_url.rstrip("/")
    if referrer.startswith(origin + "/"):
        return local_target(referrer[len(origin):], default)
    return default


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = "desk.login"
    login_manager.session_protection = "strong"
