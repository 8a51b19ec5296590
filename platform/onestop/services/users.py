"""Centres, users and API tokens."""

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from .. import sql
from ..db import write_transaction
from ..models import ApiToken, Centre, SignInSession, User, utcnow
from . import audit, codes, runtime
from .errors import Conflict, Forbidden, Invalid, NotFound

# admin: of a centre; province_admin: of a province and its communes; system_admin: the whole country.
ROLES = ("admin", "province_admin", "system_admin", "officer", "leader", "citizen", "integration")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")
_STANDARD = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters (64 MiB, 3 passes)


def _hasher() -> PasswordHasher:
    """The runtime's password hasher: the standard one unless its settings name another (tests: a cheap one)."""
    return runtime.current().passwords or _STANDARD


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_default_centre(agency_code=None) -> Centre:
    """The one centre of the embedded setup; created on first use, with the agency's electronic
    identity code when one is configured (ONESTOP_AGENCY_CODE)."""
    # Read by hand-written SQL: it exists on every start but the first, and composing peewee's
    # get_or_create SELECT cost more than running it (~0.6 ms of CPU an app and an account made).
    centre = sql.centre_by_code("default")
    if centre is None:
        centre, _ = Centre.get_or_create(code="default",
                                         defaults={"name": "Trung tâm phục vụ hành chính công", "level": "centre"})
    if agency_code and centre.agency_code != agency_code:
        if not codes.valid_agency_code(agency_code):
            raise ValueError(f"ONESTOP_AGENCY_CODE {agency_code!r} is not an agency identity code (e.g. H15.50.05.13)")
        with write_transaction():
            Centre.update(agency_code=agency_code).where(Centre.id == centre.id).execute()
            codes.changed()
        centre.agency_code = agency_code
    return centre


def system_user() -> User:
    """The `system` account the command line acts as; created on first use."""
    return User.get_or_none(User.username == "system") or create_user("system", ["admin"], display_name="onestop")


def has_accounts() -> bool:
    """Whether any account besides the system's exists (a first start creates the administrator)."""
    return User.select().where(User.username != "system").exists()


def create_user(username, roles, *, centre=None, password=None, display_name="", actor=None) -> User:
    """Create a user of a centre (the default centre unless given) with the given roles."""
    if not _USERNAME.match(username or ""):
        raise Invalid("a user name is 1-150 letters, digits or . _ @ -")
    roles = sorted({r.strip() for r in roles if r.strip()})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Invalid(f"unknown role {unknown[0]!r}; roles are: {', '.join(ROLES)}")
    centre = centre or ensure_default_centre()
    with write_transaction():
        try:
            user = User.create(
                centre=centre,
                username=username,
                display_name=display_name or username,
                roles=",".join(roles),
                password_hash=_hasher().hash(password) if password else None,
            )
        except IntegrityError:
            raise Conflict(f"user {username!r} already exists") from None
        audit.record("user.created", actor, centre=centre, detail={"username": username, "roles": roles})
    return user


def issue_token(user, label="", actor=None) -> str:
    """A new API token for user; returned once, only its hash is kept."""
    token = "os_" + secrets.token_urlsafe(32)
    with write_transaction():
        ApiToken.create(user=user, token_hash=_token_hash(token), label=label)
        audit.record("token.issued", actor, centre=user.centre, detail={"username": user.username, "label": label})
    return token


def user_for_token(token: str, ahead=None) -> User | None:
    """The active user a bearer token belongs to, or None. `ahead`: a function giving the request's first read (an
    sql.Ahead or None, e.g. steps.task_ahead), made with the user's inside `reads_ahead` where that saves a round
    trip (PostgreSQL; asked nothing elsewhere); the reading function takes its row from there."""
    if not token or len(token) > 200:
        return None
    return sql.user_by_token_hash(_token_hash(token), ahead)


reads_ahead = sql.reads_ahead  # the scope of a request whose token's user is read with its first read


def portal_user(centre=None) -> User:
    """The account a centre's public portal acts as for citizens who submit online without signing in."""
    centre = centre or ensure_default_centre()
    username = "portal" if centre.code == "default" else f"portal.{centre.code}"
    user = User.get_or_none(User.username == username)
    if user is None:
        with write_transaction():
            user, _ = User.get_or_create(username=username, defaults={
                "centre": centre, "display_name": "Cổng dịch vụ công trực tuyến", "roles": "citizen"})
    return user


def get_user(user_id) -> User | None:
    """An active user by id (a signed-in session), or None."""
    try:
        return User.get_or_none((User.id == int(user_id)) & User.active)
    except (TypeError, ValueError):
        return None


def authenticate(username: str, password: str) -> User | None:
    """The active user with that name and password, or None. Every attempt is audited. How many
    attempts a browser may make is the web layer's business (web/throttle.py): an account is never
    locked here, so a stranger who knows a user name cannot lock its officer out."""
    user = User.get_or_none((User.username == (username or "").strip()) & User.active) if username else None
    if user is None:
        _hasher().hash("timing: make a miss cost what a hit costs")
        ok = False
    else:
        ok = check_password(user, password or "")
    with write_transaction():
        audit.record("user.signed_in" if ok else "user.sign_in_failed", user if ok else None,
                     centre=user.centre if user is not None else None, detail={"username": (username or "")[:150]})
    return user if ok else None


MIN_PASSWORD = 10


def set_password(actor, username, password) -> User:
    """Give a user of the actor's centre a new password (the user themself, or an administrator);
    every session the user has open ends, wherever it is."""
    user = User.get_or_none((User.username == username) & (User.centre == actor.centre_id))
    if user is None or (user.id != actor.id and not actor.has_role("admin", "province_admin", "system_admin")):
        raise NotFound(f"no user {username!r}")
    if len(password or "") < MIN_PASSWORD or len(password) > 200:
        raise Invalid(f"a password is {MIN_PASSWORD} to 200 characters")
    with write_transaction():
        User.update(password_hash=_hasher().hash(password)).where(User.id == user.id).execute()
        SignInSession.delete().where(SignInSession.user == user.id).execute()
        audit.record("user.password_changed", actor, centre=user.centre, detail={"username": username})
    return User.get_by_id(user.id)


def change_own_password(actor, current: str, new: str) -> User:
    """The actor's own new password, given their current one: Forbidden (audited) if it is not
    right, else set_password (every session of theirs ends)."""
    if not check_password(actor, current or ""):
        with write_transaction():
            audit.record("user.password_change_refused", actor, centre=actor.centre,
                         detail={"username": actor.username})
        raise Forbidden("the current password is not right")
    return set_password(actor, actor.username, new)


def open_session(user, address: str = "") -> str:
    """A new signed-in session of user; returns its token, which only the browser keeps."""
    token = secrets.token_urlsafe(32)
    with write_transaction():
        SignInSession.create(token_hash=_token_hash(token), user=user.id, address=(address or "")[:64])
    return token


TOUCH_EVERY = timedelta(minutes=1)  # how stale last_seen_at may get: one write a minute, not one a request


def session_user(token: str, idle: timedelta, lifetime: timedelta, now=None) -> User | None:
    """The active user whose session that token is, or None once the session has ended: signed out,
    a new password, left alone longer than `idle`, older than `lifetime`, or never existed. An ended
    session is deleted; a live one is marked as seen now."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    found = sql.sign_in_session(_token_hash(token))
    if found is None:
        return None
    if found.last_seen_at <= now - idle or found.created_at <= now - lifetime:
        close_session(token)
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        with write_transaction():
            SignInSession.update(last_seen_at=now).where(SignInSession.id == found.id).execute()
    return found.user


def close_session(token: str):
    """End one session (signing out)."""
    if token:
        with write_transaction():
            SignInSession.delete().where(SignInSession.token_hash == _token_hash(token)).execute()


def forget_stale_sessions(idle: timedelta, lifetime: timedelta, now=None) -> int:
    """Delete sessions that can no longer be used; returns how many."""
    now = now or utcnow()
    with write_transaction():
        return SignInSession.delete().where((SignInSession.last_seen_at <= now - idle)
                                            | (SignInSession.created_at <= now - lifetime)).execute()


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_KEEP = object()


def update_user(actor, username, *, roles=None, active=None, display_name=None, unit=_KEEP) -> User:
    """Change a user of the actor's centre in one go: roles (never a province's or the nation's
    role the actor does not hold), whether they may sign in, their name, their unit (a code of
    the centre's units, or None for none)."""
    user = User.get_or_none((User.username == username) & (User.centre == actor.centre_id))
    if user is None:
        raise NotFound(f"no user {username!r}")
    changes = {}
    if roles is not None:
        roles = sorted({r.strip() for r in roles if r.strip()})
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise Invalid(f"unknown role {unknown[0]!r}; roles are: {', '.join(ROLES)}")
        if not actor.has_role("system_admin") and set(roles) & {"province_admin", "system_admin"} - actor.role_set:
            raise Forbidden("only an administrator holding that role can give it")
        changes["roles"] = ",".join(roles)
    if active is not None:
        if user.id == actor.id and not active:
            raise Conflict("you cannot lock yourself out")
        changes["active"] = bool(active)
    if display_name is not None:
        changes["display_name"] = display_name.strip()[:255]
    if unit is not _KEEP:
        from .units import get_unit

        changes["unit"] = get_unit(actor, unit).id if unit else None
    if not changes:
        return user
    with write_transaction():
        User.update(**changes).where(User.id == user.id).execute()
        audit.record("user.updated", actor, detail={"username": username} | {
            k: v for k, v in changes.items() if k != "display_name"})
    return User.get_by_id(user.id)
