"""Recounting the kept figures from the dossiers, their steps and ratings: the migration that
creates them and a repair. Bulk maintenance, run before the server takes traffic: it takes its rows
outside the units' lock order (docs/architecture.md). Counts as counters.py does, added up in
memory and written in a few multi-row inserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import fn

from ... import sql
from ...db import write_transaction
from ...models import DayFigure, DayRating, DayStep, DayUnit, Dossier, HistoryEntry, MonthStep, Rating
from ...status import Status
from .buckets import bucket
from .definition import COUNTS, RATED, resolution
from .scope import in_clause, local_day, quoted

STEP_COLUMNS = ("centre_id", "day", "procedure_id", "lane", "element_id", "actor_id", "bucket", "name", "done",
                "late", "rework", "seconds")
MONTH_COLUMNS = ("centre_id", "month") + STEP_COLUMNS[2:]


@dataclass
class _Recount:
    """The kept figures being added up in memory, by table and key."""

    days: dict = field(default_factory=dict)  # (centre, procedure, day) -> {COUNTS column: n}
    units: dict = field(default_factory=dict)  # (centre, day, procedure, lane) -> [done, late, rated_1..3]
    steps: dict = field(default_factory=dict)  # daystep's key -> [done, late, rework, seconds, name]
    people: dict = field(default_factory=dict)  # (centre, day, procedure, actor) -> [rated_1..3]
    rated: dict = field(default_factory=dict)  # dossier -> (level, at, centre, procedure, lanes, actors)

    def add(self, centre_id, procedure_id, at, **deltas):
        row = self.days.setdefault((centre_id, procedure_id, local_day(at)), dict.fromkeys(COUNTS, 0))
        for name, value in deltas.items():
            row[name] += int(value)

    @staticmethod
    def add_to(table, key, size, *values):
        row = table.setdefault(key, [0] * size)
        for i, value in enumerate(values):
            row[i] += int(value)


def rebuild(centre_ids=None) -> None:
    """Recount the kept figures from the dossiers, their steps and ratings (a migration, a repair):
    added up in memory, written in a few multi-row inserts. A dossier handed over by a merger counts
    at the centre that received it."""
    received_by = fn.COALESCE(Dossier.received_by, Dossier.centre)
    dossiers = Dossier.select(Dossier.id, received_by, Dossier.procedure, Dossier.received_at, Dossier.channel,
                              Dossier.status, Dossier.resolved_at, Dossier.returned_at, Dossier.due_at,
                              Dossier.apologised_at, Dossier.switch_over_at)
    ratings = Rating.select(Rating.dossier, Rating.level, Rating.at, received_by, Dossier.procedure).join(Dossier)
    history = (HistoryEntry.select(HistoryEntry.dossier, HistoryEntry.element_id, HistoryEntry.name, HistoryEntry.lane,
                                   HistoryEntry.actor, HistoryEntry.started_at, HistoryEntry.at, HistoryEntry.due_at,
                                   received_by, Dossier.procedure)
               .join(Dossier).where((HistoryEntry.state == "completed") & HistoryEntry.started_at.is_null(False))
               .order_by(HistoryEntry.dossier, HistoryEntry.id))
    if centre_ids is not None:
        dossiers, ratings, history = (q.where(received_by.in_(list(centre_ids))) for q in (dossiers, ratings, history))
    recount = _Recount()
    _count_dossiers(recount, dossiers)
    _count_ratings(recount, ratings)
    _count_steps(recount, history)
    _count_handlers_ratings(recount)
    _write(recount, centre_ids)


_parse = Dossier.received_at.python_value


def _count_dossiers(recount: _Recount, dossiers) -> None:
    """Each dossier's day of receipt, of result and of return."""
    supplemented = {d for (d,) in sql.run(
        'SELECT DISTINCT "dossier_id" FROM "auditevent" WHERE "action" = \'dossier.supplement_requested\'')}
    for d in dossiers.tuples().iterator():
        dossier_id, centre_id, procedure_id, received, channel, status, resolved, returned, due, apologised, \
            switch_over = d
        received, resolved, returned, due, apologised, switch_over = (
            _parse(v) for v in (received, resolved, returned, due, apologised, switch_over))
        if received is not None and (switch_over is None or received >= switch_over):  # COUNTED_AS_RECEIVED
            recount.add(centre_id, procedure_id, received, received=1, online=channel == "online",
                        not_accepted=status == Status.NOT_ACCEPTED, supplemented=dossier_id in supplemented)
        if resolved is not None:
            recount.add(centre_id, procedure_id, resolved, **resolution(due, apologised, resolved))
        if returned is not None:
            recount.add(centre_id, procedure_id, returned, returned=1)


def _count_ratings(recount: _Recount, ratings) -> None:
    """Each rating on its dossier's day; the dossiers rated, for the units and officials that had
    handled them (_count_steps fills those in)."""
    for dossier_id, level, at, centre_id, procedure_id in ratings.tuples():
        at = _parse(at)
        recount.add(centre_id, procedure_id, at, **{RATED[level]: 1})
        recount.rated[dossier_id] = (level, at, centre_id, procedure_id, set(), set())


def _count_steps(recount: _Recount, history) -> None:
    """Each person's task completed, in order per dossier: its unit's day, its step's day (a step the
    dossier had completed before is one done again), and who had handled a rated dossier by then."""
    current, done_before = None, set()
    for dossier_id, element_id, name, lane, actor_id, started, at, due, centre_id, procedure_id in (
            history.tuples().iterator()):
        started, at, due = _parse(started), _parse(at), _parse(due)
        if dossier_id != current:
            current, done_before = dossier_id, set()
        seconds, late, day = max(int((at - started).total_seconds()), 0), due is not None and at > due, local_day(at)
        if lane:
            recount.add_to(recount.units, (centre_id, day, procedure_id, lane), 5, 1, late)
        key = (centre_id, day, procedure_id, lane or "", element_id, actor_id or 0, bucket(seconds))
        recount.add_to(recount.steps, key, 4, 1, late, element_id in done_before, seconds)
        recount.steps[key][4:] = [max(recount.steps[key][4:] + [name or ""])]  # the greatest name, as count_steps keeps
        done_before.add(element_id)
        handled = recount.rated.get(dossier_id)
        if handled is not None and at <= handled[1]:
            if lane:
                handled[4].add(lane)
            if actor_id:
                handled[5].add(actor_id)


def _count_handlers_ratings(recount: _Recount) -> None:
    """Each rating on the day of every unit and official that had handled its dossier."""
    for level, at, centre_id, procedure_id, lanes, actors in recount.rated.values():
        levels = [int(column == RATED[level]) for column in RATED.values()]
        for lane in lanes:
            recount.add_to(recount.units, (centre_id, local_day(at), procedure_id, lane), 5, 0, 0, *levels)
        for actor_id in actors:
            recount.add_to(recount.people, (centre_id, local_day(at), procedure_id, actor_id), 3, *levels)


def _write(recount: _Recount, centre_ids) -> None:
    """Replace the kept rows (of those centres, or all) by the recount, in one transaction."""
    with write_transaction():
        for table in (DayFigure, DayUnit, DayStep, DayRating):
            query = table.delete()
            if centre_ids is not None:
                query = query.where(table.centre.in_(list(centre_ids)))
            query.execute()
        # In the order of their keys: a period's rows lie together, as they do when written day by day.
        _insert("dayfigure", ("centre_id", "day", "procedure_id", *COUNTS),
                sorted((c, day, p, *(row[n] for n in COUNTS)) for (c, p, day), row in recount.days.items()))
        _insert("dayunit", ("centre_id", "day", "procedure_id", "lane", "done", "late", *RATED.values()),
                sorted(key + tuple(row) for key, row in recount.units.items()))
        _insert("daystep", STEP_COLUMNS,
                sorted(key[:7] + (row[4],) + tuple(row[:4]) for key, row in recount.steps.items()))
        _insert("dayrating", ("centre_id", "day", "procedure_id", "actor_id", *RATED.values()),
                sorted(key + tuple(row) for key, row in recount.people.items()))
        roll_up_months(centre_ids)


def roll_up_months(centre_ids=None) -> None:
    """Recount the steps' months (monthstep) from their days (daystep)."""
    where, params = ("", []) if centre_ids is None else in_clause('"centre_id"', list(centre_ids))
    month = sql.month_start('"day"')
    query = MonthStep.delete()
    if centre_ids is not None:
        query, where = query.where(MonthStep.centre.in_(list(centre_ids))), f"WHERE {where}"
    query.execute()
    key = quoted(MONTH_COLUMNS[:7])
    sql.run(f'INSERT INTO "monthstep" ({quoted(MONTH_COLUMNS)}) SELECT * FROM (SELECT "centre_id", {month} AS "month", '
            '"procedure_id", "lane", "element_id", "actor_id", "bucket", MAX("name") AS "name", SUM("done") AS "done", '
            'SUM("late") AS "late", SUM("rework") AS "rework", SUM("seconds") AS "seconds" '
            f'FROM "daystep" {where} GROUP BY "centre_id", {month}, "procedure_id", "lane", "element_id", "actor_id", '
            f'"bucket") m ORDER BY {key}', params)


def _insert(table, columns, rows, batch=500):
    for i in range(0, len(rows), batch):
        sql.insert_rows(table, columns, rows[i:i + batch])
