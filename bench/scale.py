"""Pages at the size of a province: worklist, dossier page and applicant search on a million dossiers.

For each database (SQLite file in a temp dir and a fresh PostgreSQL database, or the one given) the data
comes from bench/generate.py (``--dossiers``, ``--open-tasks``; ``--quick`` = 100k / 10k), then every case
is timed as p50/p95 over many requests, through the real app (Flask ``test_client()``, a real bearer
token, the database connection as the app leaves it between requests) and through the same service
calls without HTTP (connection kept open), so that HTTP/JSON overhead and query cost show separately:

* worklist: ``GET /api/v1/tasks`` pages (first page, 50, 500, and a page after a cursor at a random
  position), the service's page, and the query of the brief
  (``WorkItem.for_actor(a).order_by(WorkItem.created_at).limit(50)``);
* dossier page: ``GET /api/v1/dossiers/{code}`` for random codes;
* search by applicant (no API yet): the naive service-level query on the JSON text column;
* baselines: a primary-key lookup of one dossier row (the floor) and a connection open + close;
* an experiment round (only on databases the run created): the worklist without its index
  (centre_id, created_at, id) — or with it, on a platform that lacks it — and the search with an index
  on the applicant's name, changed in the benchmark database only and put back; the platform's
  models are not changed.

Fast cases are measured round-robin (one request of each case in turn), so drifts of a shared machine
hit all of them alike; a case slower than ``--heavy-ms`` on its warm-up is measured on its own with a
time budget (``--budget`` seconds, at least 3 requests) and its n is shown.

    .venv/bin/python bench/scale.py --quick                          # SQLite and PostgreSQL, 100k dossiers
    .venv/bin/python bench/scale.py                                  # 1M dossiers, 100k open tasks
    .venv/bin/python bench/scale.py --databases sqlite --dossiers 50000 --open-tasks 5000
    .venv/bin/python bench/scale.py --database-url sqlite:////tmp/province.db   # generated once, reused
    .venv/bin/python bench/scale.py --quick --json out.json

See bench/README.md for what the columns mean and what the numbers say.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402  (bench/ is not a package)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (the same module generate.py uses)

TARGET_MS = 20.0  # p95 of the worklist page and the dossier page at 1M dossiers


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    title: str
    layer: str  # http | service | sql
    run: object  # (sample) -> None
    samples: list
    connection: str = "open"  # open: kept open (not timed); request: as the app leaves it after a request; closed
    experiment: bool = False  # measured in the index experiment round
    target: bool = False  # one of the pages with the p95 target
    heavy: bool = False
    first_cpu: float = 0.0
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)
    queries: int = 0  # SQL statements peewee ran in one call (counted on the first, untimed call)
    bytes: int = 0
    note: str = ""


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def _p(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class Target:
    """One database made ready for measuring: data generated (or found), the app, an officer's token."""

    def __init__(self, kind, url, home, owned, generated=None):
        self.kind, self.url, self.home, self.owned, self.generated = kind, url, home, owned, generated
        self.app = self.client = self.headers = self.actor = None
        self.description = ""
        self.plans = {}
        self.experiment_s = {}

    def open(self):
        from peewee import fn

        from onestop.app import create_app
        from onestop.db import database
        from onestop.models import Centre, Dossier, User, WorkItem
        from onestop.services.users import issue_token

        self.app = create_app({"home": self.home, "database_url": self.url, "run_timer_thread": False})
        self.client = self.app.test_client()
        database.connect(reuse_if_open=True)
        # The actor: an officer of the centre with the most open tasks (a centre of the generated data).
        busiest = (WorkItem.select(WorkItem.centre, fn.COUNT(WorkItem.id).alias("n")).group_by(WorkItem.centre)
                   .order_by(fn.COUNT(WorkItem.id).desc()).first())
        centre = Centre.get_by_id(busiest.centre_id) if busiest else Centre.default()
        self.actor = (User.select().where((User.centre == centre) & (User.active == True)  # noqa: E712
                                          & (User.roles.contains("officer"))).order_by(User.id).first())
        if self.actor is None:
            raise SystemExit(f"error: no officer in centre {centre.code} of {self.url}")
        token = issue_token(self.actor, label="bench/scale.py")
        # An officer of another centre that has no open task: the worklist query's worst case when several
        # centres share the database (created only in databases this run owns).
        self.other = None
        if self.owned:
            from onestop.services.users import create_user

            other_centre, _ = Centre.get_or_create(code="bench-scale-empty", defaults={
                "name": "Bộ phận Một cửa UBND xã Mẫu (không có hồ sơ)", "level": "commune"})
            self.other = (User.get_or_none(User.username == "bench-scale-empty.canbo")
                          or create_user("bench-scale-empty.canbo", ["officer"], centre=other_centre))
        self.headers = {"Authorization": f"Bearer {token}"}
        self.open_tasks = WorkItem.for_actor(self.actor).count()
        self.dossiers = Dossier.select().count()
        self.id_range = Dossier.select(fn.MIN(Dossier.id), fn.MAX(Dossier.id)).scalar(as_tuple=True)
        self.description = describe_database(self.url, self.owned)
        self.size = generate.database_size(self.url)
        # How the app leaves the connection after a request (SQLite: kept with the thread; PostgreSQL: back to
        # the pool): requests are measured from that state, as in production.
        response = self.client.get("/api/v1/procedures", headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"error: GET /api/v1/procedures answered {response.status_code}")
        global _APP_KEEPS_CONNECTION
        _APP_KEEPS_CONNECTION = not database.is_closed()
        self.connection_policy = "kept open" if _APP_KEEPS_CONNECTION else "closed after each request"
        database.connect(reuse_if_open=True)

    def close(self):
        from onestop.db import database

        if not database.is_closed():
            database.close()
        if hasattr(database.obj, "close_all"):
            database.obj.close_all()
        engine = self.app.extensions.get("onestop.engine") if self.app else None
        if engine is not None:
            engine.close()


def build_cases(t: Target, reps: int, rnd: random.Random, experiment: dict | None = None) -> list[Case]:
    """The cases of the first round (schema as the platform makes it), or of the index experiment round."""
    from peewee import SQL, Tuple, fn

    from onestop.models import Dossier, WorkItem
    from onestop.services import centres
    from onestop.services import dossiers as service
    from onestop.web import present

    def presented(d):  # what GET /api/v1/dossiers/{code} renders (web/api.py _dossier; links aside)
        rows = service.page_rows(d, service.HISTORY_PAGE)
        rows["history"], rows["events"] = rows["history"][:service.HISTORY_PAGE], rows["events"][:service.HISTORY_PAGE]
        return present.dossier(d, rows, centres.code_of(d.centre_id), {})

    actor = t.actor
    lo, hi = t.id_range
    n = reps + 20
    ids = [rnd.randint(lo, hi) for _ in range(n)]
    by_id = dict(Dossier.select(Dossier.id, Dossier.code).where(Dossier.id.in_(ids)).tuples())
    codes = [by_id[i] for i in ids if i in by_id] or [None]
    names = [rnd.choice(generate.NAMES) for _ in range(n)]
    prefixes = [" ".join(name.split()[:2]) + " " for name in names]  # family + middle name
    cursors = worklist_cursors(t, n, rnd)
    sqlite = t.kind == "sqlite"

    def http(path_of):
        def run(sample):
            response = t.client.get(path_of(sample), headers=t.headers)
            if response.status_code != 200:
                raise RuntimeError(f"{path_of(sample)}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            return len(response.get_data())
        return run

    def page(who=actor, after=None):
        return service.work_items(who, limit=50, after=after)[0]

    def rowvalue_page(cursor):  # the keyset condition as a row value: an index range on (centre, created_at, id)
        _text, created_at, task_id = cursor
        return list(WorkItem.select(WorkItem, Dossier.code).join(Dossier)
                    .where((WorkItem.centre == actor.centre_id)
                           & (Tuple(WorkItem.created_at, WorkItem.id) > Tuple(created_at, task_id)))
                    .order_by(WorkItem.created_at, WorkItem.id).limit(51))

    def brief_page(who=actor):  # the query of the brief: the centre's oldest 50
        return list(WorkItem.for_actor(who).order_by(WorkItem.created_at).limit(50))

    def search_like(name):
        return list(Dossier.for_actor(actor).where(Dossier.applicant.contains(name))
                    .order_by(Dossier.created_at.desc()).limit(20))

    # The applicant's name as an expression: json_extract / ->> with the path as a literal, so that an
    # expression index (the experiment) can match it.
    name_expr = (fn.json_extract(Dossier.applicant, SQL("'$.name'")) if sqlite
                 else SQL("""("t1"."applicant"::jsonb ->> 'name')"""))

    def search_json(name):
        return list(Dossier.for_actor(actor).where(name_expr == name).order_by(Dossier.created_at.desc()).limit(20))

    def search_prefix(prefix):
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return list(Dossier.for_actor(actor).where((name_expr >= prefix) & (name_expr < upper))
                    .order_by(Dossier.created_at.desc()).limit(20))

    def connect_close(_):
        from onestop.db import database

        database.connect()
        database.close()

    def pk(i):
        return Dossier.get_by_id(i)

    if cursors[0][1] is not None:  # both forms of the keyset condition must give the same page
        same = [i.id for i in page(after=cursors[0][0])] == [i.id for i in rowvalue_page(cursors[0])][:50]
        if not same:
            raise RuntimeError("the row-value page differs from services.work_items' page after the same cursor")
    other = [t.other] if t.other else []
    if experiment is not None:
        what = experiment["worklist"]  # "without" (the platform's index dropped) or "with" (added)
        x = "experiment: "
        return [
            Case("x.pk", x + "baseline again (same round)", "sql", pk, ids, experiment=True),
            Case("x.tasks.service", x + f"page of 50, {what} worklist index", "service", lambda _: page(), ids,
                 experiment=True),
            Case("x.tasks.deep", x + f"page of 50 after a cursor, {what} worklist index", "service",
                 lambda c: page(after=c[0]), cursors, experiment=True),
            Case("x.tasks.rowvalue", x + f"page after a cursor as a row value, {what} worklist index", "service",
                 rowvalue_page, cursors, experiment=True),
            *[Case("x.tasks.other", x + f"page of 50, empty centre, {what} worklist index", "service",
                   lambda _, o=o: page(o), ids, experiment=True) for o in other],
            Case("x.search.json", x + "JSON name = name + expression index", "service", search_json, names,
                 experiment=True),
            Case("x.search.prefix", x + "name prefix (family + middle) + the same index", "service", search_prefix,
                 prefixes, experiment=True),
        ]
    return [
        Case("pk", "baseline: dossier row by primary key", "sql", pk, ids),
        Case("connect", "baseline: connection open + close", "sql", connect_close, ids, connection="closed"),
        Case("tasks.http", "worklist: GET /api/v1/tasks (first page, default 100)", "http",
             http(lambda _: "/api/v1/tasks"), ids, connection="request", target=True),
        Case("tasks50.http", "worklist: GET /api/v1/tasks?limit=50", "http",
             http(lambda _: "/api/v1/tasks?limit=50"), ids, connection="request", target=True),
        Case("tasks.deep.http", "worklist: ...?limit=50&after=(random position)", "http",
             http(lambda c: f"/api/v1/tasks?limit=50&after={c[0]}"), cursors, connection="request", target=True),
        Case("tasks500.http", "worklist: GET /api/v1/tasks?limit=500 (largest page)", "http",
             http(lambda _: "/api/v1/tasks?limit=500"), ids, connection="request"),
        Case("tasks.service", "worklist: services.work_items(actor, limit=50)", "service", lambda _: page(), ids),
        Case("tasks.present", "worklist: work_items(limit=50) + present.work_item", "service",
             lambda _: [present.work_item(i, with_dossier=True) for i in page()], ids),
        Case("tasks.deep", "worklist: work_items(limit=50, after=random position)", "service",
             lambda c: page(after=c[0]), cursors),
        Case("tasks.rowvalue", "worklist: the same page, (created_at, id) > row value", "service",
             rowvalue_page, cursors),
        Case("tasks.brief", "worklist: for_actor.order_by(created_at).limit(50)", "service",
             lambda _: brief_page(), ids),
        *[Case("tasks.other", "worklist: page of 50, centre with no open task", "service", lambda _, o=o: page(o),
               ids) for o in other],
        Case("dossier.http", "dossier page: GET /api/v1/dossiers/{code}", "http",
             http(lambda code: f"/api/v1/dossiers/{code}"), codes, connection="request", target=True),
        Case("dossier.service", "dossier page: services.get_dossier", "service",
             lambda code: service.get_dossier(actor, code), codes),
        Case("dossier.present", "dossier page: get_dossier + present.dossier", "service",
             lambda code: presented(service.get_dossier(actor, code)), codes),
        Case("search.like", "search: applicant LIKE '%name%', newest 20", "service", search_like, names),
        Case("search.json", "search: applicant's JSON name = name, newest 20", "service", search_json, names),
    ]


def worklist_cursors(t: Target, n: int, rnd: random.Random) -> list:
    """(`after` cursor as the API gives it out, created_at, id) at random positions of the actor's worklist."""
    from onestop.models import WorkItem
    from onestop.services import dossiers as service

    make = getattr(service, "_cursor", None)
    if make is not None:
        items = list(WorkItem.for_actor(t.actor).select(WorkItem.created_at, WorkItem.id)
                     .order_by(WorkItem.created_at, WorkItem.id))
        picked = [items[rnd.randrange(len(items))] for _ in range(n)]
        return [(make(i), i.created_at, i.id) for i in picked] if items else [("", None, "")]
    # No cursor helper: follow the API's `next` for up to 20 pages of 500.
    found, after = [], None
    for _ in range(20):
        body = t.client.get("/api/v1/tasks?limit=500" + (f"&after={after}" if after else ""), headers=t.headers).json
        after = body.get("next")
        if not after:
            break
        last = WorkItem.get_by_id(body["tasks"][-1]["id"])
        found.append((after, last.created_at, last.id))
    return [rnd.choice(found) for _ in range(n)] if found else [("", None, "")]


def _worklist_index(t: Target):
    """The platform's index on workitem (centre_id, created_at, id), as (name, sql) or None."""
    from onestop.db import database
    from onestop.models import WorkItem

    for index in database.get_indexes(WorkItem._meta.table_name):
        if [c.strip('"') for c in index.columns][:3] == ["centre_id", "created_at", "id"]:
            return index.name, index.sql
    return None


SEARCH_INDEX = {
    "sqlite": ('CREATE INDEX "bench_x_dossier_applicant_name" ON "dossier" '
               "(\"centre_id\", json_extract(\"applicant\", '$.name'))"),
    "postgresql": ('CREATE INDEX "bench_x_dossier_applicant_name" ON "dossier" '
                   "(\"centre_id\", ((\"applicant\"::jsonb ->> 'name')))"),
}
BENCH_WORKLIST_INDEX = 'CREATE INDEX "bench_x_workitem_centre_created" ON "workitem" ("centre_id", "created_at", "id")'


def begin_experiment(t: Target) -> dict:
    """Change the benchmark database's indexes for the experiment round; returns how to undo it."""
    from onestop.db import database

    undo = []
    existing = _worklist_index(t)
    if existing:  # the platform has it (migration 3): measure what it buys by going without
        name, sql = existing
        started = time.perf_counter()
        database.execute_sql(f'DROP INDEX "{name}"')
        undo.append(sql)
        worklist = "without"
        t.experiment_s[f"dropped {name}"] = time.perf_counter() - started
    else:  # an older platform: measure what it would buy
        started = time.perf_counter()
        database.execute_sql(BENCH_WORKLIST_INDEX)
        undo.append('DROP INDEX "bench_x_workitem_centre_created"')
        worklist = "with"
        t.experiment_s["built bench_x_workitem_centre_created"] = time.perf_counter() - started
    started = time.perf_counter()
    database.execute_sql(SEARCH_INDEX[t.kind])
    t.experiment_s["built bench_x_dossier_applicant_name"] = time.perf_counter() - started
    undo.append('DROP INDEX "bench_x_dossier_applicant_name"')
    database.execute_sql('ANALYZE "workitem"')
    database.execute_sql('ANALYZE "dossier"')
    return {"worklist": worklist, "undo": undo}


def end_experiment(t: Target, experiment: dict):
    from onestop.db import database

    database.connect(reuse_if_open=True)
    for sql in experiment["undo"]:
        database.execute_sql(sql)


# --- measuring -----------------------------------------------------------------------------------


_APP_KEEPS_CONNECTION = False


def _prepare_connection(case: Case):
    from onestop.db import database

    if case.connection == "open" or (case.connection == "request" and _APP_KEEPS_CONNECTION):
        database.connect(reuse_if_open=True)
    elif not database.is_closed():  # the request (or the connect case) opens its own
        database.close()


def _timed(case: Case, sample, keep=True):
    _prepare_connection(case)
    gc.collect()
    started, cpu = time.perf_counter(), time.thread_time()
    result = case.run(sample)
    took, cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
    if keep:
        case.wall.append(took)
        case.cpu.append(cpu)
    if isinstance(result, int):
        case.bytes = result
    return took


def _counting(case: Case) -> float:
    """The first call of a case, untimed for the statistics, counting the SQL statements it runs."""
    from onestop.db import database

    db = database.obj
    original = db.execute_sql
    count = [0]

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    db.execute_sql = counted
    try:
        _prepare_connection(case)
        gc.collect()
        started, cpu = time.perf_counter(), time.thread_time()
        result = case.run(case.samples[0])
        took, case.first_cpu = (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
    finally:
        del db.execute_sql  # the instance attribute goes, the class's method shows again
    case.queries = count[0]
    if isinstance(result, int):
        case.bytes = result
    return took


def measure(cases: list[Case], reps: int, warmup: int, heavy_ms: float, budget: float, progress=True):
    gc.collect()
    gc.freeze()  # what exists now (samples, caches) is not traversed by the gc.collect() before each call
    for case in cases:
        first = _counting(case)
        case.heavy = first > heavy_ms
        if case.heavy and first > budget * 1000:
            # One call takes longer than the whole budget: that call is the measurement (n=1).
            case.wall.append(first)
            case.cpu.append(case.first_cpu)
            case.note = f"one call > {budget:.0f} s budget"
            if progress:
                print(f"#   {case.key}: one call, {first / 1000:.0f} s", file=sys.stderr, flush=True)
            continue
        for i in range(1, 1 if case.heavy else warmup):
            _timed(case, case.samples[i % len(case.samples)], keep=False)
    light = [c for c in cases if not c.heavy]
    started = time.perf_counter()
    for i in range(reps):
        for case in light:
            _timed(case, case.samples[(warmup + i) % len(case.samples)])
    if progress and light:
        print(f"#   {len(light)} fast cases x {reps} round-robin in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    for case in cases:
        if not case.heavy or case.wall:
            continue
        started = time.perf_counter()
        i = 0
        while i < reps and (i < 3 or time.perf_counter() - started < budget):
            _timed(case, case.samples[(warmup + i) % len(case.samples)])
            i += 1
        case.note = f"time-capped ({budget:.0f} s budget)" if i < reps else ""
        if progress:
            print(f"#   {case.key}: {i} requests in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


# --- query plans -----------------------------------------------------------------------------------


def query_plans(t: Target, experiment: dict | None = None) -> dict:
    """EXPLAIN of the queries behind the cases (SQLite: EXPLAIN QUERY PLAN), as text lines."""
    from peewee import SQL, Tuple, fn

    from onestop.db import database
    from onestop.models import AuditEvent, Dossier, HistoryEntry, WorkItem

    actor = t.actor
    sqlite = t.kind == "sqlite"
    name_expr = (fn.json_extract(Dossier.applicant, SQL("'$.name'")) if sqlite
                 else SQL("""("t1"."applicant"::jsonb ->> 'name')"""))
    some = Dossier.select(Dossier.id, Dossier.code).order_by(Dossier.id.desc()).first()
    count = WorkItem.for_actor(actor).count()
    item = WorkItem.for_actor(actor).order_by(WorkItem.created_at, WorkItem.id).offset(count // 2).first()
    worklist = (WorkItem.select(WorkItem, Dossier.code).join(Dossier).where(WorkItem.centre == actor.centre_id)
                .order_by(WorkItem.created_at, WorkItem.id))
    deep = worklist.where((WorkItem.created_at > item.created_at)
                          | ((WorkItem.created_at == item.created_at) & (WorkItem.id > item.id))) if item else worklist
    rowvalue = worklist.where(Tuple(WorkItem.created_at, WorkItem.id) > Tuple(item.created_at, item.id)) if item else worklist
    empty = (WorkItem.select(WorkItem, Dossier.code).join(Dossier).where(WorkItem.centre == -1)
             .order_by(WorkItem.created_at, WorkItem.id))
    queries = {
        "worklist page (as services.work_items builds it)": worklist.limit(51),
        "worklist page after a cursor (middle of the worklist), as services.work_items builds it": deep.limit(51),
        "the same page with the cursor as a row value": rowvalue.limit(51),
        "worklist page of a centre with no open task": empty.limit(51),
        "dossier by code": Dossier.for_actor(actor).where(Dossier.code == some.code),
        "history of a dossier": HistoryEntry.select().where(HistoryEntry.dossier == some.id)
        .order_by(HistoryEntry.at, HistoryEntry.id),
        "audit of a dossier": AuditEvent.select().where(AuditEvent.dossier == some.id)
        .order_by(AuditEvent.at, AuditEvent.id),
        "search LIKE": Dossier.for_actor(actor).where(Dossier.applicant.contains("Nguyễn Văn An"))
        .order_by(Dossier.created_at.desc()).limit(20),
        "search JSON name": Dossier.for_actor(actor).where(name_expr == "Nguyễn Văn An")
        .order_by(Dossier.created_at.desc()).limit(20),
    }
    if experiment is not None:
        keep = ("worklist page (as services.work_items builds it)", "worklist page of a centre with no open task",
                "search JSON name")
        queries = {f"{k} [experiment: {experiment['worklist']} worklist index, + search index]": v
                   for k, v in queries.items() if k in keep}
    plans = {}
    for title, query in queries.items():
        sql, params = query.sql()
        if sqlite:
            plans[title] = [row[-1] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
        else:
            plans[title] = [row[0] for row in database.execute_sql("EXPLAIN " + sql, params).fetchall()]
    return plans


# --- report --------------------------------------------------------------------------------------


def table(results: dict, kinds: list[str]) -> str:
    """results: {kind: [Case]} -> one row per case: SQL statements per call, then n, p50, p95, cpu p50 per database."""
    order = []
    for kind in kinds:
        for case in results[kind]:
            if case.key not in [c.key for c in order]:
                order.append(case)
    head = ["case", "layer", "sql"]
    for kind in kinds:
        head += [f"{kind} n", "p50 ms", "p95 ms", "cpu"]
    head += ["target"]
    rows = []
    for proto in order:
        row = [proto.title, proto.layer, str(proto.queries)]
        verdicts = []
        for kind in kinds:
            case = next((c for c in results[kind] if c.key == proto.key), None)
            if case is None or not case.wall:
                row += ["-", "-", "-", "-"]
                continue
            p95 = _p(case.wall, 0.95)
            row += [f"{len(case.wall)}{'*' if case.note else ''}", _ms(_p(case.wall, 0.5)), _ms(p95),
                    _ms(statistics.median(case.cpu))]
            if proto.target:
                verdicts.append("ok" if p95 < TARGET_MS else "MISS")
        row.append(f"p95<{TARGET_MS:.0f}: {'/'.join(verdicts)}" if proto.target else "")
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in (0, 1, len(r) - 1) else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths, strict=True)))
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def save_results(kind: str, t: Target, cases: list[Case], pressure, args) -> None:
    """The run on one database as bench/results/scale-<kind>.json (bench/results.py), as soon as it is measured."""
    rows = []
    for c in cases:
        if not c.wall:
            continue
        p95 = _p(c.wall, 0.95)
        rows.append([c.title, c.layer, c.queries, len(c.wall), round(_p(c.wall, 0.5), 2), round(p95, 2),
                     round(statistics.median(c.cpu), 2), round(_p(c.cpu, 0.95), 2),
                     ("ok" if p95 < TARGET_MS else "MISS") if c.target else None])
    gen = t.generated or {}
    pages = [c for c in cases if c.target and c.wall]
    verdict = []
    if pages:
        worst = max(pages, key=lambda c: _p(c.wall, 0.95))
        worst_cpu = max(pages, key=lambda c: _p(c.cpu, 0.95))
        verdict = [f"target pages (worklist, dossier page) at {t.dossiers:,} dossiers: worst wall p95 "
                   f"{_p(worst.wall, 0.95):.1f} ms ({worst.title}), "
                   f"{'under' if _p(worst.wall, 0.95) < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target; worst "
                   f"CPU p95 {_p(worst_cpu.cpu, 0.95):.1f} ms ({worst_cpu.title})"]
    bench_results.save(
        "scale", ["case", "layer", "sql", "n", "p50 ms", "p95 ms", "cpu p50 ms", "cpu p95 ms",
                  f"p95 < {TARGET_MS:.0f} ms"], rows,
        variant=kind, title=f"Worklist, dossier page and search at {t.dossiers:,} dossiers ({kind})",
        sizes={"dossiers": t.dossiers, "open_tasks_in_centre": t.open_tasks, "database_bytes": t.size,
               "requests_per_case": args.reps},
        pressure=pressure,
        notes=verdict + [t.description + f"; app connection {t.connection_policy}"] + ([_gen_line(gen)] if gen else [])
        + ["ms = wall time per call (p50/p95, nearest rank); cpu = CPU time of the measuring thread per call (SQLite's "
           "work included, a PostgreSQL server's not): under CPU pressure the wall time includes waiting for a CPU, "
           "the CPU time does not"],
        extra={"generated": {k: v for k, v in gen.items() if k not in ("officers", "verified")},
               "plans": t.plans})


def _ms(value):
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def machine_facts():
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "spiffworkflow": importlib.metadata.version("SpiffWorkflow"),
            "peewee": importlib.metadata.version("peewee"), "flask": importlib.metadata.version("flask"),
            "code": code_version()}


def code_version() -> str:
    """The commit measured, and whether platform/ had uncommitted changes (others work in this tree)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "platform"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{head or '?'}{' + uncommitted changes in platform/' if dirty else ''}"


def describe_database(url: str, owned: bool) -> str:
    from onestop.db import database

    if url.startswith("sqlite"):
        import sqlite3

        mode = database.execute_sql("PRAGMA journal_mode").fetchone()[0]
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(database.execute_sql("PRAGMA synchronous").fetchone()[0])
        cache = database.execute_sql("PRAGMA cache_size").fetchone()[0]
        return (f"SQLite {sqlite3.sqlite_version} ({'temp dir' if owned else 'given file'}, journal={mode}, "
                f"synchronous={sync}, cache_size={cache})")
    version = database.execute_sql("SHOW server_version").fetchone()[0]
    settings = {k: database.execute_sql(f"SHOW {k}").fetchone()[0]
                for k in ("fsync", "synchronous_commit", "shared_buffers", "work_mem", "lc_collate")}
    host = url.split("@")[-1].split("/")[0]
    return f"PostgreSQL {version} at {host} ({', '.join(f'{k}={v}' for k, v in settings.items())})"


def cpu_steal():
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def _gen_line(stats) -> str:
    return (f"generated {stats['dossiers']:,} dossiers ({stats['open_tasks']:,} open, {stats['history']:,} history, "
            f"{stats['audit']:,} audit rows) in {stats['bulk_s']:.0f} s = {stats['bulk_rate']:,.0f} dossiers/s "
            f"({stats['rows_per_s']:,.0f} rows/s; CPU {stats['bulk_cpu_s']:.0f} s writer + "
            f"{stats['bulk_workers_cpu_s']:.0f} s {stats['workers']} builder(s)); + indexes {stats['index_s']:.0f} s "
            f"+ analyze {stats['analyze_s']:.0f} s = {stats['load_rate']:,.0f} dossiers/s loaded; "
            f"setup through the services {stats['setup_s']:.1f} s")


# --- main ----------------------------------------------------------------------------------------


def _audit_key(home):
    """The audit key the app will use with this home (written now if new), so that the trail generated under it
    verifies when the app starts (otherwise the app logs that the trail's head does not verify)."""
    from onestop.config import load_settings

    return load_settings(home=home).audit_key


def run_database(kind, url, owned, tmp, args, rnd):
    """Generate (if needed), open, measure; returns (Target, [Case])."""
    from onestop import db

    home = tmp / f"home-{kind}"
    home.mkdir(exist_ok=True)
    generated = None
    if owned or args.generate:
        print(f"# {kind}: generating {args.dossiers:,} dossiers ({args.open_tasks:,} open) ...", file=sys.stderr, flush=True)
        pressure = bench_results.Pressure()
        generated = generate.generate(url, args.dossiers, args.open_tasks, args.centres, args.seed, progress=True,
                                      files_dir=home / "files", audit_key=_audit_key(home))
        generate.record(generated, pressure)
    else:
        from onestop.services.audit import bind as audit_bind
        from onestop.services.runtime import Runtime, install

        install(Runtime(database=db.open_database(url)))
        audit_bind(secrets.token_urlsafe(48))  # a throwaway trail key: a benchmark keeps no trail
        db.database.connect(reuse_if_open=True)
        from onestop.models import Dossier

        count = Dossier.select().count()
        db.database.close()
        if count == 0:
            print(f"# {kind}: {url} has no dossiers: generating ...", file=sys.stderr, flush=True)
            pressure = bench_results.Pressure()
            generated = generate.generate(url, args.dossiers, args.open_tasks, args.centres, args.seed, progress=True,
                                          files_dir=home / "files", audit_key=_audit_key(home))
            generate.record(generated, pressure)  # recorded as the generation of a database this run made
    t = Target(kind, url, home, owned, generated)
    t.open()
    print(f"# {kind}: {t.dossiers:,} dossiers, {t.open_tasks:,} open tasks in the actor's centre, "
          f"{t.size / 1e6:,.0f} MB; measuring ...", file=sys.stderr, flush=True)
    experiment = args.experiment if args.experiment is not None else owned
    cases = build_cases(t, args.reps, rnd)
    t.plans = query_plans(t)
    measure(cases, args.reps, args.warmup, args.heavy_ms, args.budget)
    if experiment:
        from onestop.db import database

        database.connect(reuse_if_open=True)
        changes = begin_experiment(t)
        try:
            extra = build_cases(t, args.reps, rnd, changes)
            t.plans.update(query_plans(t, changes))
            measure(extra, args.reps, args.warmup, args.heavy_ms, args.budget)
        finally:
            end_experiment(t, changes)
        cases += extra
    return t, cases


def main(argv=None):
    parser = argparse.ArgumentParser(description="Worklist, dossier page and search at province size (bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="100k dossiers / 10k open tasks (unless given)")
    parser.add_argument("--dossiers", type=int, default=None, help="default 1,000,000 (--quick: 100,000)")
    parser.add_argument("--open-tasks", type=int, default=None, help="default 100,000 (--quick: 10,000)")
    parser.add_argument("--centres", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=200, help="requests per case (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per case first (default 5)")
    parser.add_argument("--heavy-ms", type=float, default=250.0,
                        help="a case slower than this on warm-up is measured alone, time-capped (default 250)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per heavy case (default 30; --quick 15)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--databases", default="sqlite,postgresql",
                        help="which to create and fill: sqlite, postgresql or both (default both; PostgreSQL is "
                             "skipped with the reason when unavailable)")
    target.add_argument("--postgres", action="store_true", help="only PostgreSQL (same as --databases postgresql)")
    target.add_argument("--database-url", default=None,
                        help="measure this database (generated into when it has no dossier; else used as is)")
    parser.add_argument("--generate", action="store_true", help="with --database-url: generate into it anyway")
    parser.add_argument("--experiment", action=argparse.BooleanOptionalAction, default=None,
                        help="a second round with the benchmark database's indexes changed (the worklist index "
                             "dropped, or added where the platform lacks it; an index for search added), put back "
                             "afterwards (default: on for databases this run creates, off for --database-url)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file (its path is printed)")
    parser.add_argument("--json", dest="json_file", default=None, help="write every sample and fact to this file")
    args = parser.parse_args(argv)
    args.dossiers = args.dossiers or (100_000 if args.quick else 1_000_000)
    args.open_tasks = args.open_tasks if args.open_tasks is not None else (10_000 if args.quick else 100_000)
    args.open_tasks = min(args.open_tasks, args.dossiers)
    args.budget = args.budget if args.budget is not None else (15.0 if args.quick else 30.0)
    kinds = ["postgresql"] if args.postgres else [k.strip() for k in args.databases.split(",") if k.strip()]
    if args.database_url:
        kinds = ["sqlite" if args.database_url.startswith("sqlite") else "postgresql"]
    unknown = [k for k in kinds if k not in ("sqlite", "postgresql")]
    if unknown:
        parser.error(f"unknown database {unknown[0]!r}: sqlite or postgresql")

    facts = machine_facts()
    print(f"# machine: nproc={facts['nproc']} ({facts['cpu']}), load {facts['load']}; python {facts['python']}; "
          f"SpiffWorkflow {facts['spiffworkflow']}; peewee {facts['peewee']}; Flask {facts['flask']}; "
          f"code {facts['code']}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="onestop-scale-"))
    rnd = random.Random(args.seed)
    results, targets, skipped = {}, {}, {}
    started = time.perf_counter()
    steal_before = cpu_steal()
    try:
        for kind in kinds:
            drop_url = None
            if args.database_url:
                url, owned = args.database_url, False
            elif kind == "sqlite":
                url, owned = sqlite_database(tmp), True
            else:
                sys.path.insert(0, str(ROOT))
                from bench.pgserver import (
                    new_database,
                    postgres_admin_url,
                    postgres_unavailable_reason,
                )

                admin = postgres_admin_url()
                if not admin:
                    skipped[kind] = postgres_unavailable_reason()
                    print(f"# postgresql skipped: {skipped[kind]}", flush=True)
                    continue
                url = drop_url = new_database(admin)
                owned = True
            t = None
            try:
                pressure = bench_results.Pressure()
                t, cases = run_database(kind, url, owned, tmp, args, rnd)
                results[kind], targets[kind] = cases, t
                save_results(kind, t, cases, pressure, args)
                print(f"# {kind}: {t.description}; app connection {t.connection_policy}; {t.dossiers:,} dossiers, "
                      f"{t.open_tasks:,} open tasks in the actor's centre; {t.size / 1e6:,.0f} MB" + (f"; {_gen_line(t.generated)}" if t.generated else ""),
                      flush=True)
            finally:
                if t is not None:
                    t.close()
                if drop_url:
                    from bench.pgserver import drop_test_database

                    drop_test_database(drop_url)
                if kind == "sqlite" and owned and not args.keep:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{tmp / 'onestop.db'}{suffix}").unlink(missing_ok=True)
        if not results:
            raise SystemExit("error: no database could be measured")
        measured = list(results)
        steal_after = cpu_steal()
        steal = ""
        if steal_before and steal_after and steal_after[1] > steal_before[1]:
            steal = (f"; CPU steal during the run "
                     f"{100 * (steal_after[0] - steal_before[0]) / (steal_after[1] - steal_before[1]):.1f} %")
        print(f"# {args.reps} requests per case (warm-up {args.warmup}), fast cases round-robin, heavy ones "
              f"(> {args.heavy_ms:.0f} ms) alone within {args.budget:.0f} s (n*); {time.perf_counter() - started:.0f} s "
              f"in all{steal}; load now {os.getloadavg()[0]:.2f}")
        print(table(results, measured))
        print(f"# ms = wall time per request/call (time.perf_counter), p50/p95 nearest rank; target: worklist and "
              f"dossier page p95 < {TARGET_MS:.0f} ms at 1M dossiers; http = Flask test_client with a bearer token, "
              f"the connection as the app leaves it between requests; service/sql = the same calls, connection kept open; sql = statements per call; "
              f"cpu = median CPU time of this thread (SQLite's work included, a PostgreSQL server's not)")
        for kind in measured:
            for case in results[kind]:
                if case.layer == "http" and case.bytes:
                    print(f"# {kind} {case.key}: answer {case.bytes / 1000:,.1f} kB")
            for what, took in targets[kind].experiment_s.items():
                print(f"# {kind}: experiment: {what} in {took:.1f} s")
        print()
        for kind in measured:
            for title, lines in targets[kind].plans.items():
                print(f"# plan {kind}: {title}")
                for line in lines:
                    print(f"#     {line}")
        if args.keep and "sqlite" in measured and not args.database_url:
            print(f"# kept {tmp / 'onestop.db'}")
        if args.json_file:
            doc = {"machine": facts, "args": {k: v for k, v in vars(args).items()}, "skipped": skipped,
                   "databases": {kind: {
                       "description": targets[kind].description, "size_bytes": targets[kind].size,
                       "dossiers": targets[kind].dossiers, "open_tasks": targets[kind].open_tasks,
                       "generated": targets[kind].generated, "plans": targets[kind].plans,
                       "experiment_s": targets[kind].experiment_s,
                       "cases": [{"key": c.key, "title": c.title, "layer": c.layer, "experiment": c.experiment,
                                  "n": len(c.wall), "p50_ms": _p(c.wall, 0.5) if c.wall else None,
                                  "p95_ms": _p(c.wall, 0.95) if c.wall else None,
                                  "median_ms": statistics.median(c.wall) if c.wall else None,
                                  "cpu_ms": c.cpu, "queries": c.queries,
                                  "note": c.note, "bytes": c.bytes, "wall_ms": c.wall} for c in results[kind]],
                   } for kind in measured}}
            Path(args.json_file).write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
