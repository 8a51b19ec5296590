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

from peewee import fn

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


def figures_from_rows(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
                      now: datetime | None = None, detail: bool = False) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end),
    counted from the dossiers' rows themselves: the definition, and what `rebuild` and the tests
    check the kept figures against. `detail`: the per-step and per-official lines with their hours."""
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
        'SELECT h."lane", h."element_id", h."name", h."actor_id", u."username", h."started_at", h."at", h."due_at", '
        'h."dossier_id" FROM "historyentry" h JOIN "dossier" d ON d."id" = h."dossier_id" '
        'LEFT JOIN "user" u ON u."id" = h."actor_id" '
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND h."state" = \'completed\' AND h."started_at" IS NOT NULL '
        'ORDER BY h."id"', [lo, hi] + params).fetchall()
    from ..models import HistoryEntry

    parse = HistoryEntry.at.python_value
    units, steps, people, seen = {}, {}, {}, set()
    for lane, element_id, name, actor_id, username, started, finished, due, dossier_id in rows:
        finished, started = parse(finished), parse(started)
        hours = max((finished - started).total_seconds(), 0.0) / 3600
        late = due is not None and finished > parse(due)
        rework = (dossier_id, element_id) in seen  # the same step of the same dossier done again
        seen.add((dossier_id, element_id))
        for table, key, label in ((units, lane or "", lane or ""), (steps, element_id, name or element_id),
                                  (people, actor_id, username)):
            if key is None or (table is people and actor_id is None):
                continue
            entry = table.setdefault(key, {"name": label, "done": 0, "late": 0, "rework": 0, "hours": []})
            entry["done"] += 1
            entry["late"] += late
            entry["rework"] += rework
            entry["hours"].append(hours)
    ratings = sql.run(
        'SELECT h."actor_id", r."level", COUNT(DISTINCT r."id") FROM "rating" r '
        'JOIN "historyentry" h ON h."dossier_id" = r."dossier_id" JOIN "dossier" d ON d."id" = r."dossier_id" '
        f'WHERE r."at" >= ? AND r."at" < ? AND {scope} AND h."actor_id" IS NOT NULL GROUP BY h."actor_id", r."level"',
        [lo, hi] + params).fetchall()
    for actor_id, level, n in ratings:  # a rating counts for everyone who handled the dossier
        entry = people.get(actor_id)
        if entry is not None:
            entry.setdefault("ratings", dict.fromkeys(LEVELS, 0))[level] = int(n)
    for entry in people.values():
        entry.setdefault("ratings", dict.fromkeys(LEVELS, 0))
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
        out.append((start, figures(centre_ids, start, min(end, today + timedelta(days=1)), procedures, live=False)))
    return out


@dataclass
class Dashboard:
    centre: Centre
    month: Figures
    year: Figures
    series: list  # [(first day of the month, Figures)], the last twelve months
    index: list = field(default_factory=list)  # Decision 766 groups, this month


def dashboard(code: str | None, today: date) -> Dashboard:
    """The public dashboard of a centre (with the centres under it): this month, this year, and the
    last twelve months."""
    ids = centres_for(code)
    centre = Centre.get(Centre.code == (code or "default"))
    tomorrow = today + timedelta(days=1)
    month = figures(ids, today.replace(day=1), tomorrow)
    year = figures(ids, date(today.year, 1, 1), tomorrow, live=False)
    year.pending_now, year.overdue_now = month.pending_now, month.overdue_now
    return Dashboard(centre, month, year, monthly(ids, 12, today),
                     index(ids, today.replace(day=1), tomorrow, month))


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


# -- figures kept by day ----------------------------------------------------------------------------

COUNTS = ("received", "online", "not_accepted", "supplemented", "resolved", "early", "on_time", "late",
          "without_deadline", "returned", "rated_1", "rated_2", "rated_3")
RATED = {"rat_hai_long": "rated_1", "hai_long": "rated_2", "khong_hai_long": "rated_3"}


def local_day(utc: datetime) -> date:
    from ..workdays import to_local

    return to_local(utc).date()


def count(centre_id, procedure_id, at: datetime, **deltas) -> None:
    """Add to the figures of the local day of `at` (call inside the transaction of the event)."""
    names = [k for k, v in deltas.items() if v]
    if not names:
        return
    columns = ", ".join(f'"{n}"' for n in COUNTS)  # every column: the table's defaults are peewee's, not SQL's
    updates = ", ".join(f'"{n}" = "dayfigure"."{n}" + excluded."{n}"' for n in names)
    sql.run(f'INSERT INTO "dayfigure" ("centre_id", "procedure_id", "day", {columns}) VALUES (?, ?, ?'
            + ", ?" * len(COUNTS) + f') ON CONFLICT ("centre_id", "day", "procedure_id") DO UPDATE SET {updates}',
            [centre_id, procedure_id, local_day(at)] + [int(deltas.get(n) or 0) for n in COUNTS])


def count_steps(centre_id, finished: list) -> None:
    """Add finished steps [(lane, at, due_at)] to their units' days."""
    totals = {}
    for lane, at, due in finished:
        if lane:
            key = (local_day(at), lane)
            done, late = totals.get(key, (0, 0))
            totals[key] = (done + 1, late + (due is not None and at > due))
    for (day, lane), (done, late) in totals.items():
        sql.run('INSERT INTO "dayunit" ("centre_id", "day", "lane", "done", "late") VALUES (?, ?, ?, ?, ?) '
                'ON CONFLICT ("centre_id", "day", "lane") DO UPDATE SET "done" = "dayunit"."done" + excluded."done", '
                '"late" = "dayunit"."late" + excluded."late"', (centre_id, day, lane, done, late))


def resolution(due_at, apologised_at, resolved_at) -> dict:
    """How a result ready at `resolved_at` counts (docs/statistics.md)."""
    if due_at is None:
        return {"resolved": 1, "without_deadline": 1}
    if resolved_at <= due_at and apologised_at is None:
        return {"resolved": 1, "on_time": 1, "early": local_day(resolved_at) < local_day(due_at)}
    return {"resolved": 1, "late": 1}


def rebuild(centre_ids=None) -> None:
    """Recount the kept figures from the dossiers, their steps and ratings (a migration, a repair):
    added up in memory, written in a few multi-row inserts."""
    from ..db import write_transaction
    from ..models import DayFigure, DayUnit, Dossier, HistoryEntry, Rating

    days, units = {}, {}

    def add(centre_id, procedure_id, at, **deltas):
        row = days.setdefault((centre_id, procedure_id, local_day(at)), dict.fromkeys(COUNTS, 0))
        for name, value in deltas.items():
            row[name] += int(value)

    dossiers = Dossier.select(Dossier.id, Dossier.centre, Dossier.procedure, Dossier.received_at, Dossier.channel,
                              Dossier.status, Dossier.resolved_at, Dossier.returned_at, Dossier.due_at,
                              Dossier.apologised_at)
    ratings = Rating.select(Rating.level, Rating.at, Dossier.centre, Dossier.procedure).join(Dossier)
    steps = (HistoryEntry.select(HistoryEntry.lane, HistoryEntry.at, HistoryEntry.due_at, Dossier.centre)
             .join(Dossier).where((HistoryEntry.state == "completed") & HistoryEntry.lane.is_null(False)))
    if centre_ids is not None:
        dossiers, ratings, steps = (q.where(Dossier.centre.in_(list(centre_ids))) for q in (dossiers, ratings, steps))
    supplemented = {d for (d,) in sql.run(
        'SELECT DISTINCT "dossier_id" FROM "auditevent" WHERE "action" = \'dossier.supplement_requested\'')}
    for d in dossiers.tuples().iterator():
        dossier_id, centre_id, procedure_id, received, channel, status, resolved, returned, due, apologised = d
        received, resolved, returned, due, apologised = (Dossier.received_at.python_value(v) for v in
                                                         (received, resolved, returned, due, apologised))
        if received is not None:
            add(centre_id, procedure_id, received, received=1, online=channel == "online",
                not_accepted=status == "not_accepted", supplemented=dossier_id in supplemented)
        if resolved is not None:
            add(centre_id, procedure_id, resolved, **resolution(due, apologised, resolved))
        if returned is not None:
            add(centre_id, procedure_id, returned, returned=1)
    for level, at, centre_id, procedure_id in ratings.tuples():
        add(centre_id, procedure_id, Rating.at.python_value(at), **{RATED[level]: 1})
    for lane, at, due, centre_id in steps.tuples().iterator():
        at, due = HistoryEntry.at.python_value(at), HistoryEntry.at.python_value(due)
        key = (centre_id, local_day(at), lane)
        done, late = units.get(key, (0, 0))
        units[key] = (done + 1, late + (due is not None and at > due))
    with write_transaction():
        for table in (DayFigure, DayUnit):
            query = table.delete()
            if centre_ids is not None:
                query = query.where(table.centre.in_(list(centre_ids)))
            query.execute()
        rows = [(c, p, day, *(row[n] for n in COUNTS)) for (c, p, day), row in days.items()]
        for i in range(0, len(rows), 500):
            sql.insert_rows("dayfigure", ("centre_id", "procedure_id", "day", *COUNTS), rows[i:i + 500])
        rows = [(c, day, lane, done, late) for (c, day, lane), (done, late) in units.items()]
        for i in range(0, len(rows), 1000):
            sql.insert_rows("dayunit", ("centre_id", "day", "lane", "done", "late"), rows[i:i + 1000])


def figures(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
            now: datetime | None = None, detail: bool = False, live: bool = True) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end): the
    days' kept figures added up (the same numbers as figures_from_rows, at any size), the live
    counts of dossiers in progress, and with `detail` the per-step and per-official hours."""
    now = now or utcnow()
    out = Figures(start, end)
    scope, params = _in('"centre_id"', centre_ids)
    if procedures is not None:
        clause, more = _in('"procedure_id"', procedures)
        scope, params = f"{scope} AND {clause}", params + more
    row = sql.run("SELECT " + ", ".join(f'SUM("{c}")' for c in COUNTS) +
                  f' FROM "dayfigure" WHERE {scope} AND "day" >= ? AND "day" < ?', params + [start, end]).fetchone()
    values = dict(zip(COUNTS, (int(v or 0) for v in row), strict=True))
    for name in COUNTS[:10]:
        setattr(out, name, values[name])
    out.ratings = {"rat_hai_long": values["rated_1"], "hai_long": values["rated_2"], "khong_hai_long": values["rated_3"]}
    scope_live, live_params = _in('d."centre_id"', centre_ids)
    if procedures is not None:
        clause, more = _in('d."procedure_id"', procedures)
        scope_live, live_params = f"{scope_live} AND {clause}", live_params + more
    if live:  # the dossiers in progress now, whatever the period (not needed for a month of a series)
        row = sql.run(
            'SELECT COUNT(*), SUM(CASE WHEN d."due_at" < ? AND d."paused_at" IS NULL THEN 1 ELSE 0 END) '
            f'FROM "dossier" d WHERE d."state" = \'active\' AND {scope_live} '
            'AND d."status" NOT IN (\'resolved\', \'returned\')', [now, *live_params]).fetchone()
        out.pending_now, out.overdue_now = int(row[0] or 0), int(row[1] or 0)
    if detail:
        lo, hi = _bounds(start, end)
        detail_units, out.steps, out.officials = _steps(scope_live, live_params, lo, hi)
    if procedures is not None:  # the days keep units for all procedures together: count these from the steps
        lo, hi = _bounds(start, end)
        out.units = detail_units if detail else _units(scope_live, live_params, lo, hi)
        return out
    units, unit_params = _in('"centre_id"', centre_ids)
    rows = sql.run(f'SELECT "lane", SUM("done"), SUM("late") FROM "dayunit" WHERE {units} AND "day" >= ? AND "day" < ? '
                   'GROUP BY "lane"', unit_params + [start, end]).fetchall()
    out.units = sorted(({"name": lane, "done": int(done), "late": int(late), "on_time": int(done) - int(late)}
                        for lane, done, late in rows), key=lambda e: (-e["done"], e["name"]))
    if detail:  # the hours per unit too
        hours = {u["name"]: u for u in detail_units}
        for u in out.units:
            u["average_hours"] = hours.get(u["name"], {}).get("average_hours")
            u["p90_hours"] = hours.get(u["name"], {}).get("p90_hours")
    return out


# -- Decision 766/QĐ-TTg -------------------------------------------------------------------------

INDEX_GROUPS = (  # key, name, weight (points of 100)
    ("publicity", "Công khai, minh bạch", 18),
    ("progress", "Tiến độ giải quyết", 20),
    ("online_service", "Dịch vụ công trực tuyến", 12),
    ("online_payment", "Thanh toán trực tuyến", 10),
    ("satisfaction", "Mức độ hài lòng", 18),
    ("digitisation", "Số hóa hồ sơ", 22),
)


def index(centre_ids, start: date, end: date, f: Figures | None = None) -> list[dict]:
    """The groups of the Decision 766 index the platform can compute from its own data, each with
    its formula (in Vietnamese: it is shown to citizens as is); the groups it cannot compute are
    named as such (score None)."""
    from ..models import Attachment, Dossier, ProcedureVersion

    f = f or figures(centre_ids, start, end)
    lo, hi = _bounds(start, end)
    versions = (ProcedureVersion.select(ProcedureVersion.metadata).join(Procedure, on=(
        (ProcedureVersion.procedure == Procedure.id) & (ProcedureVersion.version == Procedure.latest_version)))
        .where(Procedure.centre.in_(centre_ids)))
    metas = [v.metadata or {} for v in versions]
    complete = sum(1 for m in metas if m.get("documents") and ("fee_vnd" in m or "fee" in m)
                   and m.get("legal_basis") and m.get("deadline"))
    digital = (Dossier.select(Dossier.id).where(Dossier.centre.in_(centre_ids) & (Dossier.received_at >= lo)
                                                & (Dossier.received_at < hi)
                                                & fn.EXISTS(Attachment.select(Attachment.id).where(
                                                    Attachment.dossier == Dossier.id))).count())
    shares = {
        "publicity": (complete / len(metas) if metas else None,
                      "thủ tục đang áp dụng công khai đủ thành phần hồ sơ, phí, căn cứ pháp lý và thời hạn"),
        "progress": (f.on_time_rate / 100 if f.on_time_rate is not None else None,
                     "hồ sơ giải quyết đúng hạn trên số hồ sơ đã giải quyết có thời hạn"),
        "online_service": (f.online_share / 100 if f.online_share is not None else None,
                           "hồ sơ nộp trực tuyến trên số hồ sơ tiếp nhận"),
        "online_payment": (None, "chưa tính: phí, lệ phí không thanh toán qua hệ thống"),
        "satisfaction": (f.satisfaction_rate / 100 if f.satisfaction_rate is not None else None,
                         "đánh giá «rất hài lòng» và «hài lòng» trên số lượt đánh giá"),
        "digitisation": (digital / f.received if f.received else None,
                         "hồ sơ có thành phần được lưu dạng số (ít nhất một tệp) trên số hồ sơ tiếp nhận"),
    }
    out = []
    for key, name, weight in INDEX_GROUPS:
        share, formula = shares[key]
        out.append({"key": key, "name": name, "weight": weight,
                    "formula": formula if share is None and key == "online_payment" else f"{weight} × tỷ lệ {formula}",
                     "score": round(weight * share, 1) if share is not None else None})
    return out


def scorecard(actor, month: date) -> dict:
    """The month's scorecard of a centre's people and units: each official sees their own line, a
    leader or an administrator everyone's."""
    start = month.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    f = figures([actor.centre_id], start, end, detail=True)
    officials = f.officials
    if not actor.has_role("leader", "admin"):
        officials = [o for o in officials if o["name"] == actor.username]
    return {"month": start, "units": f.units if actor.has_role("leader", "admin") else [], "officials": officials,
            "figures": f}


def by_province(start: date, end: date) -> list[dict]:
    """The national roll-up: each province's figures (its own centre and its communes) over [start, end)."""
    province_of = {}
    provinces = {c.id: c for c in Centre.select().where(Centre.level == "province")}
    for centre_id, parent_id, level in Centre.select(Centre.id, Centre.parent, Centre.level).tuples():
        if level == "province":
            province_of[centre_id] = centre_id
        elif parent_id in provinces:
            province_of[centre_id] = parent_id
    totals = {p: dict.fromkeys(COUNTS, 0) for p in provinces}
    rows = sql.run("SELECT \"centre_id\", " + ", ".join(f'SUM("{c}")' for c in COUNTS) +
                   ' FROM "dayfigure" WHERE "day" >= ? AND "day" < ? GROUP BY "centre_id"', (start, end)).fetchall()
    for centre_id, *values in rows:
        province = province_of.get(centre_id)
        if province is not None:
            for name, value in zip(COUNTS, values, strict=True):
                totals[province][name] += int(value or 0)
    out = []
    for province_id, t in sorted(totals.items(), key=lambda item: provinces[item[0]].code):
        f = Figures(start, end)
        for name in COUNTS[:10]:
            setattr(f, name, t[name])
        f.ratings = {"rat_hai_long": t["rated_1"], "hai_long": t["rated_2"], "khong_hai_long": t["rated_3"]}
        out.append({"province": provinces[province_id].code, "name": provinces[province_id].name,
                    "received": f.received, "resolved": f.resolved, "on_time": f.on_time, "late": f.late,
                    "on_time_rate": f.on_time_rate, "online_share": f.online_share,
                    "satisfaction_rate": f.satisfaction_rate})
    return out
