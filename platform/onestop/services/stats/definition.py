"""The figures' definition: what each figure of docs/statistics.md counts, counted from the dossiers'
rows themselves (their recorded times, their steps' history and the audit trail). `figures_from_rows`
is the definition that the kept figures (counters.py, recount.py) are checked against; `resolution`
says how a result counts, for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ... import sql
from ...models import RATING_LEVELS, HistoryEntry, User, utcnow
from ...status import Status
from .buckets import Tally, bucket, lines
from .scope import PENDING, bounds, local_day, scope_clause

LEVELS = RATING_LEVELS
# The kept counts of a day (dayfigure's columns) and the rating levels' columns among them.
COUNTS = ("received", "online", "not_accepted", "supplemented", "resolved", "early", "on_time", "late",
          "without_deadline", "returned", "rated_1", "rated_2", "rated_3")
RATED = {"rat_hai_long": "rated_1", "hai_long": "rated_2", "khong_hai_long": "rated_3"}
# A dossier taken over from an old system counts as received only if it was received from the
# switch-over on (services.legacy): the old system reported the others.
COUNTED_AS_RECEIVED = '(d."switch_over_at" IS NULL OR d."received_at" >= d."switch_over_at")'
# A person's task (it reached a unit's worklist), completed: what the unit, step and official lines count.
HUMAN = 'h."state" = \'completed\' AND h."started_at" IS NOT NULL'


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


def resolution(due_at, apologised_at, resolved_at) -> dict:
    """How a result ready at `resolved_at` counts (docs/statistics.md)."""
    if due_at is None:
        return {"resolved": 1, "without_deadline": 1}
    if resolved_at <= due_at and apologised_at is None:
        return {"resolved": 1, "on_time": 1, "early": local_day(resolved_at) < local_day(due_at)}
    return {"resolved": 1, "late": 1}


def figures_from_rows(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
                      now: datetime | None = None, detail: bool = False) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end),
    counted from the dossiers' rows themselves: the definition, and what `rebuild` and the tests
    check the kept figures against. `detail`: the per-step and per-official lines with their hours."""
    now = now or utcnow()
    lo, hi = bounds(start, end)
    scope, params = scope_clause(centre_ids, procedures, "d.")
    out = Figures(start, end)
    row = sql.run(
        'SELECT COUNT(*), '
        'SUM(CASE WHEN d."channel" = \'online\' THEN 1 ELSE 0 END), '
        f'SUM(CASE WHEN d."status" = \'{Status.NOT_ACCEPTED.value}\' THEN 1 ELSE 0 END), '
        'SUM(CASE WHEN EXISTS (SELECT 1 FROM "auditevent" e WHERE e."dossier_id" = d."id" '
        '  AND e."action" = \'dossier.supplement_requested\') THEN 1 ELSE 0 END) '
        f'FROM "dossier" d WHERE {scope} AND d."received_at" >= ? AND d."received_at" < ? AND {COUNTED_AS_RECEIVED}',
        params + [lo, hi]).fetchone()
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
        f'FROM "dossier" d WHERE {scope} AND {PENDING}', [now, *params]).fetchone()
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
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND {HUMAN} AND h."lane" IS NOT NULL '
        'GROUP BY h."lane"', [lo, hi] + params).fetchall()
    table = {lane: Tally(done=int(done), late=int(late or 0)) for lane, done, late in rows}
    for lane, level, n in _rated_by(scope, params, lo, hi, 'h."lane"'):
        table.setdefault(lane, Tally()).rated[level] = n
    return lines(table, lambda lane: {"name": lane}, hours=False)


def _rated_by(scope, params, lo, hi, who):
    """(who, level, ratings) for the ratings given in the period: a rating counts once for each unit
    (who = h."lane") or official (h."actor_id") that had finished a step of the dossier by then."""
    rows = sql.run(
        f'SELECT {who}, r."level", COUNT(DISTINCT r."id") FROM "rating" r JOIN "dossier" d ON d."id" = r."dossier_id" '
        'JOIN "historyentry" h ON h."dossier_id" = r."dossier_id" '
        f'WHERE r."at" >= ? AND r."at" < ? AND {scope} AND {HUMAN} AND {who} IS NOT NULL AND h."at" <= r."at" '
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
        f'WHERE h."at" >= ? AND h."at" < ? AND {scope} AND {HUMAN}', [lo, hi] + params).fetchall()
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
    names = officials(people)
    return (lines(units, lambda lane: {"name": lane}),
            lines(steps, lambda step: {"procedure": labels[step][0], "element": step[1],
                                       "name": labels[step][1] or step[1]}, ratings=False),
            lines(people, lambda actor: names.get(actor, {"name": None, "full_name": None})))


def officials(ids) -> dict:
    """id -> the labels of an official's line: user name and full name."""
    rows = User.select(User.id, User.username, User.display_name).where(User.id.in_(list(ids))).tuples() if ids else ()
    return {i: {"name": username, "full_name": display_name or username} for i, username, display_name in rows}
