"""The read side: the figures of a period added up from the kept days (and, for whole months of
steps, the kept months), with the dossiers in progress counted live; the API's report, a centre's
monthly scorecard, the twelve months' series and the national roll-up by province. The same numbers
as the definition (definition.figures_from_rows), at any size.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ... import sql
from ...models import Centre, Procedure, utcnow
from .. import sittings
from .buckets import Tally, lines
from .definition import COUNTS, LEVELS, Figures, officials
from .scope import PENDING, bounds, centres_for, covers, next_month, period, procedure_ids, scope_clause


def figures(centre_ids: list[int], start: date, end: date, procedures: list[int] | None = None,
            now: datetime | None = None, detail: bool = False, live: bool = True) -> Figures:
    """Every figure of docs/statistics.md for those centres (and procedures) over [start, end): the
    days' kept figures added up (the same numbers as figures_from_rows, at any size), the live
    counts of dossiers in progress, and with `detail` the per-step and per-official lines."""
    out = Figures(start, end)
    scope, params = scope_clause(centre_ids, procedures)
    span, span_params = f'{scope} AND "day" >= ? AND "day" < ?', params + [start, end]
    row = sql.run("SELECT " + ", ".join(f'SUM("{c}")' for c in COUNTS) + f' FROM "dayfigure" WHERE {span}',
                  span_params).fetchone()
    out.take_counts(dict(zip(COUNTS, (int(v or 0) for v in row), strict=True)))
    if live:  # the dossiers in progress now, whatever the period (not needed for a month of a series)
        out.pending_now, out.overdue_now = _in_progress(centre_ids, procedures, now or utcnow())
    units = {lane: Tally(done=int(done), late=int(late), rated=dict(zip(LEVELS, map(int, rated), strict=True)))
             for lane, done, late, *rated in sql.run(
                 'SELECT "lane", SUM("done"), SUM("late"), SUM("rated_1"), SUM("rated_2"), SUM("rated_3") '
                 f'FROM "dayunit" WHERE {span} GROUP BY "lane"', span_params)}
    if not detail:
        out.units = lines(units, lambda lane: {"name": lane}, hours=False)
        return out
    for lane in units.values():  # the hours come from the steps' rows
        lane.done = lane.late = 0
    out.units, out.steps, out.officials = _detail(units, centre_ids, procedures, start, end, span, span_params)
    return out


def _in_progress(centre_ids, procedures, now: datetime) -> tuple[int, int]:
    """(in progress, of them overdue and not waiting on the citizen) now, counted live."""
    scope, params = scope_clause(centre_ids, procedures, "d.")
    row = sql.run(
        'SELECT COUNT(*), SUM(CASE WHEN d."due_at" < ? AND d."paused_at" IS NULL THEN 1 ELSE 0 END) '
        f'FROM "dossier" d WHERE {scope} AND {PENDING}', [now, *params]).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def _detail(units, centre_ids, procedures, start, end, span, span_params) -> tuple[list, list, list]:
    """The unit, step and official lines with their hours, from the kept steps (whole months from
    monthstep, the days around them from daystep) and the officials' kept ratings."""
    steps, people, labels, codes = {}, {}, {}, {}
    scope, params = scope_clause(centre_ids, procedures)
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
    names = officials(people)
    return (lines(units, lambda lane: {"name": lane}),
            lines(steps, lambda step: {"procedure": codes.get(step[0]), "element": step[1],
                                       "name": labels[step] or step[1]}, ratings=False),
            lines(people, lambda actor: names.get(actor, {"name": None, "full_name": None})))


def _months_and_days(start: date, end: date) -> list[tuple]:
    """[start, end) as pieces (table, date column, from, to): the whole months in it from monthstep,
    the days before and after them from daystep."""
    first = start if start.day == 1 else next_month(start)
    last = end.replace(day=1)
    if first >= last:
        return [("daystep", "day", start, end)]
    pieces = [("monthstep", "month", first, last)]
    if start < first:
        pieces.append(("daystep", "day", start, first))
    if last < end:
        pieces.append(("daystep", "day", last, end))
    return pieces


def monthly(centre_ids, months: int, today: date, procedures=None) -> list[tuple[date, Figures]]:
    """The last `months` months (this one so far included), oldest first: for the dashboard's charts."""
    first = today.replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        year, month = first.year, first.month - back
        while month < 1:
            year, month = year - 1, month + 12
        start = date(year, month, 1)
        end = min(next_month(start), today + timedelta(days=1))
        out.append((start, figures(centre_ids, start, end, procedures, live=False)))
    return out


def report(actor, code, procedure, unit, start, end, today) -> dict:
    """GET /api/v1/stats: a centre's figures over a period. Without a signed-in actor of that
    centre's scope, the public figures only (no per-official lines)."""
    ids = centres_for(code)
    start, end = period(start, end, today)
    allowed = actor is not None and covers(actor, ids)
    result = figures(ids, start, end, procedure_ids(ids, procedure), detail=allowed)
    body = result.as_dict(public=not allowed)
    body["centre"] = code or "default"
    if unit:
        body["units"] = [u for u in body["units"] if u["name"] == unit]
        if "steps" in body:
            body.pop("steps")
    return body


def scorecard(actor, month: date) -> dict:
    """The month's scorecard of a centre's people and units: each official sees their own line, a
    leader or an administrator everyone's."""
    start = month.replace(day=1)
    f = figures([actor.centre_id], start, next_month(start), detail=True)
    officials_lines = f.officials
    if not actor.has_role("leader", "admin"):
        officials_lines = [o for o in officials_lines if o["name"] == actor.username]
    return {"month": start, "units": f.units if actor.has_role("leader", "admin") else [],
            "officials": officials_lines, "figures": f}


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


def on_the_spot(centre_ids, start: date, end: date) -> dict:
    """Dossiers decided on the spot in the period (sittings begun then): how many sittings, how many
    had their result handed over the same day, and in how many minutes from the start of intake."""
    return sittings.figures(centre_ids, *bounds(start, end))
