"""A centre's switch-over: its old system's open dossiers imported, each at its step (services.legacy).

1. A fresh database (SQLite in a temp dir, or --postgres URL), bound as the `onestop` command binds it
   (the engine with its sandbox). Two procedures are published: tests/models/review.bpmn and the
   bundled copy_certification; every person's task of them that a dossier can be brought to with
   no data of its own is a step of the file.
2. Baseline, same run: --baseline dossiers started through the normal intake path
   (services.dossiers.start_dossier, as the counter's intake does: the engine runs the model, then
   one transaction per dossier). Its per-dossier cost scaled to N is what N would take that way.
3. The N-dossier legacy file (default 10,000; CSV with Vietnamese column titles): codes in the
   national layout, a received date in the last 60 days, a due date after it, the step and the
   applicant drawn at random (seeded). Imported with services.legacy.import_file (read, check
   every line, position the workflow once per (procedure, step), copy it per dossier, write
   everything in one transaction in multi-row inserts), then the same file again (nothing twice).
4. For each run: wall time, this process's CPU per dossier (user + system: the server's work, as
   the import runs in one process) and /proc/pressure/cpu: the share of the wall time some task of
   the machine waited for a CPU (the machine is shared: a high figure means others inflated it).

    .venv/bin/python bench/legacy_import.py [--count 10000] [--baseline 500] [--postgres [URL]] [--json FILE]
    .venv/bin/python bench/legacy_import.py --tiny     # seconds: the CI run (tests/bench)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT))
from bench.measure import cpu, pressure  # noqa: E402
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402

MODELS = ROOT / "tests" / "models"
BUNDLED = ROOT / "process_models"
TARGET_SECONDS = 60
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em", "Vũ Thị Giang")


def measured(label, n, work) -> dict:
    """Run `work()`; the run's figures (its result under "result")."""
    wall, used, stalled = time.perf_counter(), cpu(), pressure()
    result = work()
    wall, used = time.perf_counter() - wall, cpu() - used
    stall = (pressure() - stalled) / 1e6 / wall * 100 if stalled is not None else None
    return {"label": label, "dossiers": n, "wall_s": wall, "per_dossier_ms": wall / n * 1000 if n else 0.0,
            "cpu_per_dossier_ms": used / n * 1000 if n else 0.0, "cpu_pressure_pct": stall, "result": result}


def show(row, baseline=None):
    stall = f"{row['cpu_pressure_pct']:.0f}%" if row["cpu_pressure_pct"] is not None else "n/a"
    versus = (f"  {row['per_dossier_ms'] / baseline['per_dossier_ms']:5.3f}x baseline per dossier"
              if baseline else "")
    print(f"{row['label']:<28} {row['dossiers']:>6} dossiers {row['wall_s']:8.2f} s {row['per_dossier_ms']:7.3f} "
          f"ms/dossier  cpu {row['cpu_per_dossier_ms']:7.3f} ms/dossier  cpu pressure {stall:>4}{versus}")


def legacy_file(steps: list, count: int, today, seed: int = 20) -> bytes:
    """`count` lines of an old system's export: (procedure, step) pairs, dates and applicants at random."""
    rng = random.Random(seed)
    lines = ["Mã hồ sơ,Mã thủ tục,Họ và tên,Số CCCD,Số điện thoại,Địa chỉ,Ngày tiếp nhận,Ngày hẹn trả,Bước hiện tại"]
    for i in range(count):
        procedure, step = rng.choice(steps)
        received = today - timedelta(days=rng.randint(1, 60))
        due = received + timedelta(days=rng.randint(1, 90))
        lines.append(f"H22.40.10.01-{received:%y%m%d}-{i + 1:06d},{procedure},{rng.choice(NAMES)},"
                     f"{rng.randint(10**11, 10**12 - 1)},09{rng.randint(10**7, 10**8 - 1)},"
                     f"\"Số {rng.randint(1, 500)}, Hạ Long\",{received:%d/%m/%Y} 08:30,{due:%d/%m/%Y},{step}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=500, help="dossiers started through the normal intake")
    parser.add_argument("--postgres", nargs="?", const="throwaway", default=None,
                        help="a PostgreSQL URL of an empty database; alone: a fresh database on the server "
                             "bench/pgserver.py finds or starts")
    parser.add_argument("--json", default=None)
    parser.add_argument("--tiny", action="store_true", help="200 dossiers, a baseline of 20: the CI run (seconds)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.count, args.baseline = min(args.count, 200), min(args.baseline, 20)

    home = tempfile.mkdtemp(prefix="onestop-legacy-import-")
    url = args.postgres or sqlite_database(home)
    if args.postgres == "throwaway":
        sys.path.insert(0, str(ROOT))
        from bench.pgserver import new_database, postgres_admin_url, postgres_unavailable_reason

        admin_url = postgres_admin_url()
        if not admin_url:
            raise SystemExit(f"error: PostgreSQL unavailable: {postgres_unavailable_reason()}")
        url = new_database(admin_url)
    os.environ["ONESTOP_HOME"] = home
    from onestop import db, migrations
    from onestop.engine import Engine
    from onestop.engine.sandbox import Sandbox
    from onestop.services.audit import bind as audit_bind
    from onestop.services.runtime import Runtime, bind_engine, install
    from onestop.services.users import create_user, ensure_default_centre

    install(Runtime(database=db.open_database(url)))
    audit_bind(secrets.token_urlsafe(48))  # a throwaway trail key
    db.database.connect(reuse_if_open=True)
    migrations.migrate()
    engine = bind_engine(Engine(Sandbox()))
    ensure_default_centre()
    from onestop.models import Dossier, WorkItem, local_today
    from onestop.services import dossiers, legacy
    from onestop.services.procedures import Upload, model_for, upload_procedure

    admin = create_user("legacy_admin", ["admin"])
    officer = create_user("legacy_officer", ["officer"])
    steps = []
    for files in ([MODELS / "review.bpmn", MODELS / "receive-schema.json"],
                  sorted((BUNDLED / "copy_certification").iterdir())):
        version, _ = upload_procedure(admin, [Upload(p.name, p.read_bytes()) for p in files if p.is_file()])
        model = model_for(version)
        for element_id in engine.human_steps(model):
            try:
                engine.position(model, element_id)
            except Exception:  # a step only data of its own reaches: not in the file
                continue
            steps.append((version.procedure.code, element_id))
    print(f"database: {url.split(':')[0]}; machine: {os.cpu_count()} CPUs; steps in the file: {len(steps)} "
          f"({', '.join(f'{p}/{e}' for p, e in steps)})")

    baseline = measured(f"baseline: intake of {args.baseline}", args.baseline, lambda: [
        dossiers.start_dossier(officer, "review", {}, channel="counter") for _ in range(args.baseline)])
    show(baseline)
    content = legacy_file(steps, args.count, local_today())
    dry = measured(f"dry run of {args.count}", args.count,
                   lambda: legacy.import_file(admin, "legacy.csv", content, dry_run=True))
    show(dry, baseline)
    big = measured(f"import of {args.count}", args.count, lambda: legacy.import_file(admin, "legacy.csv", content))
    show(big, baseline)
    again = measured("the same file again", args.count, lambda: legacy.import_file(admin, "legacy.csv", content))
    show(again, baseline)
    imported = Dossier.select().where(Dossier.switch_over_at.is_null(False)).count()
    tasks = WorkItem.select().join(Dossier).where(Dossier.switch_over_at.is_null(False)).count()
    assert imported == args.count == len(big["result"].imported) and again["result"].imported == [], "not imported once"
    scaled = baseline["per_dossier_ms"] * args.count / 1000
    verdict = "under" if big["wall_s"] < TARGET_SECONDS else "OVER"
    print(f"{args.count} dossiers imported in {big['wall_s']:.1f} s ({scaled:.1f} s through the intake, one by one), "
          f"{tasks} tasks on the worklists: {verdict} the {TARGET_SECONDS} s target")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")
    runs = [{k: v for k, v in r.items() if isinstance(v, int | float | str)} for r in (baseline, dry, big, again)]
    bench_results.save("legacy_import", list(runs[0]), [list(r.values()) for r in runs], variant=url.split(":")[0],
                       title=f"Switch-over: {args.count:,} open dossiers of a legacy system imported",
                       sizes={"dossiers": args.count, "baseline_dossiers": args.baseline},
                       notes=[f"peak memory of this process: {peak:.0f} MB"])
    if args.json:
        rows = [{k: v for k, v in r.items() if k != "result"} for r in (baseline, dry, big, again)]
        Path(args.json).write_text(json.dumps({"runs": rows, "peak_mb": peak, "database": url.split(":")[0]},
                                              indent=2, ensure_ascii=False))
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
