"""Reading a legacy file (services.legacy): CSV or XLSX, one dossier a line under a header whose
titles may be Vietnamese or English, and the problems a line may have, said in both languages."""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

MAX_BYTES = 50 * 1024 * 1024
MAX_UNPACKED = 200 * 1024 * 1024  # an XLSX file's parts, unpacked
MAX_ROWS = 100_000
MAX_COLUMNS = 60

FIELDS = ("code", "procedure", "applicant_name", "applicant_id", "applicant_phone", "applicant_address",
          "received", "due", "step", "unit")
REQUIRED = ("code", "procedure", "applicant_name", "received", "due", "step")
# Column titles as old systems and people write them (compared regardless of case and extra spaces).
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




class Unreadable(ValueError):
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
        except Unreadable:
            raise
        except Exception:  # whatever a malformed workbook makes the reader raise: said as one thing
            raise Unreadable("not an XLSX workbook onestop can read") from None
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
        raise Unreadable("a CSV file must be UTF-8 (Excel: CSV UTF-8)") from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as exc:
        raise Unreadable(f"not CSV ({exc})") from None


def _xlsx_table(content: bytes) -> list:
    import openpyxl  # defusedxml, installed with onestop, guards its XML parsing

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:  # a small file that unpacks to gigabytes is refused
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise Unreadable("not an XLSX workbook") from None
    if unpacked > MAX_UNPACKED:
        raise Unreadable(f"it unpacks to {unpacked // (1024 * 1024)} MB, more than {MAX_UNPACKED // (1024 * 1024)}")
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
    if isinstance(value, datetime):  # a spreadsheet's date cell holds midnight: a date alone
        value = value.replace(tzinfo=None, microsecond=0)
        return datetime.combine(value.date(), closing) if value.time() == time() else value
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

