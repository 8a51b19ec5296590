"""Where a benchmark run leaves its figures: one JSON file per benchmark and variant in bench/results/.

Every script in bench/ ends by calling ``save(...)`` with its table (columns and rows), the sizes it ran at and
what it measured on; the record adds the date (UTC), the commit measured (and whether platform/ had uncommitted
changes), the machine (nproc, CPU model, load) and the CPU pressure over the run (``/proc/pressure/cpu`` "some":
the share of the wall time some task waited for a CPU; these machines are shared, so a wall time means little
without it). ``bench/report.py`` turns the latest records into the tables of docs/performance.md.

The folder is bench/results/ unless ``ONESTOP_BENCH_RESULTS`` names another (the tiny runs of
tests/bench write to a temp dir, so that they never replace a real run's record). A later run of the same
benchmark and variant replaces the file: the folder holds the latest run of each, and git keeps the older ones.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_FOLDER = BENCH / "results"


def folder() -> Path:
    """The results folder of this run (ONESTOP_BENCH_RESULTS, else bench/results/)."""
    return Path(os.environ.get("ONESTOP_BENCH_RESULTS") or DEFAULT_FOLDER)


def _pressure_total_us() -> int | None:
    try:
        with open("/proc/pressure/cpu") as fh:
            some = fh.readline()
    except OSError:
        return None
    found = re.search(r"total=(\d+)", some)
    return int(found.group(1)) if found else None


class Pressure:
    """CPU pressure ("some") over an interval: started when made, read with ``share()`` (None where the
    kernel does not report it)."""

    def __init__(self):
        self.restart()

    def restart(self):
        self.total, self.started = _pressure_total_us(), time.monotonic()

    def share(self) -> float | None:
        """The share (0-1) of the wall time since the start in which some task waited for a CPU."""
        now_total, elapsed = _pressure_total_us(), time.monotonic() - self.started
        if self.total is None or now_total is None or elapsed <= 0:
            return None
        return min(1.0, (now_total - self.total) / 1e6 / elapsed)


# From the moment a script imports this module (at its start): the pressure of its run, unless it passes its own.
RUN = Pressure()


def commit() -> dict:
    """The commit measured (short hash, its date) and whether platform/ or bench/ (its records aside) had uncommitted
    changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        return {"commit": git("rev-parse", "--short", "HEAD") or "?",
                "commit_date": git("log", "-1", "--format=%cI"),
                # code only: the records themselves (bench/results/) are not what was measured
                "uncommitted": bool(git("status", "--porcelain", "--", "platform", "bench", ":!bench/results"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "?", "commit_date": "", "uncommitted": False}


def machine() -> dict:
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "load": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def save(bench: str, columns: list[str], rows: list[list], *, variant: str = "", title: str = "",
         sizes: dict | None = None, pressure: Pressure | float | None = None, notes: list[str] | None = None,
         extra: dict | None = None) -> Path:
    """Write the run's record to <folder>/<bench>[-<variant>].json and return its path.

    columns: the table's headings; rows: its rows (numbers stay numbers; None is shown as "-"). sizes: what the
    run was sized at (dossiers, procedures, requests...). pressure: a Pressure started at the run's start, or a
    share already measured. notes: sentences the report prints under the table. extra: anything else worth
    keeping (not shown)."""
    share = (pressure or RUN).share() if pressure is None or hasattr(pressure, "share") else pressure
    record = {
        "bench": bench, "variant": variant, "title": title or bench,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **commit(), "machine": machine(),
        "cpu_pressure": None if share is None else round(share, 3),
        "sizes": sizes or {}, "columns": list(columns), "rows": [list(r) for r in rows], "notes": notes or [],
        "extra": extra or {},
    }
    out = folder()
    out.mkdir(parents=True, exist_ok=True)
    path = out / (f"{bench}-{_slug(variant)}.json" if variant else f"{bench}.json")
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"# results: {path}", flush=True)
    return path


def load_all(where: Path | None = None) -> list[dict]:
    """Every record in the folder, sorted by benchmark and variant."""
    where = where or folder()
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(where.glob("*.json"))]
    return sorted(records, key=lambda r: (r.get("bench", ""), r.get("variant", "")))


def _value(text: str):
    text = text.strip()
    plain = text.replace(",", "")
    if re.fullmatch(r"-?\d+", plain):
        return int(plain)
    if re.fullmatch(r"-?\d+\.\d+", plain):
        return float(plain)
    return None if text in ("", "-") else text


def parse_table(text: str) -> tuple[list[str], list[list]]:
    """(columns, rows) of a table as the scripts print it: a heading line, a line of dashes whose runs give the
    columns' extents, then the rows (up to the first line that is empty or starts with '#'). Numbers become numbers."""
    lines = text.split("\n")
    rule = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) <= {"-", " "})
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    # a cell may run past its dashes (a long first column); cut each line at the gaps between the spans instead
    cuts = [0] + [end for _start, end in spans[:-1]] + [None]

    def cells(line):
        return [line[cuts[k]:cuts[k + 1]] if cuts[k + 1] is not None else line[cuts[k]:] for k in range(len(spans))]

    columns = [c.strip() for c in cells(lines[rule - 1])]
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith("#"):
            break
        rows.append([_value(c) for c in cells(line)])
    return columns, rows
