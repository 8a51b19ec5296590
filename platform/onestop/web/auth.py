"""Officers' sign-in (Flask-Login; passwords checked by the users service with argon2)."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import LoginManager, current_user

from ..services.users import get_user

OFFICER_ROLES = ("officer", "leader", "admin")
login_manager = LoginManager()


class SignedIn:
    """The Flask-Login face of a user (kept apart from the model: the web layer's concern)."""

    def __init__(self, user):
        self.user = user
        self.is_authenticated, self.is_active, self.is_anonymous = True, True, False

    def get_id(self):
        return str(self.user.id)


@login_manager.user_loader
def _load(user_id):
    user = get_user(user_id)
    return SignedIn(user) if user is not None else None


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


def safe_next(target) -> str:
    """Where to go after signing in: a page of this site only."""
    if target and not target.isprintable():  # CR/LF and other controls cannot go in a Location header
        target = None
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("desk.worklist")


def init_app(app):
    login_manager.init_app(app)
    login_manager.login_view = "desk.login"
    login_manager.session_protection = "strong"
