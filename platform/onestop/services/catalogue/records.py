"""Reading a catalogue file: procedure records in the shape the national procedures database
publishes them (code, name_vi, level, field, agency, documents, processing_days / processing_unit,
fees, steps with their units, online level, legal basis, result), as JSON (a list of records, or
{"procedures": [...]}) or XLSX (one row per record under a header row of those names; list cells
one item a line, a step a line as "unit: what it does").

Every row is checked before anything is imported: each problem is reported with its row, the
record's code, the column and a kind the pages put in the reader's language (`Problem`). The time
limit's day type is read from the head of processing_unit as the source writes it: "ngày làm việc"
(working days), "giờ làm việc" (working hours), "ngày" alone (calendar days: the law's "ngày"),
"ngay trong ngày" (the same day), or the unit's key itself; a unit the source left out ("không rõ",
empty) is taken as working days and said so on the draft.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field

MAX_RECORDS = 5000
MAX_DAYS = 3650
MAX_TEXT = 2000
MAX_UNPACKED = 100 * 1024 * 1024  # an XLSX file's parts, unpacked
MAX_COLUMNS = 100
REQUIRED = ("code", "name_vi", "level", "agency", "processing_days", "processing_unit", "documents", "steps")
LISTS = ("documents", "steps", "legal_basis", "source")
# Column titles of the national database's own exports, taken as the field they name.
ALIASES = {
    "mã thủ tục": "code", "mã": "code", "tên thủ tục": "name_vi", "name": "name_vi", "cấp thực hiện": "level",
    "lĩnh vực": "field", "cơ quan thực hiện": "agency", "thành phần hồ sơ": "documents",
    "thời hạn giải quyết": "processing_days", "đơn vị thời hạn": "processing_unit", "phí, lệ phí": "fee_vnd",
    "trình tự thực hiện": "steps", "căn cứ pháp lý": "legal_basis", "kết quả thực hiện": "result",
    "mức độ dịch vụ công trực tuyến": "online_level", "mẫu quy trình": "pattern",
}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
UNITS = ("working_days", "working_hours", "calendar_days")


@dataclass
class Problem:
    """One thing wrong with one row (row 1 is an XLSX file's header; 0 the file as a whole)."""

    row: int
    kind: str  # unreadable, too_many, not_a_record, missing_column, missing_value, bad_code, duplicate_code,
    #            unknown_level, unknown_unit, impossible_time, bad_value
    column: str | None = None
    code: str | None = None
    value: str | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return {"row": self.row, "kind": self.kind, "column": self.column, "code": self.code,
                "value": self.value, "message": self.message}


@dataclass
class Record:
    """One procedure of the catalogue, checked and normalised."""

    row: int
    code: str
    name: str
    level: str
    levels: list
    agency: str
    days: float
    unit: str  # one of UNITS
    documents: list
    steps: list  # {"no", "actor", "text"}
    extra: dict = field(default_factory=dict)  # the other fields, as given
    notes: list = field(default_factory=list)  # what the reader assumed, said on the draft


def read(file_name: str, content: bytes) -> tuple[list[Record], list[Problem]]:
    """The records of a catalogue file and the problems of its rows (no records when any)."""
    try:
        rows = _xlsx_rows(content) if file_name.lower().endswith((".xlsx", ".xlsm")) else _json_rows(content)
    except Unreadable as exc:
        return [], [Problem(0, "unreadable", message=f"the file cannot be read: {exc}")]
    if not rows:
        return [], [Problem(0, "unreadable", message="the file holds no procedure records")]
    if len(rows) > MAX_RECORDS:
        return [], [Problem(0, "too_many", value=str(len(rows)),
                            message=f"{len(rows)} records; at most {MAX_RECORDS} in one file")]
    records, problems, seen = [], [], {}
    for number, row in rows:
        record, found = check_row(number, row)
        problems += found
        code = (_text(row.get("code")) or _text(row.get("id"))) if isinstance(row, dict) else ""
        if code and code in seen:  # a row with other problems still holds its code
            problems.append(Problem(number, "duplicate_code", "code", code, str(seen[code]),
                                    f"code {code} is already the code of row {seen[code]}"))
            continue
        seen.setdefault(code, number)
        if record is not None:
            records.append(record)
    return ([] if problems else records), problems


class Unreadable(ValueError):
    """A file that is neither a JSON list of records nor an XLSX workbook (the message says which)."""


def _json_rows(content: bytes) -> list:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(f"not JSON (line {getattr(exc, 'lineno', '?')})") from None
    if isinstance(data, dict) and isinstance(data.get("procedures"), list):
        data = data["procedures"]
    if not isinstance(data, list):
        raise Unreadable('expected a list of procedure records (or {"procedures": [...]})')
    return list(enumerate(data, 1))


def _xlsx_rows(content: bytes) -> list:
    try:
        return _workbook_rows(content)
    except Unreadable:
        raise
    except Exception:  # whatever a malformed workbook makes the reader raise: said as one thing
        raise Unreadable("not an XLSX workbook onestop can read") from None


def _workbook_rows(content: bytes) -> list:
    import openpyxl  # defusedxml, installed with onestop, guards its XML parsing

    with zipfile.ZipFile(io.BytesIO(content)) as archive:  # a small file that unpacks to gigabytes is refused
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > MAX_UNPACKED:
        raise Unreadable(f"it unpacks to {unpacked // (1024 * 1024)} MB, more than {MAX_UNPACKED // (1024 * 1024)}")
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    sheet = book.worksheets[0]
    lines = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    header = [_column(h) for h in next(lines, ())]
    rows = []
    for number, values in enumerate(lines, 2):
        if len(rows) > MAX_RECORDS:
            break
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        row = {name: _cell(name, value) for name, value in zip(header, values, strict=False) if name}
        rows.append((number, row))
    missing = [c for c in REQUIRED if c not in header]
    book.close()
    if missing:  # said once, on the header row, rather than on every row
        return [(1, {c: None for c in header if c})]
    return rows


def _column(title) -> str | None:
    text = " ".join(str(title).split()).strip() if title is not None else ""
    return ALIASES.get(text.lower(), text) or None


def _cell(name, value):
    if isinstance(value, float) and name == "code":
        return f"{value:.6f}"  # a national code a spreadsheet took for a number: 1.00089 is 1.000890
    if name in LISTS and isinstance(value, str):
        items = [line.strip() for line in value.splitlines() if line.strip()]
        return [_step_line(i, line) for i, line in enumerate(items, 1)] if name == "steps" else items
    return value


def _step_line(number, line) -> dict:
    actor, sep, text = line.partition(": ")
    return {"no": number, "actor": actor.strip(), "vi": text.strip()} if sep else {"no": number, "vi": line}


def check_row(number, row) -> tuple[Record | None, list[Problem]]:
    """A row as a Record, or the problems that keep it out."""
    if not isinstance(row, dict):
        return None, [Problem(number, "not_a_record", message=f"row {number} is not a procedure record (an object)")]
    problems = [Problem(number, "missing_column", c, _text(row.get("code")) or None,
                        message=f"the column {c!r} is missing") for c in REQUIRED if c not in row]
    if problems:
        return None, problems
    code, notes = _code(number, row, problems)
    name = " ".join(str(row.get("name_vi") or "").split())
    if not name or len(name) > 1000:
        problems.append(Problem(number, "missing_value", "name_vi", code, message="the procedure's name is missing"
                                if not name else "the procedure's name is longer than 1000 characters"))
    level, levels = _level(number, row.get("level"), code, problems, notes)
    days, unit = _time_limit(number, row, code, problems, notes)
    documents = _list(number, row, "documents", code, problems)
    steps = [_step(i, s) for i, s in enumerate(_list(number, row, "steps", code, problems), 1)]
    if problems:
        return None, problems
    extra = {k: v for k, v in row.items() if k not in REQUIRED and v not in (None, "", [])}
    extra["processing_unit_text"] = _text(row.get("processing_unit"))[:500]
    return Record(number, code, name, level, levels, _text(row.get("agency")), days, unit, documents, steps, extra,
                  notes), []


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _code(number, row, problems) -> tuple[str, list]:
    code, notes = _text(row.get("code")), []
    if not code and _text(row.get("id")):
        code = _text(row.get("id"))
        notes.append("the record has no national code: imported under its id")
    if not code:
        problems.append(Problem(number, "missing_value", "code", message="the procedure's code is missing"))
    elif not _CODE.match(code):
        problems.append(Problem(number, "bad_code", "code", code, code,
                                "a code may only hold letters, digits and . _ - (at most 128)"))
    return code, notes


LEVELS = (("commune", ("commune", "xã")), ("province", ("province", "tỉnh")), ("district", ("district", "huyện")),
          ("ministry", ("ministry", "bộ", "trung ương", "central")))


def _level(number, value, code, problems, notes) -> tuple[str, list]:
    text = _text(value).lower()
    found = [level for level, words in LEVELS if any(re.search(rf"\b{w}\b", text) for w in words)]
    if not found:
        problems.append(Problem(number, "unknown_level", "level", code, _text(value)[:200],
                                f"level {_text(value)!r} is none of commune, province, district, ministry"))
        return "", []
    if "district" in found:
        notes.append("the record is of a district, a level abolished on 1 July 2025")
    return found[0], found


def day_type(text: str, days) -> str | None:
    """The unit of a time limit from processing_unit as the source writes it; None if unknown.
    Only its head counts ("ngày (nguồn ghi "Ngày", không ghi "ngày làm việc")" is calendar days)."""
    text = _text(text).lower()
    if text in UNITS:
        return text
    head = re.split(r"[(;,]| - ", text, maxsplit=1)[0].strip()
    if head in ("", "không rõ", "unknown", "unstated"):
        return "unstated"
    if "trong ngày" in head or head == "same day":
        return "working_days"
    if head in ("giờ", "giờ làm việc", "working hours", "hours"):
        return "working_hours"
    if head in ("ngày làm việc", "working days"):
        return "working_days"
    if head in ("ngày", "ngày dương lịch", "calendar days", "days"):
        return "calendar_days"
    return None


def _time_limit(number, row, code, problems, notes) -> tuple[float, str]:
    raw = row.get("processing_days")
    try:
        days = float(str(raw).replace(",", ".")) if not isinstance(raw, bool) and raw is not None else math.nan
    except ValueError:
        days = math.nan
    unit = day_type(row.get("processing_unit"), days)
    if unit is None:
        problems.append(Problem(number, "unknown_unit", "processing_unit", code, _text(row.get("processing_unit"))[:200],
                                f"the time limit's unit {_text(row.get('processing_unit'))[:80]!r} is not one onestop "
                                "counts (ngày làm việc, giờ làm việc, ngày, ngay trong ngày)"))
        return 0, "working_days"
    if unit == "unstated":
        unit = "working_days"
        notes.append("the record does not say whether its time limit is in working or calendar days; "
                     "taken as working days: check the legal text")
    limit = MAX_DAYS * (24 if unit == "working_hours" else 1)
    whole = unit != "calendar_days" or days == int(days) if math.isfinite(days) else False
    if not math.isfinite(days) or not 0 <= days <= limit or not whole:
        problems.append(Problem(number, "impossible_time", "processing_days", code, _text(raw)[:80],
                                f"time limit {_text(raw)[:80]!r} is impossible: a number of {unit.replace('_', ' ')} "
                                f"from 0 to {limit}" + (", whole days" if unit == "calendar_days" else "")))
    return days, unit


def _list(number, row, column, code, problems) -> list:
    value = row.get(column)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        problems.append(Problem(number, "bad_value", column, code, _text(value)[:80], f"{column} must be a list"))
        return []
    if column == "documents":
        return [_document(d) for d in value if d]
    return value


def _document(item):
    if isinstance(item, dict):
        name = _text(item.get("name"))[:MAX_TEXT]
        return {"name": name or "Điều chỉnh: tên giấy tờ", **({"required": item["required"]}
                                                                  if isinstance(item.get("required"), bool) else {})}
    return _text(item)[:MAX_TEXT]


def _step(number, item) -> dict:
    if not isinstance(item, dict):
        return {"no": number, "actor": "", "text": _text(item)}
    text = _text(item.get("vi") or item.get("text") or item.get("en"))
    return {"no": item.get("no", number), "actor": _text(item.get("actor") or item.get("unit")), "text": text,
            "en": _text(item.get("en"))}
