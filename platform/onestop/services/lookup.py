"""The citizen's lookup key: made when a dossier starts and shown once (on the receipt), kept only
as its hash; with the dossier's code it finds the dossier the citizen may see, and a mismatch never
says which of the two was wrong."""

import hashlib
import hmac
import secrets

from .. import sql
from ..models import Dossier, Procedure, ProcedureVersion
from .errors import NotFound

_KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 letters and digits, none that look alike


def new_lookup_key() -> str:
    """20 characters of a 32-letter alphabet (100 bits), in groups of five."""
    # Each random byte's low five bits pick a letter: 256 is a multiple of 32, so every letter is as
    # likely (what secrets.choice gives, for one read of the OS's randomness instead of twenty).
    key = "".join([_KEY_ALPHABET[b & 31] for b in secrets.token_bytes(20)])
    return "-".join(key[i:i + 5] for i in range(0, 20, 5))


def lookup_hash(key: str) -> str:
    """The stored form of a lookup key (its sha256), dashes, spaces and case ignored."""
    clean = "".join(ch for ch in (key or "").upper() if ch.isalnum())
    return hashlib.sha256(clean.encode()).hexdigest()


def track(code, key) -> Dossier:
    """The dossier a citizen may see with its code and lookup key; NotFound for any mismatch
    (never says which of the two was wrong)."""
    code = (code or "").strip().upper()
    if not code or not key or len(code) > 64 or len(key) > 64:
        raise NotFound("no dossier with that code and lookup key")
    dossier = (Dossier.select(*sql.DOSSIER_HEAD, Procedure, ProcedureVersion)
               .join(Procedure).switch(Dossier).join(ProcedureVersion)
               .where(Dossier.code == code).first())
    if dossier is None or not dossier.lookup_hash or not hmac.compare_digest(dossier.lookup_hash, lookup_hash(key)):
        raise NotFound("no dossier with that code and lookup key")
    return dossier
