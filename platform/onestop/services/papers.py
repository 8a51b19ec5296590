"""Papers digitised once: at the counter each paper of a procedure's document list is scanned or
photographed into its slot (several pages assembled into ONE PDF), the officer confirms the copy
matches the original they saw, and the copy is kept in the citizen's store of the province so that a
later dossier reuses it instead of asking again. Decision 766's digitisation share counts these
papers (services.stats.decision766).

The slots are the procedure record's `documents` (procedure.json); a slot is either scanned now,
filled with a kept copy, received on paper only, or left empty (the paper was not handed in).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

from ..db import run_write
from ..models import Attachment, Centre, CitizenDocument, Dossier, Paper, utcnow
from . import attachments, audit, signing
from .attachments import Blob, Upload
from .errors import Invalid, NotFound, ServiceError

log = logging.getLogger("onestop.services.papers")

MAX_PAGES = 50  # pages of one paper: a thicker one is a file, not a photo series
MAX_PIXELS = 40_000_000  # a page's pixels (a 40 MP camera); more is a decompression bomb, not a photo
A4_LONG_SIDE = 3508  # pixels: an A4 page's long side at 300 dpi, enough to read any paper
SCAN_TYPES = ("image/jpeg", "image/png", "image/tiff", "application/pdf")


class PaperRefused(Invalid):
    """A paper that cannot be taken in as given: `reason` (one of REASONS) says why, for the page to
    tell the officer in their language; `slot` and `page` (1-based) say which."""

    REASONS = ("no_pages", "not_a_scan", "unreadable", "too_many_pages", "too_large", "not_confirmed",
               "not_theirs", "no_slot", "dossier_too_large")

    def __init__(self, message, reason, slot, page=None):
        super().__init__(message)
        self.reason, self.slot, self.page = reason, slot, page


@dataclass
class SlotInput:
    """What the officer did with one document slot at intake."""

    slot: int
    pages: list[Upload] = field(default_factory=list)  # scans or photos, in order
    reuse: int | None = None  # a kept copy's id
    original_seen: bool = False
    confirmed: bool = False  # the copy matches the original
    paper_only: bool = False  # received on paper, not scanned


@dataclass
class Prepared:
    """A slot checked and ready to be recorded after the dossier is stored."""

    slot: int
    title: str
    blob: Blob | None
    pages: int
    original_seen: bool
    confirmed: bool
    reused: CitizenDocument | None = None


def slots(metadata: dict) -> list[str]:
    """The document slots of a procedure: its record's documents list, as titles."""
    out = []
    for item in (metadata or {}).get("documents") or []:
        title = item.get("name") if isinstance(item, dict) else item
        if isinstance(title, str) and title.strip():
            out.append(title.strip()[:500])
    return out


def assemble(slot: int, uploads: list[Upload]) -> tuple[Upload, int]:
    """One PDF of a paper's pages (photos, scans, PDFs, in order) and its page count. A single PDF
    is kept as it is. PaperRefused naming the page when one is not a JPEG, PNG, TIFF or PDF, cannot be
    read, or is too large, or when there are too many pages."""
    uploads = [u for u in uploads if u.content]
    if not uploads:
        raise PaperRefused(f"paper {slot + 1}: no page was scanned", "no_pages", slot + 1)
    limit = attachments.store().max_file_bytes
    if sum(len(u.content) for u in uploads) > limit * 2:
        raise PaperRefused(f"paper {slot + 1}: the pages are larger than {limit // (1024 * 1024)} MiB", "too_large",
                           slot + 1)
    kinds = []
    for number, upload in enumerate(uploads, 1):
        kind = attachments.sniff(upload.content, upload.name)
        if kind not in SCAN_TYPES:
            raise PaperRefused(f"paper {slot + 1}, page {number}: not a photo (JPEG, PNG, TIFF) or a PDF", "not_a_scan",
                               slot + 1, number)
        kinds.append(kind)
    if len(uploads) == 1 and kinds[0] == "application/pdf":
        return uploads[0], _page_count(slot, uploads[0].content)
    import pikepdf  # here, not at the top: a process that never assembles a paper never loads it (~20 MB)

    out = pikepdf.Pdf.new()
    parts = []  # keep every opened part alive until the result is saved
    for number, (upload, kind) in enumerate(zip(uploads, kinds, strict=True), 1):
        content = upload.content if kind == "application/pdf" else _image_pdf(slot, number, upload.content)
        try:
            part = pikepdf.Pdf.open(io.BytesIO(content))
        except pikepdf.PdfError:
            raise PaperRefused(f"paper {slot + 1}, page {number}: the PDF cannot be read", "unreadable", slot + 1,
                               number) from None
        parts.append(part)
        out.pages.extend(part.pages)
        if len(out.pages) > MAX_PAGES:
            raise PaperRefused(f"paper {slot + 1}: more than {MAX_PAGES} pages", "too_many_pages", slot + 1)
    buffer = io.BytesIO()
    out.save(buffer)
    pages = len(out.pages)
    for part in parts:
        part.close()
    return Upload(f"giay-to-{slot + 1}.pdf", buffer.getvalue()), pages


def _page_count(slot, content) -> int:
    import pikepdf

    try:
        with pikepdf.Pdf.open(io.BytesIO(content)) as pdf:
            return len(pdf.pages)
    except pikepdf.PdfError:
        raise PaperRefused(f"paper {slot + 1}: the PDF cannot be read", "unreadable", slot + 1) from None


def _image_pdf(slot, number, content) -> bytes:
    """A photo as a one-page PDF, losslessly when img2pdf can (a JPEG as is). A photo larger than an
    A4 page at 300 dpi (a phone's 12 MP camera) is scaled down to it and stored as JPEG, so that a
    paper of several photographed pages stays within the file limit; a photo with an alpha channel
    (a PNG screenshot) is flattened on white first."""
    import img2pdf  # here, not at the top, as pikepdf above: Pillow and img2pdf are loaded by the first photo
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PaperRefused(f"paper {slot + 1}, page {number}: the photo has more than "
                                   f"{MAX_PIXELS // 1_000_000} MP", "too_large", slot + 1, number)
            redrawn = None
            if image.mode in ("RGBA", "LA", "P") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                redrawn = Image.new("RGB", rgba.size, "white")
                redrawn.paste(rgba, mask=rgba.getchannel("A"))
            if max(image.size) > A4_LONG_SIDE:
                redrawn = (redrawn or image.convert("RGB"))
                redrawn.thumbnail((A4_LONG_SIDE, A4_LONG_SIDE))
        if redrawn is not None:
            buffer = io.BytesIO()
            redrawn.save(buffer, "JPEG" if max(redrawn.size) >= A4_LONG_SIDE else "PNG", quality=85)
            content = buffer.getvalue()
        return img2pdf.convert(content)
    except PaperRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, img2pdf.ImageOpenError, Image.DecompressionBombError):
        raise PaperRefused(f"paper {slot + 1}, page {number}: the photo cannot be read", "unreadable", slot + 1,
                           number) from None


def province_of(centre_id: int) -> int:
    """The province-level centre a centre belongs to (itself when it has no parent): the scope the
    citizens' kept documents are shared in."""
    centre = Centre.get_by_id(centre_id)
    seen = set()
    while centre.parent_id is not None and centre.level != "province" and centre.id not in seen:
        seen.add(centre.id)
        centre = Centre.get_by_id(centre.parent_id)
    return centre.id


def kept_for(actor, citizen_id: str | None) -> list[CitizenDocument]:
    """The documents kept for a citizen in the officer's province, newest first (officers of the
    centre only: the web layer lets only signed-in officers ask)."""
    citizen_id = (citizen_id or "").strip()
    if not citizen_id:
        return []
    return list(CitizenDocument.select().where(
        (CitizenDocument.province == province_of(actor.centre_id)) & (CitizenDocument.citizen_id == citizen_id))
        .order_by(CitizenDocument.kept_at.desc(), CitizenDocument.id.desc()).limit(200))


def prepare(actor, metadata: dict, citizen_id: str | None, given: list[SlotInput]) -> list[Prepared]:
    """Check what the officer did with each slot before the dossier is started: a scan needs the
    original seen and the copy confirmed; a reused copy must be this citizen's, kept in this
    province, and confirmed too. PaperRefused names the paper."""
    titles = slots(metadata)
    kept = {d.id: d for d in kept_for(actor, citizen_id)}
    out = []
    for entry in given:
        if not 0 <= entry.slot < len(titles):
            raise PaperRefused(f"the procedure has no paper {entry.slot + 1}", "no_slot", entry.slot + 1)
        title = titles[entry.slot]
        scanned = any(u.content for u in entry.pages)
        if not scanned and entry.reuse is None:
            if entry.paper_only:
                out.append(Prepared(entry.slot, title, None, 0, entry.original_seen, False))
            continue
        if not (entry.original_seen and entry.confirmed):
            raise PaperRefused(f"paper {entry.slot + 1} ({title}): tick that you saw the original and that the "
                               f"copy matches it", "not_confirmed", entry.slot + 1)
        if scanned:
            upload, pages = assemble(entry.slot, entry.pages)
            blob = attachments.check(f"paper/{entry.slot + 1}", upload)
            out.append(Prepared(entry.slot, title, blob, pages, True, True))
            continue
        document = kept.get(entry.reuse)
        if document is None:
            raise PaperRefused(f"paper {entry.slot + 1} ({title}): that kept copy is not this citizen's", "not_theirs",
                               entry.slot + 1)
        blob = Blob(f"paper/{entry.slot + 1}", document.name, document.media_type,
                    attachments.store().read(document.sha256), document.sha256)
        out.append(Prepared(entry.slot, title, blob, document.pages, True, True, reused=document))
    total = sum(len(p.blob.content) for p in out if p.blob is not None)
    if total > attachments.store().max_dossier_bytes:
        raise PaperRefused(f"a dossier's files may take at most {attachments.store().max_dossier_bytes // (1024 * 1024)}"
                           " MiB", "dossier_too_large", None)
    return out


def record(actor, dossier: Dossier, citizen_id: str | None, prepared: list[Prepared]) -> list[Paper]:
    """Store the papers of a dossier just received: the scans as its attachments, a Paper row per
    slot handed in, and each new scan in the citizen's store; audited."""
    if not prepared:
        return []
    attachments.keep([p.blob for p in prepared if p.blob is not None and p.reused is None])
    province = province_of(dossier.centre_id)
    citizen_id = (citizen_id or "").strip()[:32]

    def write():
        now = utcnow()
        rows = []
        for p in prepared:
            attachment = None
            if p.blob is not None:
                attachment = Attachment.create(
                    centre=dossier.centre_id, dossier=dossier.id, field=p.blob.field, name=p.blob.name,
                    media_type=p.blob.media_type, size=len(p.blob.content), sha256=p.blob.sha256,
                    created_by=actor.id, created_at=now)
                if p.reused is None and citizen_id:
                    CitizenDocument.create(province=province, citizen_id=citizen_id, kind="component", title=p.title,
                                           name=p.blob.name, media_type=p.blob.media_type, size=len(p.blob.content),
                                           sha256=p.blob.sha256, pages=p.pages, dossier=dossier.id, kept_at=now,
                                           kept_by=actor.id)
            rows.append(Paper.create(centre=dossier.centre_id, dossier=dossier.id, slot=p.slot, title=p.title,
                                     attachment=attachment, pages=p.pages, original_seen=p.original_seen,
                                     confirmed_by=actor.id if p.confirmed else None,
                                     confirmed_at=now if p.confirmed else None,
                                     reused_from=p.reused.id if p.reused else None, received_at=now))
        audit.record("dossier.papers_digitised", actor, dossier=dossier, detail={
            "papers": len(rows), "scanned": sum(1 for p in prepared if p.blob is not None and p.reused is None),
            "reused": sum(1 for p in prepared if p.reused is not None),
            "paper_only": sum(1 for p in prepared if p.blob is None)})
        return rows

    return run_write(write)


def keep_results(actor, dossier: Dossier) -> int:
    """Keep a returned dossier's results in the citizen's store, once: its signed result (the PDF
    with legal value, made now if no one downloaded it yet) and the files its steps attached."""
    citizen_id = str((dossier.applicant or {}).get("citizen_id") or "").strip()[:32]
    if not citizen_id or dossier.returned_at is None:
        return 0
    province = province_of(dossier.centre_id)
    results = [(a.name, a.media_type, a.size, a.sha256) for a in Attachment.select().where(
        (Attachment.dossier == dossier.id) & Attachment.task_id.is_null(False))]
    signed = _signed_result(actor, dossier)
    if signed is not None:
        results.insert(0, signed)
    if not results:
        return 0

    def write():
        kept = {d.sha256 for d in CitizenDocument.select(CitizenDocument.sha256).where(
            (CitizenDocument.dossier == dossier.id) & (CitizenDocument.kind == "result"))}
        added = 0
        for name, media_type, size, sha256 in results:
            if sha256 in kept:
                continue
            CitizenDocument.create(province=province, citizen_id=citizen_id, kind="result",
                                   title=dossier.procedure.name[:500] if dossier.procedure_id else name,
                                   name=name, media_type=media_type, size=size, sha256=sha256, pages=1,
                                   dossier=dossier.id, kept_by=actor.id if actor is not None else None)
            kept.add(sha256)
            added += 1
        return added

    return run_write(write)


def _signed_result(actor, dossier: Dossier) -> tuple | None:
    """(name, media type, size, sha256) of the dossier's signed result, or None when it cannot be
    made (no signing key yet, an unreadable uploaded result): the return is not refused for that,
    and the result can still be downloaded once the key is there."""
    try:
        record, _content = signing.result(dossier, actor)
    except ServiceError as exc:
        log.warning("the signed result of %s is not kept in the citizen's store: %s", dossier.code, exc)
        return None
    except Exception:  # the step is done and committed: its officer must not get an error page for this
        log.exception("the signed result of %s could not be made at its return", dossier.code)
        return None
    return record.name, "application/pdf", record.size, record.sha256


def of_dossier(dossier_id: int) -> list[Paper]:
    """The papers taken in with a dossier, by slot."""
    return list(Paper.select().where(Paper.dossier == dossier_id).order_by(Paper.slot))


def digitised(centre_ids, lo, hi, received_at) -> tuple[int, int]:
    """(papers scanned or reused and confirmed, papers received) of the dossiers received at those
    centres in [lo, hi) (`received_at`: the stats' condition naming where a dossier was received)."""
    base = (Paper.select().join(Dossier, on=(Paper.dossier == Dossier.id))
            .where(received_at & (Dossier.received_at >= lo) & (Dossier.received_at < hi)))
    received = base.count()
    confirmed = base.where(Paper.attachment.is_null(False) & Paper.confirmed_by.is_null(False)).count() \
        if received else 0
    return confirmed, received


def document_for(actor, document_id: int) -> tuple[CitizenDocument, bytes]:
    """A kept document of the officer's province and its bytes; NotFound otherwise."""
    document = CitizenDocument.get_or_none((CitizenDocument.id == document_id)
                                           & (CitizenDocument.province == province_of(actor.centre_id)))
    if document is None:
        raise NotFound("no such kept document")
    try:
        return document, attachments.store().read(document.sha256)
    except FileNotFoundError:
        raise NotFound("the kept document's file is missing from the store; tell the administrator") from None
