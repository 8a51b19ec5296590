"""A centre's connector secrets: saved encrypted (Fernet, with the installation's connector key, never
in the database in clear), listed by name only, and put into a call's parameters where a model names
them — `SPIFF_SECRET:name` anywhere in a string value, or a whole value `secret:name`, as SpiffArena
writes them. Nothing here returns a saved value to a caller but the connector that sends it."""

import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import InvalidToken
from peewee import JOIN

from ...db import write_transaction
from ...models import ConnectorSecret, User, utcnow
from .. import audit
from ..errors import Forbidden, Invalid, NotFound
from .options import ConnectorFailure, current

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ANYWHERE = re.compile(r"\bSPIFF_SECRET:(\w+)")
_WHOLE = "secret:"
MAX_VALUE_CHARS = 16_384
MASK = "********"
MANAGERS = ("admin", "province_admin", "system_admin")


@dataclass(frozen=True)
class SecretRow:
    """What the back office shows of a secret: its name, when it was saved and by whom. Never its value."""

    name: str
    updated_at: datetime
    updated_by: str


def _manager(actor):
    if not actor.has_role(*MANAGERS):
        raise Forbidden("connector secrets are managed by the centre's administrator")


def save_secret(actor, name: str, value: str) -> None:
    """Save (or replace) a secret of the actor's centre, encrypted. Audited by name, never by value."""
    _manager(actor)
    name = (name or "").strip()
    if not NAME.match(name):
        raise Invalid("a secret's name is letters, digits and _ (at most 64, not starting with a digit), "
                      "as a model writes it after SPIFF_SECRET:")
    if not value:
        raise Invalid("a secret needs a value")
    if len(value) > MAX_VALUE_CHARS:
        raise Invalid(f"a secret is at most {MAX_VALUE_CHARS} characters")
    try:
        cipher = current().cipher
    except ConnectorFailure as exc:  # a runtime built without the key: said, not a server error
        raise Invalid(exc.message) from None
    ciphertext = cipher.encrypt(value.encode()).decode()
    with write_transaction():
        replaced = (ConnectorSecret.update(ciphertext=ciphertext, updated_by=actor.id, updated_at=utcnow())
                    .where((ConnectorSecret.centre == actor.centre_id) & (ConnectorSecret.name == name)).execute())
        if not replaced:
            ConnectorSecret.create(centre=actor.centre_id, name=name, ciphertext=ciphertext, updated_by=actor.id)
        audit.record("connector.secret_saved", actor, detail={"name": name, "replaced": bool(replaced)})


def delete_secret(actor, name: str) -> None:
    """Delete a secret of the actor's centre; the models that name it fail with a plain message."""
    _manager(actor)
    with write_transaction():
        gone = (ConnectorSecret.delete()
                .where((ConnectorSecret.centre == actor.centre_id) & (ConnectorSecret.name == name)).execute())
        if not gone:
            raise NotFound(f"no secret named {name[:64]!r} in this centre")
        audit.record("connector.secret_deleted", actor, detail={"name": name})


def secrets_of(actor) -> list[SecretRow]:
    """The names of the actor's centre's secrets (no values), by name."""
    _manager(actor)
    rows = (ConnectorSecret.select(ConnectorSecret.name, ConnectorSecret.updated_at, User.username)
            .join(User, on=(ConnectorSecret.updated_by == User.id), join_type=JOIN.LEFT_OUTER)
            .where(ConnectorSecret.centre == actor.centre_id).order_by(ConnectorSecret.name).tuples())
    return [SecretRow(name, at, who or "") for name, at, who in rows]


def reveal(centre_id, name: str) -> str:
    """A secret's value, for the connector that sends it (and nothing else)."""
    row = ConnectorSecret.get_or_none((ConnectorSecret.centre == centre_id) & (ConnectorSecret.name == name))
    if row is None:
        raise ConnectorFailure(f"the model names the secret {name!r}, which this centre has not saved "
                               "(back office: Kết nối → Bí mật)")
    try:
        return current().cipher.decrypt(row.ciphertext.encode()).decode()
    except InvalidToken:
        raise ConnectorFailure(f"the secret {name!r} was saved with another connector key and cannot be read; "
                               "save it again") from None


class Secrets:
    """The secrets one call uses: fills them into its parameters and masks them in whatever leaves it
    (messages, logs, the result mapped into a dossier's data)."""

    def __init__(self, centre_id):
        self.centre_id, self.used = centre_id, {}

    def _value(self, name):
        if name not in self.used:
            self.used[name] = reveal(self.centre_id, name)
        return self.used[name]

    def fill(self, value):
        """The value with every secret it names put in (dicts and lists walked)."""
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if not isinstance(value, str):
            return value
        if value.startswith(_WHOLE) and NAME.match(value[len(_WHOLE):]):
            return self._value(value[len(_WHOLE):])
        return _ANYWHERE.sub(lambda m: self._value(m.group(1)), value)

    def mask(self, value):
        """The value with every secret this call used replaced by a mask (dicts and lists walked)."""
        if isinstance(value, dict):
            return {self.mask(k): self.mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask(v) for v in value]
        if not isinstance(value, str):
            return value
        for secret in sorted(self.used.values(), key=len, reverse=True):
            if secret:
                value = value.replace(secret, MASK)
        return value


_IN_CALL: ContextVar = ContextVar("onestop_connector_secrets", default=None)


@contextmanager
def masking(secrets: Secrets):
    """A block (one connector call) in which the HTTP library's log lines have this call's secrets
    masked: urllib3 logs the requested path at DEBUG, and a model may put a secret in a query string."""
    token = _IN_CALL.set(secrets)
    try:
        yield secrets
    finally:
        _IN_CALL.reset(token)


class _MaskingFilter(logging.Filter):
    def filter(self, record):
        secrets = _IN_CALL.get()
        if secrets is not None and secrets.used:
            record.msg, record.args = secrets.mask(record.getMessage()), ()
        return True


for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.response"):
    logging.getLogger(_name).addFilter(_MaskingFilter())
