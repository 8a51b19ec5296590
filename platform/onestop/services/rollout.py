"""Procedure packs, templates and their rollout to centres.

A *pack* is a zip of procedure folders with a manifest of every file's sha256; it is verified and
every procedure in it compiled before anything is stored (all or nothing). Stored at a province's
or the nation's centre, its versions are *published* as templates. A centre below *adopts* a
template: its procedure gets a version that runs the template's model (nothing is stored twice),
and keeps the centre's *local overrides* (which role does each lane's tasks, local fees, the
agency's name), which live apart from the versions and so survive the next template version.

`rollout` adopts templates at many centres: one transaction per centre, so it can be stopped and
run again; a centre already at the template is left as it is.
"""

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field

from peewee import fn

from .. import boundedjson, sql
from ..db import write_transaction
from ..engine import SourceFile, classify
from ..models import Centre, LocalOverride, Procedure, ProcedureVersion, utcnow
from . import audit, levels, runtime, search, units
from .errors import Forbidden, Invalid, NotFound, TooLarge, shown
from .onboarding import lint
from .procedures import LANE_ROLES, checked_model, get_procedure, model_files, model_for, store_version
from .versions import diff, diff_models  # noqa: F401 (diff_models: where onboarding and older callers find it)

PACK_FORMAT = "onestop-pack/1"
OVERRIDABLE = ("lanes", "fee_vnd", "fee_note", "agency")  # what the law lets a centre adapt
MAX_PACK_BYTES = 200 * 1024 * 1024
OVERRIDE_CACHE_SECONDS = 60.0


@dataclass
class PackEntry:
    folder: str
    files: list
    parsed: object = None


@dataclass
class Outcome:
    centre: str
    code: str
    outcome: str  # adopted | kept_override | unchanged | conflict | other_level
    version: int | None = None
    detail: str = ""


@dataclass
class RolloutReport:
    outcomes: list = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict:
        out = {}
        for o in self.outcomes:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out


# -- packs ----------------------------------------------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_pack(actor, codes=None) -> bytes:
    """The actor's centre's procedures (all, or those codes) at their current version, as a pack."""
    query = Procedure.select().where((Procedure.centre == actor.centre_id) & (Procedure.latest_version > 0))
    if codes:
        query = query.where(Procedure.code.in_(list(codes)))
    procedures = list(query.order_by(Procedure.code))
    missing = set(codes or ()) - {p.code for p in procedures}
    if missing:
        raise NotFound(f"no procedure {shown(sorted(missing)[0])}")
    manifest = {"format": PACK_FORMAT, "created_at": utcnow().isoformat(timespec="seconds"), "procedures": []}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for procedure in procedures:
            version = ProcedureVersion.get((ProcedureVersion.procedure == procedure)
                                           & (ProcedureVersion.version == procedure.latest_version))
            folder = procedure.code
            files = model_files(version)
            for f in files:
                archive.writestr(f"{folder}/{f.name}", f.content)
            manifest["procedures"].append({
                "code": procedure.code, "version": version.version, "folder": folder,
                "content_hash": version.content_hash, "start": version.start_id,
                "files": {f.name: _sha256(f.content) for f in files}})
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return buffer.getvalue()


def read_pack(data: bytes, max_bytes=5 * 1024 * 1024) -> list[PackEntry]:
    """Open and verify a pack: the manifest, every file's hash, nothing extra or missing, and every
    procedure compiled. Raises Invalid listing every problem; changes nothing."""
    archive, members, manifest = _open_pack(data)
    problems, entries, listed = [], [], {"manifest.json"}
    for item in manifest["procedures"]:
        if not isinstance(item, dict) or not isinstance(item.get("folder"), str) \
                or not isinstance(item.get("files"), dict) or not item["files"]:
            problems.append({"file": "manifest.json", "message": "each procedure needs a folder and its files"})
            continue
        folder, files = item["folder"], []
        for name, digest in item["files"].items():
            path = f"{folder}/{name}"
            listed.add(path)
            member = members.get(path)
            if member is None:
                problems.append({"file": path, "message": "listed in the manifest but missing"})
                continue
            if member.file_size > max_bytes or classify(name) == "other":
                problems.append({"file": path, "message": "too large, or not a model, form or procedure.json"})
                continue
            content = archive.read(member)
            if _sha256(content) != digest:
                problems.append({"file": path, "message": "its sha256 differs from the manifest's: altered or damaged"})
                continue
            files.append(SourceFile(name, content))
        entries.append(PackEntry(folder, files))
    problems += [{"file": name, "message": "not listed in the manifest"} for name in sorted(set(members) - listed)]
    for entry in entries:
        if not entry.files:
            continue
        try:
            entry.parsed = checked_model(entry.files, max_bytes=max_bytes)
        except Invalid as exc:
            problems += [d | {"file": f"{entry.folder}/{d.get('file') or ''}".rstrip("/")} for d in exc.details or
                         [{"message": exc.message}]]
    if not problems:
        # Published as templates, a pack's procedures go before citizens: the back office's lint
        # blocks the same errors here as when an administrator publishes a draft. (Linted only once
        # the pack is intact: a file left out for its hash would make every finding a false one.)
        problems = [{"file": e.folder, "element_id": f.element_id, "message": f.message}
                    for e in entries if e.parsed is not None for f in lint(e.parsed) if f.blocks_publishing]
    if problems:
        first = problems[0]
        raise Invalid(f"the pack was refused, nothing was changed: {len(problems)} problem(s), the first in "
                      f"{first.get('file') or 'the pack'}: {first['message']}", details=problems)
    return entries


def _open_pack(data: bytes):
    """(the zip, its files by name, its manifest) of a pack of the allowed size and format; else
    TooLarge or Invalid."""
    if len(data) > MAX_PACK_BYTES:
        raise TooLarge(f"the pack is larger than {MAX_PACK_BYTES // (1024 * 1024)} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {m.filename: m for m in archive.infolist() if not m.is_dir()}
        manifest = boundedjson.loads(archive.read("manifest.json")) if "manifest.json" in members else None
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, RuntimeError):
        raise Invalid("the pack is not a readable zip with a manifest.json") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT \
            or not isinstance(manifest.get("procedures"), list):
        raise Invalid(f'the pack has no manifest.json of format "{PACK_FORMAT}"')
    return archive, members, manifest


def publish(actor, centre, entries) -> list:
    """Store a verified pack's procedures at the centre and publish them as templates, in one
    transaction: [(version, created)]."""
    with write_transaction():
        stored = [store_version(actor, centre.id, e.files, e.parsed, published=True) for e in entries]
        audit.record("pack.published", actor, centre=centre,
                     detail={"procedures": [f"{v.procedure.code} v{v.version}" for v, _ in stored]})
    return stored


# -- adoption -------------------------------------------------------------------------------------

def template_for(centre, code) -> ProcedureVersion | None:
    """The newest published version of the procedure at the nearest centre above (the province,
    then the nation)."""
    parent_id, seen = centre.parent_id, 0
    while parent_id is not None and seen < 5:
        version = (ProcedureVersion.select().join(Procedure)
                   .where((Procedure.centre == parent_id) & (Procedure.code == code)
                          & ProcedureVersion.published_at.is_null(False))
                   .order_by(ProcedureVersion.version.desc()).first())
        if version is not None:
            return version
        parent_id = Centre.select(Centre.parent).where(Centre.id == parent_id).scalar()
        seen += 1
    return None


@dataclass
class _Row:
    id: int
    latest_version: int


@dataclass
class _Current:
    version: int
    content_hash: str
    template_version_id: int | None


_CURRENT_SQL = (
    'SELECT p."id", p."code", p."latest_version", v."version", v."content_hash", v."template_version_id" '
    'FROM "procedure" p LEFT JOIN "procedureversion" v ON v."procedure_id" = p."id" AND v."version" = p."latest_version" '
    'WHERE p."centre_id" = ? AND p."code" IN ({})'
)


def _current(centre_id, codes) -> dict:
    """code -> (procedure, its current version or None) at the centre: one plain query."""
    rows = sql.run(_CURRENT_SQL.format(",".join("?" * len(codes))), [centre_id, *codes]).fetchall()
    return {code: (_Row(pid, latest), _Current(number, content_hash, template) if number is not None else None)
            for pid, code, latest, number, content_hash, template in rows}


def _decide(centre, template, code, current, force, overridden) -> Outcome:
    """What adopting the template means at the centre (nothing written): the outcome, with the
    version number it will get."""
    procedure, latest = current if current else (None, None)
    if latest is not None and latest.template_version_id == template.id:
        return Outcome(centre.code, code, "unchanged", latest.version)
    if latest is not None and latest.template_version_id is None and not force \
            and latest.content_hash != template.content_hash:
        return Outcome(centre.code, code, "conflict", latest.version,
                       f"v{latest.version} was uploaded by the centre itself; adopt with force to replace it")
    kept = procedure is not None and procedure.id in overridden
    return Outcome(centre.code, code, "kept_override" if kept else "adopted",
                   (procedure.latest_version if procedure else 0) + 1,
                   "the centre's local overrides still apply" if kept else "")


_PROCEDURE_COLUMNS = ("centre_id", "code", "name", "latest_version", "created_at", "updated_at")
_VERSION_COLUMNS = ("procedure_id", "version", "content_hash", "dialect", "start_kind", "start_id", "process_ids",
                    "warnings", "metadata", "has_scripts", "compiled", "start_form", "template_version_id",
                    "created_by_id", "created_at")


def _adopt_at(actor, centre, templates, codes, force) -> list[Outcome]:
    """Adopt the templates at one centre, in the caller's transaction, with a few statements
    whatever the number of procedures (a nationwide rollout runs this thousands of times)."""
    current = _current(centre.id, codes)
    overridden = _overridden(centre.id)
    outcomes = [_decide(centre, t, c, current.get(c), force, overridden) for t, c in zip(templates, codes, strict=True)]
    adopting = [(t, c, o) for t, c, o in zip(templates, codes, outcomes, strict=True)
                if o.outcome in ("adopted", "kept_override")]
    if not adopting:
        return outcomes
    now = utcnow()
    new = [(centre.id, c, t.procedure.name, 1, now, now) for t, c, _ in adopting if c not in current]
    sql.insert_rows("procedure", _PROCEDURE_COLUMNS, new)
    ids = {code: pid for pid, code in Procedure.select(Procedure.id, Procedure.code).where(
        (Procedure.centre == centre.id) & Procedure.code.in_([c for _, c, _ in adopting])).tuples()}
    for t, c, o in adopting:
        if c in current:
            sql.run('UPDATE "procedure" SET "latest_version" = ?, "name" = ?, "updated_at" = ? WHERE "id" = ?',
                    (o.version, t.procedure.name, now, ids[c]))
    sql.insert_rows("procedureversion", _VERSION_COLUMNS, [
        (ids[c], o.version, t.content_hash, t.dialect, t.start_kind, t.start_id, *_stored_json(t), t.has_scripts,
         None, t.start_form, t.id, actor.id, now) for t, c, o in adopting])
    search.put_procedures(centre.id, {ids[c]: _search_texts(t) for t, c, o in adopting if o.outcome == "adopted"})
    kept = [ids[c] for _, c, o in adopting if o.outcome == "kept_override"]
    if kept:  # indexed with the centre's own values (its agency's name)
        search.reindex_procedures(centre.id, kept)
    audit.record("procedure.adopted", actor, centre=centre, detail={
        "procedures": [{"code": c, "version": o.version, "template": t.id, "template_version": t.version}
                       for t, c, o in adopting]})
    return outcomes


def _stored_json(template) -> tuple:
    """The template's JSON columns as stored text, serialised once per rollout, not once per centre."""
    cached = getattr(template, "_json_columns", None)
    if cached is None:
        cached = (sql.to_json(template.process_ids), sql.to_json(template.warnings), sql.to_json(template.metadata))
        template._json_columns = cached
    return cached


def _search_texts(template) -> dict:
    """What the search index holds of the template's procedure, made once per rollout, not once per centre."""
    cached = getattr(template, "_search_texts", None)
    if cached is None:
        cached = template._search_texts = search.procedure_texts(
            template.procedure.code, template.procedure.name, template.metadata)
    return cached


def adopt(actor, code, force=False) -> Outcome:
    """The actor's centre adopts the newest template of a procedure offered from above."""
    centre = Centre.get_by_id(actor.centre_id)
    template = template_for(centre, code)
    if template is None:
        raise NotFound(f"no template of {shown(code)} is published for this centre")
    with write_transaction():
        [outcome] = _adopt_at(actor, centre, [template], [code], force)
    return outcome


def _overridden(centre_id) -> set:
    return {p for (p,) in sql.run('SELECT "procedure_id" FROM "localoverride" WHERE "centre_id" = ?', (centre_id,))}


def rollout(actor, templates, centres, force=False, progress=None) -> RolloutReport:
    """Adopt the template versions at every centre given, each the procedures of its level
    (services.levels): one transaction per centre (a crash loses at most the centre in hand;
    running again completes the rest)."""
    started = time.perf_counter()
    report = RolloutReport()
    templates = list(templates)
    for template in templates:
        template.procedure = Procedure.get_by_id(template.procedure_id)
    codes = [t.procedure.code for t in templates]
    for i, centre in enumerate(centres, 1):
        if centre.closed_on is not None:
            report.outcomes += [Outcome(centre.code, c, "conflict", None, "the centre is closed") for c in codes]
            continue
        kept, left = levels.split(templates, codes, centre.level)
        report.outcomes += [Outcome(centre.code, c, "other_level", None, f"a procedure of the {' and '.join(lv)} "
                                    f"level, not for a {centre.level}'s centre") for c, lv in left]
        if kept:
            with write_transaction():
                report.outcomes += _adopt_at(actor, centre, [t for t, _ in kept], [c for _, c in kept], force)
        if progress is not None:
            progress(i, len(centres))
    report.seconds = time.perf_counter() - started
    return report


def targets_in_scope(actor, selector) -> list[Centre]:
    """The centres a selector names, every one of them within the actor's scope."""
    from .centres import scope_ids, select

    targets = select(selector)
    allowed = scope_ids(actor)
    if allowed is not None and any(c.id not in allowed for c in targets):
        raise Forbidden("some of those centres are outside your province")
    return targets


def publish_pack(actor, data: bytes, selector: str, source=None, max_bytes=5 * 1024 * 1024):
    """Check the targets, verify a pack and publish it as templates at `source` (by default the
    actor's level: a province administrator's province, the nation for a system administrator):
    (the publishing centre, its template versions, the target centres)."""
    from .centres import NATION

    if source is None and actor.has_role("system_admin"):
        source = Centre.get_or_none(Centre.code == NATION)
        if source is None:
            raise NotFound("the nation's centre does not exist yet: onestop centres import --all")
    elif source is None:
        source = Centre.get_by_id(actor.centre_id)
        if source.level != "province":
            raise Forbidden("a rollout starts from a province or from the nation")
    targets = targets_in_scope(actor, selector)
    published = publish(actor, source, read_pack(data, max_bytes=max_bytes))
    return source, [v for v, _ in published], targets


def rollout_pack(actor, data: bytes, selector: str, force=False, max_bytes=5 * 1024 * 1024) -> RolloutReport:
    """publish_pack, then adopt the templates at the selected centres."""
    _source, templates, targets = publish_pack(actor, data, selector, max_bytes=max_bytes)
    return rollout(actor, templates, targets, force=force)


# -- local overrides ------------------------------------------------------------------------------

def set_override(actor, code, values: dict) -> dict:
    """Replace the centre's local overrides of a procedure (OVERRIDABLE keys only; lanes must be the
    model's and map to a role)."""
    procedure = get_procedure(actor, code)
    if not isinstance(values, dict):
        raise Invalid("the overrides must be an object")
    unknown = sorted(set(values) - set(OVERRIDABLE))
    if unknown:
        raise Invalid(f"{shown(unknown[0])} cannot be changed locally; a centre may change: {', '.join(OVERRIDABLE)}")
    if "lanes" in values:
        lanes = values["lanes"]
        version = ProcedureVersion.get((ProcedureVersion.procedure == procedure)
                                       & (ProcedureVersion.version == procedure.latest_version))
        known = set(model_for(version).metadata.get("lanes") or {})
        unit_codes = set(units.ids(actor.centre_id))
        if not isinstance(lanes, dict) or not set(lanes) <= known or not all(
                isinstance(m, str) and m.partition("@")[0] in LANE_ROLES
                and (not m.partition("@")[2] or m.partition("@")[2] in unit_codes) for m in lanes.values()):
            raise Invalid(f"lanes maps this procedure's lanes ({', '.join(sorted(known))}) to one of the roles "
                          f"{', '.join(LANE_ROLES)}, optionally done by one unit of the centre: role@UNIT "
                          f"(units: {', '.join(sorted(unit_codes)) or 'none yet'})")
    for key in ("fee_vnd", "fee_note", "agency"):
        if key in values and not isinstance(values[key], str | int):
            raise Invalid(f"{key} must be text or a number")
    with write_transaction():
        LocalOverride.insert(centre=actor.centre_id, procedure=procedure.id, values=values, updated_at=utcnow()) \
            .on_conflict(conflict_target=[LocalOverride.centre, LocalOverride.procedure],
                         update={LocalOverride.values: values, LocalOverride.updated_at: utcnow()}).execute()
        search.reindex_procedures(actor.centre_id, [procedure.id])
        audit.record("procedure.local_override", actor, detail={"code": code, "values": values})
        _cache.changed()
    return values


_cache = runtime.SharedCache("overrides", seconds=OVERRIDE_CACHE_SECONDS)  # (centre id, procedure id) -> values


def local_values(centre_id, procedure_id) -> dict:
    """A centre's local overrides of a procedure (cached; a change is seen by every process within a second)."""
    return _cache.get((centre_id, procedure_id), lambda: LocalOverride.select(LocalOverride.values).where(
        (LocalOverride.centre == centre_id) & (LocalOverride.procedure == procedure_id)).scalar() or {})


# -- comparing versions and coverage --------------------------------------------------------------

def offered(actor, code) -> dict:
    """The template offered to the actor's centre for a procedure, and how it differs from the
    version the centre runs."""
    centre = Centre.get_by_id(actor.centre_id)
    template = template_for(centre, code)
    if template is None:
        raise NotFound(f"no template of {shown(code)} is published for this centre")
    procedure = Procedure.get_or_none((Procedure.centre == centre.id) & (Procedure.code == code))
    latest = ProcedureVersion.get_or_none((ProcedureVersion.procedure == procedure)
                                          & (ProcedureVersion.version == procedure.latest_version)) if procedure else None
    return {"code": code, "template_version": template.version, "from_centre": template.procedure.centre.code,
            "current_version": latest.version if latest else None,
            "adopted": bool(latest and latest.template_version_id == template.id),
            "diff": diff(latest, template) if latest else None}


def coverage(actor, code, province=None) -> list[dict]:
    """The ministry's view: for each province, how many of its communes run the newest template of
    a procedure, an older version, or none (none are counted for a procedure of the province level),
    and whether the province's own centre does (a province administrator sees their province)."""
    if not actor.has_role("system_admin"):
        province = Centre.select(Centre.admin_code).where(
            (Centre.id == actor.centre_id) & (Centre.level == "province")).scalar()
        if province is None:
            raise Forbidden("the coverage is seen from a province or from the nation")
    newest = (ProcedureVersion.select().join(Procedure)
              .where((Procedure.code == code) & ProcedureVersion.published_at.is_null(False))
              .order_by(ProcedureVersion.published_at.desc()).first())
    newest_hash = newest.content_hash if newest else None
    provinces = Centre.select().where(Centre.level == "province").order_by(Centre.code)
    if province is not None:
        provinces = provinces.where(Centre.admin_code == f"{int(province):02d}")
    running = {}
    rows = (Centre.select(Centre.parent, ProcedureVersion.content_hash)
            .join(Procedure, on=((Procedure.centre == Centre.id) & (Procedure.code == code)))
            .join(ProcedureVersion, on=((ProcedureVersion.procedure == Procedure.id)
                                        & (ProcedureVersion.version == Procedure.latest_version)))
            .where(Centre.level.in_(("commune", "district"))).tuples())
    for parent_id, content_hash in rows:
        counts = running.setdefault(parent_id, [0, 0])
        counts[0 if content_hash == newest_hash else 1] += 1
    totals = _communes_per_province() if newest is None or levels.adopts("commune", newest.metadata) else {}
    own = levels.province_centres_running(code, newest_hash)  # a province-level one: none of the communes'
    out = []
    for p in provinces:
        current, older = running.get(p.id, [0, 0]) if totals else (0, 0)
        total = totals.get(p.id, 0)
        out.append({"province": p.code, "name": p.name, "communes": total, "current": current, "older": older,
                    "missing": total - current - older, "province_centre": own.get(p.id, "missing")})
    return out


def _communes_per_province() -> dict:
    return dict(Centre.select(Centre.parent, fn.COUNT(Centre.id))
                .where(Centre.level.in_(("commune", "district"))).group_by(Centre.parent).tuples())
