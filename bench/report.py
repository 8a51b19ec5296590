"""Regenerate the figures of docs/performance.md from the latest runs recorded in bench/results/.

Every benchmark in bench/ leaves its run as a JSON record (bench/results.py): its table, the sizes it ran at,
the date, the commit measured and the CPU pressure over the run. The prose of docs/performance.md is written by
hand; its figures are not: each ``<!-- results: NAME -->`` marker line is followed by the tables of every record
of benchmark NAME (all its variants, e.g. scale-sqlite and scale-postgresql), down to the ``<!-- end results -->``
line, each table headed by its date, commit, pressure and sizes. Records of a benchmark the document has no
marker for are shown at its end, under "Other recorded runs"; a marker whose benchmark has no record says so.

    .venv/bin/python bench/report.py            # rewrite docs/performance.md in place
    .venv/bin/python bench/report.py --check    # exit 1 if the document is not what the records give (CI)
    .venv/bin/python bench/report.py --results DIR --doc FILE --print
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]  # bench/http.py would shadow http
sys.path.insert(0, str(ROOT))

from bench import results as bench_results  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
MARKER = re.compile(r"^<!-- results: ([a-z0-9_-]+) -->$")
END = "<!-- end results -->"
OTHERS = "## Other recorded runs"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {_cell(v)}" for k, v in sizes.items())


def render(record: dict) -> str:
    """One record as Markdown: a heading line with where the figures come from, the table, its notes."""
    pressure = record.get("cpu_pressure")
    machine = record.get("machine") or {}
    facts = [f"{record.get('date', '?')[:16].replace('T', ' ')} UTC",
             f"commit `{record.get('commit', '?')}`" + (" + uncommitted changes" if record.get("uncommitted") else ""),
             "CPU pressure " + ("n/a" if pressure is None else f"{100 * pressure:.0f} %"),
             f"{machine.get('nproc', '?')} CPUs ({machine.get('cpu', '?')})"]
    if record.get("sizes"):
        facts.append(_sizes(record["sizes"]))
    columns = record.get("columns") or []
    lines = [f"**{record.get('title') or record.get('bench')}** — " + "; ".join(facts) + ".", ""]
    if columns:
        numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in record["rows"] if i < len(r))
                   for i in range(len(columns))]
        lines.append("| " + " | ".join(_cell(c) for c in columns) + " |")
        lines.append("| " + " | ".join("---:" if n and i else "---" for i, n in enumerate(numeric)) + " |")
        for row in record.get("rows") or []:
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
    for note in record.get("notes") or []:
        lines.append(f"- {note}")
    if record.get("notes"):
        lines.append("")
    lines.append(f"<sub>Recorded in `bench/results/{record_name(record)}.json`.</sub>")
    return "\n".join(lines)


def record_name(record: dict) -> str:
    variant = re.sub(r"[^a-z0-9]+", "-", (record.get("variant") or "").lower()).strip("-")
    return f"{record['bench']}-{variant}" if variant else record["bench"]


def regenerate(doc: str, records: list[dict]) -> str:
    """The document with every marker's block (and the closing "Other recorded runs") rebuilt from the records."""
    by_bench: dict[str, list[dict]] = {}
    for record in records:
        by_bench.setdefault(record["bench"], []).append(record)
    out, shown, skipping = [], set(), False
    lines = doc.split("\n")
    if OTHERS in lines:
        lines = lines[: lines.index(OTHERS)]
    while lines and not lines[-1].strip():
        lines.pop()
    for line in lines:
        if skipping:
            if line == END:
                skipping = False
                out.append(line)
            continue
        out.append(line)
        found = MARKER.match(line)
        if found:
            name = found.group(1)
            shown.add(name)
            block = [render(r) for r in by_bench.get(name, [])] or [
                f"*No run of `bench/{name}.py` is recorded in bench/results/ yet.*"]
            out.append("")
            out.append("\n\n".join(block))
            out.append("")
            skipping = True
    if skipping:
        raise ValueError(f"a results marker is not closed by {END!r}")
    rest = [r for r in records if r["bench"] not in shown]
    if rest:
        out += ["", OTHERS, "", "Recorded runs of benchmarks this document does not discuss (generated).", ""]
        out.append("\n\n".join(render(r) for r in rest))
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/performance.md from bench/results/")
    parser.add_argument("--results", type=Path, default=None, help="the records' folder (default bench/results/)")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document (default docs/performance.md)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the document is stale")
    parser.add_argument("--print", dest="show", action="store_true", help="print the document instead of writing")
    args = parser.parse_args(argv)
    records = bench_results.load_all(args.results or bench_results.DEFAULT_FOLDER)
    before = args.doc.read_text(encoding="utf-8")
    after = regenerate(before, records)
    markers = [m.group(1) for line in after.split("\n") if (m := MARKER.match(line))]
    missing = sorted({m for m in markers if not (BENCH / f"{m}.py").exists()})
    if missing:
        print(f"error: {args.doc} has results markers of no script in bench/: {', '.join(missing)}", file=sys.stderr)
        return 1
    summary = f"{len(records)} record(s), {len(markers)} marker(s)"
    if args.check:
        if after != before:
            print(f"{args.doc} is not what bench/results/ gives ({summary}): run bench/report.py", file=sys.stderr)
            return 1
        print(f"{args.doc} is up to date ({summary})")
        return 0
    if args.show:
        print(after, end="")
        return 0
    args.doc.write_text(after, encoding="utf-8")
    print(f"wrote {args.doc} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
