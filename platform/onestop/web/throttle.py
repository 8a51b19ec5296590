"""What strangers may try, and how often: wrong passwords, wrong lookup keys, anonymous submissions.

Failed sign-ins (counted only when the password is wrong; a throttled attempt is not even checked):
- a browser that has signed in to the account before (a signed `device` cookie naming it) is
  counted on its own: DEVICE_FAILURES per (account, browser), and nothing anyone else does slows it;
- any other browser is counted per (account, address) (PAIR_FAILURES), per address over all
  accounts (ADDRESS_FAILURES: one address spraying user names), and per account over all unknown
  browsers (ACCOUNT_FAILURES: many addresses guessing one account). The last one can make a new
  browser wait for a while, never the counter PC the officer used before; no account is ever
  locked, whatever strangers do.

Lookup keys: the right key is always checked and always works, also behind a carrier's shared
address and for a dossier under attack; a wrong one is counted per dossier
(KEY_MISSES_PER_DOSSIER) and per address (KEY_MISSES_PER_ADDRESS), and past either limit it is
answered 429 with Retry-After instead of 404. The portal's page, its QR link, its applicant
actions and the rating API share one count. What keeps a key from being guessed is its 100 bits,
not these limits: since the right key is never refused, they make guessing visible and cheap to
answer without shutting out anyone who holds the key.

Files checked on the public verification page: per address (VERIFY_UPLOADS_PER_ADDRESS).

Anonymous submissions: per address and per procedure of a centre (settings, the `limits`
notation, e.g. "20 per hour"), counted when a valid application is about to be stored.
"""

import ipaddress
import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..ratelimit import Limit

DEVICE_FAILURES = Limit("signin-device", "5 per 15 minutes")
PAIR_FAILURES = Limit("signin-pair", "5 per 15 minutes")
ADDRESS_FAILURES = Limit("signin-address", "30 per 15 minutes")
ACCOUNT_FAILURES = Limit("signin-account", "20 per 15 minutes")

KEY_MISSES_PER_DOSSIER = Limit("key-miss-dossier", "20 per hour")
KEY_MISSES_PER_ADDRESS = Limit("key-miss-address", "100 per hour")

# Files checked on /verify: each check costs a child process a second or two of CPU.
VERIFY_UPLOADS_PER_ADDRESS = Limit("verify-address", "60 per hour")

DEVICE_COOKIE = "onestop_device"
DEVICE_DAYS = 180
DEVICE_ACCOUNTS = 20  # a shared counter PC remembers this many officers


def client_address() -> str:
    """The client's address as limits count it: an IPv6 client by its /64 (one subscriber's network)."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


# --- sign-in --------------------------------------------------------------------------------------


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="onestop.device")


def _device() -> dict:
    """The browser's device cookie: {"d": its id, "u": [account names it signed in to]}, or empty."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 4096:
        return {}
    try:
        value = _serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return {}
    return value if isinstance(value, dict) and isinstance(value.get("u"), list) else {}


def _account(username) -> str:
    return (username or "").strip().lower()[:150]


def _known_device(username):
    device = _device()
    return device.get("d") if _account(username) in device.get("u", []) else None


def sign_in_wait(username) -> int | None:
    """Seconds this browser must wait before trying a password for the account, or None to go ahead."""
    account, device = _account(username), _known_device(username)
    if device:
        checks = [(DEVICE_FAILURES, (account, device))]
    else:
        address = client_address()
        checks = [(PAIR_FAILURES, (account, address)), (ADDRESS_FAILURES, (address,)),
                  (ACCOUNT_FAILURES, (account,))]
    counts = _limiter()
    waits = [counts.retry_after(limit, *key) for limit, key in checks if counts.exceeded(limit, *key)]
    return max(waits) if waits else None


def sign_in_failed(username):
    """Count a wrong password for the account from this browser."""
    account, device, counts = _account(username), _known_device(username), _limiter()
    if device:
        counts.hit(DEVICE_FAILURES, account, device)
        return
    address = client_address()
    counts.hit(PAIR_FAILURES, account, address)
    counts.hit(ADDRESS_FAILURES, address)
    counts.hit(ACCOUNT_FAILURES, account)


def signed_in(username, response):
    """After the right password: this browser is known to the account from now on (the cookie is
    set on the response), and its own failures are forgotten."""
    account, device = _account(username), _device()
    device_id = device.get("d") or secrets.token_urlsafe(16)
    accounts = [a for a in device.get("u", []) if a != account][-(DEVICE_ACCOUNTS - 1):] + [account]
    settings = current_app.config["ONESTOP"]
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps({"d": device_id, "u": accounts}),
                        max_age=DEVICE_DAYS * 86400, path="/desk/login", httponly=True, samesite="Lax",
                        secure=settings.secure_cookies)
    _limiter().clear(DEVICE_FAILURES, account, device_id)
    _limiter().clear(PAIR_FAILURES, account, client_address())
    return response


# --- lookup keys ----------------------------------------------------------------------------------


def wrong_key(code) -> int | None:
    """Count a wrong lookup key for the dossier code from this address; the seconds to wait when
    a limit is used up (answer 429), else None (answer 404)."""
    dossier, address, counts = (code or "").strip().upper()[:64], client_address(), _limiter()
    if not counts.hit(KEY_MISSES_PER_DOSSIER, dossier):
        return counts.retry_after(KEY_MISSES_PER_DOSSIER, dossier)
    if not counts.hit(KEY_MISSES_PER_ADDRESS, address):
        return counts.retry_after(KEY_MISSES_PER_ADDRESS, address)
    return None


def verify_wait() -> int | None:
    """Count one file checked on /verify from this address; the seconds to wait once its share is used."""
    counts = _limiter()
    if not counts.hit(VERIFY_UPLOADS_PER_ADDRESS, client_address()):
        return counts.retry_after(VERIFY_UPLOADS_PER_ADDRESS, client_address())
    return None


# --- anonymous submissions ------------------------------------------------------------------------


def check_settings(settings):
    """Refuse to start with a submission limit the `limits` notation cannot read (rather than
    answering every submission with an error)."""
    for name in ("submissions_per_address", "submissions_per_procedure"):
        try:
            Limit(name, getattr(settings, name))
        except ValueError:
            raise ValueError(f"{name}: {getattr(settings, name)!r} is not a rate such as '20 per hour'") from None


def submission_wait(centre_id, procedure_code, count=True) -> int | None:
    """Count one anonymous submission (or only look, with count=False); the seconds to wait if this
    address or this procedure has had its share, else None (go ahead)."""
    settings = current_app.config["ONESTOP"]
    checks = [(Limit("submit-address", settings.submissions_per_address), (client_address(),)),
              (Limit("submit-procedure", settings.submissions_per_procedure), (centre_id, procedure_code))]
    counts = _limiter()
    for limit, key in checks:
        if counts.exceeded(limit, *key):
            return counts.retry_after(limit, *key)
    if count:
        for limit, key in checks:
            if not counts.hit(limit, *key):  # another request took the last place meanwhile
                return counts.retry_after(limit, *key)
    return None


def _limiter():
    """The counts of the app's runtime (in Redis in production, shared by every web process)."""
    return current_app.extensions["onestop.runtime"].limiter
