"""Figures from what happened to dossiers (their recorded times, their steps' history and the audit
trail), never from counters kept by hand. One definition of each figure, documented in
docs/statistics.md and used by every page, export and the API.

A period is [start, end) of local dates (Vietnam's time); figures are for a set of centres, and
optionally one procedure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from .. import sql
from ..models import Centre, Procedure, utcnow
from ..workdays import to_utc
from .errors import Invalid, NotFound, shown

LEVELS = ("rat_hai_long", "hai_long", "khong_hai_long")
MAX_DAYS = 3 * 366 + 1


@dataclass
class Figures:
    start: date
    end: date  # exclusive
    received: int = 0
    online: int = 0
    resolved: int = 0
    early: int = 0
    on_time: int = 0  # includes early
    late: int = 0
    without_deadline: int = 0
    returned: int = 0
    not_accepted: int = 0
    supplemented: int = 0
    pending_now: int = 0
    overdue_now: int = 0
    ratings: dict = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    units: list = field(default_factory=list)  # per lane: steps done, on time, late, average and p90 hours
    steps: list = field(default_factory=list)  # per step (element): the same
    officials: list = field(default_factory=list)  # per person: tasks done, on time, average hours

    @property
    def on_time_rate(self) -> float | None:
        judged = self.on_time + self.late
        return round(100.0 * self.on_time / judged, 1) if judged else None

    @property
    def online_share(self) -> float | None:
        return round(100.0 * self.online / self.received, 1) if self.received else None

    @property
    def supplement_rate(self) -> float | None:
        return round(100.0 * self.supplemented / self.received, 1) if self.received else None

    @property
    def refusal_rate(self) -> float | None:
        return round(100.0 * self.not_accepted / self.received, 1) if self.received else None

    @property
    def satisfaction_rate(self) -> float | None:
        total = sum(self.ratings.values())
        return round(100.0 * (self.ratings["rat_hai_long"] + self.ratings["hai_long"]) / total, 1) if total else None

    def as_dict(self, public=False) -> dict:
        body = {"from": self.start.isoformat(), "to": (self.end - timedelta(days=1)).isoformat(),
                "received": self.received, "online": self.online, "online_share": self.online_share,
                "resolved": self.resolved, "early": self.early, "on_time": self.on_time, "late": self.late,
                "without_deadline": self.without_deadline, "on_time_rate": self.on_time_rate,
                "returned": self.returned, "not_accepted": self.not_accepted, "refusal_rate": self.refusal_rate,
                "supplemented": self.supplemented, "supplement_rate": self.supplement_rate,
                "pending_now": self.pending_now, "overdue_now": self.overdue_now,
                "ratings": self.ratings, "satisfaction_rate": self.satisfaction_rate, "units": self.units}
        if not public:
            body["steps"], body["officials"] = self.steps, self.officials
        return body


def period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period asked for (inclusive dates), as [start, end); default: this month so far."""
    start = start or today.replace(day=1)
    end = (end or today) + timedelta(days=1)
    if end <= start or (end - start).days > MAX_DAYS:
        raise Invalid(f"the period runs from a date to a later one, at most {MAX_DAYS} days")
    return start, end


def _bounds(start, end):
    return to_utc(datetime.combine(start, time())), to_utc(datetime.combine(end, time()))


def centres_for(code: str | None) -> list[int]:
    """A centre and the centres under it (a province and its communes; the nation and everything)."""
    centre = Centre.get_or_none(Centre.code == (code or "default"))
    if centre is None:
        raise NotFound(f"no centre {shown(code)}")
    ids, frontier = [centre.id], [centre.id]
    while frontier:
        frontier = [c for (c,) in Centre.select(Centre.id).where(Centre.parent.in_(frontier)).tuples()]
        ids += frontier
    return ids


def procedure_ids(centre_ids, code: str | None) -> list[int] | None:
    if not code:
        return None
    found = [p for (p,) in Procedure.select(Procedure.id).where(
        Procedure.centre.in_(centre_ids) & (Procedure.code == code)).tuples()]
    if not found:
        raise NotFound(f"no procedure {shown(code)}")
    return found


def _in(column, values):
    return f'{column} IN ({",".join("?" * len(values))})', list(values)


def figures(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
            now: datetime | None = None, detail: bool = False) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end);
    `detail`: the per-step and per-official lines with their hours (units only counted otherwise)."""
    now = now or utcnow()
    lo, hi = _bounds(start, end)
    scope, params = _in('d."centre_id"', centre_ids)
    if procedures is not None:
        clause, more = _in('d."procedure_id"', procedures)
        scope, params = f"{scope} AND {clause}", params + more
    out = Figures(start, end)
    row = sql.run(
        'SELECT COUNT(*), '
        'SUM(CASE WHEN d."channel" = \'online\' THEN 1 ELSE 0 END), '
        'SUM(CASE WHEN d."status" = \'not_accepted\' THEN 1 ELSE 0 END), '
        'SUM(CASE WHEN EXISTS (SELECT 1 FROM "auditevent" e WHERE e."dossier_id" = d."id" '
        '  AND e."action" = \'dossier.supplement_requested\') THEN 1 ELSE 0 END) '
        f'FROM "dossier" d WHERE {scope} AND d."received_at" >= ? AND d."received_at" < ?', params + [lo, hi]).fetchone()
    out.received, out.online, out.not_accepted, out.supplemented = (int(v or 0) for v in row)
    row = sql.run(
        'SELECT COUNT(*), '
        'SUM(CASE WHEN d."due_at" IS NULL THEN 1 ELSE 0 END), '
        'SUM(CASE WHEN d."due_at" IS NOT NULL AND d."resolved_at" <= d."due_at" AND d."apologised_at" IS NULL '
        '  THEN 1 ELSE 0 END), '
        'SUM(CASE WHEN d."due_at" IS NOT NULL AND (d."resolved_at" > d."due_at" OR d."apologised_at" IS NOT NULL) '
        '  THEN 1 ELSE 0 END) '
        f'FROM "dossier" d WHERE {scope} AND d."resolved_at" >= ? AND d."resolved_at" < ?', params + [lo, hi]).fetchone()
    out.resolved, out.without_deadline, out.on_time, out.late = (int(v or 0) for v in row)
    resolved_day, due_day = sql.local_date('d."resolved_at"'), sql.local_date('d."due_at"')
    out.early = int(sql.run(
        f'SELECT COUNT(*) FROM "dossier" d WHERE {scope} AND d."resolved_at" >= ? AND d."resolved_at" < ? '
        'AND d."due_at" IS NOT NULL AND d."resolved_at" <= d."due_at" AND d."apologised_at" IS NULL '
        f'AND {resolved_day} < {due_day}', params + [lo, hi]).fetchone()[0])
    out.returned = int(sql.run(f'SELECT COUNT(*) FROM "dossier" d WHERE {scope} AND d."returned_at" >= ? '
                               'AND d."returned_at" < ?', params + [lo, hi]).fetchone()[0])
    row = sql.run(
        'SELECT COUNT(*), SUM(CASE WHEN d."due_at" < ? AND d."paused_at" IS NULL THEN 1 ELSE 0 END) '
        f'FROM "dossier" d WHERE {scope} AND d."state" = \'active\' '
        'AND d."status" NOT IN (\'resolved\', \'returned\')', [now, *params]).fetchone()
    out.pending_now, out.overdue_now = int(row[0] or 0), int(row[1] or 0)
    for level, count in sql.run(
            f'SELECT r."level", COUNT(*) FROM "rating" r JOIN "dossier" d ON d."id" = r."dossier_id" '
            f'WHERE {scope} AND r."at" >= ? AND r."at" < ? GROUP BY r."level"', params + [lo, hi]):
        if level in out.ratings:
            out.ratings[level] = int(count)
    if detail:
        out.units, out.steps, out.officials = _steps(scope, params, lo, hi)
    else:
        out.units = _units(scope, params, lo, hi)
    return out


def _units(scope, params, lo, hi):
    """Per lane: steps finished in the period, on time and late, counted by the database."""
    rows = sql.run(
        'SELECT h."lane", COUNT(*), SUM(CASE WHEN h."due_at" IS NOT NULL AND h."at" > h."due_at" THEN 1 ELSE 0 END) '
        'FROM "historyentry" h JOIN "dossier" d ON d."id" = h."dossier_id" '
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND h."state" = \'completed\' AND h."lane" IS NOT NULL '
        'GROUP BY h."lane"', [lo, hi] + params).fetchall()
    out = [{"name": lane, "done": int(done), "late": int(late or 0), "on_time": int(done) - int(late or 0)}
           for lane, done, late in rows]
    return sorted(out, key=lambda e: (-e["done"], e["name"]))


def _steps(scope, params, lo, hi):
    """Per lane (the unit that did it), per step and per official: steps done in the period."""
    rows = sql.run(
        'SELECT h."lane", h."element_id", h."name", h."actor_id", u."username", h."started_at", h."at", h."due_at" '
        'FROM "historyentry" h JOIN "dossier" d ON d."id" = h."dossier_id" '
        'LEFT JOIN "user" u ON u."id" = h."actor_id" '
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND h."state" = \'completed\' AND h."started_at" IS NOT NULL',
        [lo, hi] + params).fetchall()
    from ..models import HistoryEntry

    parse = HistoryEntry.at.python_value
    units, steps, people = {}, {}, {}
    for lane, element_id, name, actor_id, username, started, finished, due in rows:
        finished, started = parse(finished), parse(started)
        hours = max((finished - started).total_seconds(), 0.0) / 3600
        late = due is not None and finished > parse(due)
        for table, key, label in ((units, lane or "", lane or ""), (steps, element_id, name or element_id),
                                  (people, actor_id, username)):
            if key is None or (table is people and actor_id is None):
                continue
            entry = table.setdefault(key, {"name": label, "done": 0, "late": 0, "hours": []})
            entry["done"] += 1
            entry["late"] += late
            entry["hours"].append(hours)
    return _summaries(units), _summaries(steps), _summaries(people)


def _summaries(table) -> list[dict]:
    out = []
    for entry in table.values():
        hours = sorted(entry.pop("hours"))
        entry["on_time"] = entry["done"] - entry["late"]
        entry["average_hours"] = round(sum(hours) / len(hours), 2) if hours else None
        entry["p90_hours"] = round(hours[min(len(hours) - 1, math.ceil(0.9 * len(hours)) - 1)], 2) if hours else None
        out.append(entry)
    return sorted(out, key=lambda e: (-e["done"], e["name"] or ""))


def monthly(centre_ids, months: int, today: date, procedures=None) -> list[tuple[date, Figures]]:
    """The last `months` months (this one so far included), oldest first: for the dashboard's charts."""
    first = today.replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        year, month = first.year, first.month - back
        while month < 1:
            year, month = year - 1, month + 12
        start = date(year, month, 1)
        end = date(year + (month == 12), month % 12 + 1, 1)
        out.append((start, figures(centre_ids, start, min(end, today + timedelta(days=1)), procedures)))
    return out


@dataclass
class Dashboard:
    centre: Centre
    month: Figures
    year: Figures
    series: list  # [(first day of the month, Figures)], the last twelve months


def dashboard(code: str | None, today: date) -> Dashboard:
    """The public dashboard of a centre (with the centres under it): this month, this year, and the
    last twelve months."""
    ids = centres_for(code)
    centre = Centre.get(Centre.code == (code or "default"))
    tomorrow = today + timedelta(days=1)
    return Dashboard(centre, figures(ids, today.replace(day=1), tomorrow), figures(ids, date(today.year, 1, 1), tomorrow),
                     monthly(ids, 12, today))


def report(actor, code, procedure, unit, start, end, today) -> dict:
    """GET /api/v1/stats: a centre's figures over a period. Without a signed-in actor of that
    centre's scope, the public figures only (no per-official lines)."""
    from . import centres as centre_scope

    ids = centres_for(code)
    start, end = period(start, end, today)
    allowed = actor is not None and (centre_scope.scope_ids(actor) is None or set(ids) <= centre_scope.scope_ids(actor))
    result = figures(ids, start, end, procedure_ids(ids, procedure), detail=allowed)
    body = result.as_dict(public=not allowed)
    body["centre"] = code or "default"
    if unit:
        body["units"] = [u for u in body["units"] if u["name"] == unit]
        if "steps" in body:
            body.pop("steps")
    return body


CSV_COLUMNS = ("month", "received", "online", "resolved", "early", "on_time", "late", "without_deadline",
               "on_time_rate", "returned", "not_accepted", "supplemented", "satisfaction_rate")


def csv_rows(board: Dashboard) -> list[list]:
    """The dashboard's monthly series as open data rows (the CSV and JSON downloads)."""
    rows = []
    for first, f in board.series:
        data = f.as_dict(public=True)
        rows.append([first.strftime("%Y-%m")] + [data[c] for c in CSV_COLUMNS[1:]])
    return rows
