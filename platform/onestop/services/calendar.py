"""One calendar for the country: the official days off and day swaps as data, each with the notice
that decided it, kept once at the national level by a system administrator and inherited by every
centre; a province may add its own days (inherited by its communes); a commune keeps its own
closures as centre exceptions (services.deadlines.set_day).

The days come in by hand (set_day), or as a file (import_days: CSV or JSON, every row checked
before any is written, so a file with one bad row changes nothing). onestop ships the notices of
2025-2027 it could find (official_calendar.json, loaded by migration 31); the `holidays` package
stays the fallback for days the official data is silent on (onestop.workdays).

A change empties the centres' calendars in every process within a second (deadlines._calendars, a
runtime.SharedCache): the next due date computed anywhere uses it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..db import write_transaction
from ..models import Centre, OfficialDay, utcnow
from . import audit, deadlines
from .errors import Forbidden, Invalid, NotFound, shown

SHIPPED = Path(__file__).with_name("official_calendar.json")
COLUMNS = ("date", "working", "name", "source", "source_date", "source_url", "confirmed", "note")
REQUIRED = ("date", "working", "name", "source")
LIMITS = {"name": 255, "source": 255, "source_url": 500, "note": 500}
MAX_ROWS = 2000
MAX_BYTES = 1_000_000
_TRUE, _FALSE = {"true", "1", "yes", "có", "x"}, {"false", "0", "no", "không", ""}


@dataclass
class Report:
    added: int = 0
    updated: int = 0


def _scope(actor, province) -> Centre | None:
    """The province whose days the actor edits (None: the country's), if the actor may: the country's
    days are a system administrator's; a province's, its province administrator's (or the nation's)."""
    if province is None:
        if not actor.has_role("system_admin"):
            raise Forbidden("only a system administrator keeps the national calendar")
        return None
    centre = Centre.get_or_none(Centre.code == str(province))
    if centre is None or centre.level != "province":
        raise NotFound(f"no province {shown(province)}")
    if not (actor.has_role("system_admin") or (actor.has_role("province_admin") and actor.centre_id == centre.id)):
        raise Forbidden("only the province's administrator (or a system administrator) keeps its days")
    return centre


def _flag(value, where):
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{where} must be true or false")


def _date(value, where, required=True):
    if value in (None, "") and not required:
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{where} must be a date YYYY-MM-DD") from None


def check_row(row) -> dict:
    """One day as stored, from a row of a file or a form; ValueError naming the first problem."""
    if not isinstance(row, dict):
        raise ValueError("each day must be an object")
    unknown = sorted(set(row) - set(COLUMNS) - {"weekday"})
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r}; columns are: {', '.join(COLUMNS)}")
    missing = [c for c in REQUIRED if row.get(c) in (None, "")]
    if missing:
        raise ValueError(f"{missing[0]} is required")
    values = {"day": _date(row["date"], "date"), "working": _flag(row["working"], "working"),
              "source_date": _date(row.get("source_date"), "source_date", required=False),
              "confirmed": True if row.get("confirmed") in (None, "") else _flag(row["confirmed"], "confirmed")}
    if not 2000 <= values["day"].year <= 2100:
        raise ValueError("date must be in the years 2000 to 2100")
    for key, limit in LIMITS.items():
        text = row.get(key)
        text = "" if text is None else str(text).strip()
        if len(text) > limit:
            raise ValueError(f"{key} is longer than {limit} characters")
        values[key] = text or None if key == "source_url" else text
    if not values["name"] or not values["source"]:
        raise ValueError("name and source are required")
    return values


def parse(data: bytes, filename: str = "") -> list[dict]:
    """The rows of an import file: JSON (a list of days, or {"days": [...]}) or CSV with a header
    row of COLUMNS. Invalid (with one detail per bad row) if anything is wrong; nothing is kept."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"the file is larger than {MAX_BYTES // 1000} kB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the file must be UTF-8 text (CSV or JSON)") from None
    if filename.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise Invalid(f"the file is not valid JSON: {exc}") from None
        raw = loaded.get("days") if isinstance(loaded, dict) else loaded
        if not isinstance(raw, list):
            raise Invalid('JSON must be a list of days or an object with "days": [...]')
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise Invalid(f"the CSV file has no column {missing[0]!r}; the header row needs: {', '.join(REQUIRED)}")
        raw = list(reader)
    if not raw or len(raw) > MAX_ROWS:
        raise Invalid(f"send 1 to {MAX_ROWS} days")
    return _checked(raw)


def _checked(raw) -> list[dict]:
    rows, problems, seen = [], [], {}
    for number, item in enumerate(raw, start=1):
        try:
            row = check_row(item)
        except ValueError as exc:
            problems.append({"row": number, "message": str(exc)})
            continue
        if row["day"] in seen:
            problems.append({"row": number, "message": f"{row['day']} is also on row {seen[row['day']]}"})
            continue
        seen[row["day"]] = number
        rows.append(row)
    if problems:
        raise Invalid(f"{len(problems)} row(s) of the file are not valid; nothing was imported", details=problems)
    return rows


def import_days(actor, data: bytes, filename: str = "", province=None) -> Report:
    """Import a file of official days for the country (or a province): every row is checked first,
    then all are written in one transaction (a day already there is replaced)."""
    scope = _scope(actor, province)
    rows = parse(data, filename)
    with write_transaction():
        report = _write(rows, scope)
        audit.record("calendar.official_imported", actor, detail={
            "province": scope.code if scope else None, "file": filename[:255], "added": report.added,
            "updated": report.updated})
        deadlines.changed()
    return report


def _write(rows, scope) -> Report:
    report, province_id = Report(), scope.id if scope else None
    where = OfficialDay.province.is_null() if province_id is None else OfficialDay.province == province_id
    existing = {d.day: d.id for d in OfficialDay.select(OfficialDay.id, OfficialDay.day).where(
        where & OfficialDay.day.in_([r["day"] for r in rows]))}
    now = utcnow()
    for row in rows:
        if row["day"] in existing:
            OfficialDay.update(**row, updated_at=now).where(OfficialDay.id == existing[row["day"]]).execute()
            report.updated += 1
        else:
            OfficialDay.create(province=province_id, updated_at=now, **row)
            report.added += 1
    return report


def set_day(actor, row: dict, province=None) -> OfficialDay:
    """Add or replace one official day of the country (or a province)."""
    scope = _scope(actor, province)
    try:
        values = check_row(row)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    with write_transaction():
        _write([values], scope)
        audit.record("calendar.official_day_set", actor, detail={
            "province": scope.code if scope else None, **{k: str(v) for k, v in values.items() if v is not None}})
        deadlines.changed()
    return _row(scope, values["day"])


def clear_day(actor, day: date, province=None) -> bool:
    """Drop an official day: the day is decided by the fallback (the `holidays` package, the
    weekend) again, or by the country's day for a province's."""
    scope = _scope(actor, province)
    with write_transaction():
        gone = OfficialDay.delete().where(_where(scope) & (OfficialDay.day == day)).execute()
        if gone:
            audit.record("calendar.official_day_cleared", actor, detail={
                "province": scope.code if scope else None, "day": day.isoformat()})
            deadlines.changed()
    return bool(gone)


def list_days(actor, year: int | None = None, province=None) -> list[OfficialDay]:
    """The official days of the country (or a province), by date; of one year if given. They are
    public facts: anyone signed in may read them."""
    scope = None
    if province is not None:
        scope = Centre.get_or_none(Centre.code == str(province))
        if scope is None or scope.level != "province":
            raise NotFound(f"no province {shown(province)}")
    query = OfficialDay.select().where(_where(scope)).order_by(OfficialDay.day)
    if year is not None:
        query = query.where((OfficialDay.day >= date(year, 1, 1)) & (OfficialDay.day <= date(year, 12, 31)))
    return list(query)


def _where(scope):
    return OfficialDay.province.is_null() if scope is None else OfficialDay.province == scope.id


def _row(scope, day) -> OfficialDay:
    return OfficialDay.get(_where(scope) & (OfficialDay.day == day))


def load_shipped(path: Path = SHIPPED) -> int:
    """Write the shipped national days where the country has none for that date (migration 31; a
    day the administrator changed is kept). The number of days written."""
    rows = parse(path.read_bytes(), path.name)
    have = {d for (d,) in OfficialDay.select(OfficialDay.day).where(OfficialDay.province.is_null()).tuples()}
    fresh = [r for r in rows if r["day"] not in have]
    for row in fresh:
        OfficialDay.create(province=None, **row)
    return len(fresh)
