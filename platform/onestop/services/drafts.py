"""Drafts edited in the back office: opened from the version in force or from files (a template, an
upload), read, and saved file by file with compare-and-set on the draft's revision.

A save names the revision it was based on. If another administrator saved in between, the save is
refused with a Conflict naming who saved and when; the caller still holds what it sent, so nothing
is lost (the modeller offers to keep it as a new draft). A published draft is frozen: the version
it became is in force, and changing it means opening a new draft.
"""

import io
import zipfile
from dataclasses import dataclass

from ..db import write_transaction
from ..engine import SourceFile, classify
from ..models import Draft, Procedure, User, utcnow
from . import audit
from .errors import Conflict, Forbidden, Invalid, NotFound
from .procedures import MAX_FILES, Upload, current_version, model_files, unpack

DRAFT_ROLES = ("admin", "province_admin", "system_admin")


@dataclass(frozen=True)
class DraftState:
    """A draft as the editor sees it: its files, the revision to base the next save on, and who saved last."""

    draft_id: int
    revision: int
    files: tuple  # SourceFile, sorted by name
    code: str | None
    published_version: int | None
    edited_by: str | None  # the name of whoever saved last (or uploaded it)
    edited_at: object  # naive UTC datetime, or None

    def file(self, name) -> SourceFile | None:
        return next((f for f in self.files if f.name == name), None)


def pack(files) -> bytes:
    """Files as the zip a draft keeps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in sorted(files, key=lambda f: f.name):
            archive.writestr(f.name, f.content)
    return buffer.getvalue()


def unpacked(data: bytes) -> list:
    """The files a draft keeps, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sorted((SourceFile(name, archive.read(name)) for name in archive.namelist()), key=lambda f: f.name)


def _authorise(actor):
    if not actor.has_role(*DRAFT_ROLES):
        raise Forbidden("only an administrator edits procedures")


def _draft(actor, draft_id) -> Draft:
    draft = Draft.get_or_none((Draft.id == draft_id) & (Draft.centre == actor.centre_id))
    if draft is None:
        raise NotFound("no such draft")
    return draft


def state(actor, draft_id) -> DraftState:
    """A draft of the actor's centre with its files and revision."""
    draft = _draft(actor, draft_id)
    editor = draft.edited_by_id or draft.created_by_id
    name = None
    if editor is not None:
        user = User.get_or_none(User.id == editor)
        name = (user.display_name or user.username) if user is not None else None
    return DraftState(draft.id, draft.revision or 1, tuple(unpacked(bytes(draft.files))), draft.code,
                      draft.published_version, name, draft.edited_at or draft.created_at)


def create(actor, files, origin: str, code: str | None = None) -> int:
    """A new draft of the actor's centre holding `files` (from a template, an import, a copy);
    `origin` says where they came from, for the audit trail; `code`, the procedure's code when the
    caller already knows it (the review sets it otherwise). Returns the draft's id."""
    _authorise(actor)
    files = list(files)
    if not files:
        raise Invalid("a draft needs at least a BPMN model")
    with write_transaction():
        draft = Draft.create(centre=actor.centre_id, created_by=actor.id, files=pack(files), code=code,
                             edited_by=actor.id, edited_at=utcnow())
        audit.record("draft.created", actor, detail={"draft": draft.id, "origin": origin[:200],
                                                     "files": sorted(f.name for f in files)})
    return draft.id


def open_version(actor, code) -> int:
    """A new draft holding the files of the version of `code` in force at the actor's centre."""
    procedure = Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == code))
    if procedure is None or not procedure.latest_version:
        raise NotFound("no such procedure")
    version = current_version(procedure)
    return create(actor, model_files(version), f"{code} version {version.version}")


def save(actor, draft_id, changes: dict, revision: int, max_bytes=5 * 1024 * 1024) -> int:
    """Write `changes` ({file name: bytes, or None to remove the file}) into the draft if it is still
    at `revision`; returns the new revision. Raises Conflict when someone saved in between or the
    draft was published, Invalid for a file name onestop would not read."""
    _authorise(actor)
    for name, content in changes.items():
        if content is not None:
            unpack([Upload(name, content)], max_bytes)  # the size limit, as for an upload
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") \
                or classify(name) == "other":
            raise Invalid(f"a draft keeps BPMN, DMN and JSON files, not {name!r}")
    with write_transaction():
        draft = _draft(actor, draft_id)
        files = {f.name: f for f in unpacked(bytes(draft.files))}
        for name, content in changes.items():
            if content is None:
                files.pop(name, None)
            else:
                files[name] = SourceFile(name, bytes(content))
        if len(files) > MAX_FILES:
            raise Invalid(f"too many files ({len(files)}); at most {MAX_FILES}")
        if not any(classify(name) == "bpmn" for name in files):
            raise Invalid("a draft needs at least a BPMN model")
        updated = (Draft.update(files=pack(files.values()), revision=Draft.revision + 1, edited_by=actor.id,
                                edited_at=utcnow())
                   .where((Draft.id == draft.id) & (Draft.revision == revision)
                          & Draft.published_version.is_null())
                   .execute())
        if not updated:
            raise _stale(actor, draft_id)
        audit.record("draft.saved", actor, detail={"draft": draft.id, "revision": revision + 1,
                                                   "files": sorted(changes)})
    return revision + 1


def _stale(actor, draft_id) -> Conflict:
    now = state(actor, draft_id)
    if now.published_version is not None:
        return Conflict(f"this draft was published as version {now.published_version}; open the procedure "
                        "again to change it (your changes are still on the page)",
                        details={"revision": now.revision, "published_version": now.published_version})
    when = now.edited_at.strftime("%H:%M %d/%m/%Y UTC") if now.edited_at else ""
    return Conflict(f"{now.edited_by or 'another administrator'} saved this draft at {when} after you opened it; "
                    "your changes are still on the page: keep them as a new draft, or reload theirs",
                    details={"revision": now.revision, "edited_by": now.edited_by})
