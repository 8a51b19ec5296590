"""One dossier per rendered application form: each form the portal or the desk draws carries a
random one-time token; the dossier it makes is recorded against the token's hash in the dossier's
own transaction (a unique index), so the same form sent again (Back, then Submit; a double click;
two tabs) finds the first dossier instead of starting a second. The lookup key, of which only a
hash is kept on the dossier, is kept here sealed with the token: whoever sends the form again is
shown the first dossier's key, and the database alone cannot read it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ..models import Dossier, FormSubmission

TOKEN_BYTES = 24


def new_token() -> str:
    """A fresh token for one rendered form."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def usable(token) -> bool:
    """Whether a submitted value can be a form's token (anything else is ignored, never an error)."""
    return isinstance(token, str) and 16 <= len(token) <= 128 and token.isascii()


def _hash(token: str) -> str:
    return hashlib.sha256(b"onestop-form:" + token.encode()).hexdigest()


def _pad(token: str, length: int) -> bytes:
    stream = b""
    counter = 0
    while len(stream) < length:
        stream += hmac.new(token.encode(), b"seal:%d" % counter, hashlib.sha256).digest()
        counter += 1
    return stream[:length]


def _seal(token: str, key: str) -> str:
    raw = key.encode()
    return bytes(a ^ b for a, b in zip(raw, _pad(token, len(raw)), strict=True)).hex()


def _unseal(token: str, sealed: str) -> str:
    raw = bytes.fromhex(sealed)
    return bytes(a ^ b for a, b in zip(raw, _pad(token, len(raw)), strict=True)).decode()


def first_dossier(token) -> Dossier | None:
    """The dossier this form's token already made (its `lookup_key` unsealed), or None."""
    if not usable(token):
        return None
    row = FormSubmission.get_or_none(FormSubmission.token_hash == _hash(token))
    if row is None:
        return None
    dossier = Dossier.get_by_id(row.dossier_id)
    dossier.lookup_key = _unseal(token, row.sealed_key)
    dossier.resubmitted = True
    return dossier


def record(token, dossier, key: str):
    """Inside the transaction storing the dossier: the form's token made it (IntegrityError if the
    token made another one meanwhile, which rolls the new dossier back)."""
    if usable(token):
        FormSubmission.create(token_hash=_hash(token), dossier=dossier.id, sealed_key=_seal(token, key))
