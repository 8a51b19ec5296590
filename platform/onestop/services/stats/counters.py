"""The kept figures, counted inside the transaction of the event that makes them: a dossier received,
resolved, returned, not accepted or sent back for supplements (`count`), a person's steps completed
(`count_steps`), a rating given (`count_rating`). Each adds to the rows of its local day (and the
steps to their month) in dayfigure, dayunit, daystep, monthstep and dayrating, which the read side
adds up. The writes are not made where they are counted: they are deferred (`db.defer`, rank
`LOCK_FIGURES`) and run just before the commit, table by table in FIGURE_TABLES order and within
a table in the order of the row's key (docs/architecture.md, "Lock order and retries").

Each key is kept in up to `shards()` rows (the `shard` column ends every figure table's unique
key): each thread of a process adds to its own one (`shard()`), so on PostgreSQL, where a row's lock
is held until the commit, two steps of one centre's unit and day running at once do not queue on
one row. Every reader sums the rows of a key (read.py, periodic.py), so a figure is the same
whichever rows its counts went to; the recount writes shard 0.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import threading
import time
from datetime import datetime

from ... import sql
from ...db import LOCK_FIGURES, at_batch_commit, defer, on_sqlite, run_write
from ...models import DayFigure, DayRating, DayStep, DayUnit, MonthStep, utcnow
from .buckets import bucket
from .definition import COUNTS, RATED
from .scope import in_clause, local_day, quoted

# The kept figures' tables in the order a unit of work writes (and so locks) their rows: every
# writer takes them in this order, and within a table in the order of the row's key, after its own
# dossier's rows and before the audit chain's head (db.LOCK_FIGURES; docs/architecture.md).
FIGURE_TABLES = ("dayfigure", "dayunit", "daystep", "monthstep", "dayrating")

# Rows per key on PostgreSQL: as many as the writers that commonly run at once (2 workers of 8
# threads each). SQLite runs one writer at a time (its commits are serialized anyway), so one row
# per key serves it.
POSTGRES_SHARDS = 16

_threads = itertools.count()  # the threads of this process that wrote figures, numbered as they first do
_thread = threading.local()
_start = [random.randrange(POSTGRES_SHARDS)]  # noqa: S311 (spreads processes, not a secret)
os.register_at_fork(after_in_child=lambda: _start.__setitem__(0, random.randrange(POSTGRES_SHARDS)))  # noqa: S311


def shards() -> int:
    """How many rows a figure's key is spread over on the bound database."""
    return 1 if on_sqlite() else POSTGRES_SHARDS


def shard() -> int:
    """The row of a key this thread adds to: the threads of one process take consecutive shards (up
    to `shards()` of them never share one), each process from its own random start."""
    number = getattr(_thread, "number", None)
    if number is None:
        number = _thread.number = next(_threads)
    return (_start[0] + number) % shards()


def _add(table: str, key: dict, counts: dict, greatest=()) -> None:
    """Add `counts` to the row of `key` (created with them if missing); `greatest` columns keep the
    greater value (the database's order, as MAX() reads them back). Written at the end of the unit
    of work, in the lock order (FIGURE_TABLES, then the key, the shard last), with the unit's other
    figures (`_write`)."""
    key = key | {"shard": shard()}
    # In a SQLite batch of units: added up with the other units' additions to the same row, one upsert a row
    # for the whole batch (_add_together) instead of one a unit.
    if at_batch_commit(_add_together, (table, key, counts, greatest)):
        return
    params = list(key.values()) + list(counts.values())
    shape = (table, tuple(key), tuple(counts), greatest)
    defer((LOCK_FIGURES,), (FIGURE_TABLES.index(table), _order(key, greatest), shape, params), together=_write)


def _order(key: dict, greatest) -> tuple:
    """A row's place in the lock order within its table: its key (None sorts first, never compared)."""
    return tuple((v is not None, v) for c, v in key.items() if c not in greatest)


def _add_together(items) -> None:
    """Write additions [(table, key, counts, greatest)] as _add does, those to one row added up first
    (counts summed, `greatest` columns at the greatest): what the row holds after is what one upsert each
    leaves. In the lock order, as a unit's deferred figures are written."""
    rows = {}
    for table, key, counts, greatest in items:
        ident = (table, tuple(key), tuple(counts), greatest, _order(key, greatest))
        kept = rows.get(ident)
        if kept is None:
            rows[ident] = (dict(key), dict(counts))
            continue
        for column in greatest:  # as the upsert's CASE: a NULL on either side keeps what the row holds
            if kept[0][column] is not None and key[column] is not None:
                kept[0][column] = max(kept[0][column], key[column])
        for column, value in counts.items():
            kept[1][column] += value
    for (table, columns, names, greatest, _), (key, counts) in sorted(
            rows.items(), key=lambda row: (FIGURE_TABLES.index(row[0][0]), row[0][4])):
        sql.run(_upsert(table, columns, names, greatest), list(key.values()) + list(counts.values()))


def _write(figures) -> None:
    """A unit's figure rows (as `_add` defers them), in the lock order: by table, then by key (stably: a
    row added twice keeps its order). On PostgreSQL in as few statements as the rows allow: each upsert
    a data-modifying WITH of the next, which reads its count first (so the rows are taken in this order
    within the statement too); a row met again starts a new statement (one statement may change a row
    once). On SQLite one upsert each, in turn (its statements cost no round trip)."""
    figures = sorted(figures, key=lambda figure: figure[:2])
    if on_sqlite():
        for _table, _row, shape, params in figures:
            sql.run(_upsert(*shape), params)
        return
    group, seen = [], set()
    for figure in figures:
        if (figure[0], figure[1]) in seen:
            _write_together(group)
            group, seen = [], set()
        group.append(figure)
        seen.add((figure[0], figure[1]))
    _write_together(group)


def _write_together(figures) -> None:
    """Upserts in one statement, each after the one before (PostgreSQL: see `_write`)."""
    texts, params = [], []
    for i, (_table, _row, shape, values) in enumerate(figures):
        texts.append(_upsert(*shape, after=f"f{i - 1}" if i else None))
        params += values
    last = texts.pop()
    if texts:
        last = "WITH " + ", ".join(f'"f{i}" AS ({text} RETURNING 1)' for i, text in enumerate(texts)) + " " + last
    sql.run(last, params)


@functools.lru_cache(maxsize=256)
def _upsert(table: str, key: tuple, counts: tuple, greatest: tuple, after: str | None = None) -> str:
    """The upsert of a figure's row, by the shape of its key and counts (built once per shape: a
    step writes the same few). `after`: the name of a WITH query (`_write_together`) whose rows
    are counted before this row is written."""
    columns = quoted(key + counts)
    marks = ", ".join("?" * (len(key) + len(counts)))
    # (INSERT ... SELECT: PostgreSQL types the parameters by the columns they go to, as for VALUES)
    values = f'SELECT {marks} FROM (SELECT count(*) FROM "{after}") "before"' if after else f"VALUES ({marks})"
    return (f'INSERT INTO "{table}" ({columns}) {values} '
            f'ON CONFLICT ({quoted(c for c in key if c not in greatest)}) DO UPDATE SET {_merged(table, counts, greatest)}')


def _merged(table: str, counts, greatest) -> str:
    """The SET clause of a figure row met again: its counts added, its `greatest` columns kept at the greater."""
    return ", ".join([f'"{n}" = "{table}"."{n}" + excluded."{n}"' for n in counts] + [
        f'"{n}" = CASE WHEN excluded."{n}" > "{table}"."{n}" THEN excluded."{n}" ELSE "{table}"."{n}" END'
        for n in greatest])


def centre_of(dossier) -> int:
    """The centre a dossier's figures belong to: the one that received it, even once a merger handed
    it over to its successor."""
    return dossier.received_by_id or dossier.centre_id


def count(centre_id, procedure_id, at: datetime, **deltas) -> None:
    """Add to the figures of the local day of `at` (call inside the transaction of the event)."""
    if any(deltas.values()):  # every column: the table's defaults are peewee's, not SQL's
        _add("dayfigure", {"centre_id": centre_id, "day": local_day(at), "procedure_id": procedure_id},
             {n: int(deltas.get(n) or 0) for n in COUNTS})


def count_steps(dossier, finished: list, before: set | None = None) -> None:
    """Add a dossier's person's tasks just completed, [(element_id, name, lane, started_at, at, due_at,
    actor_id)] in order, to the days of their units, steps and officials. Call before their history
    rows are written: a step the dossier had completed before is one done again. `before`: of those
    elements, the ones the dossier had completed (`done_before`'s answer), if the caller read it."""
    if not finished:
        return
    if before is None:
        text, params = done_before(dossier.id, [f[0] for f in finished])
        before = {e for (e,) in sql.run(text, params)}
    before = set(before)
    for element_id, name, lane, started, at, due, actor_id in finished:
        seconds = max(int((at - started).total_seconds()), 0)
        late = int(due is not None and at > due)
        day = local_day(at)
        if lane:
            _add("dayunit", {"centre_id": centre_of(dossier), "day": day, "procedure_id": dossier.procedure_id,
                             "lane": lane}, {"done": 1, "late": late, "rated_1": 0, "rated_2": 0, "rated_3": 0})
        key = {"centre_id": centre_of(dossier), "procedure_id": dossier.procedure_id, "lane": lane or "",
               "element_id": element_id, "actor_id": actor_id or 0, "bucket": bucket(seconds), "name": name or ""}
        counts = {"done": 1, "late": late, "rework": int(element_id in before), "seconds": seconds}
        _add("daystep", key | {"day": day}, counts, greatest=("name",))
        _add("monthstep", key | {"month": day.replace(day=1)}, counts, greatest=("name",))
        before.add(element_id)


def done_before(dossier_id, elements) -> tuple:
    """(statement, parameters) reading which of `elements` the dossier's people had completed before
    (a rework when done again: count_steps): one row per element."""
    clause, params = in_clause('"element_id"', sorted(set(elements)))
    return (f'SELECT DISTINCT "element_id" FROM "historyentry" WHERE "dossier_id" = ? AND {clause} '
            'AND "state" = \'completed\' AND "started_at" IS NOT NULL', [dossier_id] + params)


def count_rating(dossier, level: str, at: datetime) -> None:
    """Add a rating to its dossier's day and to every unit and official that had handled the dossier."""
    count(centre_of(dossier), dossier.procedure_id, at, **{RATED[level]: 1})
    handled = sql.run('SELECT DISTINCT "lane", "actor_id" FROM "historyentry" WHERE "dossier_id" = ? '
                      'AND "state" = \'completed\' AND "started_at" IS NOT NULL', (dossier.id,)).fetchall()
    rated = {column: int(column == RATED[level]) for column in RATED.values()}
    key = {"centre_id": centre_of(dossier), "day": local_day(at), "procedure_id": dossier.procedure_id}
    for lane in sorted({lane for lane, _ in handled if lane}):
        _add("dayunit", key | {"lane": lane}, {"done": 0, "late": 0} | rated)
    for actor_id in sorted({actor for _, actor in handled if actor}):
        _add("dayrating", key | {"actor_id": actor_id}, rated)


FOLD_SECONDS = 3600.0  # the embedded worker folds at most this often (fold_now_and_then)
_last_fold = [float("-inf")]


def fold(today=None) -> int:
    """Fold the shards of the days before `today` (local; default today) and of the months before its
    month into shard 0, so that a long period's figures are read from one row per key again; returns
    how many rows of other shards were folded. Every figure reads the same before and after. On
    PostgreSQL only (SQLite keeps one row per key); each table in its own short transaction. The rows
    of past days are seldom written again, and a step that does add to one meanwhile waits for the
    fold's commit, then adds to its own shard as before."""
    if shards() == 1:
        return 0
    today = today or local_day(utcnow())
    month = today.replace(day=1)
    folded = 0
    for table, model in zip(FIGURE_TABLES, (DayFigure, DayUnit, DayStep, MonthStep, DayRating), strict=True):
        date_column = "month" if table == "monthstep" else "day"
        key = [f.column_name for f in _unique_fields(model) if f.name != "shard"]
        greatest = ["name"] if table in ("daystep", "monthstep") else []
        counted = [f.column_name for f in model._meta.sorted_fields
                   if f.column_name not in key + greatest + ["id", "shard"]]
        sums = [f'SUM("{c}")' for c in counted] + [f'MAX("{c}")' for c in greatest]
        statement = (
            f'WITH "gone" AS (DELETE FROM "{table}" WHERE "{date_column}" < ? AND "shard" <> 0 RETURNING *), '
            f'"added" AS (INSERT INTO "{table}" ({quoted(key + counted + greatest)}, "shard") '
            f'SELECT {quoted(key)}, {", ".join(sums)}, 0 FROM "gone" GROUP BY {quoted(key)} '
            f'ON CONFLICT ({quoted(key)}, "shard") DO UPDATE SET {_merged(table, counted, greatest)}) '
            'SELECT COUNT(*) FROM "gone"')
        before = month if table == "monthstep" else today
        # run_write: a step adding to a past day meanwhile may meet it in a deadlock; it is run again.
        folded += run_write(lambda statement=statement, before=before: sql.run(statement, (before,)).fetchone()[0])
    return folded


def fold_now_and_then() -> int:
    """fold() at most once a FOLD_SECONDS (the embedded worker polls far more often)."""
    if time.monotonic() - _last_fold[0] < FOLD_SECONDS:
        return 0
    _last_fold[0] = time.monotonic()
    return fold()


def _unique_fields(model):
    """The fields of a figure table's unique key (its Meta index), shard included."""
    (names, _unique), = model._meta.indexes
    return [getattr(model, name) for name in names]
