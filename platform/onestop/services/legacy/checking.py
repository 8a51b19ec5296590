"""Checking a legacy file's lines (services.legacy) against the centre: its published procedures
and their steps, its units, the dossiers onestop already holds; every problem by line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from ... import sql
from ...models import Centre, Dossier, Procedure, Unit, utcnow
from ...workdays import to_utc
from .. import codes
from ..procedures import model_for
from ..runtime import engine
from .reading import FIELDS, LIMITS, REQUIRED, Problem, _text, _title_key, parse_when

BATCH = 400  # rows of one query or multi-row insert (well under both databases' limits on parameters)
# A legacy code of the national layout: the agency's identity code, the receipt day, the sequence.
_CODE_LAYOUT = re.compile(r"^(?P<agency>.+)-(?P<day>\d{6})-(?P<sequence>\d{4,})$")


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



@dataclass
class _Centre:
    """What the lines are checked against, read once: the procedures, units and closing time."""

    procedures: _Procedures
    units: dict  # unit code or name (as _title_key) -> id
    closing: time
    now: datetime
    seen: dict  # code -> the first line holding it


def check(centre_id, lines) -> tuple[list[Row], list[Problem]]:
    """The lines as rows to import, and every problem found (a row with a problem is not among them)."""
    if lines and "__missing__" in lines[0][1]:
        return [], [Problem(1, "missing_column", column=c) for c in lines[0][1]["__missing__"]]
    unit_ids = {}
    for code, name, unit_id in Unit.select(Unit.code, Unit.name, Unit.id).where(Unit.centre == centre_id).tuples():
        unit_ids[_title_key(code)] = unit_id
        unit_ids.setdefault(_title_key(name), unit_id)
    centre = _Centre(_Procedures(centre_id), unit_ids, _closing(centre_id), utcnow(), {})
    rows, problems = [], []
    for line, cells in lines:
        row, found = _check_line(centre, line, cells)
        problems += found
        if row is not None:
            rows.append(row)
    _mark_imported_already(centre_id, rows, problems)
    rows = [r for r in rows if r.line not in {p.line for p in problems}]
    return rows, problems


def _check_line(centre: _Centre, line: int, cells: dict) -> tuple[Row | None, list[Problem]]:
    values = {name: _text(cells.get(name)) for name in FIELDS}
    code = values["code"]
    found = [Problem(line, "missing_value", column=name, code=code or None) for name in REQUIRED if not values[name]]
    found += [Problem(line, "too_long", column=name, code=code[:64] or None, value=str(limit))
              for name, limit in LIMITS.items() if len(values[name]) > limit]
    if code and len(code) <= LIMITS["code"]:
        if code in centre.seen:
            found.append(Problem(line, "duplicate_code", column="code", code=code, value=str(centre.seen[code])))
        else:
            centre.seen[code] = line
    when = _dates(centre, line, cells, values, found)
    id_number = values["applicant_id"]
    if id_number and not re.fullmatch(r"\d{9}|\d{12}", id_number):
        found.append(Problem(line, "bad_id_number", column="applicant_id", code=code or None, value=id_number[:40]))
    unit_id = centre.units.get(_title_key(values["unit"])) if values["unit"] else None
    if values["unit"] and unit_id is None:
        found.append(Problem(line, "unknown_unit", column="unit", code=code or None, value=values["unit"]))
    hit, element_id = _step(centre, line, values, found)
    if found:
        return None, found
    applicant = {"name": values["applicant_name"]} | {
        key: values[f"applicant_{column}"] for key, column in (("citizen_id", "id"), ("phone", "phone"),
                                                                 ("address", "address")) if values[f"applicant_{column}"]}
    return Row(line, code, hit[0], hit[1], element_id, when["received"], when["due"], applicant, unit_id,
               code_fits(code)), []


def _dates(centre: _Centre, line, cells, values, found) -> dict:
    """The line's received and due instants (UTC) that could be read; a problem for each that
    cannot, for a receipt after now and for a due date before the receipt."""
    when, code = {}, values["code"] or None
    for name in ("received", "due"):
        if values[name]:
            parsed = parse_when(cells.get(name), centre.closing if name == "due" else time())
            if parsed is None:
                found.append(Problem(line, "bad_date", column=name, code=code, value=values[name][:40]))
            else:
                when[name] = to_utc(parsed)
    if "received" in when and when["received"] > centre.now:
        found.append(Problem(line, "future_date", column="received", code=code, value=values["received"][:40]))
    if len(when) == 2 and when["due"] < when["received"]:
        found.append(Problem(line, "due_before_received", column="due", code=code, value=values["due"][:40]))
    return when


def _step(centre: _Centre, line, values, found) -> tuple:
    """(the procedure's (procedure, version, steps, by name) or None, the named step's element id or
    None), with a problem for an unknown procedure and for a step it lacks or names twice."""
    hit = centre.procedures.get(values["procedure"]) if values["procedure"] else None
    if values["procedure"] and hit is None:
        found.append(Problem(line, "unknown_procedure", column="procedure", code=values["code"] or None,
                             value=values["procedure"][:200]))
    if hit is None or not values["step"]:
        return hit, None
    procedure, _version, steps, by_name = hit
    if values["step"] in steps:
        return hit, values["step"]
    named = by_name.get(_title_key(values["step"]), [])
    if len(named) == 1:
        return hit, named[0]
    found.append(Problem(line, "ambiguous_step" if named else "unknown_step", column="step", code=procedure.code,
                         value=values["step"][:200]))
    return hit, None


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


