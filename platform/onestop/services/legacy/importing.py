"""Importing a checked legacy file (services.legacy): the workflow positioned once per (procedure
version, step) and copied per dossier, every row written in one transaction."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from types import SimpleNamespace

from peewee import IntegrityError

from ... import sql
from ...db import run_write
from ...engine import EngineError
from ...models import local_today, utcnow
from ...status import Status
from ...workdays import to_utc
from .. import attachments, deadlines, rollout, schedule, units
from ..audit_bulk import record_many
from ..errors import Conflict, Invalid
from ..procedures import model_for
from ..runtime import engine, on_behalf_of
from ..stats import counters
from ..steps import deadline_plan, lane_roles
from .checking import BATCH, Row, check
from .reading import MAX_BYTES, MAX_ROWS, Problem, Unreadable, read_rows

CHANNEL = "legacy"  # Dossier.channel of an imported dossier

@dataclass
class Report:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    switch_over: date
    imported: list = field(default_factory=list)  # codes
    skipped: list = field(default_factory=list)  # codes already imported
    flagged: list = field(default_factory=list)  # (line, code) kept as given though not of the national layout
    by_step: dict = field(default_factory=dict)  # (procedure code, element id) -> dossiers
    seconds: float = 0.0


def import_file(actor, file_name: str, content: bytes, switch_over: date | None = None, dry_run: bool = False,
                centre_id: int | None = None) -> Report:
    """Check every line of a legacy file, then (unless `dry_run`) import its dossiers into the
    actor's centre (or `centre_id`) in one transaction. Invalid, with a Problem a line as details
    (`as_dict`), if any line is wrong: nothing is imported then. `switch_over`: the day the centre
    switches over (default: today)."""
    started = time.perf_counter()  # how long it took, for the report (not business time)
    centre_id = centre_id or actor.centre_id
    report = Report(dry_run, switch_over or local_today())
    rows, positioned = _checked(centre_id, file_name, content)
    for row in rows:
        if row.already:
            report.skipped.append(row.code)
            continue
        report.imported.append(row.code)
        key = (row.procedure.code, row.element_id)
        report.by_step[key] = report.by_step.get(key, 0) + 1
        if not row.code_fits:
            report.flagged.append((row.line, row.code))
    fresh = [r for r in rows if not r.already]
    if fresh and not dry_run:
        switch_over_at = to_utc(datetime.combine(report.switch_over, day_time()))
        try:
            timers = run_write(lambda: _write(actor, centre_id, fresh, positioned, switch_over_at, file_name))
        except IntegrityError:  # another import took one of the codes meanwhile: nothing of this one is kept
            raise Conflict("another import or intake took one of these codes meanwhile; nothing was imported, "
                           "run the import again") from None
        engine().forget([dossier_id for dossier_id, _ in timers])
        for dossier_id, at in timers:
            if at is not None:
                schedule.timer_due(dossier_id, at)
    report.seconds = time.perf_counter() - started
    return report


def _checked(centre_id, file_name, content) -> tuple[list[Row], dict]:
    """(the file's rows, their steps positioned) if every line is right; Invalid naming each wrong one."""
    if len(content) > MAX_BYTES:
        _refuse([Problem(0, "too_large", value=str(MAX_BYTES // (1024 * 1024)))])
    try:
        lines = read_rows(file_name, content)
    except Unreadable as exc:
        _refuse([Problem(0, "unreadable", value=str(exc))])
    if not lines:
        _refuse([Problem(0, "empty")])
    if len(lines) > MAX_ROWS:
        _refuse([Problem(0, "too_many", value=str(len(lines)))])
    rows, problems = check(centre_id, lines)
    positioned, more = _position(centre_id, rows)
    problems = sorted(problems + more, key=lambda p: p.line)
    if problems:
        _refuse(problems)
    return rows, positioned


def _refuse(problems):
    raise Invalid(f"the file was not imported: {len(problems)} problem(s); nothing was imported",
                  details=[p.as_dict() for p in problems])


# positioning and writing ------------------------------------------------------------------------


@dataclass
class _Place:
    """A procedure version's workflow standing at a step, computed once and copied per dossier."""

    model: object
    step: object  # engine.Step
    status: Status
    roles: dict
    plan: object
    authority: str | None


def _position(centre_id, rows) -> tuple[dict, list[Problem]]:
    """(version id, element id) -> _Place for the rows to import, and a problem for each row whose
    step the engine cannot reach."""
    places, failures, problems = {}, {}, []
    for row in rows:
        if row.already:
            continue
        key = (row.version.id, row.element_id)
        if key not in places and key not in failures:
            model = model_for(row.version)
            try:
                with on_behalf_of(centre_id, model):
                    step = engine().position(model, row.element_id, {})
                    first = {t.element_id for t in engine().start(model, {}).ready}
            except EngineError as exc:
                failures[key] = str(exc)
                continue
            status = Status.RECEIVED if row.element_id in first else Status.PROCESSING
            local = rollout.local_values(centre_id, row.procedure.id).get("agency") or model.metadata.get("agency")
            holder = SimpleNamespace(centre_id=centre_id, procedure_id=row.procedure.id)
            places[key] = _Place(model, step, status, lane_roles(model, holder), deadline_plan(model),
                                 str(local)[:500] if local else None)
        if key in failures:
            problems.append(Problem(row.line, "unreachable_step", column="step", code=row.procedure.code,
                                    value=row.element_id, detail=failures[key]))
    return places, problems


_DOSSIER_COLUMNS = ("centre_id", "code", "procedure_id", "version_id", "state", "data", "applicant", "workflow",
                    "serial", "next_timer_at", "status", "received_at", "due_at", "authority", "channel",
                    "created_by_id", "created_at", "updated_at", "switch_over_at")
_ITEM_COLUMNS = ("id", "dossier_id", "centre_id", "element_id", "name", "lane", "form", "role", "unit_id", "due_at",
                 "created_at")
_WAIT_COLUMNS = ("dossier_id", "task_id", "element_id", "type", "name", "due_at", "message", "correlations")


def _write(actor, centre_id, rows, places, switch_over_at, file_name) -> list:
    """The unit of work: every dossier with its worklist rows, waits, audit event and (received from
    the switch-over on) its count, in multi-row inserts. [(dossier id, its next timer or None)]."""
    now, timers, events = utcnow(), [], []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        steps, values = {}, []
        for row in chunk:
            place = places[(row.version.id, row.element_id)]
            data = data_of(place.model, row)
            step = steps[row.code] = engine().copy_positioned(place.step, data)
            values.append((centre_id, row.code, row.procedure.id, row.version.id, step.status, sql.to_json(step.data),
                           sql.to_json(row.applicant), step.state, 1, step.next_timer_at, place.status.value,
                           row.received_at, row.due_at, place.authority, CHANNEL, actor.id,
                           row.received_at, now, switch_over_at))  # created: received, for the centre's ledger
        stored = sql.insert_rows("dossier", _DOSSIER_COLUMNS, values, returning=("id", "code"))
        ids = {code: dossier_id for dossier_id, code in stored}
        items, waits = [], []
        for row in chunk:
            place, step, dossier_id = places[(row.version.id, row.element_id)], steps[row.code], ids[row.code]
            for i, t in enumerate(step.ready_added):
                role, unit_id = units.role_and_unit(centre_id, place.roles.get(t.lane))
                items.append((t.id, dossier_id, centre_id, t.element_id, t.name, t.lane, t.form, role,
                              row.unit_id if t.element_id == row.element_id and row.unit_id else unit_id,
                              deadlines.task_due(centre_id, place.plan, t.element_id, t.lane, now, row.due_at),
                              now + timedelta(microseconds=i)))
            waits += [(dossier_id, w.task_id, w.element_id, w.type, w.name, w.due_at, w.message,
                       sql.to_json(w.correlations) if w.correlations else None) for w in step.waiting]
            timers.append((dossier_id, step.next_timer_at))
            if row.received_at >= switch_over_at:  # received in the old system since the switch-over
                counters.count(centre_id, row.procedure.id, row.received_at, received=1)
            events.append((dossier_id, row.element_id,
                           {"procedure": row.procedure.code, "version": row.version.version, "file": file_name,
                            "line": row.line, "code_fits": row.code_fits, "switch_over": switch_over_at.isoformat()}))
        for part in range(0, len(items), BATCH):
            sql.insert_rows("workitem", _ITEM_COLUMNS, items[part:part + BATCH])
        for part in range(0, len(waits), BATCH):
            sql.insert_rows("waitingevent", _WAIT_COLUMNS, waits[part:part + BATCH])
    record_many("dossier.imported", actor, centre_id, events)
    return timers


def data_of(model, row: Row) -> dict:
    """The row's facts as the workflow's variables: the applicant under the names the procedure
    maps them to (procedure.json "applicant"), else the usual ones, and the legacy code."""
    mapping = model.metadata.get("applicant") if isinstance(model.metadata.get("applicant"), dict) else {}
    names = {"name": "applicant_full_name", "citizen_id": "applicant_citizen_id", "phone": "applicant_phone",
             "address": "applicant_address"}
    data = {(mapping.get(key) if isinstance(mapping.get(key), str) else names[key]): value
            for key, value in row.applicant.items()}
    data["legacy_code"] = row.code
    return data


# a file checked in the back office, kept until its import is confirmed ----------------------------


def _kept_files() -> attachments.FileStore:
    """Legacy files checked and waiting for their import, apart from the dossiers' attachments."""
    files = attachments.store()
    return attachments.FileStore(files.root.parent / "legacy-files", MAX_BYTES, MAX_BYTES)


def keep_file(content: bytes) -> str:
    """Keep a checked file for the confirmation of its import; its token (the content's sha256)."""
    digest = hashlib.sha256(content).hexdigest()
    _kept_files().put(attachments.Blob("legacy", "legacy", "application/octet-stream", content, digest))
    return digest


def kept_file(token: str) -> bytes | None:
    """The file kept under that token, or None (no such file, or no token)."""
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{64}", token):
        return None
    try:
        return _kept_files().read(token)
    except OSError:
        return None
