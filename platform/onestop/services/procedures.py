"""Procedures: uploading a model (a new immutable version), listing, and loading for run time."""

import functools
import hashlib
import importlib.metadata
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
from peewee import fn

from .. import formdefs
from ..db import write_transaction
from ..engine import ModelError, ParsedModel, Problem, SourceFile, classify, content_hash
from ..formdefs import FormDefinition
from ..models import LocalOverride, ModelFile, Procedure, ProcedureVersion, utcnow
from ..text import fold
from . import audit, connectors, deadlines, search
from .errors import Invalid, NotFound, TooLarge, shown
from .levels import levels_of
from .runtime import SharedCache, engine

MAX_FILES = 200
MAX_ZIP_MEMBERS = 500
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class Upload:
    name: str
    content: bytes


def unpack(uploads, max_bytes):
    """Flatten the uploaded files: a .zip of a procedure folder is opened (safely), others kept."""
    files = []
    for upload in uploads:
        if upload.name.lower().endswith(".zip"):
            files.extend(_unzip(upload, max_bytes))
        else:
            if len(upload.content) > max_bytes:
                raise TooLarge(f"{upload.name} is larger than the limit of {max_bytes // 1024} KiB per file")
            files.append(SourceFile(upload.name.replace("\\", "/").rsplit("/", 1)[-1], upload.content))
    if len(files) > MAX_FILES:
        raise Invalid(f"too many files ({len(files)}); at most {MAX_FILES}")
    names = [f.name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(f"file {duplicates[0]!r} was given twice")
    return files


def _unzip(upload, max_bytes):
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.content))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Invalid(f"{upload.name} is not a readable zip file") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise Invalid(f"{upload.name} holds too many files ({len(members)})")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise TooLarge(f"{upload.name} unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MiB")
    files = []
    for member in members:
        name = member.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not name or name.startswith(".") or "__MACOSX" in member.filename or classify(name) == "other":
            continue
        if member.file_size > max_bytes:
            raise TooLarge(f"{name} in {upload.name} is larger than {max_bytes // 1024} KiB")
        try:
            with archive.open(member) as fh:
                content = fh.read(max_bytes + 1)
        except (zipfile.BadZipFile, RuntimeError, OSError, NotImplementedError):
            raise Invalid(f"{name} in {upload.name} cannot be read (encrypted or damaged)") from None
        if len(content) > max_bytes:
            raise TooLarge(f"{name} in {upload.name} is larger than {max_bytes // 1024} KiB")
        files.append(SourceFile(name, content))
    return files


def upload_procedure(actor, uploads, process_id=None, *, max_bytes=5 * 1024 * 1024):
    """Store an uploaded model as the next version of its procedure (or the same version, if unchanged).

    Returns (version, created). Raises Invalid with per-element details when the model is refused.
    """
    files = unpack(uploads, max_bytes)
    parsed = checked_model(files, process_id, max_bytes)
    return store_version(actor, actor.centre_id, files, parsed)


def upload_unless_loaded(actor, uploads, *, max_bytes=5 * 1024 * 1024):
    """upload_procedure for files loaded again at every start (the bundled procedures): when the
    actor's centre's latest version of a procedure was loaded from these very files by this very code
    (source_key), it is returned unchanged, (version, False), without parsing them again; otherwise
    as upload_procedure, the version then remembering what it was loaded from."""
    files = unpack(uploads, max_bytes)
    key = source_key(files)
    known = (ProcedureVersion.select(ProcedureVersion.id, ProcedureVersion.version, ProcedureVersion.source_key,
                                     Procedure.id, Procedure.code)
             .join(Procedure, on=(ProcedureVersion.procedure == Procedure.id)
                   & (ProcedureVersion.version == Procedure.latest_version))
             .where((Procedure.centre == actor.centre_id) & (ProcedureVersion.content_hash == content_hash(files))
                    & (ProcedureVersion.source_key == key))
             .first())
    # The centre's allowed hosts may have changed since: a model now refused is refused as at upload.
    if known is not None and not connectors.refused_literal_urls(files, connectors.allowed_of(actor.centre_id)):
        return known, False
    version, created = upload_procedure(actor, uploads, max_bytes=max_bytes)
    if version.source_key != key:
        with write_transaction():
            ProcedureVersion.update(source_key=key).where(ProcedureVersion.id == version.id).execute()
        version.source_key = key
    return version, created


def source_key(files) -> str:
    """What a version loaded from `files` was made from: the files (engine.content_hash) and the code
    that judges and compiles them (_compiler). Either changed, the files are parsed again, so that a
    model a newer onestop refuses is reported as it would be at upload."""
    return hashlib.sha256(f"{content_hash(files)}:{_compiler()}".encode()).hexdigest()


@functools.cache
def _compiler() -> str:
    """A digest of onestop's own source and the versions of the libraries that parse models."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    for library in ("SpiffWorkflow", "jsonschema", "jsonschema-rs", "lxml"):
        try:
            digest.update(f"{library}={importlib.metadata.version(library)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{library}=-".encode())
    return digest.hexdigest()


def checked_model(files, process_id=None, max_bytes=5 * 1024 * 1024) -> ParsedModel:
    """compile_model, with its refusal as Invalid (each problem with its element id) and the code checked."""
    try:
        parsed = compile_model(files, process_id=process_id, max_bytes=max_bytes)
    except ModelError as exc:
        raise Invalid("the model was refused", details=[p.as_dict() for p in exc.problems]) from None
    code = procedure_code(parsed)
    if not _CODE.match(code):
        raise Invalid(f"procedure code {shown(code)} may only hold letters, digits and . _ - (at most 128)")
    return parsed


def parse_uploads(uploads, process_id=None, max_bytes=5 * 1024 * 1024) -> ParsedModel:
    """What the engine makes of uploaded files, storing nothing (`onestop validate`); Invalid with each
    problem (and its element id) when it refuses them. Forms are checked as at upload: their
    problems refuse, what they ask that onestop ignores (an unknown ui: key) is a warning."""
    try:
        return compile_model(unpack(uploads, max_bytes), process_id=process_id, max_bytes=max_bytes)
    except ModelError as exc:
        raise Invalid("the model was refused", details=[p.as_dict() for p in exc.problems]) from None


def procedure_code(parsed) -> str:
    return str(parsed.metadata.get("code") or parsed.start_id)


def store_version(actor, centre_id, files, parsed, published=False):
    """Store a compiled model as the next version of the centre's procedure (or return the latest
    one, unchanged, if it has the same content): (version, created)."""
    code = procedure_code(parsed)
    name = str(parsed.metadata.get("name") or parsed.metadata.get("display_name") or code)[:1000]
    refused = connectors.refused_literal_urls(files, connectors.allowed_of(centre_id))
    if refused:
        raise Invalid("the model was refused", details=[p.as_dict() for p in refused])
    with write_transaction():
        procedure = Procedure.get_or_none((Procedure.centre == centre_id) & (Procedure.code == code))
        if procedure is None:
            procedure = Procedure.create(centre=centre_id, code=code, name=name)
        latest = (ProcedureVersion.select()
                  .where((ProcedureVersion.procedure == procedure) & (ProcedureVersion.version == procedure.latest_version))
                  .first())
        if latest and latest.content_hash == parsed.content_hash and latest.start_id == parsed.start_id:
            if published and latest.published_at is None:
                ProcedureVersion.update(published_at=utcnow()).where(ProcedureVersion.id == latest.id).execute()
            return latest, False
        number = procedure.latest_version + 1
        version = ProcedureVersion.create(
            procedure=procedure, version=number, content_hash=parsed.content_hash, dialect=parsed.dialect,
            start_kind=parsed.start_kind, start_id=parsed.start_id, process_ids=parsed.process_ids,
            warnings=parsed.warnings, metadata=parsed.metadata, has_scripts=parsed.has_scripts,
            compiled=parsed.dumps(), start_form=_start_form_name(parsed), created_by=actor,
            published_at=utcnow() if published else None,
        )
        ModelFile.insert_many(
            [{"version": version.id, "name": f.name, "kind": classify(f.name), "content": f.content} for f in files]
        ).execute()
        Procedure.update(latest_version=number, name=name, updated_at=utcnow()).where(Procedure.id == procedure.id).execute()
        search.reindex_procedures(centre_id, [procedure.id])
        audit.record("procedure.uploaded", actor, centre=procedure.centre,
                     detail={"code": code, "version": number, "hash": parsed.content_hash})
    engine().model(_model_key(version), lambda: parsed)
    return version, True


@dataclass
class CatalogueEntry:
    """A procedure as the public catalogue shows it: from its procedure.json, plus whether it can be
    submitted online (its model has a start form)."""

    code: str
    name: str
    field: str
    level: str
    agency: str
    processing: str
    fee: str
    documents: list  # [{"name", "originals", "copies", "note"}]
    online: bool
    on_the_spot: bool
    legal_basis: list
    metadata: dict
    version: int = 0
    updated_at: object = None
    fee_note: str = ""  # the fee's conditions and exemptions (the centre's own, where it set one)
    levels: tuple = ()  # services.levels: ("province", "commune") for a procedure both levels perform
    online_level: str = ""  # full (toàn trình), partial (một phần), none; "" where procedure.json is silent


def catalogue(actor, query="", field="", level="") -> list[CatalogueEntry]:
    """The procedures of the actor's centre: all of them by name, or those the words find (services.search:
    names, papers, result, field, agency and synonyms, diacritics ignored) best first; filtered by
    field and level."""
    local = dict(LocalOverride.select(LocalOverride.procedure, LocalOverride.values)
                 .where(LocalOverride.centre == actor.centre_id).tuples())
    rows = _catalogue_rows(actor.centre_id)
    found = search.find_procedures(actor.centre_id, query)
    if found is not None:
        by_id = {row[0].id: row for row in rows}
        rows = [by_id[pid] for pid in found if pid in by_id]
    field = fold(field)
    out = []
    for procedure, version, entry in rows:
        if procedure.id in local:  # the centre's own values: few procedures, read fresh every time
            entry = _entry(procedure, version, local[procedure.id])
        if field and fold(entry.field) != field:
            continue
        if level and level not in entry.levels:
            continue
        out.append(entry)
    return out


def catalogue_fields(actor) -> list[str]:
    """The fields of the centre's procedures, as their procedure.json names them (each once)."""
    return sorted({entry.field for _p, _v, entry in _catalogue_rows(actor.centre_id) if entry.field})


# (centre id, stamp) -> rows: the portal reads the whole catalogue on every page; building hundreds of
# entries from their procedure.json each time cost a request ~150 ms at 954 procedures. A few centres
# only: each holds every procedure.json of its catalogue. Emptied when another database is bound.
_catalogues = SharedCache("catalogues", seconds=600, maxsize=8)


def _catalogue_rows(centre_id) -> list:
    """[(procedure, its current version, its entry)] of the centre, rebuilt when a
    procedure of the centre is added, gets a version (adopted or uploaded) or is removed."""
    stamp = (Procedure.select(fn.COUNT(Procedure.id), fn.MAX(Procedure.updated_at), fn.SUM(Procedure.latest_version))
             .where(Procedure.centre == centre_id).tuples().first())
    return _catalogues.get((centre_id, stamp), lambda: _load_catalogue(centre_id))


def _load_catalogue(centre_id) -> list:
    columns = (ProcedureVersion.id, ProcedureVersion.version, ProcedureVersion.metadata, ProcedureVersion.start_form)
    query = (Procedure.select(Procedure, *columns).join(
        ProcedureVersion, on=((ProcedureVersion.procedure == Procedure.id)
                              & (ProcedureVersion.version == Procedure.latest_version)))
        .where(Procedure.centre == centre_id).order_by(Procedure.name))
    rows = []
    for procedure in query:
        rows.append((procedure, procedure.procedureversion, _entry(procedure, procedure.procedureversion)))
    return rows


def catalogue_entry(actor, code) -> tuple[CatalogueEntry, ProcedureVersion]:
    """One procedure of the catalogue with its current version; NotFound if the centre has none by that code."""
    procedure = get_procedure(actor, code)
    if not procedure.latest_version:
        raise NotFound(f"no procedure {shown(code)}")
    version = current_version(procedure)
    local = LocalOverride.select(LocalOverride.values).where(
        (LocalOverride.centre == procedure.centre_id) & (LocalOverride.procedure == procedure.id)).scalar()
    return _entry(procedure, version, local), version


def _entry(procedure, version, local=None) -> CatalogueEntry:
    meta = version.metadata or {}
    if local:  # the centre's own fees, agency name (services.rollout.OVERRIDABLE)
        meta = meta | {k: v for k, v in local.items() if k != "lanes"}
    days, unit = meta.get("processing_days"), meta.get("processing_unit") or ""
    processing = _processing_text(meta) or (
        f"{days} ngày làm việc" if isinstance(days, int | float) else str(meta.get("processing_time") or ""))
    documents, levels = meta.get("documents") or [], levels_of(meta)
    fee = next((meta[k] for k in ("fee_vnd", "fee") if meta.get(k) not in (None, "")), "")
    return CatalogueEntry(
        code=procedure.code, name=procedure.name, field=str(meta.get("field") or ""), level=",".join(levels),
        levels=levels, online_level=str(meta.get("online_level") or ""), fee_note=str(meta.get("fee_note") or ""),
        agency=str(meta.get("agency") or ""), processing=processing or unit, fee=str(fee),
        documents=[{"name": d} if isinstance(d, str) else d for d in documents if isinstance(d, str | dict)],
        # Read from the version row: a catalogue of hundreds of procedures must not load every model.
        online=bool(version.start_form), on_the_spot=bool(meta.get("decided_on_the_spot")),
        legal_basis=[str(x) for x in meta.get("legal_basis") or []], metadata=meta,
        version=procedure.latest_version, updated_at=procedure.updated_at,
    )


def _processing_text(meta) -> str:
    """The legal processing time in words, from the procedure's deadline plan (Vietnamese, as slips say it)."""
    try:
        plan = deadlines.plan(meta)
    except ValueError:
        return ""
    if plan is None:
        return ""
    text = _limit_text(plan.total)
    cases = [f"{plan.case_labels.get(value, value)}: {_limit_text(limit)}" for value, limit in plan.cases.items()]
    return f"{text} ({'; '.join(cases)})" if cases else text


def _limit_text(limit) -> str:
    amount = limit.amount
    amount = int(amount) if float(amount).is_integer() else amount
    if limit.unit == "working_hours":
        return f"{amount} giờ làm việc"
    if limit.unit == "calendar_days":
        return f"{amount} ngày"
    if amount == 0:
        return "trong ngày làm việc (tiếp nhận sau 15 giờ: trả trong ngày làm việc tiếp theo)"
    return f"{amount} ngày làm việc"


def get_procedure(actor, code) -> Procedure:
    procedure = Procedure.for_actor(actor).where(Procedure.code == code).first()
    if procedure is None:
        raise NotFound(f"no procedure {shown(code)}")
    return procedure


def current_version(procedure) -> ProcedureVersion:
    return ProcedureVersion.get((ProcedureVersion.procedure == procedure) & (ProcedureVersion.version == procedure.latest_version))


def _model_key(version) -> str:
    return f"{version.content_hash}:{version.start_id}"


def model_for(version):
    """The parsed model of a stored version: cached in the process, else rebuilt from its stored
    parse result, else (a version stored before that existed) parsed from its files. Kept on the
    version object too (a request asks four or five times: its form, its deadlines, its statuses,
    its lanes), for as long as the object lives and names the same model of the same engine."""
    key, cache = _model_key(version), engine()
    kept = getattr(version, "_model_kept", None)
    if kept is not None and kept[0] is cache and kept[1] == key:
        return kept[2]
    model = cache.model(key, lambda: _load_model(version))
    try:
        version._model_kept = (cache, key, model)
    except AttributeError:  # an object that takes no attribute: asked of the engine each time
        pass
    return model


def _load_model(version):
    """The model of a version the engine has not kept: from its stored parse result, else its files."""
    source = version.template_version_id or version.id  # an adopted version runs its template's model
    compiled = ProcedureVersion.select(ProcedureVersion.compiled).where(ProcedureVersion.id == source).scalar()
    model = ParsedModel.loads(compiled) if compiled else None
    if model is not None:
        return model
    return compile_model(model_files(version), process_id=version.start_id)


def model_files(version) -> list[SourceFile]:
    """The files of a version as uploaded (an adopted version's are its template's)."""
    source = version.template_version_id or version.id
    return [SourceFile(f.name, bytes(f.content))
            for f in ModelFile.select().where(ModelFile.version == source).order_by(ModelFile.name)]


_CATALOGUE = jsonschema.Draft202012Validator(
    json.loads((Path(__file__).with_name("catalogue_schema.json")).read_text(encoding="utf-8")))


def _catalogue_problems(files, metadata) -> list:
    """procedure.json against the catalogue record's schema, each problem with its JSON pointer."""
    if not any(f.name.rsplit("/", 1)[-1].lower() == "procedure.json" for f in files):
        return []
    return [Problem(None, f"procedure.json at {'/' + '/'.join(str(p) for p in e.absolute_path)}: {e.message}",
                    "procedure.json", "/" + "/".join(str(p) for p in e.absolute_path))
            for e in sorted(_CATALOGUE.iter_errors(metadata), key=lambda e: list(map(str, e.absolute_path)))]


def compile_model(files, process_id=None, max_bytes=5 * 1024 * 1024) -> ParsedModel:
    """Parse a procedure's files and compile its forms; raises ModelError listing every problem."""
    parsed = engine().parse(files, process_id=process_id, max_bytes=max_bytes)
    catalogue_problems = _catalogue_problems(files, parsed.metadata)
    if catalogue_problems:
        raise ModelError(catalogue_problems)
    assembled = formdefs.assemble(parsed.forms, parsed.form_refs)
    lane_problems = _lane_problems(parsed.metadata.get("lanes")) + [
        Problem(None, message, "procedure.json") for message in deadlines.problems(parsed.metadata)]
    if lane_problems:
        raise ModelError(lane_problems)
    if assembled.problems:
        raise ModelError([Problem(element_id, str(p), p.form, p.pointer or "/") for element_id, p in assembled.problems])
    parsed.forms, parsed.element_forms = assembled.forms, assembled.element_forms
    parsed.warnings = parsed.warnings + [Problem(element_id, message).as_dict() for element_id, message in assembled.warnings]
    return parsed


LANE_ROLES = ("officer", "leader", "admin")


def _lane_problems(lanes) -> list:
    """procedure.json "lanes" must map lane names to the roles that do their tasks."""
    if lanes is None:
        return []
    if not isinstance(lanes, dict):
        return [Problem(None, 'procedure.json "lanes" must map each lane\'s name to a role', "procedure.json")]
    return [Problem(None, f'procedure.json "lanes": lane {name!r} maps to {role!r}; a lane maps to one of: '
                          f'{", ".join(LANE_ROLES)}, optionally done by one unit: role@UNIT', "procedure.json")
            for name, role in lanes.items() if not lane_role_known(role)]


_UNIT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def lane_role_known(mapping) -> bool:
    """A lane's mapping is a role ("officer") or a role done by one unit of the centre ("officer@TP"); a
    centre without that unit offers the lane's tasks to every holder of the role."""
    if not isinstance(mapping, str):
        return False
    role, at, unit = mapping.partition("@")
    return role in LANE_ROLES and (not at or bool(_UNIT_CODE.match(unit)))


def form_of(version, name) -> FormDefinition | None:
    """A form of the version by name, or None."""
    if not name:
        return None
    form = model_for(version).forms.get(name)
    return FormDefinition.from_dict(form) if form else None


def task_form(version, name, task_data: dict) -> FormDefinition | None:
    """A task's form with the choices it takes from the task's data filled in (SpiffArena's
    options_from_task_data_var): what the task's page draws and what its submission is checked against."""
    form = form_of(version, name)
    return formdefs.with_task_options(form, task_data) if form is not None else None


def field_labels(version) -> dict:
    """For showing a dossier's data: each field name the version's forms know -> (its title, the
    titles of its choices by value). The first form that names a field wins."""
    labels = {}

    def walk(schema):
        for name, sub in (schema.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            options = sub.get("oneOf") or sub.get("anyOf") or (sub.get("items") or {}).get("oneOf") or []
            choices = {str(o["const"]): str(o.get("title", o["const"])) for o in options
                       if isinstance(o, dict) and "const" in o}
            labels.setdefault(name, (str(sub.get("title") or name), choices))
            if sub.get("type") == "object":
                walk(sub)

    for form in model_for(version).forms.values():
        walk(form["schema"])
    return labels


def _start_form_name(model) -> str | None:
    for element_id, name in model.element_forms.items():
        if model.form_refs.get(element_id, {}).get("element") == "startEvent":
            return name
    return None


def start_form(version) -> FormDefinition | None:
    """The form a citizen fills in to submit: the one on the start event, if the model has one (a
    start has no task data yet: choices taken from it are empty)."""
    return task_form(version, _start_form_name(model_for(version)), {})
