"""The figures at the size of a province's three years: a million dossiers, three million steps.

Generates a history in a fresh database (SQLite in a temp dir, or --database URL of an empty
database: postgresql://... or sqlite:///path)
through plain multi-row inserts: N dossiers (default 1,000,000) received over the last three years
(30 % online), 97 % resolved 1-8 days after receipt against a promise of 5 days, 1 % apologised for,
10 % asked for a supplement (an audit event each), three finished steps each in three units done by
one of the unit's 40 officials (5 % of dossiers send the second step back and do it again), and a
rating for one in five. Then times, p50 and p95 over --reps calls, in the same run:

* baseline: the cheapest honest query, the count of this month's intake by the (centre, received_at) index;
* (once) `stats.rebuild`: the figures by day counted from the generated rows, as the migration does;
* the public dashboard's service (this month, this year, twelve months) and GET /stats through the app;
* GET /api/v1/stats for a month and for a year (public, and with the per-official lines);
* the monthly scorecard: the service for last month, and the leader's page GET /desk/scorecard;
* the periodic report upward: the service for last month and for the year so far, and GET /desk/report;
* the year's figures with the per-unit, per-step and per-official hours.

    .venv/bin/python bench/stats.py [--dossiers 1000000] [--reps 7] [--database URL] [--reuse URL] [--json FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "platform"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

LANES = ("Bộ phận Một cửa", "Phòng chuyên môn", "Lãnh đạo")
OFFICIALS = 40  # per unit


def generate(n: int, rnd: random.Random, centre_id: int, procedure_id: int, version_id: int, actor_id: int,
             officials: dict):
    from onestop import sql
    from onestop.db import database, write_transaction
    from onestop.models import utcnow

    now = utcnow()
    first = now - timedelta(days=3 * 365)
    span = (now - first).total_seconds()
    dossier_columns = ("centre_id", "code", "procedure_id", "version_id", "state", "data", "workflow", "serial",
                       "status", "channel", "received_at", "due_at", "resolved_at", "returned_at", "apologised_at",
                       "created_by_id", "created_at", "updated_at")
    batch, started = 500, time.perf_counter()
    for lo in range(0, n, batch):
        rows, facts = [], []
        for i in range(lo, min(n, lo + batch)):
            received = first + timedelta(seconds=rnd.random() * span)
            due = received + timedelta(days=5)
            resolved = received + timedelta(days=rnd.uniform(1, 8)) if rnd.random() < 0.97 else None
            if resolved and resolved > now:
                resolved = None
            apologised = received + timedelta(days=4) if rnd.random() < 0.01 else None
            status = "returned" if resolved and rnd.random() < 0.9 else "resolved" if resolved else "processing"
            rows.append((centre_id, f"B-{i:07d}", procedure_id, version_id, "completed" if resolved else "active",
                         "{}", "{}", 1, status, "online" if rnd.random() < 0.3 else "counter", received, due,
                         resolved, resolved + timedelta(hours=2) if status == "returned" else None, apologised,
                         actor_id, received, resolved or received))
            facts.append((received, due, resolved))
        with write_transaction():
            sql.insert_rows("dossier", dossier_columns, rows)
            ids = [r[0] for r in sql.run('SELECT "id" FROM "dossier" WHERE "code" >= ? AND "code" <= ? ORDER BY "code"',
                                         (rows[0][1], rows[-1][1])).fetchall()]
            history, events, ratings = [], [], []
            for dossier_id, (received, _due, resolved) in zip(ids, facts, strict=True):
                if resolved is None:
                    continue
                step = (resolved - received) / 3
                for k, lane in enumerate(LANES):
                    start, end = received + step * k, received + step * (k + 1)
                    again = k == 1 and rnd.random() < 0.05  # sent back once: done twice in the same time
                    for part, (begin, finish) in enumerate(((start, start + (end - start) / 2),
                                                            (start + (end - start) / 2, end)) if again else
                                                           ((start, end),)):
                        history.append((dossier_id, f"{dossier_id}-{k}-{part}", f"Task_{k}", lane, "completed",
                                        finish, rnd.choice(officials[lane]), lane, begin,
                                        received + timedelta(days=(k + 1) * 5 / 3)))
                if rnd.random() < 0.1:
                    events.append((centre_id, dossier_id, actor_id, "dossier.supplement_requested", None, None,
                                   received + timedelta(hours=3)))
                if rnd.random() < 0.2:
                    ratings.append((dossier_id, rnd.choice(("rat_hai_long", "hai_long", "khong_hai_long")), "portal",
                                    resolved + timedelta(hours=3)))
            for i in range(0, len(history), 1000):
                sql.insert_rows("historyentry", ("dossier_id", "task_id", "element_id", "name", "state", "at",
                                                 "actor_id", "lane", "started_at", "due_at"), history[i:i + 1000])
            sql.insert_rows("auditevent", ("centre_id", "dossier_id", "actor_id", "action", "element_id", "detail",
                                           "at"), events)
            sql.insert_rows("rating", ("dossier_id", "level", "channel", "at"), ratings)
        if (lo // batch) % 200 == 0:
            print(f"  {lo + len(rows):>9} dossiers, {time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    database.execute_sql("ANALYZE")  # the planner's statistics, as after a day of real use
    return time.perf_counter() - started


def timed(fn, reps):
    fn()  # warm
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--database", "--postgres", default=None, help="an empty database to fill")
    parser.add_argument("--reuse", default=None, help="a database URL this script filled before: only measure")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="onestop-stats-")
    url = args.reuse or args.database or sqlite_database(home)
    from onestop.app import create_app
    from onestop.models import Centre, Procedure, ProcedureVersion
    from onestop.services import procedures, stats
    from onestop.services.users import create_user, issue_token
    from onestop.workdays import to_local, to_utc

    app = create_app({"home": Path(home), "database_url": url, "testing": True, "run_timer_thread": False,
                      "secret_key": "bench"})
    client = app.test_client()
    with app.app_context():
        from onestop.models import User

        admin = User.get_or_none(User.username == "bench.admin") or create_user(
            "bench.admin", ["admin", "leader", "officer"], password="bench-password")
        token = issue_token(admin)
        officials = {}
        for k, lane in enumerate(LANES):
            names = [f"bench.{k}.{i:02d}" for i in range(OFFICIALS)]
            existing = dict(User.select(User.username, User.id).where(User.username.in_(names)).tuples())
            officials[lane] = [existing.get(name) or create_user(name, ["officer"]).id for name in names]
        centre = Centre.get(Centre.code == "default")
        seconds = rebuilt = 0.0
        if args.reuse is None:
            procedures.upload_procedure(admin, [procedures.Upload(p.name, p.read_bytes()) for p in (
                ROOT / "tests/models/review.bpmn", ROOT / "tests/models/receive-schema.json")])
            procedure = Procedure.get(Procedure.code == "review")
            version = ProcedureVersion.get(ProcedureVersion.procedure == procedure)
            print(f"generating {args.dossiers:,} dossiers into {url.split(':')[0]} ...", file=sys.stderr)
            seconds = generate(args.dossiers, random.Random(766), centre.id, procedure.id, version.id, admin.id,
                               officials)
            print(f"generated in {seconds:.0f} s", file=sys.stderr)
            t = time.perf_counter()
            stats.rebuild()  # the rows were written behind the services' back: count them into the days
            rebuilt = time.perf_counter() - t
            print(f"figures by day rebuilt from the rows in {rebuilt:.0f} s", file=sys.stderr)
        else:
            from onestop.models import Dossier

            args.dossiers = Dossier.select().count()
        today = to_local(datetime.utcnow()).date()
        month_start = today.replace(day=1)
        last_month = (month_start - timedelta(days=1)).replace(day=1)
        lo = to_utc(datetime.combine(month_start, datetime.min.time()))
        from onestop import sql

        cases = {
            "baseline: count of this month's intake (index)": lambda: sql.run(
                'SELECT COUNT(*) FROM "dossier" WHERE "centre_id" = ? AND "received_at" >= ?', (centre.id, lo)).fetchone(),
            "dashboard service (month, year, 12 months)": lambda: stats.dashboard("default", today),
            "scorecard service (last month, 120 officials)": lambda: stats.scorecard(admin, last_month),
            "periodic report service (last month)": lambda: stats.periodic_report([centre.id], last_month, month_start),
            "periodic report service (this year so far)": lambda: stats.periodic_report(
                [centre.id], today.replace(month=1, day=1), today + timedelta(days=1)),
            "year figures with per-step hours (detail)": lambda: stats.figures(
                [centre.id], today.replace(month=1, day=1), today + timedelta(days=1), detail=True),
        }
        http = {
            "GET /stats (public dashboard page)": "/stats",
            "GET /api/v1/stats (this month, public)": "/api/v1/stats",
            "GET /api/v1/stats (this year, public)": f"/api/v1/stats?from={today.year}-01-01",
            "GET /api/v1/stats (this month, with officials)": "/api/v1/stats#token",
            "GET /api/v1/stats (this year, with officials)": f"/api/v1/stats?from={today.year}-01-01#token",
            "GET /desk/scorecard (last month, leader's page)": f"/desk/scorecard?month={last_month:%Y-%m}#session",
            "GET /desk/report (last month, leader's page)": "/desk/report#session",
        }
        results = {}
        for name, fn in cases.items():
            results[name] = timed(fn, args.reps)
        signed_in = app.test_client()
        login = signed_in.get("/desk/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        assert signed_in.post("/desk/login", data={"csrf_token": csrf, "username": "bench.admin",
                                                    "password": "bench-password"}).status_code == 303
        for name, path in http.items():
            headers = {"Authorization": f"Bearer {token}"} if path.endswith("#token") else {}
            caller = signed_in if path.endswith("#session") else client
            path = path.removesuffix("#token").removesuffix("#session")

            def get(path=path, headers=headers, caller=caller):
                reply = caller.get(path, headers=headers)
                assert reply.status_code == 200, reply.get_data(as_text=True)[:300]

            results[name] = timed(get, args.reps)
    print(f"\n{args.dossiers:,} dossiers, {url.split(':')[0]}; generated in {seconds:.0f} s, figures by day rebuilt "
          f"in {rebuilt:.0f} s; p50 / p95 ms over {args.reps} calls")
    base = results["baseline: count of this month's intake (index)"][0]
    for name, (p50, p95) in results.items():
        print(f"  {name:<50} {p50:8.1f} {p95:8.1f}   {p50 / base:7.1f}x baseline")
    bench_results.save("stats", ["case", "p50 ms", "p95 ms", "x baseline"],
                       [[name, round(p50, 1), round(p95, 1), round(p50 / base, 1)] for name, (p50, p95) in results.items()],
                       variant=url.split(":")[0], title=f"Statistics pages at {args.dossiers:,} dossiers ({url.split(':')[0]})",
                       sizes={"dossiers": args.dossiers, "calls_per_case": args.reps},
                       notes=[f"generated in {seconds:.0f} s, figures by day rebuilt in {rebuilt:.0f} s"])
    if args.json:
        Path(args.json).write_text(json.dumps({"dossiers": args.dossiers, "database": url.split(":")[0],
                                               "generate_s": seconds, "rebuild_s": rebuilt,
                                               "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
