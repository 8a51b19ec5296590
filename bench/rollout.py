"""A nationwide rollout: the bundled procedures as a pack, adopted by every province and commune of
the country (34 + 3,321 centres), against the baseline of uploading the same files at each centre.

1. A fresh database (SQLite in a temp dir, or --postgres URL), bound as the `onestop` command binds
   it; `centres.import_units` creates the nation, 34 provinces and 3,321 communes (timed).
2. The pack: every folder of process_models/ (the bundled procedures), with its sha256 manifest.
3. Baseline, same run: `procedures.upload_procedure` of the 10 folders at the first N communes
   (default 20): what a rollout costs per centre when each centre parses, validates and stores the
   model itself.
4. Rollout (`services.rollout.rollout`) to one province's communes (Quảng Ninh, 54), then to the
   whole nation (the rest), then again to the nation (every adoption "unchanged"). Per-centre cost
   at 54 and at 3,355 centres shows how the cost grows with the number of centres.

    .venv/bin/python bench/rollout.py [--baseline-centres 20] [--postgres URL] [--json FILE]
    .venv/bin/python bench/rollout.py --tiny      # seconds: the CI run (tests/bench), no nationwide rollout
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "platform"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)


def build_pack() -> bytes:
    manifest, buffer = {"format": "onestop-pack/1", "procedures": []}, io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in sorted(p for p in (ROOT / "process_models").iterdir() if p.is_dir()):
            files = {}
            for path in sorted(folder.iterdir()):
                if path.suffix in (".bpmn", ".json"):
                    files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
                    archive.write(path, f"{folder.name}/{path.name}")
            manifest["procedures"].append({"folder": folder.name, "files": files})
        archive.writestr("manifest.json", json.dumps(manifest))
    return buffer.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-centres", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL of an empty database")
    parser.add_argument("--json", default=None)
    parser.add_argument("--tiny", action="store_true",
                        help="baseline at 2 communes, roll out to Quang Ninh's communes twice, not to the nation "
                             "(a few seconds: what CI runs so that this script cannot rot)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.baseline_centres = min(args.baseline_centres, 2)

    home = tempfile.mkdtemp(prefix="onestop-rollout-")
    url = args.postgres or sqlite_database(home)
    os.environ["ONESTOP_HOME"] = home
    from onestop import db, migrations
    from onestop.engine import Engine
    from onestop.models import Centre
    from onestop.services import centres, procedures, rollout
    from onestop.services.audit import bind as audit_bind
    from onestop.services.runtime import Runtime, bind_engine, install
    from onestop.services.users import create_user

    install(Runtime(database=db.open_database(url)))
    audit_bind(secrets.token_urlsafe(48))  # a throwaway trail key: a benchmark keeps no trail
    db.database.connect(reuse_if_open=True)
    migrations.migrate()
    bind_engine(Engine())
    system = create_user("system", ["system_admin", "admin"])

    results = {"database": url.split(":")[0]}
    t = time.perf_counter()
    report = centres.import_units(system)
    results["import_units_s"] = time.perf_counter() - t
    print(f"centres: {report.provinces} provinces, {report.communes} communes in {results['import_units_s']:.2f} s")

    pack = build_pack()
    t = time.perf_counter()
    entries = rollout.read_pack(pack)
    results["verify_pack_s"] = time.perf_counter() - t
    nation = Centre.get(Centre.code == centres.NATION)
    templates = [v for v, _ in rollout.publish(system, nation, entries)]
    print(f"pack: {len(entries)} procedures, {len(pack) // 1024} KiB, verified and compiled in "
          f"{results['verify_pack_s']:.2f} s")

    communes = centres.select("nation")
    communes = [c for c in communes if c.level == "commune"]
    sample = communes[-args.baseline_centres:]  # not Quảng Ninh's: those are rolled out below
    uploads = [[procedures.Upload(p.name, p.read_bytes()) for p in sorted(folder.iterdir())
                if p.suffix in (".bpmn", ".json")]
               for folder in sorted(p for p in (ROOT / "process_models").iterdir() if p.is_dir())]
    t = time.perf_counter()
    for centre in sample:
        system.centre_id = centre.id
        for files in uploads:
            procedures.upload_procedure(system, files)
    baseline = (time.perf_counter() - t) / len(sample)
    system.centre_id = nation.id
    results["baseline_per_centre_ms"] = baseline * 1000
    print(f"baseline: each centre uploads the {len(uploads)} procedures itself: {baseline * 1000:.1f} ms per centre "
          f"({len(sample)} centres)")

    rows = []
    runs = [("Quảng Ninh's communes", "province:22/*")]
    runs += [("Quảng Ninh's again", "province:22/*")] if args.tiny else [("the nation", "nation"),
                                                                         ("the nation again", "nation")]
    for label, selector in runs:
        targets = centres.select(selector)
        report = rollout.rollout(system, templates, targets)
        per = report.seconds / len(targets) * 1000
        rows.append({"to": label, "centres": len(targets), "seconds": report.seconds, "per_centre_ms": per,
                     "counts": report.counts()})
        print(f"rollout to {label:<22} {len(targets):>5} centres {report.seconds:7.2f} s  {per:6.2f} ms/centre  "
              f"{baseline * 1000 / per:5.1f}x the baseline's speed  {report.counts()}")
    results["rollouts"] = rows
    bench_results.save("rollout", ["rollout", "centres", "s", "ms per centre", "x the baseline's speed", "outcome"],
                       [[r["to"], r["centres"], round(r["seconds"], 2), round(r["per_centre_ms"], 2),
                         round(baseline * 1000 / r["per_centre_ms"], 1), r["counts"]] for r in rows],
                       title="Rolling the bundled procedures out to centres",
                       sizes={"procedures": len(uploads), "baseline_centres": len(sample), "tiny": args.tiny},
                       notes=[f"baseline: each centre uploads the {len(uploads)} procedures itself: "
                              f"{baseline * 1000:.1f} ms per centre ({len(sample)} centres)"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
