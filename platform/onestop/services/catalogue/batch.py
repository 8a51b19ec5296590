"""Importing a catalogue file as drafts, all or nothing; then linting and test-running each draft,
listing the import's drafts for review in bulk, and publishing the chosen ones.

A record whose code already has an unpublished draft at the centre updates that draft (a new
revision, compare-and-set as any save; unchanged files are left alone); a code whose drafts are all
published gets a new draft, which the administrator publishes or not: a version in force is never
changed by an import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...db import write_transaction
from ...models import CatalogueImport, Draft
from .. import audit, drafts, onboarding, unittests
from ..errors import Forbidden, Invalid, NotFound, ServiceError
from . import generate, records

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class Timings:
    """Where an import's time went (seconds), for the bench and the command's summary."""

    read: float = 0.0
    generate: float = 0.0
    store: float = 0.0
    check: float = 0.0
    extra: dict = field(default_factory=dict)


def _authorise(actor):
    if not actor.has_role(*drafts.DRAFT_ROLES):
        raise Forbidden("only an administrator imports a catalogue")


def import_file(actor, file_name: str, content: bytes, run_tests=True, max_bytes=5 * 1024 * 1024,
                timings: Timings | None = None) -> CatalogueImport:
    """Import every record of a catalogue file (JSON or XLSX) as a draft of the actor's centre, then
    lint and test-run each. Raises Invalid with one detail per problem of a row (its row, code,
    column, kind and message) and imports nothing when any row is wrong."""
    _authorise(actor)
    timings = timings or Timings()
    started = time.perf_counter()
    if len(content) > MAX_FILE_BYTES:
        raise Invalid(f"the catalogue file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                      details=[{"row": 0, "kind": "too_large", "message": "the file is too large"}])
    found, problems = records.read(file_name, content)
    timings.read = time.perf_counter() - started
    if problems:
        raise Invalid(f"the catalogue file has {len(problems)} problem(s); nothing was imported",
                      details=[p.as_dict() for p in problems])
    started = time.perf_counter()
    calendar_days = generate.calendar_days_counted()
    made = [generate.generate(record, calendar_days) for record in found]
    timings.generate = time.perf_counter() - started
    started = time.perf_counter()
    batch = _store(actor, file_name, made)
    timings.store = time.perf_counter() - started
    started = time.perf_counter()
    check(actor, batch.id, run_tests, max_bytes)
    timings.check = time.perf_counter() - started
    return CatalogueImport.get_by_id(batch.id)


def _store(actor, file_name, made) -> CatalogueImport:
    """Every generated draft written in one transaction: a failure leaves none of them."""
    with write_transaction():
        open_drafts = _open_drafts(actor.centre_id, {g.record.code for g in made})
        entries = [_stored(actor, g, open_drafts.get(g.record.code), file_name) for g in made]
        batch = CatalogueImport.create(centre=actor.centre_id, imported_by=actor.id, file_name=file_name[:255],
                                       entries=entries)
        counts = {k: sum(1 for e in entries if e["outcome"] == k) for k in ("created", "updated", "unchanged")}
        audit.record("catalogue.imported", actor, detail={"import": batch.id, "file": file_name[:255],
                                                          "records": len(entries), **counts})
    return batch


def _open_drafts(centre_id, codes) -> dict:
    """code -> the newest unpublished draft of the centre for it."""
    out = {}
    query = (Draft.select(Draft.id, Draft.code).where((Draft.centre == centre_id) & Draft.published_version.is_null()
                                                      & Draft.code.in_(list(codes))).order_by(Draft.id))
    for draft in query:
        out[draft.code] = draft.id
    return out


def _stored(actor, made, draft_id, file_name) -> dict:
    record = made.record
    entry = {"row": record.row, "code": record.code, "name": record.name[:300], "pattern": made.pattern,
             "notes": made.notes}
    if draft_id is None:
        draft_id = drafts.create(actor, made.files, f"catalogue {file_name} row {record.row}")
        Draft.update(code=record.code).where(Draft.id == draft_id).execute()
        return entry | {"draft": draft_id, "outcome": "created", "revision": 1}
    state = drafts.state(actor, draft_id)
    now = {f.name: f.content for f in made.files}
    changes = {name: content for name, content in now.items() if (state.file(name) or _NONE).content != content}
    changes |= {f.name: None for f in state.files if f.name not in now}
    if not changes:
        return entry | {"draft": draft_id, "outcome": "unchanged", "revision": state.revision}
    revision = drafts.save(actor, draft_id, changes, state.revision)
    return entry | {"draft": draft_id, "outcome": "updated", "revision": revision}


class _NONE:
    content = None


def check(actor, import_id, run_tests=True, max_bytes=5 * 1024 * 1024) -> list:
    """Test-run and review every draft of an import; keeps and returns what each found."""
    batch = _import(actor, import_id)
    entries = []
    for entry in batch.entries:
        report = unittests.run(actor, entry["draft"], "catalogue", max_bytes) if run_tests else None
        review = onboarding.review(actor, entry["draft"], max_bytes)
        entries.append(entry | summary(review, report))
    with write_transaction():
        CatalogueImport.update(entries=entries).where(CatalogueImport.id == batch.id).execute()
    return entries


def summary(review, report=None) -> dict:
    """What a draft's review and test run say, in counts, and its first error."""
    errors = [f.message for f in review.findings if f.level == "error"]
    errors = [str(p.get("message")) for p in review.problems] if review.model is None else errors
    tests = report or review.tests
    return {"errors": len(errors), "warnings": sum(1 for f in review.findings if f.level == "warning"),
            "first_error": errors[0][:300] if errors else None,
            "passed": tests.passed if tests else 0, "failed": tests.failed if tests else 0,
            "checked_revision": _revision(review.draft_id)}


def _revision(draft_id):
    draft = Draft.get_or_none(Draft.id == draft_id)
    return draft.revision if draft else None


def _import(actor, import_id) -> CatalogueImport:
    batch = CatalogueImport.get_or_none((CatalogueImport.id == import_id) & (CatalogueImport.centre == actor.centre_id))
    if batch is None:
        raise NotFound("no such catalogue import")
    return batch


def imports(actor, limit=50) -> list:
    """The centre's catalogue imports, newest first."""
    _authorise(actor)
    return list(CatalogueImport.select().where(CatalogueImport.centre == actor.centre_id)
                .order_by(CatalogueImport.id.desc()).limit(limit))


FILTERS = ("all", "errors", "warnings", "failed", "clean", "published", "edited")


def entries_of(actor, import_id, show="all") -> tuple[CatalogueImport, list]:
    """An import and its entries as they stand now (published? edited since the check?), filtered:
    errors, warnings, failed (tests), clean (none of those, not published), published, edited."""
    _authorise(actor)
    batch = _import(actor, import_id)
    ids = [e["draft"] for e in batch.entries]
    now = {d.id: d for d in Draft.select(Draft.id, Draft.revision, Draft.published_version).where(Draft.id.in_(ids))}
    out = []
    for entry in batch.entries:
        draft = now.get(entry["draft"])
        entry = entry | {"published_version": draft.published_version if draft else None,
                         "edited": bool(draft and entry.get("checked_revision") not in (None, draft.revision)),
                         "gone": draft is None}
        if _shown(entry, show):
            out.append(entry)
    return batch, out


def _shown(entry, show) -> bool:
    clean = not entry.get("errors") and not entry.get("warnings") and not entry.get("failed")
    return {"all": True, "errors": bool(entry.get("errors")), "warnings": bool(entry.get("warnings")),
            "failed": bool(entry.get("failed")), "clean": clean and not entry["published_version"],
            "published": entry["published_version"] is not None, "edited": entry["edited"]}.get(show, True)


def publish_many(actor, draft_ids, max_bytes=5 * 1024 * 1024) -> list:
    """Publish each draft (onboarding.publish: refused while its review finds errors); one draft
    refused does not stop the others. [(draft id, version number or None, the refusal or None)]."""
    _authorise(actor)
    out = []
    for draft_id in draft_ids:
        try:
            version = onboarding.publish(actor, draft_id, max_bytes)
        except ServiceError as exc:
            out.append((draft_id, None, exc.message))
            continue
        out.append((draft_id, version.version, None))
    return out


def roll_out(actor, import_id, selector):
    """Adopt the versions published from an import's drafts at the centres the selector names below
    the actor's (the existing rollout: services.rollout), all in one run."""
    from ...models import Procedure
    from .. import rollout
    from ..procedures import current_version

    if not actor.has_role("province_admin", "system_admin"):
        raise Forbidden("rolling out is for a province's or the nation's administrators")
    _, entries = entries_of(actor, import_id, "published")
    chosen = []
    for entry in entries:
        procedure = Procedure.get_or_none((Procedure.centre == actor.centre_id) & (Procedure.code == entry["code"]))
        version = current_version(procedure) if procedure is not None and procedure.latest_version else None
        if version is not None and version.published_at is not None:
            chosen.append(version)
    if not chosen:
        raise Invalid("publish some of the import's drafts first: only a published version is rolled out")
    return rollout.rollout(actor, chosen, rollout.targets_in_scope(actor, selector))
