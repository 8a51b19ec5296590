"""Dossiers taken over from a centre's old system on the day it switches over to onestop.

A legacy file (CSV or XLSX, one dossier a row under a header row whose titles may be Vietnamese or
English) lists the dossiers still being processed there: code, procedure, applicant (name, ID
number, phone, address), received date, due date, current step (the task's name or element id)
and unit. Each row becomes a dossier of the centre's published procedure standing AT that step: the
engine walks a new workflow to it (engine.Engine.position) once per (procedure version, step) and
copies the result per dossier with the row's data (engine.Engine.copy_positioned). The dossier
keeps its legacy code (one that does not fit the national layout, services.codes, is kept and
flagged), its received and due dates (not recomputed), and the switch-over instant
(`Dossier.switch_over_at`): it counts in the statistics from then on (received before it, it is
not counted as received; finished after it, it counts as finished, on time or late against its
legacy due date).

Every row is checked before anything is written (`Problem`s by line); then all of them are written
in one transaction, in multi-row inserts: a file with a bad row imports nothing, and a row whose
code is already an imported dossier of the centre is skipped (running the same file again imports
nothing twice).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from peewee import IntegrityError

from .. import sql
from ..db import run_write
from ..engine import EngineError
from ..models import Centre, Dossier, Procedure, Unit, local_today, utcnow
from ..status import Status
from ..workdays import to_utc
from . import attachments, audit, codes, deadlines, rollout, schedule, units
from .errors import Conflict, Invalid
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .stats import counters
from .steps import deadline_plan, lane_roles

MAX_BYTES = 50 * 1024 * 1024
MAX_UNPACKED = 200 * 1024 * 1024  # an XLSX file's parts, unpacked
MAX_ROWS = 100_000
MAX_COLUMNS = 60
BATCH = 400  # rows of one multi-row insert (well under both databases' limits on parameters)
CHANNEL = "legacy"  # Dossier.channel of an imported dossier

FIELDS = ("code", "procedure", "applicant_name", "applicant_id", "applicant_phone", "applicant_address",
          "received", "due", "step", "unit")
REQUIRED = ("code", "procedure", "applicant_name", "received", "due", "step")
# Column titles as old systems and people write them (compared without case, accents or spaces).
TITLES = {
    "code": ("code", "dossier code", "mã hồ sơ", "mã số hồ sơ", "số hồ sơ", "mã"),
    "procedure": ("procedure", "procedure code", "mã thủ tục", "thủ tục", "tên thủ tục"),
    "applicant_name": ("applicant", "applicant name", "name", "người nộp", "tên người nộp", "họ tên", "họ và tên",
                       "chủ hồ sơ", "tên chủ hồ sơ"),
    "applicant_id": ("id number", "citizen id", "applicant id", "số cccd", "cccd", "số định danh", "số giấy tờ",
                     "số cmnd/cccd", "số cmnd", "số định danh cá nhân"),
    "applicant_phone": ("phone", "applicant phone", "số điện thoại", "điện thoại", "sđt"),
    "applicant_address": ("address", "applicant address", "địa chỉ"),
    "received": ("received", "received date", "received at", "ngày tiếp nhận", "ngày nhận", "ngày nộp"),
    "due": ("due", "due date", "due at", "ngày hẹn trả", "hẹn trả", "hạn xử lý", "hạn giải quyết",
            "ngày hẹn trả kết quả"),
    "step": ("current step", "step", "bước hiện tại", "bước xử lý", "bước", "bước đang xử lý"),
    "unit": ("unit", "current unit", "đơn vị", "đơn vị xử lý", "đơn vị đang xử lý", "phòng ban"),
}
# The messages of each kind of problem, in English and in Vietnamese (said by the command line and
# the back office in the reader's language; `values` fills them in).
MESSAGES = {
    "unreadable": ("the file cannot be read: {value}",
                   "không đọc được tệp: {value}"),
    "too_large": ("the file is larger than {value} MB", "tệp lớn hơn {value} MB"),
    "too_many": ("the file holds {value} dossiers, more than one import takes (100000)",
                 "tệp có {value} hồ sơ, nhiều hơn một lần nhập cho phép (100000)"),
    "empty": ("the file holds no dossier", "tệp không có hồ sơ nào"),
    "missing_column": ("the column {column} is missing", "thiếu cột {column}"),
    "missing_value": ("the {column} is empty", "cột {column} để trống"),
    "too_long": ("the {column} is longer than {value} characters", "cột {column} dài quá {value} ký tự"),
    "duplicate_code": ("the code {code} is already the code of line {value}",
                       "mã {code} trùng với mã ở dòng {value}"),
    "code_taken": ("the code {code} is already a dossier's of onestop that was not imported",
                   "mã {code} đã là mã của một hồ sơ khác trên onestop (không phải hồ sơ nhập từ hệ thống cũ)"),
    "unknown_procedure": ("the centre has no published procedure {value}",
                          "trung tâm không có thủ tục {value} đang áp dụng"),
    "unknown_step": ("the procedure {code} has no step {value}", "thủ tục {code} không có bước {value}"),
    "ambiguous_step": ("the procedure {code} has several steps named {value}: give the element id",
                       "thủ tục {code} có nhiều bước tên {value}: hãy ghi mã phần tử của bước"),
    "unreachable_step": ("the step {value} of {code} cannot be reached: {detail}",
                         "không đưa được hồ sơ tới bước {value} của thủ tục {code}: {detail}"),
    "unknown_unit": ("the centre has no unit {value}", "trung tâm không có đơn vị {value}"),
    "bad_date": ("the {column} {value} is not a date (day/month/year or year-month-day, with a time if known)",
                 "cột {column} có giá trị {value} không phải là ngày (ngày/tháng/năm hoặc năm-tháng-ngày, "
                 "kèm giờ nếu có)"),
    "future_date": ("the received date {value} is after today", "ngày tiếp nhận {value} sau ngày hôm nay"),
    "due_before_received": ("the due date {value} is before the received date",
                            "ngày hẹn trả {value} trước ngày tiếp nhận"),
    "bad_id_number": ("the ID number {value} is not 9 or 12 digits", "số giấy tờ {value} không gồm 9 hoặc 12 chữ số"),
}
COLUMN_NAMES = {  # how a message names a column, in English and Vietnamese
    "code": ("code", "mã hồ sơ"), "procedure": ("procedure", "thủ tục"), "applicant_name": ("applicant's name",
                                                                                           "tên người nộp"),
    "applicant_id": ("ID number", "số giấy tờ"), "applicant_phone": ("phone", "số điện thoại"),
    "applicant_address": ("address", "địa chỉ"), "received": ("received date", "ngày tiếp nhận"),
    "due": ("due date", "ngày hẹn trả"), "step": ("current step", "bước hiện tại"), "unit": ("unit", "đơn vị"),
}
LIMITS = {"code": 64, "procedure": 1000, "applicant_name": 200, "applicant_id": 32, "applicant_phone": 32,
          "applicant_address": 500, "step": 500, "unit": 255}
# A legacy code of the national layout: the agency's identity code, the receipt day, the sequence.
_CODE_LAYOUT = re.compile(r"^(?P<agency>.+)-(?P<day>\d{6})-(?P<sequence>\d{4,})$")


@dataclass
class Problem:
    """One thing wrong with one line of the file (line 1 is the header; 0 the file as a whole)."""

    line: int
    kind: str
    column: str | None = None
    code: str | None = None
    value: str | None = None
    detail: str | None = None

    def text(self, language: str = "en") -> str:
        english, vietnamese = MESSAGES[self.kind]
        column = COLUMN_NAMES.get(self.column or "", (self.column or "", self.column or ""))
        vi = language.startswith("vi")
        return (vietnamese if vi else english).format(
            column=column[1] if vi else column[0], code=self.code or "", value=self.value or "",
            detail=self.detail or "")

    def as_dict(self) -> dict:
        return {"row": self.line, "kind": self.kind, "column": self.column, "code": self.code, "value": self.value,
                "detail": self.detail, "message": self.text("en"), "message_vi": self.text("vi")}

    @classmethod
    def from_dict(cls, d: dict) -> Problem:
        """A problem back from its `as_dict` (an error's details), to be said in another language."""
        return cls(d["row"], d["kind"], d.get("column"), d.get("code"), d.get("value"), d.get("detail"))


@dataclass
class Row:
    """A checked line: a dossier to import."""

    line: int
    code: str
    procedure: object
    version: object
    element_id: str
    received_at: datetime
    due_at: datetime
    applicant: dict
    unit_id: int | None
    code_fits: bool
    already: bool = False  # an imported dossier of the centre has that code: skipped


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
    started = datetime.now()
    centre_id = centre_id or actor.centre_id
    switch_over = switch_over or local_today()
    if len(content) > MAX_BYTES:
        _refuse([Problem(0, "too_large", value=str(MAX_BYTES // (1024 * 1024)))])
    try:
        lines = read_rows(file_name, content)
    except _Unreadable as exc:
        _refuse([Problem(0, "unreadable", value=str(exc))])
    if not lines:
        _refuse([Problem(0, "empty")])
    if len(lines) > MAX_ROWS:
        _refuse([Problem(0, "too_many", value=str(len(lines)))])
    rows, problems = _check(centre_id, lines)
    switch_over_at = to_utc(datetime.combine(switch_over, time()))
    positioned, more = _position(centre_id, rows)
    problems = sorted(problems + more, key=lambda p: p.line)
    if problems:
        _refuse(problems)
    report = Report(dry_run, switch_over)
    for row in rows:
        if row.already:
            report.skipped.append(row.code)
            continue
        report.imported.append(row.code)
        key = (row.procedure.code, row.element_id)
        report.by_step[key] = report.by_step.get(key, 0) + 1
        if not row.code_fits:
            report.flagged.append((row.line, row.code))
    if not dry_run:
        fresh = [r for r in rows if not r.already]
        if fresh:
            try:
                timers = run_write(lambda: _write(actor, centre_id, fresh, positioned, switch_over_at, file_name))
                dossier_ids = [dossier_id for dossier_id, _ in timers]
            except IntegrityError:  # another import took one of the codes meanwhile: nothing of this one is kept
                raise Conflict("another import or intake took one of these codes meanwhile; nothing was imported, "
                               "run the import again") from None
            engine().forget(dossier_ids)
            for dossier_id, at in timers:
                if at is not None:
                    schedule.timer_due(dossier_id, at)
    report.seconds = (datetime.now() - started).total_seconds()
    return report


def _refuse(problems):
    raise Invalid(f"the file was not imported: {len(problems)} problem(s); nothing was imported",
                  details=[p.as_dict() for p in problems])


# reading ------------------------------------------------------------------------------------


class _Unreadable(ValueError):
    """A file that is neither CSV (UTF-8) nor an XLSX workbook."""


def _title_key(title) -> str:
    text = unicodedata.normalize("NFC", " ".join(str(title or "").split()).strip().lower()).rstrip(" *:")
    return text


_BY_TITLE = {_title_key(t): name for name, titles in TITLES.items() for t in (*titles, name)}


def read_rows(file_name: str, content: bytes) -> list[tuple[int, dict]]:
    """[(line, {field: value})] of a CSV or XLSX file; fields named by their canonical names
    (FIELDS); columns the importer does not know are left out. A header lacking a required column
    gives one entry for line 1 holding the columns found."""
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        try:
            table = _xlsx_table(content)
        except _Unreadable:
            raise
        except Exception:  # whatever a malformed workbook makes the reader raise: said as one thing
            raise _Unreadable("not an XLSX workbook onestop can read") from None
    else:
        table = _csv_table(content)
    header = [_BY_TITLE.get(_title_key(t)) for t in (table[0] if table else [])]
    missing = [name for name in REQUIRED if name not in header]
    if table and missing:
        return [(1, {"__missing__": missing})]
    out = []
    for number, values in enumerate(table[1:], 2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append((number, {name: value for name, value in zip(header, values, strict=False) if name}))
        if len(out) > MAX_ROWS:
            break
    return out


def _csv_table(content: bytes) -> list:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Unreadable("a CSV file must be UTF-8 (Excel: CSV UTF-8)") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as exc:
        raise _Unreadable(f"not CSV ({exc})") from None


def _xlsx_table(content: bytes) -> list:
    import openpyxl  # defusedxml, installed with onestop, guards its XML parsing

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:  # a small file that unpacks to gigabytes is refused
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise _Unreadable("not an XLSX workbook") from None
    if unpacked > MAX_UNPACKED:
        raise _Unreadable(f"it unpacks to {unpacked // (1024 * 1024)} MB, more than {MAX_UNPACKED // (1024 * 1024)}")
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        rows = []
        for values in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


# checking -----------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet took an ID number or a phone for a number
    return unicodedata.normalize("NFC", " ".join(str(value).split()))


_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d.%m.%Y")


def parse_when(value, closing: time) -> datetime | None:
    """A local date and time from a cell (a spreadsheet's date, or text day/month/year or
    year-month-day, with an optional time); a date alone is taken at `closing` (a due date: the end of
    that working day) or midnight; None if it is no date."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, date):
        return datetime.combine(value, closing)
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if ("%H" in fmt) else datetime.combine(parsed.date(), closing)
    return None


def code_fits(code: str) -> bool:
    """Whether a legacy code has the national layout (services.codes): an agency identity code of
    the national list, the receipt day (YYMMDD) and a sequence of at least 4 digits."""
    match = _CODE_LAYOUT.match(code)
    if not match or not codes.valid_agency_code(match["agency"]):
        return False
    try:
        datetime.strptime(match["day"], "%y%m%d")
    except ValueError:
        return False
    return True


def _closing(centre_id) -> time:
    """The centre's closing time (its office hours' last end; 17:00 by default): a due date given
    without a time means the end of that working day."""
    hours = Centre.select(Centre.office_hours).where(Centre.id == centre_id).scalar()
    try:
        return time.fromisoformat(hours[-1][1]) if hours else time(17, 0)
    except (TypeError, ValueError, IndexError):
        return time(17, 0)


class _Procedures:
    """The centre's published procedures by code (or exact name), each with its human steps: read
    once per procedure named in the file."""

    def __init__(self, centre_id):
        self.centre_id, self.found = centre_id, {}

    def get(self, name: str):
        if name not in self.found:
            hit = sql.current_version(self.centre_id, name)
            if hit is None:
                code = (Procedure.select(Procedure.code).where((Procedure.centre == self.centre_id)
                                                               & (Procedure.name == name)).scalar())
                hit = sql.current_version(self.centre_id, code) if code else None
            if hit is not None and hit[1] is not None:
                procedure, version = hit
                steps = engine().human_steps(model_for(version))
                by_name = {}
                for element_id, label in steps.items():
                    by_name.setdefault(_title_key(label), []).append(element_id)
                hit = (procedure, version, steps, by_name)
            else:
                hit = None
            self.found[name] = hit
        return self.found[name]


def _check(centre_id, lines) -> tuple[list[Row], list[Problem]]:
    """The lines as rows to import, and every problem found (a row with a problem is not among them)."""
    if lines and "__missing__" in lines[0][1]:
        return [], [Problem(1, "missing_column", column=c) for c in lines[0][1]["__missing__"]]
    procedures, closing, now = _Procedures(centre_id), _closing(centre_id), utcnow()
    unit_ids = {}
    for code, name, unit_id in Unit.select(Unit.code, Unit.name, Unit.id).where(Unit.centre == centre_id).tuples():
        unit_ids[_title_key(code)] = unit_id
        unit_ids.setdefault(_title_key(name), unit_id)
    rows, problems, seen = [], [], {}
    for line, cells in lines:
        found = []
        values = {name: _text(cells.get(name)) for name in FIELDS}
        for name in REQUIRED:
            if not values[name]:
                found.append(Problem(line, "missing_value", column=name, code=values["code"] or None))
        for name, limit in LIMITS.items():
            if len(values[name]) > limit:
                found.append(Problem(line, "too_long", column=name, code=values["code"][:64] or None,
                                     value=str(limit)))
        code = values["code"]
        if code and len(code) <= LIMITS["code"]:
            if code in seen:
                found.append(Problem(line, "duplicate_code", column="code", code=code, value=str(seen[code])))
            else:
                seen[code] = line
        when = {}
        for name in ("received", "due"):
            if values[name]:
                parsed = parse_when(cells.get(name), closing if name == "due" else time())
                if parsed is None:
                    found.append(Problem(line, "bad_date", column=name, code=code or None, value=values[name][:40]))
                else:
                    when[name] = to_utc(parsed)
        if "received" in when and when["received"] > now:
            found.append(Problem(line, "future_date", column="received", code=code or None,
                                 value=values["received"][:40]))
        if len(when) == 2 and when["due"] < when["received"]:
            found.append(Problem(line, "due_before_received", column="due", code=code or None,
                                 value=values["due"][:40]))
        id_number = values["applicant_id"]
        if id_number and not re.fullmatch(r"\d{9}|\d{12}", id_number):
            found.append(Problem(line, "bad_id_number", column="applicant_id", code=code or None,
                                 value=id_number[:40]))
        unit_id = None
        if values["unit"]:
            unit_id = unit_ids.get(_title_key(values["unit"]))
            if unit_id is None:
                found.append(Problem(line, "unknown_unit", column="unit", code=code or None, value=values["unit"]))
        hit = procedures.get(values["procedure"]) if values["procedure"] else None
        element_id = None
        if values["procedure"] and hit is None:
            found.append(Problem(line, "unknown_procedure", column="procedure", code=code or None,
                                 value=values["procedure"][:200]))
        elif hit is not None and values["step"]:
            procedure, version, steps, by_name = hit
            if values["step"] in steps:
                element_id = values["step"]
            else:
                named = by_name.get(_title_key(values["step"]), [])
                if len(named) == 1:
                    element_id = named[0]
                else:
                    found.append(Problem(line, "ambiguous_step" if named else "unknown_step", column="step",
                                         code=procedure.code, value=values["step"][:200]))
        if found:
            problems += found
            continue
        procedure, version = hit[0], hit[1]
        applicant = {"name": values["applicant_name"]} | {
            key: values[f"applicant_{column}"] for key, column in (("citizen_id", "id"), ("phone", "phone"),
                                                                     ("address", "address"))
            if values[f"applicant_{column}"]}
        rows.append(Row(line, code, procedure, version, element_id, when["received"], when["due"], applicant, unit_id,
                        code_fits(code)))
    _mark_imported_already(centre_id, rows, problems)
    rows = [r for r in rows if r.line not in {p.line for p in problems}]
    return rows, problems


def _mark_imported_already(centre_id, rows, problems) -> None:
    """Rows whose code is an imported dossier of the centre are skipped; a code that is another
    dossier's (not imported, or of another centre) is a problem."""
    by_code = {r.code: r for r in rows}
    codes_ = list(by_code)
    for start in range(0, len(codes_), BATCH):
        chunk = codes_[start:start + BATCH]
        for code, centre, switch_over_at in (Dossier.select(Dossier.code, Dossier.centre, Dossier.switch_over_at)
                                             .where(Dossier.code.in_(chunk)).tuples()):
            row = by_code[code]
            if centre == centre_id and switch_over_at is not None:
                row.already = True
            else:
                problems.append(Problem(row.line, "code_taken", column="code", code=code))


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
    now, timers = utcnow(), []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        steps, values = {}, []
        for row in chunk:
            place = places[(row.version.id, row.element_id)]
            data = data_of(place.model, row)
            step = steps[row.code] = engine().copy_positioned(place.step, data)
            values.append((centre_id, row.code, row.procedure.id, row.version.id, step.status, sql.to_json(step.data),
                           sql.to_json(row.applicant), step.state, 1, step.next_timer_at, place.status.value,
                           row.received_at, row.due_at, place.authority, CHANNEL, actor.id, now, now, switch_over_at))
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
            audit.record("dossier.imported", actor, dossier=SimpleNamespace(id=dossier_id, centre_id=centre_id),
                         element_id=row.element_id,
                         detail={"procedure": row.procedure.code, "version": row.version.version, "file": file_name,
                                 "line": row.line, "code_fits": row.code_fits,
                                 "switch_over": switch_over_at.isoformat()})
        for part in range(0, len(items), BATCH):
            sql.insert_rows("workitem", _ITEM_COLUMNS, items[part:part + BATCH])
        for part in range(0, len(waits), BATCH):
            sql.insert_rows("waitingevent", _WAIT_COLUMNS, waits[part:part + BATCH])
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
