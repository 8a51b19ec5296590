"""Attachments: the documents a dossier carries, stored outside the web root and handed out only
to those allowed to see the dossier.

Bytes are content-addressed (sha256) under ONESTOP_HOME/files, written before the step that
references them (an unreferenced file is harmless and the same content is stored once); the
metadata rows are written in the step's own transaction. A file's type is read from its content,
not its name, and only document and image types a centre accepts get in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import puremagic
from peewee import fn

from ..models import Attachment, Dossier
from . import runtime
from .errors import Invalid, NotFound, TooLarge

REFERENCE = "attachment:sha256:"
# What a one-stop centre accepts: scans and photos of papers, PDFs, office documents.
ALLOWED = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
}
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*);base64,(?P<data>.*)$", re.S)


@dataclass
class Upload:
    """A file as it arrived: the name the sender gave and its bytes."""

    name: str
    content: bytes


@dataclass
class Blob:
    """A checked file ready to be stored and referenced from a field."""

    field: str
    name: str
    media_type: str
    content: bytes
    sha256: str

    @property
    def reference(self) -> str:
        return REFERENCE + self.sha256


class FileStore:
    """The directory attachments live in, and the limits they obey."""

    def __init__(self, root: Path, max_file_bytes: int, max_dossier_bytes: int):
        self.root = Path(root)
        self.max_file_bytes = max_file_bytes
        self.max_dossier_bytes = max_dossier_bytes

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, blob: Blob):
        target = self.path(blob.sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob.content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)  # atomic: a reader never sees half a file
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def store() -> FileStore:
    """The runtime's store: where attachments go and how large they may be (assemble.build_runtime makes it)."""
    found = runtime.current().files
    if found is None:
        raise RuntimeError("this runtime has no attachment store (onestop.assemble.build_runtime makes one)")
    return found


def safe_name(name: str) -> str:
    """A file name fit to show and to send back: no path, no control characters, at most 120 characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '<>:"|?*')
    name = name.strip(" .") or "tep-dinh-kem"
    stem, dot, ext = name.rpartition(".")
    if len(name) > 120:
        name = (stem[: 110] + "." + ext[:8]) if dot else name[:120]
    return name


def sniff(content: bytes, name: str) -> str | None:
    """The media type the bytes really are, if it is one onestop accepts; else None."""
    try:
        candidates = puremagic.magic_string(content[:65536])
    except puremagic.PureError:
        return None
    allowed = [c for c in candidates if c.mime_type in ALLOWED]
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for c in allowed:  # several types share a signature (docx/xlsx are zips): prefer the one the name says
        if c.extension == extension or ALLOWED[c.mime_type] == extension:
            return c.mime_type
    return allowed[0].mime_type if allowed else None


def check(field: str, upload: Upload) -> Blob:
    """A Blob of an upload, or Invalid/TooLarge saying what is wrong with it."""
    name = safe_name(upload.name)
    limit = store().max_file_bytes
    if len(upload.content) > limit:
        raise TooLarge(f"{name} is larger than {limit // (1024 * 1024)} MiB",
                       field_errors=[_field_error(field, "maxSize", f"the file is larger than {limit // (1024 * 1024)} MiB",
                                                limit // (1024 * 1024))])
    if not upload.content:
        raise Invalid(f"{name} is empty", field_errors=[_field_error(field, "empty", "the file is empty")])
    media_type = sniff(upload.content, name)
    if media_type is None:
        raise Invalid(f"{name} is not a PDF, image or office document", field_errors=[_field_error(
            field, "fileType", "the file must be a PDF, an image (JPEG, PNG, TIFF, WebP) or an office document")])
    return Blob(field, name, media_type, upload.content, hashlib.sha256(upload.content).hexdigest())


def from_data_url(field: str, value: str) -> Blob:
    """A Blob of a data URL (react-jsonschema-form's file value: data:<type>;name=<name>;base64,<data>)."""
    return check(field, upload_of_data_url(field, value))


def upload_of_data_url(field: str, value: str) -> Upload:
    """The Upload a data URL carries (not yet checked)."""
    match = _DATA_URL.match(value)
    if not match:
        raise Invalid("a file must be sent as a data URL (data:<type>;name=<name>;base64,<data>)",
                      field_errors=[_field_error(field, "dataUrl", "not a base64 data URL")])
    params = dict(p.split("=", 1) for p in match["params"].split(";") if "=" in p)
    try:
        content = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("the file's base64 content is damaged",
                      field_errors=[_field_error(field, "dataUrl", "the base64 content is damaged")]) from None
    return Upload(unquote(params.get("name", "tep-dinh-kem")), content)


def file_fields(schema: dict, path=()) -> list[tuple]:
    """The paths (tuples) of a form's file fields (format data-url), nested objects included."""
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if sub.get("format") == "data-url":
            out.append((*path, name))
        elif sub.get("type") == "object":
            out.extend(file_fields(sub, (*path, name)))
    return out


def take(schema: dict | None, data: dict, uploads: dict | None, dossier_id=None) -> tuple[dict, list[Blob]]:
    """Pull the files out of submitted data (data URLs) and uploads (field path -> Upload); each
    field then holds a reference (attachment:sha256:...), and the checked files are returned.
    With the files the dossier (if any) already has, they must stay within the per-dossier limit."""
    uploads = dict(uploads or {})
    blobs = []
    if schema:
        for path in file_fields(schema):
            key = "/".join(path)
            holder = data
            for part in path[:-1]:
                holder = holder.get(part) if isinstance(holder, dict) else None
            upload = uploads.pop(key, None)
            if upload is not None:
                if holder is None:
                    holder = data
                    for part in path[:-1]:
                        holder = holder.setdefault(part, {})
                blob = check(key, upload)
            elif isinstance(holder, dict) and isinstance(holder.get(path[-1]), str) \
                    and holder[path[-1]].startswith("data:"):
                blob = from_data_url(key, holder[path[-1]])
            else:
                continue
            holder[path[-1]] = blob.reference
            blobs.append(blob)
    if uploads:
        raise Invalid(f"the form has no file field {next(iter(uploads))!r}")
    if not blobs:  # no file: nothing to weigh (and no file store needed, as for the engine bench)
        return data, blobs
    total = sum(len(b.content) for b in blobs)
    if dossier_id is not None:
        total += Attachment.select(fn.COALESCE(fn.SUM(Attachment.size), 0)).where(Attachment.dossier == dossier_id).scalar()
    if total > store().max_dossier_bytes:
        limit = store().max_dossier_bytes // (1024 * 1024)
        raise TooLarge(f"a dossier's files may take at most {limit} MiB together",
                       field_errors=[_field_error(b.field, "dossierSize", f"the dossier's files would exceed {limit} MiB",
                                                limit) for b in blobs])
    return data, blobs


def keep(blobs: list[Blob]):
    """Write the files' bytes (before the transaction that references them)."""
    for blob in blobs:
        store().put(blob)


def rows(blobs: list[Blob], dossier, actor, task_id=None) -> list[dict]:
    return [{"centre": dossier.centre_id, "dossier": dossier.id, "field": b.field, "name": b.name,
             "media_type": b.media_type, "size": len(b.content), "sha256": b.sha256, "task_id": task_id,
             "created_by": actor.id if actor is not None else None} for b in blobs]


def record(blobs: list[Blob], dossier, actor, task_id=None):
    """Insert the attachment rows; call inside the step's transaction."""
    if blobs:
        Attachment.insert_many(rows(blobs, dossier, actor, task_id)).execute()


def of_dossier(dossier) -> list[Attachment]:
    return list(Attachment.of_dossier(dossier.id))


def open_for(actor, dossier_code, attachment_id) -> tuple[Attachment, bytes]:
    """An attachment of a dossier of the actor's centre, and its bytes; NotFound otherwise."""
    attachment = (Attachment.select().join(Dossier)
                  .where((Attachment.id == attachment_id) & (Dossier.code == dossier_code)
                         & (Dossier.centre == actor.centre_id)).first())
    if attachment is None:
        raise NotFound("no such attachment on this dossier")
    try:
        return attachment, store().read(attachment.sha256)
    except FileNotFoundError:
        raise NotFound("the attachment's file is missing from the store; tell the administrator") from None


def _field_error(*args):
    # formdefs (jsonschema, jinja2) is imported on a refusal only: the attachment store is built by every
    # command of the CLI, and most never check a form.
    from ..formdefs import FieldError

    return FieldError(*args)
