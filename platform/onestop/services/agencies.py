"""Agencies' electronic identity codes (mã định danh điện tử, QCVN 102:2016/BTTTT) of the centres:
imported from the national list as a CSV of administrative unit code → identity code, and which
centres are not ready because they have none (their dossier codes would start with 000.00.00.H00).

The CSV has two columns, with or without a header row: the administrative unit's code (a province's
2 digits, `22`; a commune's or ward's 5, `07090`; leading zeros may be lost by a spreadsheet) and
the identity code in one of the shapes of `codes.AGENCY_SHAPES`. The whole file is checked first and
every problem is reported with its row; nothing is changed unless every row is right.
"""

import csv
import io
from dataclasses import dataclass, field

from ..db import write_transaction
from ..models import Centre, local_today
from . import audit, codes
from .errors import Forbidden, Invalid, shown

MAX_ROWS = 10_000  # the country has 3,355 centres
_HEADER_WORDS = ("code", "mã", "ma_", "unit", "agency", "đơn vị", "định danh")


@dataclass
class CodesReport:
    changed: int = 0
    unchanged: int = 0
    rows: list = field(default_factory=list)  # [(centre code, agency code)]


def _unit_key(text: str):
    """(level, admin_code) of an administrative unit code as written: 2 digits a province, 3 to 5 a
    commune or ward; None if it is not one."""
    text = text.strip()
    if not text.isdigit() or len(text) > 5:
        return None
    return ("province", f"{int(text):02d}") if len(text) <= 2 else ("commune", f"{int(text):05d}")


def _rows(text: str) -> list[tuple[int, list]]:
    """The CSV's rows with their numbers (1-based, as a spreadsheet shows them), header dropped."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first.count)  # a spreadsheet's export: commas, semicolons or tabs
    rows = [(n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
            if any(c.strip() for c in row)]
    if rows and any(w in " ".join(rows[0][1]).lower() for w in _HEADER_WORDS) \
            and not codes.valid_agency_code(rows[0][1][1] if len(rows[0][1]) > 1 else ""):
        rows = rows[1:]
    return rows


def _check(rows, centres_by_unit) -> tuple[list, list]:
    """[(centre, agency code)] and the problems [{row, message}] of the file's rows."""
    problems, found, seen_units, seen_codes = [], [], {}, {}
    for number, cells in rows:
        if len(cells) < 2:
            problems.append({"row": number, "message": "two columns are needed: the unit's code and the identity code"})
            continue
        unit, agency = cells[0], cells[1].upper()
        key = _unit_key(unit)
        centre = centres_by_unit.get(key) if key else None
        if key is None:
            problems.append({"row": number, "message": f"{shown(unit)} is not an administrative unit code "
                                                        "(2 digits a province, 5 a commune or ward)"})
        elif centre is None:
            problems.append({"row": number, "message": f"no centre for the unit {shown(unit)}: import it first "
                                                        "(onestop centres import)"})
        if not codes.valid_agency_code(agency):
            problems.append({"row": number, "message": f"{shown(cells[1])} is not an identity code of the national "
                                                        "list (e.g. 000.00.21.H56 or H15.50.05.13)"})
        for seen, value, what in ((seen_units, key, "unit"), (seen_codes, agency, "identity code")):
            if value and value in seen:
                problems.append({"row": number, "message": f"the same {what} as row {seen[value]}"})
            elif value:
                seen[value] = number
        if centre is not None and codes.valid_agency_code(agency):
            found.append((centre, agency))
    return found, problems


def _taken_elsewhere(found) -> list:
    """Problems for identity codes the file gives to one centre that another centre already has."""
    wanted = {agency: centre for centre, agency in found}
    holders = Centre.select(Centre.id, Centre.code, Centre.agency_code).where(Centre.agency_code.in_(list(wanted)))
    return [{"row": None, "message": f"{h.agency_code} is already the code of {h.code}"}
            for h in holders if wanted[h.agency_code].id != h.id and h.id not in {c.id for c, _ in found}]


def import_codes(actor, text: str, source: str) -> CodesReport:
    """Set the identity codes of the centres a national-list CSV names (within the actor's scope: a
    province administrator's province), all or nothing; raises Invalid listing every problem (its
    `details`: [{row, message}]) and then changes nothing."""
    rows = _rows(text)
    if not rows:
        raise Invalid("the file has no rows: write the administrative unit's code and its identity code per line")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"the file has {len(rows)} rows; at most {MAX_ROWS}")
    from .centres import scope_ids

    if not actor.has_role("system_admin", "province_admin"):
        raise Forbidden("identity codes are imported by a province's or the country's administrator")
    allowed = scope_ids(actor)  # a unit outside it is answered as one without a centre
    centres_by_unit = {(c.level, c.admin_code): c for c in Centre.select().where(
        Centre.level.in_(("province", "commune")) & Centre.admin_code.is_null(False))
        if allowed is None or c.id in allowed}
    found, problems = _check(rows, centres_by_unit)
    problems += [] if problems else _taken_elsewhere(found)
    if problems:
        first = problems[0]
        where = f"row {first['row']}: " if first["row"] else ""
        raise Invalid(f"the codes were not imported, nothing was changed: {len(problems)} problem(s); {where}"
                      f"{first['message']}", details=problems)
    report = CodesReport(rows=[(c.code, a) for c, a in found])
    label = f"national list {source[:120]} ({local_today():%d/%m/%Y})"
    with write_transaction():
        for centre, agency in found:
            if centre.agency_code == agency:
                report.unchanged += 1
                continue
            Centre.update(agency_code=agency, agency_code_source=label).where(Centre.id == centre.id).execute()
            report.changed += 1
        audit.record("centres.codes_imported", actor, detail={"source": source[:200], "changed": report.changed,
                                                              "unchanged": report.unchanged})
        codes.changed()
    return report


def ready(centre) -> bool:
    """Whether a centre can receive dossiers under its own code: it has an identity code."""
    return bool(centre.agency_code)


def not_ready(centre_ids=None, limit=None) -> list[Centre]:
    """The open centres (of those ids, or all) without an identity code, by code."""
    query = Centre.select().where((Centre.agency_code.is_null() | (Centre.agency_code == ""))
                                  & Centre.closed_on.is_null()).order_by(Centre.code)
    if centre_ids is not None:
        query = query.where(Centre.id.in_(list(centre_ids)))
    return list(query.limit(limit) if limit else query)


def count_not_ready(centre_ids=None) -> int:
    query = Centre.select().where((Centre.agency_code.is_null() | (Centre.agency_code == ""))
                                  & Centre.closed_on.is_null())
    if centre_ids is not None:
        query = query.where(Centre.id.in_(list(centre_ids)))
    return query.count()
