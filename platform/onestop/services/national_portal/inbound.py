"""A dossier the national portal pushes: the signature checked (Standard Webhooks, the shared
secret of options), the centre found by the agency's electronic identity code and the local
procedure by the national procedure code, the dossier received there like any online submission
(new, its clock running, its applicant told) and the statutory receipt answered: the dossier's code,
when it was received, the appointment date, the lookup key.

The same portal dossier pushed again (a retry after a lost answer, a replayed request) makes no
second dossier: the first one's receipt is answered. Every refusal (a forged or expired signature,
an unknown agency or procedure, data the procedure's form does not take) is recorded for the back
office (services.national_portal.sync.refusals) and answered with a code the portal can show."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import IntegrityError
from standardwebhooks.webhooks import WebhookVerificationError

from ...db import write_transaction
from ...models import (
    Centre,
    Dossier,
    PortalDossier,
    PortalRefusal,
    Procedure,
    utcnow,
)
from ...status import Status
from .. import attachments, dossiers
from ..errors import Invalid, ServiceError, shown
from ..users import portal_user
from . import options as portal_options
from .outbox import link_new_dossier

log = logging.getLogger("onestop.national_portal")


class Refused(ServiceError):
    """A push refused for what it says (422), with a code the portal can show: unknown_agency,
    unknown_procedure, invalid."""

    status = 422

    def __init__(self, code, message, details=None):
        super().__init__(message, details=details)
        self.code = code


class Forged(ServiceError):
    """A push whose signature does not check out (forged, altered, expired): nothing is read of it."""

    status = 401
    code = "bad_signature"


class NotConnected(ServiceError):
    """This installation has no secret shared with the portal: every push is refused."""

    status = 503
    code = "not_connected"


@dataclass
class Receipt:
    """The statutory receipt answered to the portal (giấy tiếp nhận và hẹn trả kết quả)."""

    portal_dossier_id: str
    dossier_code: str
    centre: str
    status: Status
    received_at: datetime
    due_at: datetime | None
    lookup_key: str | None  # None when the same dossier is pushed again after a secret's rotation
    duplicate: bool


def verify(body: bytes, headers: dict, address: str | None = None) -> None:
    """Forged (recorded) unless the body carries a valid signature of the shared secret, made
    within the last five minutes; NotConnected if there is no secret."""
    opts = portal_options.current()
    if not opts.secret:
        raise NotConnected("this onestop is not connected to the national portal (no shared secret)")
    try:
        opts.webhook.verify(body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        _refused("forged", str(exc), address=address)
        log.warning("national portal: refused a push with a bad signature from %s: %s", address, exc)
        raise Forged("the request's signature does not check out (webhook-id, webhook-timestamp, "
                     "webhook-signature)") from None


def receive(payload: dict, address: str | None = None) -> Receipt:
    """Receive a verified push (its body already checked against the contract's schema): the
    receipt of the dossier it made, or of the one it made before."""
    portal_id = payload["portal_dossier_id"]
    known = _known(portal_id)
    if known is not None:
        return known
    centre = Centre.get_or_none((Centre.agency_code == payload["agency_code"]) & Centre.closed_on.is_null()) \
        or Centre.get_or_none(Centre.agency_code == payload["agency_code"])
    if centre is None:
        raise _refusal("unknown_agency", f"no centre has the agency code {shown(payload['agency_code'])}", payload,
                       address, field="agency_code")
    procedure_code = _local_procedure(centre.id, payload["procedure_code"])
    if procedure_code is None:
        raise _refusal("unknown_procedure", f"the centre {centre.code} has no procedure with the national code "
                       f"{shown(payload['procedure_code'])}", payload, address, centre, field="procedure_code")
    try:
        uploads = _uploads(payload.get("documents") or [])
        dossier = dossiers.start_dossier(
            portal_user(centre), procedure_code, dict(payload.get("form_data") or {}),
            applicant=payload.get("applicant"), uploads=uploads, channel="online",
            submission=_token(portal_id),
            linked=lambda d, now: link_new_dossier(d, portal_id, payload["procedure_code"], payload["agency_code"], now),
            detail={"national_portal": portal_id})
    except IntegrityError:  # pushed twice at once: the other push stored it
        known = _known(portal_id)
        if known is None:
            raise
        return known
    except ServiceError as exc:
        if isinstance(exc, Refused):
            raise
        details = exc.details if isinstance(exc.details, list) else None
        raise _refusal("invalid", exc.message, payload, address, centre, details=details) from None
    return _receipt(dossier, portal_id, dossier.lookup_key, duplicate=getattr(dossier, "resubmitted", False))


def _known(portal_id: str) -> Receipt | None:
    link = PortalDossier.get_or_none(PortalDossier.portal_id == portal_id)
    if link is None:
        return None
    from ..submissions import first_dossier

    again = first_dossier(_token(portal_id))  # the lookup key, unsealed with the token
    dossier = again if again is not None else Dossier.get_by_id(link.dossier_id)
    return _receipt(dossier, portal_id, getattr(dossier, "lookup_key", None), duplicate=True)


def _receipt(dossier, portal_id, key, duplicate) -> Receipt:
    from ..centres import code_of

    return Receipt(portal_id, dossier.code, code_of(dossier.centre_id), Status(dossier.status),
                   dossier.received_at or dossier.created_at, dossier.due_at, key, duplicate)


def _token(portal_id: str) -> str:
    """The one-time token of the portal's dossier (services.submissions): the same portal dossier
    finds its first dossier and lookup key; without the secret the database cannot unseal the key."""
    secret = portal_options.current().secret.encode()
    return "portal-" + hmac.new(secret, b"national-portal:" + portal_id.encode(), hashlib.sha256).hexdigest()


def _local_procedure(centre_id: int, national_code: str) -> str | None:
    """The centre's procedure of that national code: a procedure's code is the `code` its
    procedure.json declares (services.procedures), which is the national catalogue's code, as the
    catalogue import writes it."""
    found = Procedure.select(Procedure.id).where((Procedure.centre == centre_id) & (Procedure.code == national_code))
    return national_code if found.exists() else None


def _uploads(documents: list) -> dict:
    """The documents as uploads of the form's file fields (field path -> Upload): base64 content,
    or a URL of the portal's own that is fetched now."""
    uploads = {}
    for number, document in enumerate(documents):
        name = document.get("name") or f"document-{number + 1}"
        field = document["field"]
        if document.get("content_base64") is not None:
            try:
                content = base64.b64decode(document["content_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise Invalid(f"documents[{number}].content_base64 is not base64",
                              details=[{"field": f"documents/{number}/content_base64",
                                        "message": "not base64"}]) from None
        else:
            try:
                content = portal_options.current().fetch(document["url"], attachments.store().max_file_bytes)
            except (OSError, ValueError) as exc:
                raise Invalid(f"documents[{number}].url could not be read: {exc}",
                              details=[{"field": f"documents/{number}/url", "message": str(exc)}]) from None
        uploads[field] = attachments.Upload(name, content)
    return uploads


def _has_store() -> bool:
    try:
        attachments.store()
    except Exception:  # no file store in this runtime (a bench): the default limit
        return False
    return True


def _refusal(code, message, payload, address, centre=None, field=None, details=None) -> Refused:
    _refused(code, message, centre, payload, address)
    log.info("national portal: refused %s (%s): %s", payload.get("portal_dossier_id"), code, message)
    if details is None and field:
        details = [{"field": field, "message": message}]
    return Refused(code, message, details)


def _refused(reason, message, centre=None, payload=None, address=None) -> None:
    payload = payload or {}
    with write_transaction():
        PortalRefusal.create(centre=centre.id if centre is not None else None, reason=reason,
                             portal_id=_cut(payload.get("portal_dossier_id"), 128),
                             agency_code=_cut(payload.get("agency_code"), 64),
                             procedure_code=_cut(payload.get("procedure_code"), 128),
                             message=str(message)[:2000], address=_cut(address, 64), at=utcnow())


def _cut(value, limit):
    return str(value)[:limit] if value is not None else None

