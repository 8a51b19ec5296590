"""Statutory slips filled from a dossier: what each paper says, ready to be laid out for printing.

So far the receipt and appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả), with a QR code
of the dossier's public tracking address.
"""

from dataclasses import dataclass

import segno

from ..models import Centre
from . import attachments
from .procedures import catalogue_entry


@dataclass
class Receipt:
    centre_name: str
    agency_code: str | None
    code: str
    procedure_name: str
    processing: str
    applicant: dict
    received_at: object
    due_at: object
    files: list
    tracking_url: str
    qr_svg: str


def receipt(actor, dossier, tracking_url: str) -> Receipt:
    """The receipt and appointment slip of a dossier of the actor's centre."""
    entry, _version = catalogue_entry(actor, dossier.procedure.code)
    centre = Centre.get_by_id(dossier.centre_id)
    qr = segno.make(tracking_url, error="m").svg_inline(scale=3, dark="#000", omitsize=False)
    return Receipt(centre.name, centre.agency_code, dossier.code, entry.name, entry.processing,
                   dossier.applicant or {}, dossier.received_at or dossier.created_at, dossier.due_at,
                   attachments.of_dossier(dossier), tracking_url, qr)
