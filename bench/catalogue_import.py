"""A province's whole catalogue through the catalogue import: 936 records generated from the 18 real
ones, imported, generated, linted, test-run and published; then the portal's catalogue and search
with that many procedures.

1. A fresh database (SQLite in a temp dir, or --postgres URL), bound as the `onestop` command binds it
   (the engine with its sandbox, as `onestop catalogue import` runs).
2. Baseline, same run: the 18 real records of tests/models/reference_procedures.json (the copy of
   ../shared/reference/procedures.json) through the same pipeline — services.catalogue.import_file
   (read, generate, store in one transaction, test-run and review each draft), then publish_many of
   the clean drafts. Its per-record cost scaled to N is what N should take if nothing grows with N.
3. The N-record file (default 936, Quảng Ninh's catalogue): each record a copy of one of the 18 drawn
   at random (seeded), with its own code and name, a time limit drawn from the real ones of the same
   day type and a subset of its documents, so the patterns, units and day types follow the real mix.
   Same pipeline, timed by phase.
4. For each run: wall time, this process's CPU per record (user + system: the server's work, as the
   import runs in one process; the sandbox's script workers are never started, generated models run
   no scripts), and /proc/pressure/cpu: the share of the wall time some task of the machine waited
   for a CPU (the machine is shared: a high figure means the wall time is inflated by others).
5. The portal's catalogue (GET /) and search (GET /?q=...) with every procedure published, through the
   app's WSGI interface in this process (no socket): p50 and p95 over --requests requests each,
   against the 50 ms target.
6. The rollout that follows (services.catalogue.roll_out, as the back office's button runs it): the
   imports are published at the nation's centre, then rolled out to Quảng Ninh's province centre and
   to its 54 communes, each centre adopting the procedures of its level (services/levels.py). The
   18 real ones first (the baseline: ms per adoption), then the N.

    .venv/bin/python bench/catalogue_import.py [--count 936] [--requests 200] [--postgres URL] [--json FILE]
    .venv/bin/python bench/catalogue_import.py --tiny     # seconds: the CI run (tests/bench)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT))
from bench.measure import cpu, pressure  # noqa: E402
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402

REFERENCE = ROOT / "tests" / "models" / "reference_procedures.json"
TARGET_SECONDS = 300
TARGET_P95_MS = 50.0
SEARCHES = ("hộ tịch", "giấy phép xây dựng", "đất đai", "kinh doanh", "chứng thực", "lái xe", "1.0136")


def synthesize(real: list, count: int, seed: int = 17) -> list:
    """`count` records drawn from the real ones: own code and name, a time limit of the same day type
    from the real ones, a subset of the documents (order kept)."""
    rng = random.Random(seed)
    by_unit: dict = {}
    for r in real:
        by_unit.setdefault(r["processing_unit"].split("(")[0].strip().lower(), []).append(r["processing_days"])
    out = []
    for i in range(count):
        record = copy.deepcopy(rng.choice(real))
        record["code"] = f"9.{i + 1:06d}"
        record["name_vi"] = f"{record['name_vi'][:300]} (mẫu {i + 1})"
        if record["processing_days"]:  # same-day records stay same-day
            record["processing_days"] = rng.choice([d for d in by_unit[record["processing_unit"].split("(")[0]
                                                                        .strip().lower()] if d] or [1])
        docs = record["documents"]
        if len(docs) > 1:
            keep = sorted(rng.sample(range(len(docs)), rng.randint(1, len(docs))))
            record["documents"] = [docs[k] for k in keep]
        out.append(record)
    return out


def run(actor, label, records, max_bytes) -> dict:
    """Import, check and publish `records`; the figures of the run."""
    from onestop.services import catalogue

    content = json.dumps(records, ensure_ascii=False).encode()
    timings = catalogue.Timings()
    wall, used, stalled = time.perf_counter(), cpu(), pressure()
    batch = catalogue.import_file(actor, f"{label}.json", content, max_bytes=max_bytes, timings=timings)
    t = time.perf_counter()
    clean = [e["draft"] for e in batch.entries if not e["errors"] and not e["failed"]]
    published = catalogue.publish_many(actor, clean, max_bytes)
    publish_s = time.perf_counter() - t
    wall, used = time.perf_counter() - wall, cpu() - used
    stall = (pressure() - stalled) / 1e6 / wall * 100 if stalled is not None else None
    n = len(records)
    return {"label": label, "import_id": batch.id, "records": n, "wall_s": wall, "per_record_ms": wall / n * 1000,
            "cpu_per_record_ms": used / n * 1000, "cpu_pressure_pct": stall,
            "phases_s": {"read": timings.read, "generate": timings.generate, "store": timings.store,
                         "lint+tests": timings.check, "publish": publish_s},
            "errors": sum(1 for e in batch.entries if e["errors"]),
            "tests_failed": sum(e["failed"] for e in batch.entries),
            "tests_passed": sum(e["passed"] for e in batch.entries),
            "published": sum(1 for _, v, _ in published if v)}


def show(row, baseline=None):
    phases = "  ".join(f"{k} {v:.1f}" for k, v in row["phases_s"].items())
    stall = f"{row['cpu_pressure_pct']:5.1f}%" if row["cpu_pressure_pct"] is not None else "  n/a"
    versus = f"  {row['per_record_ms'] / baseline['per_record_ms']:4.2f}x baseline per record" if baseline else ""
    print(f"{row['label']:<22} {row['records']:>5} records {row['wall_s']:8.1f} s {row['per_record_ms']:8.1f} ms/record "
          f"cpu {row['cpu_per_record_ms']:7.1f} ms/record  cpu pressure {stall}  published {row['published']:>5}  "
          f"tests {row['tests_passed']} passed {row['tests_failed']} failed{versus}")
    print(f"{'':<22} phases (s): {phases}")


def roll_out(actor, row) -> dict:
    """Roll one import's published procedures out to Quảng Ninh's province centre and its communes."""
    from onestop.services import catalogue

    wall, used = time.perf_counter(), cpu()
    counts: dict = {}
    centres = 0
    for selector in ("province:22", "province:22/*"):
        report = catalogue.roll_out(actor, row["import_id"], selector)
        centres += len({o.centre for o in report.outcomes})
        for outcome, n in report.counts().items():
            counts[outcome] = counts.get(outcome, 0) + n
    wall, used = time.perf_counter() - wall, cpu() - used
    adopted = max(counts.get("adopted", 0), 1)
    return {"label": row["label"], "centres": centres, "wall_s": wall, "cpu_s": used, "counts": counts,
            "ms_per_adoption": wall / adopted * 1000, "cpu_ms_per_adoption": used / adopted * 1000}


def portal(url, home, engine, count_requests, centre) -> list:
    """p50/p95 (ms) of the portal's catalogue and search at `centre` (its code), where every
    procedure is published."""
    from onestop.app import create_app

    app = create_app({"home": Path(home) / "web", "database_url": url, "run_timer_thread": False,
                      "secret_key": secrets.token_urlsafe(32), "engine": engine})
    client = app.test_client()
    rows = []
    for label, paths in (("GET / (the catalogue)", [f"/?centre={centre}"]),
                         ("GET /?q= (search)", [f"/?centre={centre}&q={q}" for q in SEARCHES])):
        for p in paths:  # warm: the first request of each compiles templates, fills caches
            assert client.get(p).status_code == 200
        assert client.get(paths[0]).get_data(as_text=True).count('href="/procedures/') >= 10  # a real list
        samples = []
        for i in range(count_requests):
            t = time.perf_counter()
            reply = client.get(paths[i % len(paths)])
            samples.append((time.perf_counter() - t) * 1000)
            assert reply.status_code == 200
        samples.sort()
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        rows.append({"page": label, "requests": count_requests, "p50_ms": statistics.median(samples), "p95_ms": p95})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=936)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL of an empty database")
    parser.add_argument("--json", default=None)
    parser.add_argument("--tiny", action="store_true", help="24 records, 20 requests: the CI run (seconds)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.count, args.requests = min(args.count, 24), min(args.requests, 20)

    home = tempfile.mkdtemp(prefix="onestop-catalogue-import-")
    url = args.postgres or sqlite_database(home)
    os.environ["ONESTOP_HOME"] = home
    from onestop import db, migrations
    from onestop.engine import Engine
    from onestop.engine.sandbox import Sandbox
    from onestop.services.audit import bind as audit_bind
    from onestop.services.runtime import Runtime, bind_engine, install
    from onestop.services.users import create_user

    install(Runtime(database=db.open_database(url)))
    os.environ["ONESTOP_AUDIT_KEY"] = secrets.token_urlsafe(48)  # a throwaway trail key, the portal's app's too
    audit_bind(os.environ["ONESTOP_AUDIT_KEY"])
    db.database.connect(reuse_if_open=True)
    migrations.migrate()
    engine = bind_engine(Engine(Sandbox()))
    from onestop.models import Centre
    from onestop.services import centres

    admin = create_user("catalogue_admin", ["admin", "system_admin"])
    centres.import_units(admin, [22])  # the nation, Quảng Ninh and its 54 communes: the rollout's targets
    admin.centre_id = Centre.get(Centre.code == centres.NATION).id  # published at the nation, as templates
    max_bytes = 5 * 1024 * 1024

    real = json.loads(REFERENCE.read_text(encoding="utf-8"))
    print(f"database: {url.split(':')[0]}; machine: {os.cpu_count()} CPUs; reference: {len(real)} real records")
    baseline = run(admin, "baseline: 18 real", real, max_bytes)
    show(baseline)
    big = run(admin, f"catalogue of {args.count}", synthesize(real, args.count), max_bytes)
    show(big, baseline)
    scaled = baseline["per_record_ms"] * args.count / 1000
    verdict = "under" if big["wall_s"] < TARGET_SECONDS else "OVER"
    print(f"{args.count} records in {big['wall_s']:.1f} s ({scaled:.1f} s if each cost what the baseline's did): "
          f"{verdict} the {TARGET_SECONDS} s target")
    pages = portal(url, home, engine, args.requests, centres.NATION)
    total = baseline["published"] + big["published"]
    for row in pages:
        mark = "under" if row["p95_ms"] < TARGET_P95_MS else "OVER"
        print(f"{row['page']:<24} {total:>5} procedures {row['requests']:>5} requests p50 {row['p50_ms']:7.1f} ms "
              f"p95 {row['p95_ms']:7.1f} ms ({mark} {TARGET_P95_MS:.0f} ms)")
    rollouts = [roll_out(admin, baseline), roll_out(admin, big)]
    for row in rollouts:
        versus = (f"  {row['ms_per_adoption'] / rollouts[0]['ms_per_adoption']:4.2f}x baseline per adoption"
                  if row is not rollouts[0] else "")
        print(f"rollout of {row['label']:<20} to Quảng Ninh: {row['centres']:>3} centres {row['wall_s']:7.2f} s  "
              f"{row['ms_per_adoption']:6.2f} ms/adoption  cpu {row['cpu_ms_per_adoption']:6.2f} ms/adoption  "
              f"{dict(sorted(row['counts'].items()))}{versus}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (import, then the portal's app): {peak:.0f} MB")
    scalar = lambda row: {k: v for k, v in row.items() if isinstance(v, int | float | str)}  # noqa: E731
    runs = [scalar(baseline), scalar(big)]
    bench_results.save("catalogue_import", list(runs[0]), [list(r.values()) for r in runs],
                       variant=url.split(":")[0], title=f"A province's catalogue of {args.count} records imported",
                       sizes={"records": args.count, "portal_requests": args.requests},
                       notes=[f"portal {p['page']}: p50 {p['p50_ms']:.1f} ms, p95 {p['p95_ms']:.1f} ms over "
                              f"{p['requests']} requests" for p in pages]
                       + [f"peak memory of the process (import, then the portal's app): {peak:.0f} MB"])
    if args.json:
        Path(args.json).write_text(json.dumps({"baseline": baseline, "catalogue": big, "portal": pages, "rollouts": rollouts, "peak_mb": peak,
                                               "database": url.split(":")[0]}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
