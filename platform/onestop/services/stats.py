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
from ..db import LOCK_FIGURES, defer
from ..models import ENDED, RATING_LEVELS, Centre, Procedure, ProcedureVersion, utcnow
from ..workdays import to_utc
from .errors import Invalid, NotFound, shown

LEVELS = RATING_LEVELS
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

    def take_counts(self, values: dict) -> None:
        """Set the dossier figures and ratings from kept counts (COUNTS -> number)."""
        for name in COUNTS:
            if name not in RATED.values():
                setattr(self, name, values[name])
        self.ratings = {level: values[column] for level, column in RATED.items()}

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


# In progress: neither a result nor an ending yet (an incident's dossier too); the state index finds them.
_PENDING = ('d."state" IN (\'active\', \'error\') AND d."status" NOT IN (\'resolved\', \'returned\', '
            + ", ".join(f"'{s}'" for s in ENDED) + ")")


def _next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


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


def _scope(centre_ids, procedures=None, prefix="") -> tuple[str, list]:
    """The SQL condition (and its parameters) of rows of those centres and procedures."""
    scope, params = _in(f'{prefix}"centre_id"', centre_ids)
    if procedures is not None:
        clause, more = _in(f'{prefix}"procedure_id"', procedures)
        scope, params = f"{scope} AND {clause}", params + more
    return scope, params


def figures_from_rows(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
                      now: datetime | None = None, detail: bool = False) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end),
    counted from the dossiers' rows themselves: the definition, and what `rebuild` and the tests
    check the kept figures against. `detail`: the per-step and per-official lines with their hours."""
    now = now or utcnow()
    lo, hi = _bounds(start, end)
    scope, params = _scope(centre_ids, procedures, "d.")
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
        f'FROM "dossier" d WHERE {scope} AND {_PENDING}', [now, *params]).fetchone()
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
    """Per lane: steps finished in the period, on time and late, and the ratings given in the period
    of dossiers it had handled, counted by the database."""
    rows = sql.run(
        'SELECT h."lane", COUNT(*), SUM(CASE WHEN h."due_at" IS NOT NULL AND h."at" > h."due_at" THEN 1 ELSE 0 END) '
        'FROM "historyentry" h JOIN "dossier" d ON d."id" = h."dossier_id" '
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND {_HUMAN} AND h."lane" IS NOT NULL '
        'GROUP BY h."lane"', [lo, hi] + params).fetchall()
    lines = {lane: Tally(done=int(done), late=int(late or 0)) for lane, done, late in rows}
    for lane, level, n in _rated_by(scope, params, lo, hi, 'h."lane"'):
        lines.setdefault(lane, Tally()).rated[level] = n
    return _lines(lines, lambda lane: {"name": lane}, hours=False)


# A person's task (it reached a unit's worklist), completed: what the unit, step and official lines count.
_HUMAN = 'h."state" = \'completed\' AND h."started_at" IS NOT NULL'


def _rated_by(scope, params, lo, hi, who):
    """(who, level, ratings) for the ratings given in the period: a rating counts once for each unit
    (who = h."lane") or official (h."actor_id") that had finished a step of the dossier by then."""
    rows = sql.run(
        f'SELECT {who}, r."level", COUNT(DISTINCT r."id") FROM "rating" r JOIN "dossier" d ON d."id" = r."dossier_id" '
        'JOIN "historyentry" h ON h."dossier_id" = r."dossier_id" '
        f'WHERE r."at" >= ? AND r."at" < ? AND {scope} AND {_HUMAN} AND {who} IS NOT NULL AND h."at" <= r."at" '
        f'GROUP BY {who}, r."level"', [lo, hi] + params).fetchall()
    return [(key, level, int(n)) for key, level, n in rows if level in LEVELS]


def _steps(scope, params, lo, hi):
    """Per lane (the unit that did it), per step and per official: the steps done in the period with
    their hours, counted from the history rows."""
    rows = sql.run(
        'SELECT h."lane", d."procedure_id", p."code", h."element_id", h."name", h."actor_id", '
        'h."started_at", h."at", h."due_at", CASE WHEN EXISTS (SELECT 1 FROM "historyentry" e '
        '  WHERE e."dossier_id" = h."dossier_id" AND e."element_id" = h."element_id" AND e."id" < h."id" '
        '  AND e."state" = \'completed\' AND e."started_at" IS NOT NULL) THEN 1 ELSE 0 END '
        'FROM "historyentry" h JOIN "dossier" d ON d."id" = h."dossier_id" '
        'JOIN "procedure" p ON p."id" = d."procedure_id" '
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND {_HUMAN}', [lo, hi] + params).fetchall()
    from ..models import HistoryEntry

    parse = HistoryEntry.at.python_value
    units, steps, people, labels = {}, {}, {}, {}
    for lane, procedure_id, code, element_id, name, actor_id, started, finished, due, rework in rows:
        finished, started, due = parse(finished), parse(started), parse(due)
        seconds = max(int((finished - started).total_seconds()), 0)
        late = due is not None and finished > due
        step = (procedure_id, element_id)
        labels[step] = max(labels.get(step, (code, "")), (code, name or ""), key=lambda label: label[1])
        for table, key in ((units, lane), (steps, step), (people, actor_id)):
            if key:
                table.setdefault(key, Tally()).add(1, late, rework, seconds, bucket(seconds))
    for table, who in ((units, 'h."lane"'), (people, 'h."actor_id"')):
        for key, level, n in _rated_by(scope, params, lo, hi, who):
            table.setdefault(key, Tally()).rated[level] = n
    names = _officials(people)
    return (_lines(units, lambda lane: {"name": lane}),
            _lines(steps, lambda step: {"procedure": labels[step][0], "element": step[1],
                                        "name": labels[step][1] or step[1]}, ratings=False),
            _lines(people, lambda actor: names.get(actor, {"name": None, "full_name": None})))


def _officials(ids) -> dict:
    """id -> the labels of an official's line: user name and full name."""
    from ..models import User

    rows = User.select(User.id, User.username, User.display_name).where(User.id.in_(list(ids))).tuples() if ids else ()
    return {i: {"name": username, "full_name": display_name or username} for i, username, display_name in rows}


# -- the hours of a step: a histogram, so that the 9-in-10 figure can be added up over days ----------

_SPANS = ((8 * 3600, 900), (48 * 3600, 3600), (240 * 3600, 4 * 3600))  # up to, width (seconds)


def bucket(seconds: int) -> int:
    """The histogram bucket of a step that took `seconds`: quarter hours up to 8 hours, hours up to
    48 hours, 4 hours up to 10 days, days beyond. Bucket b holds the times up to `bound(b)`."""
    base, start = 0, 0
    for limit, width in _SPANS:
        if seconds <= limit:
            return base + -(-(seconds - start) // width)
        base, start = base + (limit - start) // width, limit
    return base + -(-(seconds - start) // 86400)


def bound(b: int) -> float:
    """The upper end of bucket b, in hours."""
    base, start = 0, 0
    for limit, width in _SPANS:
        size = (limit - start) // width
        if b <= base + size:
            return (start + (b - base) * width) / 3600
        base, start = base + size, limit
    return (start + (b - base) * 86400) / 3600


@dataclass
class Tally:
    """One line of the unit, step or official tables being added up."""

    done: int = 0
    late: int = 0
    rework: int = 0
    seconds: int = 0
    histogram: dict = field(default_factory=dict)  # bucket -> steps
    rated: dict = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))

    def add(self, done, late, rework, seconds, at_bucket):
        self.done, self.late, self.rework, self.seconds = (self.done + int(done), self.late + int(late),
                                                           self.rework + int(rework), self.seconds + int(seconds))
        self.histogram[at_bucket] = self.histogram.get(at_bucket, 0) + int(done)

    def p90(self) -> float | None:
        """The smallest bucket bound within which at least nine steps in ten were done."""
        need, seen = math.ceil(0.9 * self.done), 0
        for b in sorted(self.histogram):
            seen += self.histogram[b]
            if seen >= need:
                return bound(b)
        return None


def _lines(table: dict, label, hours=True, ratings=True) -> list[dict]:
    out = []
    for key, t in table.items():
        line = label(key) | {"done": t.done, "on_time": t.done - t.late, "late": t.late}
        if hours:
            line |= {"rework": t.rework, "average_hours": round(t.seconds / 3600 / t.done, 2) if t.done else None,
                     "p90_hours": t.p90() if t.done else None}
        if ratings:
            given = sum(t.rated.values())
            line["ratings"] = dict(t.rated)
            line["satisfaction_rate"] = (round(100.0 * (t.rated["rat_hai_long"] + t.rated["hai_long"]) / given, 1)
                                         if given else None)
        out.append(line)
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
        end = min(_next_month(start), today + timedelta(days=1))
        out.append((start, figures(centre_ids, start, end, procedures, live=False)))
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


def _covers(actor, centre_ids) -> bool:
    """Whether the actor's scope holds every one of those centres."""
    from .centres import scope_ids

    scope = scope_ids(actor)
    return scope is None or set(centre_ids) <= scope


def report(actor, code, procedure, unit, start, end, today) -> dict:
    """GET /api/v1/stats: a centre's figures over a period. Without a signed-in actor of that
    centre's scope, the public figures only (no per-official lines)."""

    ids = centres_for(code)
    start, end = period(start, end, today)
    allowed = actor is not None and _covers(actor, ids)
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


# The kept figures' tables in the order a unit of work writes (and so locks) their rows: every
# writer takes them in this order, and within a table in the order of the row's key, after its own
# dossier's rows and before the audit chain's head (db.LOCK_FIGURES; docs/architecture.md).
FIGURE_TABLES = ("dayfigure", "dayunit", "daystep", "monthstep", "dayrating")


def _add(table: str, key: dict, counts: dict, greatest=()) -> None:
    """Add `counts` to the row of `key` (created with them if missing); `greatest` columns keep the
    greater value (the database's order, as MAX() reads them back). Written at the end of the unit
    of work, in the lock order (FIGURE_TABLES, then the key)."""
    columns = _quoted(list(key) + list(counts))
    updates = [f'"{n}" = "{table}"."{n}" + excluded."{n}"' for n in counts] + [
        f'"{n}" = CASE WHEN excluded."{n}" > "{table}"."{n}" THEN excluded."{n}" ELSE "{table}"."{n}" END'
        for n in greatest]
    statement = (f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * (len(key) + len(counts)))}) '
                 f'ON CONFLICT ({_quoted(c for c in key if c not in greatest)}) DO UPDATE SET {", ".join(updates)}')
    params = list(key.values()) + list(counts.values())
    row = tuple((v is not None, v) for c, v in key.items() if c not in greatest)  # None sorts first, never compared
    defer((LOCK_FIGURES, FIGURE_TABLES.index(table), row), lambda: sql.run(statement, params))


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def count(centre_id, procedure_id, at: datetime, **deltas) -> None:
    """Add to the figures of the local day of `at` (call inside the transaction of the event)."""
    if any(deltas.values()):  # every column: the table's defaults are peewee's, not SQL's
        _add("dayfigure", {"centre_id": centre_id, "day": local_day(at), "procedure_id": procedure_id},
             {n: int(deltas.get(n) or 0) for n in COUNTS})


def count_steps(dossier, finished: list) -> None:
    """Add a dossier's person's tasks just completed, [(element_id, name, lane, started_at, at, due_at,
    actor_id)] in order, to the days of their units, steps and officials. Call before their history
    rows are written: a step the dossier had completed before is one done again."""
    if not finished:
        return
    elements = sorted({f[0] for f in finished})
    clause, params = _in('"element_id"', elements)
    before = {e for (e,) in sql.run(
        f'SELECT DISTINCT "element_id" FROM "historyentry" WHERE "dossier_id" = ? AND {clause} '
        'AND "state" = \'completed\' AND "started_at" IS NOT NULL', [dossier.id] + params)}
    for element_id, name, lane, started, at, due, actor_id in finished:
        seconds = max(int((at - started).total_seconds()), 0)
        late = int(due is not None and at > due)
        day = local_day(at)
        if lane:
            _add("dayunit", {"centre_id": dossier.centre_id, "day": day, "procedure_id": dossier.procedure_id,
                             "lane": lane}, {"done": 1, "late": late, "rated_1": 0, "rated_2": 0, "rated_3": 0})
        key = {"centre_id": dossier.centre_id, "procedure_id": dossier.procedure_id, "lane": lane or "",
               "element_id": element_id, "actor_id": actor_id or 0, "bucket": bucket(seconds), "name": name or ""}
        counts = {"done": 1, "late": late, "rework": int(element_id in before), "seconds": seconds}
        _add("daystep", key | {"day": day}, counts, greatest=("name",))
        _add("monthstep", key | {"month": day.replace(day=1)}, counts, greatest=("name",))
        before.add(element_id)


def count_rating(dossier, level: str, at: datetime) -> None:
    """Add a rating to its dossier's day and to every unit and official that had handled the dossier."""
    count(dossier.centre_id, dossier.procedure_id, at, **{RATED[level]: 1})
    handled = sql.run('SELECT DISTINCT "lane", "actor_id" FROM "historyentry" WHERE "dossier_id" = ? '
                      'AND "state" = \'completed\' AND "started_at" IS NOT NULL', (dossier.id,)).fetchall()
    rated = {column: int(column == RATED[level]) for column in RATED.values()}
    key = {"centre_id": dossier.centre_id, "day": local_day(at), "procedure_id": dossier.procedure_id}
    for lane in sorted({lane for lane, _ in handled if lane}):
        _add("dayunit", key | {"lane": lane}, {"done": 0, "late": 0} | rated)
    for actor_id in sorted({actor for _, actor in handled if actor}):
        _add("dayrating", key | {"actor_id": actor_id}, rated)


def resolution(due_at, apologised_at, resolved_at) -> dict:
    """How a result ready at `resolved_at` counts (docs/statistics.md)."""
    if due_at is None:
        return {"resolved": 1, "without_deadline": 1}
    if resolved_at <= due_at and apologised_at is None:
        return {"resolved": 1, "on_time": 1, "early": local_day(resolved_at) < local_day(due_at)}
    return {"resolved": 1, "late": 1}


STEP_COLUMNS = ("centre_id", "day", "procedure_id", "lane", "element_id", "actor_id", "bucket", "name", "done",
                "late", "rework", "seconds")
MONTH_COLUMNS = ("centre_id", "month") + STEP_COLUMNS[2:]


def rebuild(centre_ids=None) -> None:
    """Recount the kept figures from the dossiers, their steps and ratings (a migration, a repair):
    added up in memory, written in a few multi-row inserts."""
    from ..db import write_transaction
    from ..models import DayFigure, DayRating, DayStep, DayUnit, Dossier, HistoryEntry, Rating

    days, units, steps, people = {}, {}, {}, {}

    def add(centre_id, procedure_id, at, **deltas):
        row = days.setdefault((centre_id, procedure_id, local_day(at)), dict.fromkeys(COUNTS, 0))
        for name, value in deltas.items():
            row[name] += int(value)

    def add_to(table, key, size, *values):
        row = table.setdefault(key, [0] * size)
        for i, value in enumerate(values):
            row[i] += int(value)

    dossiers = Dossier.select(Dossier.id, Dossier.centre, Dossier.procedure, Dossier.received_at, Dossier.channel,
                              Dossier.status, Dossier.resolved_at, Dossier.returned_at, Dossier.due_at,
                              Dossier.apologised_at)
    ratings = Rating.select(Rating.dossier, Rating.level, Rating.at, Dossier.centre, Dossier.procedure).join(Dossier)
    history = (HistoryEntry.select(HistoryEntry.dossier, HistoryEntry.element_id, HistoryEntry.name, HistoryEntry.lane,
                                   HistoryEntry.actor, HistoryEntry.started_at, HistoryEntry.at, HistoryEntry.due_at,
                                   Dossier.centre, Dossier.procedure)
               .join(Dossier).where((HistoryEntry.state == "completed") & HistoryEntry.started_at.is_null(False))
               .order_by(HistoryEntry.dossier, HistoryEntry.id))
    if centre_ids is not None:
        dossiers, ratings, history = (q.where(Dossier.centre.in_(list(centre_ids))) for q in (dossiers, ratings, history))
    supplemented = {d for (d,) in sql.run(
        'SELECT DISTINCT "dossier_id" FROM "auditevent" WHERE "action" = \'dossier.supplement_requested\'')}
    parse = Dossier.received_at.python_value
    for d in dossiers.tuples().iterator():
        dossier_id, centre_id, procedure_id, received, channel, status, resolved, returned, due, apologised = d
        received, resolved, returned, due, apologised = (parse(v) for v in (received, resolved, returned, due, apologised))
        if received is not None:
            add(centre_id, procedure_id, received, received=1, online=channel == "online",
                not_accepted=status == "not_accepted", supplemented=dossier_id in supplemented)
        if resolved is not None:
            add(centre_id, procedure_id, resolved, **resolution(due, apologised, resolved))
        if returned is not None:
            add(centre_id, procedure_id, returned, returned=1)
    rated = {}  # dossier -> (level, at, centre, procedure, units and officials that had handled it by then)
    for dossier_id, level, at, centre_id, procedure_id in ratings.tuples():
        at = parse(at)
        add(centre_id, procedure_id, at, **{RATED[level]: 1})
        rated[dossier_id] = (level, at, centre_id, procedure_id, set(), set())
    current, done_before = None, set()
    for dossier_id, element_id, name, lane, actor_id, started, at, due, centre_id, procedure_id in (
            history.tuples().iterator()):
        started, at, due = parse(started), parse(at), parse(due)
        if dossier_id != current:
            current, done_before = dossier_id, set()
        seconds, late, day = max(int((at - started).total_seconds()), 0), due is not None and at > due, local_day(at)
        if lane:
            add_to(units, (centre_id, day, procedure_id, lane), 5, 1, late)
        key = (centre_id, day, procedure_id, lane or "", element_id, actor_id or 0, bucket(seconds))
        add_to(steps, key, 4, 1, late, element_id in done_before, seconds)
        steps[key][4:] = [max(steps[key][4:] + [name or ""])]  # the greatest name, as count_steps keeps
        done_before.add(element_id)
        handled = rated.get(dossier_id)
        if handled is not None and at <= handled[1]:
            if lane:
                handled[4].add(lane)
            if actor_id:
                handled[5].add(actor_id)
    for level, at, centre_id, procedure_id, lanes, actors in rated.values():
        levels = [int(column == RATED[level]) for column in RATED.values()]
        for lane in lanes:
            add_to(units, (centre_id, local_day(at), procedure_id, lane), 5, 0, 0, *levels)
        for actor_id in actors:
            add_to(people, (centre_id, local_day(at), procedure_id, actor_id), 3, *levels)
    with write_transaction():
        for table in (DayFigure, DayUnit, DayStep, DayRating):
            query = table.delete()
            if centre_ids is not None:
                query = query.where(table.centre.in_(list(centre_ids)))
            query.execute()
        # In the order of their keys: a period's rows lie together, as they do when written day by day.
        _insert("dayfigure", ("centre_id", "day", "procedure_id", *COUNTS),
                sorted((c, day, p, *(row[n] for n in COUNTS)) for (c, p, day), row in days.items()))
        _insert("dayunit", ("centre_id", "day", "procedure_id", "lane", "done", "late", *RATED.values()),
                sorted(key + tuple(row) for key, row in units.items()))
        _insert("daystep", STEP_COLUMNS, sorted(key[:7] + (row[4],) + tuple(row[:4]) for key, row in steps.items()))
        _insert("dayrating", ("centre_id", "day", "procedure_id", "actor_id", *RATED.values()),
                sorted(key + tuple(row) for key, row in people.items()))
        roll_up_months(centre_ids)


def roll_up_months(centre_ids=None) -> None:
    """Recount the steps' months (monthstep) from their days (daystep)."""
    from ..models import MonthStep

    where, params = ("", []) if centre_ids is None else _in('"centre_id"', list(centre_ids))
    month = sql.month_start('"day"')
    query = MonthStep.delete()
    if centre_ids is not None:
        query, where = query.where(MonthStep.centre.in_(list(centre_ids))), f"WHERE {where}"
    query.execute()
    key = _quoted(MONTH_COLUMNS[:7])
    sql.run(f'INSERT INTO "monthstep" ({_quoted(MONTH_COLUMNS)}) SELECT * FROM (SELECT "centre_id", {month} AS "month", '
            '"procedure_id", "lane", "element_id", "actor_id", "bucket", MAX("name") AS "name", SUM("done") AS "done", '
            'SUM("late") AS "late", SUM("rework") AS "rework", SUM("seconds") AS "seconds" '
            f'FROM "daystep" {where} GROUP BY "centre_id", {month}, "procedure_id", "lane", "element_id", "actor_id", '
            f'"bucket") m ORDER BY {key}', params)


def _months_and_days(start: date, end: date) -> list[tuple]:
    """[start, end) as pieces (table, date column, from, to): the whole months in it from monthstep,
    the days before and after them from daystep."""
    first = start if start.day == 1 else _next_month(start)
    last = end.replace(day=1)
    if first >= last:
        return [("daystep", "day", start, end)]
    pieces = [("monthstep", "month", first, last)]
    if start < first:
        pieces.append(("daystep", "day", start, first))
    if last < end:
        pieces.append(("daystep", "day", last, end))
    return pieces


def _insert(table, columns, rows, batch=500):
    for i in range(0, len(rows), batch):
        sql.insert_rows(table, columns, rows[i:i + batch])


def figures(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
            now: datetime | None = None, detail: bool = False, live: bool = True) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end): the
    days' kept figures added up (the same numbers as figures_from_rows, at any size), the live
    counts of dossiers in progress, and with `detail` the per-step and per-official lines."""
    now = now or utcnow()
    out = Figures(start, end)
    scope, params = _scope(centre_ids, procedures)
    span, span_params = f'{scope} AND "day" >= ? AND "day" < ?', params + [start, end]
    row = sql.run("SELECT " + ", ".join(f'SUM("{c}")' for c in COUNTS) + f' FROM "dayfigure" WHERE {span}',
                  span_params).fetchone()
    out.take_counts(dict(zip(COUNTS, (int(v or 0) for v in row), strict=True)))
    if live:  # the dossiers in progress now, whatever the period (not needed for a month of a series)
        live_scope, live_params = _scope(centre_ids, procedures, "d.")
        row = sql.run(
            'SELECT COUNT(*), SUM(CASE WHEN d."due_at" < ? AND d."paused_at" IS NULL THEN 1 ELSE 0 END) '
            f'FROM "dossier" d WHERE {live_scope} AND {_PENDING}', [now, *live_params]).fetchone()
        out.pending_now, out.overdue_now = int(row[0] or 0), int(row[1] or 0)
    units = {lane: Tally(done=int(done), late=int(late), rated=dict(zip(LEVELS, map(int, rated), strict=True)))
             for lane, done, late, *rated in sql.run(
                 'SELECT "lane", SUM("done"), SUM("late"), SUM("rated_1"), SUM("rated_2"), SUM("rated_3") '
                 f'FROM "dayunit" WHERE {span} GROUP BY "lane"', span_params)}
    if not detail:
        out.units = _lines(units, lambda lane: {"name": lane}, hours=False)
        return out
    for lane in units.values():  # the hours come from the steps' rows below
        lane.done = lane.late = 0
    steps, people, labels, codes = {}, {}, {}, {}
    scope, params = _scope(centre_ids, procedures)
    for table, column, lo, hi in _months_and_days(start, end):
        for lane, procedure_id, element_id, actor_id, at_bucket, name, done, late, rework, seconds in sql.run(
                'SELECT "lane", "procedure_id", "element_id", "actor_id", "bucket", MAX("name"), SUM("done"), '
                f'SUM("late"), SUM("rework"), SUM("seconds") FROM "{table}" WHERE {scope} AND "{column}" >= ? '
                f'AND "{column}" < ? GROUP BY "lane", "procedure_id", "element_id", "actor_id", "bucket"',
                params + [lo, hi]):
            step = (procedure_id, element_id)
            labels[step] = max(labels.get(step, ""), name or "")
            for tally_table, key in ((units, lane), (steps, step), (people, actor_id)):
                if key:
                    tally_table.setdefault(key, Tally()).add(done, late, rework, seconds, at_bucket)
    if steps:
        ids = sorted({p for p, _ in steps})
        codes = dict(Procedure.select(Procedure.id, Procedure.code).where(Procedure.id.in_(ids)).tuples())
    for actor_id, *rated in sql.run('SELECT "actor_id", SUM("rated_1"), SUM("rated_2"), SUM("rated_3") '
                                    f'FROM "dayrating" WHERE {span} GROUP BY "actor_id"', span_params):
        people.setdefault(actor_id, Tally()).rated = dict(zip(LEVELS, map(int, rated), strict=True))
    names = _officials(people)
    out.units = _lines(units, lambda lane: {"name": lane})
    out.steps = _lines(steps, lambda step: {"procedure": codes.get(step[0]), "element": step[1],
                                            "name": labels[step] or step[1]}, ratings=False)
    out.officials = _lines(people, lambda actor: names.get(actor, {"name": None, "full_name": None}))
    return out


# -- the periodic report a centre sends upward -------------------------------------------------------

REPORT_COLUMNS = ("field", "carried_over", "received_online", "received_other", "resolved", "early", "on_time",
                  "late", "without_deadline", "ended", "pending", "pending_in_time", "pending_overdue")
REPORT_HEADINGS = ("Lĩnh vực", "Kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến", "Mới tiếp nhận trực tiếp, bưu chính",
                   "Đã giải quyết", "Trước hạn", "Đúng hạn", "Quá hạn", "Không quy định thời hạn",
                   "Dừng, không tiếp nhận, rút", "Đang giải quyết", "Trong hạn", "Quá hạn (đang giải quyết)")


def field_label(metadata: dict) -> str:
    """A procedure's field (lĩnh vực) as the report names it: the Vietnamese in "civil status (hộ
    tịch)", capitalised; "Khác" when the record names none."""
    text = str((metadata or {}).get("field") or "").strip()
    if "(" in text and text.endswith(")"):
        text = text[text.rindex("(") + 1:-1].strip()
    return text[:1].upper() + text[1:] if text else "Khác"


def _pending_at(centre_ids, end: date, at: datetime) -> dict:
    """procedure -> dossiers in progress at the start of day `end` (or now, `at`, if that is
    earlier): received before it, with neither a result nor an ending by then. Counted as received
    minus resolved (the kept days before it) minus ended without a result (the dossiers' index)."""
    kept, params = _scope(centre_ids)
    out = {procedure_id: int(received or 0) - int(resolved or 0) for procedure_id, received, resolved in sql.run(
        f'SELECT "procedure_id", SUM("received"), SUM("resolved") FROM "dayfigure" WHERE {kept} AND "day" < ? '
        'GROUP BY "procedure_id"', params + [end])}
    scope, params = _scope(centre_ids, None, "d.")
    for procedure_id, ended in sql.run(  # through the (centre, ended_at) index, the few that ended
            'SELECT d."procedure_id", SUM(CASE WHEN d."resolved_at" IS NULL THEN 1 ELSE 0 END) FROM "dossier" d '
            f'WHERE {scope} AND d."ended_at" < ? GROUP BY d."procedure_id"', params + [at]):
        out[procedure_id] = out.get(procedure_id, 0) - int(ended or 0)
    return out


def _overdue_at(centre_ids, at: datetime) -> dict:
    """procedure -> of the dossiers in progress at `at`, those past their promised instant (as it
    stands now) and not waiting on the citizen then. Read through the (centre, resolved_at) index:
    the dossiers without a result, and those whose result came after `at`."""
    scope, params = _scope(centre_ids, None, "d.")
    out = {}
    for condition, extra in (('d."resolved_at" >= ?', [at]), ('d."resolved_at" IS NULL', [])):
        for procedure_id, overdue in sql.run(  # the other conditions in the sum: the planner keeps to the index
                'SELECT d."procedure_id", SUM(CASE WHEN d."received_at" < ? AND d."due_at" < ? '
                'AND (d."ended_at" IS NULL OR d."ended_at" >= ?) AND NOT (d."paused_at" IS NOT NULL AND d."paused_at" < ?) '
                f'THEN 1 ELSE 0 END) FROM "dossier" d WHERE {scope} AND {condition} GROUP BY d."procedure_id"',
                [at, at, at, at] + params + extra):
            out[procedure_id] = out.get(procedure_id, 0) + int(overdue or 0)
    return out


def periodic_report(centre_ids: list[int], start: date, end: date, now: datetime | None = None) -> dict:
    """The report of the period by field: dossiers carried over from before it, received (online or
    not), resolved (early, on time, late), ended without a result, and in progress at its end
    (within the deadline or overdue). Each row adds up: carried over + received - resolved - ended
    = in progress at the end."""
    now = now or utcnow()
    lo, hi = _bounds(start, end)
    scope, params = _scope(centre_ids, None, "d.")
    versions = (ProcedureVersion.select(ProcedureVersion.procedure, ProcedureVersion.metadata)
                .join(Procedure, on=((ProcedureVersion.procedure == Procedure.id)
                                     & (ProcedureVersion.version == Procedure.latest_version)))
                .where(Procedure.centre.in_(centre_ids)))
    field_of = {v.procedure_id: field_label(v.metadata) for v in versions}
    rows = {}

    def row(procedure_id):
        field_name = field_of.get(procedure_id, "Khác")
        return rows.setdefault(field_name, dict.fromkeys(REPORT_COLUMNS[1:], 0) | {"field": field_name})

    kept, kept_params = _scope(centre_ids)
    for procedure_id, received, online, resolved, early, on_time, late, without_deadline in sql.run(
            'SELECT "procedure_id", SUM("received"), SUM("online"), SUM("resolved"), SUM("early"), SUM("on_time"), '
            f'SUM("late"), SUM("without_deadline") FROM "dayfigure" WHERE {kept} AND "day" >= ? AND "day" < ? '
            'GROUP BY "procedure_id"', kept_params + [start, end]):
        r = row(procedure_id)
        r["received_online"] += int(online)
        r["received_other"] += int(received) - int(online)
        r["resolved"] += int(resolved)
        r["early"] += int(early)
        r["on_time"] += int(on_time) - int(early)
        r["late"] += int(late)
        r["without_deadline"] += int(without_deadline)
    for procedure_id, ended in sql.run(
            'SELECT d."procedure_id", SUM(CASE WHEN d."resolved_at" IS NULL THEN 1 ELSE 0 END) FROM "dossier" d '
            f'WHERE {scope} AND d."ended_at" >= ? AND d."ended_at" < ? GROUP BY d."procedure_id"', params + [lo, hi]):
        if ended:
            row(procedure_id)["ended"] += int(ended)
    for procedure_id, pending in _pending_at(centre_ids, start, min(lo, now)).items():
        if pending:
            row(procedure_id)["carried_over"] += pending
    overdue = _overdue_at(centre_ids, min(hi, now))
    for procedure_id, pending in _pending_at(centre_ids, end, min(hi, now)).items():
        if pending or overdue.get(procedure_id):
            r = row(procedure_id)
            r["pending"] += pending
            r["pending_overdue"] += overdue.get(procedure_id, 0)
            r["pending_in_time"] += pending - overdue.get(procedure_id, 0)
    lines = sorted(rows.values(), key=lambda r: r["field"])
    total = {c: sum(r[c] for r in lines) for c in REPORT_COLUMNS[1:]} | {"field": "Tổng cộng"}
    return {"from": start.isoformat(), "to": (end - timedelta(days=1)).isoformat(), "rows": lines, "total": total}


def report_for(actor, code: str | None, start: date | None, end: date | None, today: date) -> dict:
    """The periodic report of a centre (with the centres under it) for a signed-in actor whose
    scope covers it; by default last month."""

    ids = centres_for(code or Centre.get_by_id(actor.centre_id).code)
    if not _covers(actor, ids):
        raise NotFound(f"no centre {shown(code)}")
    if start is None and end is None:
        end = today.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
    start, end = period(start, end, today)
    centre = Centre.get(Centre.id == ids[0])
    return periodic_report(ids, start, end) | {"centre": centre.code, "name": centre.name}


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
    from ..models import Attachment, Dossier

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
    f = figures([actor.centre_id], start, _next_month(start), detail=True)
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
        f.take_counts(t)
        out.append({"province": provinces[province_id].code, "name": provinces[province_id].name,
                    "received": f.received, "resolved": f.resolved, "on_time": f.on_time, "late": f.late,
                    "on_time_rate": f.on_time_rate, "online_share": f.online_share,
                    "satisfaction_rate": f.satisfaction_rate})
    return out
