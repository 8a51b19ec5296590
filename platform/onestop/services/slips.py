"""Statutory slips filled from a dossier: what each paper says, ready to be laid out for printing:
the receipt and appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) with a QR code of the
dossier's public tracking address, and the process control sheet (Phiếu kiểm soát quá trình giải
quyết hồ sơ): every hand-over from unit to unit, with its deadline and whether it was kept.
"""

from dataclasses import dataclass
from datetime import datetime

import segno

from ..db import run_write
from ..models import AuditEvent, Centre, Dossier, utcnow
from ..status import WITH_RESULT
from . import attachments, audit, payments
from .dossiers import get_dossier, hand_overs
from .errors import NotFound
from .lookup import lookup_hash, new_lookup_key
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
    channel: str = "online"
    papers: list = None  # the paper documents received at the counter, as the officer ticked them
    fees: list = None  # the fees asked online (models.Payment): amount, state, receipt number once paid


def receipt(actor, dossier, tracking_url: str) -> Receipt:
    """The receipt and appointment slip of a dossier of the actor's centre."""
    entry, _version = catalogue_entry(actor, dossier.procedure.code)
    centre = Centre.get_by_id(dossier.centre_id)
    qr = segno.make(tracking_url, error="m").svg_inline(scale=3, dark="#000", omitsize=False)
    return Receipt(centre.name, centre.agency_code, dossier.code, entry.name, entry.processing,
                   dossier.applicant or {}, dossier.received_at or dossier.created_at, dossier.due_at,
                   attachments.of_dossier(dossier), tracking_url, qr, dossier.channel or "online",
                   papers_received(dossier), payments.of_dossier(dossier))


def reissue_lookup_key(actor, code):
    """A new lookup key for a dossier of the actor's centre, for a receipt printed again once the
    first one's key is no longer known (only its hash is kept): the old key stops working. The new
    key is on the returned dossier's `lookup_key`, shown this once."""
    dossier = get_dossier(actor, code)
    key = new_lookup_key()

    def write():
        Dossier.update(lookup_hash=lookup_hash(key), updated_at=utcnow()).where(Dossier.id == dossier.id).execute()
        audit.record("dossier.receipt_reprinted", actor, dossier=dossier, detail={"new_lookup_key": True})

    run_write(write)
    dossier.lookup_key = key
    return dossier


def papers_received(dossier) -> list[str]:
    """The paper documents the officer ticked as received when the dossier was taken at the counter
    (kept on the dossier's start event)."""
    started = (AuditEvent.select(AuditEvent.detail)
               .where(AuditEvent.dossier == dossier.id, AuditEvent.action == "dossier.started").first())
    detail = started.detail if started is not None else None
    papers = detail.get("papers") if isinstance(detail, dict) else None
    return [str(p) for p in papers] if isinstance(papers, list) else []


@dataclass
class HandOver:
    step: str
    from_unit: str
    to_unit: str
    received: object
    due: object
    done: object
    state: str  # completed or cancelled
    by: str | None

    @property
    def on_time(self) -> bool | None:
        """True or False for a step with a deadline that was done; None otherwise."""
        if self.due is None or self.done is None or self.state != "completed":
            return None
        return self.done <= self.due


@dataclass
class ControlSheet:
    centre_name: str
    code: str
    procedure_name: str
    applicant: dict
    received_at: object
    due_at: object
    rows: list
    late_units: list  # the units that kept a step past its deadline, in order


def result_ready(actor, code) -> bool:
    """Whether a dossier of the actor's centre has its result ready (its signed result can be downloaded)."""
    return get_dossier(actor, code).status in WITH_RESULT


def hand_over_rows(dossier, with_people=True) -> list[HandOver]:
    """Each finished task of a person as a hand-over from the unit before to the unit that did it."""
    rows, previous = [], "Người nộp hồ sơ"
    for row in hand_overs(dossier):
        unit = row.lane or "—"
        rows.append(HandOver(row.name or row.element_id, previous, unit, row.started_at, row.due_at, row.done_at,
                             row.state, row.officer if with_people else None))
        previous = unit
    return rows


def late_units(rows) -> list:
    """The units that kept a step past its deadline, each once, in order."""
    late = []
    for row in rows:
        if row.on_time is False and row.to_unit not in late:
            late.append(row.to_unit)
    return late


def control_sheet(actor, code) -> ControlSheet:
    """The process control sheet of a dossier of the actor's centre."""
    dossier = get_dossier(actor, code)
    centre = Centre.get_by_id(dossier.centre_id)
    rows = hand_over_rows(dossier)
    late = late_units(rows)
    return ControlSheet(centre.name, dossier.code, dossier.procedure.name or dossier.procedure.code,
                        dossier.applicant or {}, dossier.received_at or dossier.created_at, dossier.due_at, rows, late)


NOTICES = {
    "supplement": ("dossier.supplement_requested", "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ"),
    "refusal": ("dossier.not_accepted", "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ"),
    "stop": ("dossier.stopped", "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ"),
    "apology": ("dossier.apology", "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"),
}


@dataclass
class Notice:
    kind: str
    title: str
    centre_name: str
    code: str
    procedure_name: str
    applicant: dict
    received_at: object
    at: object  # when the notice was issued
    reason: str
    old_due: object = None  # apology: the date promised before
    new_due: object = None  # apology: the new date


def notice(actor, code, kind) -> Notice:
    """The latest notice of that kind issued for a dossier of the actor's centre (supplement request,
    refusal, stop, apology), from the audit trail; NotFound if none was issued."""
    if kind not in NOTICES:
        raise NotFound(f"no notice of kind {kind!r}")
    action, title = NOTICES[kind]
    dossier = get_dossier(actor, code)
    event = (AuditEvent.select().where((AuditEvent.dossier == dossier.id) & (AuditEvent.action == action))
             .order_by(AuditEvent.id.desc()).first())
    if event is None:
        raise NotFound(f"dossier {dossier.code} has no such notice")
    detail = event.detail or {}
    centre = Centre.get_by_id(dossier.centre_id)
    parse = datetime.fromisoformat
    return Notice(kind, title, centre.name, dossier.code, dossier.procedure.name or dossier.procedure.code,
                  dossier.applicant or {}, dossier.received_at or dossier.created_at, event.at,
                  str(detail.get("reason") or ""), parse(detail["from"]) if detail.get("from") else None,
                  parse(detail["to"]) if detail.get("to") else None)
