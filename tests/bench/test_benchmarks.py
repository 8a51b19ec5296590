"""Every benchmark in bench/ runs here at a tiny size, so that a change that breaks one fails CI.

Each script runs as the README says to run it (a subprocess of this interpreter, from the repository
root), with arguments that make it take seconds; the test checks that it exits 0, prints its
figures (the rows of its table, with numbers) and leaves its record (bench/results.py) in a temp
results folder, not merely that it ran. The numbers themselves are not asserted: at this size, on a
shared machine, they mean nothing. A script added to bench/ without a run here fails
test_every_script_in_bench_has_a_tiny_run_here.
"""

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from onestop.services import levels
from tests.bench.warm import WarmScripts
from tests.support.postgres import admin_url_or_skip

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"[\d,]+(?:\.\d+)?"


# Modules of bench/ that are not benchmarks: helpers the scripts import.
HELPERS = {"pgserver.py", "measure.py", "results.py"}


_warm: list[WarmScripts] = []  # the module's warm process (tests/bench/warm.py) once a test has run a script


def _pythonpath() -> str:
    """This checkout's platform/ and admin/ first, as absolute paths, then any PYTHONPATH given."""
    return os.pathsep.join([str(ROOT / "platform"), str(ROOT / "admin")] + [p for p in [os.environ.get("PYTHONPATH")] if p])


@pytest.fixture(autouse=True, scope="module")
def warm_scripts():
    """One warm process for the module's script runs, started by the first (run_bench): each is forked from it instead
    of starting Python and importing onestop again (tests/bench/warm.py says what that leaves out)."""
    yield
    while _warm:
        _warm.pop().close()


@pytest.fixture(autouse=True)
def migrated_sqlite_template(database_templates, tmp_path, monkeypatch):
    """Each script's SQLite database starts as a copy of the tests' migrated template (bench/pgserver.py,
    sqlite_database), not empty: the scripts still run the migrations (which find nothing to do), but every one of
    them is applied once per test process instead of once per script; tests/test_migrations.py tests them."""
    template = database_templates.sqlite(tmp_path / "migrated-template.db").removeprefix("sqlite:///")
    monkeypatch.setenv("ONESTOP_BENCH_SQLITE_TEMPLATE", template)


def run_bench(tmp_path, script, *args, env=None, timeout=180, record=True):
    """Run bench/<script> with args; return its stdout and stderr together, failing with their tail on a non-zero exit,
    and (unless record=False) unless it left a record of its run in the results folder.

    The script runs as `python bench/SCRIPT ARGS` from the repository root would, in a process forked from the
    module's warm one (tests/bench/warm.py). This checkout's platform/ and admin/ go first on PYTHONPATH, as
    absolute paths, so that the script and the servers it starts (in their own temp directories) import this code
    whether or not it is installed; temp files and the results folder go under tmp_path (never bench/results/,
    which holds real runs)."""
    results = tmp_path / "results"
    run_env = dict(os.environ, PYTHONPATH=_pythonpath(), TMPDIR=str(tmp_path), ONESTOP_BENCH_RESULTS=str(results),
                   **(env or {}))
    if not _warm:
        _warm.append(WarmScripts(dict(os.environ, PYTHONPATH=_pythonpath())))
    done = _warm[0].run(ROOT / "bench" / script, *args, env=run_env, cwd=ROOT, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"bench/{script} {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}"
    if record:
        assert_recorded(results, script.removesuffix(".py"))
    return output


def assert_recorded(folder, bench):
    """The script left at least one record of its run: its figures with the date, the commit, the CPU pressure and
    the sizes it ran at (bench/results.py), which bench/report.py can render."""
    from bench import report

    records = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob(f"{bench}*.json")]
    records = [r for r in records if r["bench"] == bench]
    assert records, f"bench/{bench}.py left no record in {folder}"
    for r in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["date"]) and r["commit"] not in ("", "?"), r
        assert "cpu_pressure" in r and r["sizes"] and r["columns"] and r["rows"], r
        assert all(len(row) == len(r["columns"]) for row in r["rows"]), r
        assert any(isinstance(v, int | float) for row in r["rows"] for v in row), r  # figures, not only labels
        assert r["commit"] in report.render(r)


def assert_rows(output, *patterns):
    """Every pattern (a regular expression) matches a whole line of the output (leading spaces aside)."""
    for pattern in patterns:
        assert re.search(rf"^\s*{pattern}\s*$", output, re.MULTILINE), f"no line matches {pattern!r} in:\n{output[-4000:]}"


def engine_rows(n):
    """The rows of bench/engine.py's table, every case with its n, medians and ratios."""
    cells = rf"\s+{n}" + rf"\s+{NUMBER}" * 11
    cases = ["permit: create \\(start -> 1st task\\)", "permit: step @ Receive \\(1st task\\)",
             "permit: step @ last task, 1 loop", "permit: step @ last task, 10 loops",
             "permit: step @ last task, 50 loops", "seq200: create \\(start -> task 1\\)", "seq200: step @ task 1",
             "seq200: step @ task 200"]
    live = ["permit: step @ Receive \\(1st task\\) \\[live\\]", "permit: step @ last task, 1 loop \\[live\\]",
            "permit: step @ last task, 50 loops \\[live\\]", "seq200: step @ task 200 \\[live\\]"]
    return [case + cells for case in cases + live]


def test_the_engine_benchmark_measures_each_kind_of_case_against_bare_spiffworkflow_on_sqlite(tmp_path):
    # One case of each kind (a create, a step, a step after loops, live, the generated plain-BPMN model); the long
    # histories (50 loops, 200 tasks) only repeat the same code over more steps of preparation.
    # --profile too: its breakdown by phase wraps functions of the service layer by name, and once named one that
    # had moved (dossiers._prepare), which crashed the script after its table.
    output = run_bench(tmp_path, "engine.py", "--quick", "--reps", "0.05", "--warmup", "0", "--no-gc-collect",
                       "--cases", "create,receive,loop1,receive+live,seq-create,seq-1", "--profile", "loop1")
    assert_rows(output, r"case\s+n\s+bare ms\s+p90\s+cpu\s+onestop ms.*x wall\s+x cpu\s+x pair.*",
                *(engine_rows(3)[i] for i in (0, 1, 2, 5, 6, 8)))
    assert "database: SQLite" in output
    assert_rows(output, r"cProfile \(thread CPU clock\), onestop side of 'loop1' .*",
                rf"{NUMBER}\s+{NUMBER}\s+\d+\s+onestop/services/dossiers\.py:\d+\(complete_task\)",
                rf"onestop:\s+{NUMBER} /\s*{NUMBER}",
                rf"{NUMBER} /\s*{NUMBER}\s+Engine\.complete_task \(no DB\)",
                rf"{NUMBER} /\s*{NUMBER}\s+steps\.save_step .*",
                rf"bare:\s+{NUMBER} /\s*{NUMBER}", rf"{NUMBER} /\s*{NUMBER}\s+deserialize_json")


def test_the_engine_benchmark_runs_on_postgresql(tmp_path, database_templates):
    admin_url = admin_url_or_skip()  # the tests' server (a throwaway cluster unless one is given); a database per run
    migrated = database_templates.postgres(admin_url)  # the run's database is a copy of this migrated one
    try:
        output = run_bench(tmp_path, "engine.py", "--quick", "--reps", "0.05", "--warmup", "0", "--no-gc-collect", "--postgres",
                           "--cases", "create,loop1+live", env={"ONESTOP_TEST_POSTGRES_URL": admin_url,
                                                                "ONESTOP_BENCH_POSTGRES_TEMPLATE": urlsplit(migrated).path[1:]})
    finally:
        database_templates.drop_later(migrated)
    assert "database: PostgreSQL" in output
    assert_rows(output, engine_rows(3)[0], engine_rows(3)[9])


@pytest.mark.parametrize("server", ["granian", "gthread"])
def test_the_http_benchmark_loads_the_api_under_either_web_server_with_no_error(tmp_path, server):
    # Each client sends 3 requests a cell (the cell ends then; 10 s at most): a fixed count, not a fixed time of load.
    output = run_bench(tmp_path, "http.py", "--requests", "3", "--duration", "10", "--workers", "2", "--clients", "2",
                       "--baseline-clients", "1", "--client-procs", "1", "--databases", "sqlite", "--warmup-rounds", "1",
                       "--server", server)
    cells = rf"\s+\d+\s+{NUMBER}" + rf"\s+{NUMBER}" * 4 + r"\s+0\s+.*"  # n, req/s, p50..max, 0 errors, CPU...
    assert_rows(output, *(rf"sqlite\s+2\s+{c}\s+{workload}\*?{cells}"
                          for c in (1, 2) for workload in ("healthz", "submit", "complete")))
    assert "✓ errors (non-2xx or connection failures) over all cells: 0; target 0" in output


def test_the_http_benchmark_loads_the_api_on_postgresql_with_no_error_and_says_whose_durability_it_measured(
        tmp_path, database_templates):
    admin_url = admin_url_or_skip()  # the tests' server: --postgres-durable cannot change its settings, and says so
    migrated = database_templates.postgres(admin_url)
    try:
        output = run_bench(tmp_path, "http.py", "--requests", "3", "--duration", "10", "--workers", "1", "--clients", "2",
                           "--baseline-clients", "", "--client-procs", "1", "--databases", "postgresql",
                           "--warmup-rounds", "1", "--postgres-durable",
                           env={"ONESTOP_TEST_POSTGRES_URL": admin_url,
                                "ONESTOP_BENCH_POSTGRES_TEMPLATE": urlsplit(migrated).path[1:]})
    finally:
        database_templates.drop_later(migrated)
    cells = rf"\s+\d+\s+{NUMBER}" + rf"\s+{NUMBER}" * 4 + r"\s+0\s+.*"
    assert_rows(output, *(rf"postgresql\s+1\s+2\s+{workload}\*?{cells}" for workload in ("healthz", "submit", "complete")))
    assert "--postgres-durable: the server at ONESTOP_TEST_POSTGRES_URL keeps its own settings" in output
    # ... and its record is not named nor titled durable: the server's own settings were measured
    assert [f.name for f in (tmp_path / "results").glob("http-*.json")] == ["http-postgresql-granian.json"]
    assert re.search(r"databases: PostgreSQL .*\(fsync=(on|off), synchronous_commit=(on|off)\)", output), output[-3000:]
    assert "✓ errors (non-2xx or connection failures) over all cells: 0; target 0" in output


def test_the_catalogue_benchmark_imports_serves_and_starts_a_dossier_of_every_procedure(tmp_path):
    output = run_bench(tmp_path, "catalogue.py", "--count", "4", "--touch", "4", "--workers", "1", "--no-diagram")
    assert_rows(output,
                r"all\s+4" + rf"\s+{NUMBER}" * 11,  # import: onestop against bare, per model
                rf"1\s+cold start: launch -> list of 4 answered\s+1\s+{NUMBER}",
                r"1\s+after starting a dossier of each of 4 procedures\s+4" + rf"\s+{NUMBER}" * 6)
    assert "✓ dossiers started without error: 0 failures" in output


def test_the_generator_fills_a_database_and_completes_a_generated_task_of_each_kind(tmp_path, database_templates):
    output = run_bench(tmp_path, "generate.py", "--database-url", database_templates.sqlite(tmp_path / "generated.db"),
                       "--dossiers", "200", "--open-tasks", "40")
    assert re.search(r"^200 dossiers \(40 open\) in 1 centre\(s\) on sqlite: ", output, re.MULTILINE), output
    # a generated task of each kind completed through the services (the script stops on an error state)
    verified = re.findall(r"^verified: (\w+) HS-\S+: completed Task_\w+ -> (\w+), next", output, re.MULTILINE)
    assert {kind for kind, _ in verified} == {"birth", "commune", "province", "permit"}, output
    assert {state for _, state in verified} <= {"active", "completed"}, output


def test_the_scale_benchmark_measures_the_worklist_and_the_dossier_page(tmp_path):
    output = run_bench(tmp_path, "scale.py", "--dossiers", "300", "--open-tasks", "50", "--reps", "3", "--warmup", "1",
                       "--budget", "2", "--databases", "sqlite")
    row = rf"\s+\d+\s+3\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}"  # sql statements, n, p50, p95, cpu
    assert_rows(output,
                rf"baseline: dossier row by primary key\s+sql{row}",
                rf"worklist: GET /api/v1/tasks \(first page, default 100\)\s+http{row}\s+p95<20: \w+",
                rf"worklist: \.\.\.\?limit=50&after=\(random position\)\s+http{row}\s+p95<20: \w+",
                rf"dossier page: GET /api/v1/dossiers/\{{code\}}\s+http{row}\s+p95<20: \w+",
                rf"search: applicant LIKE '%name%', newest 20\s+service{row}",
                rf"experiment: JSON name = name \+ expression index\s+service{row}")
    assert "# sqlite: 314 dossiers" in output  # the 300 generated and the genuine ones made through the services
    assert_recorded(tmp_path / "results", "generate")  # the generation it ran, recorded beside the pages
    assert "ERROR" not in output and "Traceback" not in output


def test_the_scale_benchmark_generates_into_postgresql_and_measures_its_pages(tmp_path, database_templates):
    # PostgreSQL's generation loads with COPY through onestop's own driver (psycopg 3): when the driver changed, its
    # psycopg 2 call failed every 1-million-dossier run on PostgreSQL and no tiny run had taken that path.
    admin_url = admin_url_or_skip()
    migrated = database_templates.postgres(admin_url)  # a migrated database without a dossier: generated into
    try:
        output = run_bench(tmp_path, "scale.py", "--dossiers", "300", "--open-tasks", "50", "--reps", "3", "--warmup",
                           "1", "--budget", "2", "--database-url", migrated, "--no-experiment")
    finally:
        database_templates.drop_later(migrated)
    row = rf"\s+\d+\s+3\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}"
    assert_rows(output, rf"worklist: GET /api/v1/tasks \(first page, default 100\)\s+http{row}\s+p95<20: \w+",
                rf"dossier page: GET /api/v1/dossiers/\{{code\}}\s+http{row}\s+p95<20: \w+")
    assert "# postgresql: 314 dossiers" in output
    assert_recorded(tmp_path / "results", "generate")
    assert "ERROR" not in output and "Traceback" not in output


def test_the_stats_benchmark_times_every_page_against_its_baseline(tmp_path):
    output = run_bench(tmp_path, "stats.py", "--dossiers", "300", "--reps", "1")
    row = rf"\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x baseline"
    assert_rows(output, *(rf"\s+{re.escape(case)}{row}" for case in (
        "baseline: count of this month's intake (index)", "dashboard service (month, year, 12 months)",
        "scorecard service (last month, 120 officials)", "periodic report service (this year so far)",
        "year figures with per-step hours (detail)", "GET /stats (public dashboard page)",
        "GET /api/v1/stats (this year, with officials)", "GET /desk/scorecard (last month, leader's page)",
        "GET /desk/report (last month, leader's page)")))


def test_the_rollout_benchmark_rolls_the_pack_out_against_uploading_at_each_centre(tmp_path):
    output = run_bench(tmp_path, "rollout.py", "--tiny")
    folders = [p for p in (ROOT / "process_models").iterdir() if p.is_dir()]
    bundled = len(folders)
    # A commune adopts the procedures of its level (services/levels.py); the rest are "other_level".
    commune = sum(levels.adopts("commune", json.loads((p / "procedure.json").read_text(encoding="utf-8")))
                  for p in folders)
    other = bundled - commune
    assert_rows(output,
                r"centres: 34 provinces, 3321 communes in [\d.]+ s",
                rf"baseline: each centre uploads the {bundled} procedures itself: {NUMBER} ms per centre \(2 centres\)",
                rf"rollout to Quảng Ninh's communes\s+54 centres\s+{NUMBER} s\s+{NUMBER} ms/centre\s+{NUMBER}x "
                rf"the baseline's speed\s+\{{'other_level': {54 * other}, 'adopted': {54 * commune}\}}",
                rf"rollout to Quảng Ninh's again\s+54 centres\s+{NUMBER} s\s+{NUMBER} ms/centre\s+{NUMBER}x "
                rf"the baseline's speed\s+\{{'other_level': {54 * other}, 'unchanged': {54 * commune}\}}")


def test_the_catalogue_import_benchmark_imports_tests_and_publishes_generated_drafts_against_the_real_ones(tmp_path):
    output = run_bench(tmp_path, "catalogue_import.py", "--tiny", "--count", "12", "--requests", "5")
    row = (rf"\s+{NUMBER} s\s+{NUMBER} ms/record cpu\s+{NUMBER} ms/record\s+cpu pressure\s+(?:{NUMBER}%|n/a)\s+"
           rf"published\s+\d+\s+tests \d+ passed 0 failed")
    assert_rows(output,
                rf"baseline: 18 real\s+18 records{row}",
                rf"catalogue of 12\s+12 records{row}\s+{NUMBER}x baseline per record",
                rf"12 records in {NUMBER} s \({NUMBER} s if each cost what the baseline's did\): under the 300 s target",
                rf"GET / \(the catalogue\)\s+30 procedures\s+5 requests p50\s+{NUMBER} ms p95\s+{NUMBER} ms .*",
                rf"GET /\?q= \(search\)\s+30 procedures\s+5 requests p50\s+{NUMBER} ms p95\s+{NUMBER} ms .*",
                rf"rollout of baseline: 18 real\s+to Quảng Ninh:\s+55 centres\s+{NUMBER} s\s+{NUMBER} ms/adoption\s+"
                rf"cpu\s+{NUMBER} ms/adoption\s+\{{'adopted': \d+, 'other_level': \d+\}}",
                rf"rollout of catalogue of 12\s+to Quảng Ninh:\s+55 centres\s+{NUMBER} s\s+{NUMBER} ms/adoption\s+"
                rf"cpu\s+{NUMBER} ms/adoption\s+\{{'adopted': \d+, 'other_level': \d+\}}\s+{NUMBER}x baseline per adoption",
                rf"peak memory of this process \(import, then the portal's app\): {NUMBER} MB")
    assert "published    18" in output and "published    12" in output  # every generated draft lints clean


def test_the_search_benchmark_times_the_catalogue_search_against_the_catalogue_page(tmp_path):
    output = run_bench(tmp_path, "search.py", "--tiny")
    cells = rf"\s+20\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+(?:{NUMBER}%|n/a)"
    assert_rows(output,
                rf"database: sqlite; machine: \d+ CPUs; 30 procedures stored at one centre in {NUMBER} ms each .*",
                rf"baseline: GET / \(the catalogue, no search\){cells}",
                rf"GET /\?q= \(search\){cells}",
                rf"services.search.find_procedures{cells}",
                rf"search p95 {NUMBER} ms at 30 procedures: (?:under|OVER) the 50 ms target \({NUMBER}x .*\)")


def test_the_legacy_import_benchmark_imports_open_dossiers_at_their_steps_against_the_normal_intake(tmp_path):
    output = run_bench(tmp_path, "legacy_import.py", "--tiny")
    row = rf"\s+{NUMBER} s\s+{NUMBER} ms/dossier\s+cpu\s+{NUMBER} ms/dossier\s+cpu pressure\s+(?:{NUMBER}%|n/a)"
    assert_rows(output,
                r"database: sqlite; machine: \d+ CPUs; steps in the file: 7 \(.*\)",
                rf"baseline: intake of 20\s+20 dossiers{row}",
                rf"dry run of 200\s+200 dossiers{row}\s+{NUMBER}x baseline per dossier",
                rf"import of 200\s+200 dossiers{row}\s+{NUMBER}x baseline per dossier",
                rf"the same file again\s+200 dossiers{row}\s+{NUMBER}x baseline per dossier",
                rf"200 dossiers imported in {NUMBER} s \({NUMBER} s through the intake, one by one\), 200 tasks on the "
                rf"worklists: under the 60 s target",
                rf"peak memory of this process: {NUMBER} MB")


def test_every_script_in_bench_has_a_tiny_run_here():
    """A script added to bench/ without a tiny run would be free to rot: every script (a .py file of bench/ that is
    not a helper module) is run by a test of this file through run_bench."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    run = {node.args[1].value for node in ast.walk(tree)
           if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_bench" and len(node.args) > 1
           and isinstance(node.args[1], ast.Constant)}
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")} - HELPERS
    assert scripts - run == set(), "bench scripts without a tiny run in tests/bench/test_benchmarks.py"
    assert HELPERS <= {p.name for p in (ROOT / "bench").glob("*.py")}  # the list of helpers does not hide a script


def test_no_script_in_bench_takes_the_name_of_a_standard_library_module():
    """Run as a script, a file's folder comes first on sys.path: bench/queue.py once shadowed the standard library's
    queue, and every script that imported psycopg (which imports queue) broke. bench/http.py predates this rule and
    takes itself off sys.path before importing anything (its docstring says why)."""
    clashes = {p.stem for p in (ROOT / "bench").glob("*.py")} & set(sys.stdlib_module_names)
    assert clashes == {"http"}
    assert "sys.path[:] = [p for p in sys.path if Path(p or \".\").resolve() != HERE]" in (
        ROOT / "bench" / "http.py").read_text(encoding="utf-8")


def test_no_benchmark_imports_the_tests_helpers():
    """bench/ stands alone (tests/test_architecture.py has the rule for imports); nor may a script put tests/ on
    sys.path to reach them some other way."""
    for script in (ROOT / "bench").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+tests\b", text, re.MULTILINE), script.name
        assert not re.search(r"sys\.path\.\w+\(.*[\"']tests[\"']", text), script.name


def test_the_queue_benchmark_measures_the_screens_update_after_a_call_against_an_empty_poll(tmp_path):
    # A one-second morning: the screen keeps the last 8 calls, so none of the 6 can scroll off between its polls.
    output = run_bench(tmp_path, "ticket_queue.py", "--tickets", "6", "--counters", "2", "--seconds", "1", "--phones", "2",
                       "--baseline-seconds", "0.1")
    row = rf"\s+\d+\s+{NUMBER}\s+0"  # requests, server cpu ms per request, no error
    assert_rows(output,
                rf"GET /healthz \(the HTTP stack's floor\){row}",
                rf"screen poll, nothing called \(304\){row}",
                rf"screen poll without ETag \(200\){row}",
                r"morning: 6 tickets, 6 calls at 2 counters in 1 s; 2 phones polling every 4 s, the screen every 0.5 s",
                r"call -> screen latency ms: p50 \d+\s+p90 \d+\s+max \d+\s+\(calls seen 6, missed 0\); under 1 s: \w+",
                rf"polls: \d+ \(\d+ answered 304\), server cpu ms per poll \(all its cpu in the morning\) {NUMBER}, errors 0")
    assert "/proc/pressure/cpu before:" in output and "/proc/pressure/cpu after:" in output


def test_the_portal_sync_benchmark_delivers_every_status_change_once_across_a_killed_worker(tmp_path):
    # The claim of the change the kill caught mid-send lasts 1 s, not the 15 s of a real run: the tiny run
    # checks the same recovery without waiting it out (the default lease: tests/test_config.py).
    output = run_bench(tmp_path, "portal_sync.py", "--dossiers", "6", "--concurrency", "2", "--lease", "1",
                       timeout=240)
    assert_rows(output,
                r"national portal sync: 6 dossiers, 18 status changes, concurrency 2, SQLite",
                rf"push\s+{NUMBER} dossiers/s\s+\({NUMBER} s\)",
                rf"walk\s+{NUMBER} tasks/s\s+\({NUMBER} s, worker killed at \d+ of 18 changes held\)",
                rf"server CPU\s+{NUMBER} s\s+\({NUMBER} ms a dossier\)",
                r"✓ every status change held exactly once and in order: 18 of 18")
    assert "/proc/pressure/cpu before:" in output and "/proc/pressure/cpu after:" in output


def test_the_concurrency_benchmark_races_completions_with_no_server_error(tmp_path):
    output = run_bench(tmp_path, "concurrency.py", "--databases", "sqlite", "--seconds", "0.4", "--clients", "2",
                       "--rivals", "1", "--workers", "1", "--threads", "2")
    assert "Traceback" not in output


def test_the_spiffarena_benchmark_without_a_server_says_so_and_measures_onestops_side(tmp_path):
    output = run_bench(tmp_path, "spiffarena.py", "--n", "2", "--warmup", "0",
                       env={"ONESTOP_BENCH_SPIFFARENA_URL": ""})
    assert "no SpiffArena server given" in output
    assert_rows(output, r"lifecycles\s+2", rf"task submit p50 ms\s+{NUMBER}", rf"server CPU ms per lifecycle\s+{NUMBER}")


def test_the_report_rebuilds_the_figures_of_the_page_from_the_records_and_keeps_its_prose(tmp_path, monkeypatch):
    from bench import results

    records = tmp_path / "records"
    monkeypatch.setenv("ONESTOP_BENCH_RESULTS", str(records))
    results.save("scale", ["case", "p95 ms"], [["worklist: GET /api/v1/tasks", 8.25]], variant="sqlite",
                 sizes={"dossiers": 1_000_000}, pressure=0.42, notes=["a note"])
    results.save("stats", ["case", "p50 ms"], [["GET /stats", 133.0]], sizes={"dossiers": 10})
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nProse kept as written.\n\n<!-- results: scale -->\nan old figure: 99 ms\n"
                   "<!-- end results -->\n\nMore prose.\n\n<!-- results: engine -->\n<!-- end results -->\n",
                   encoding="utf-8")

    run_bench(tmp_path, "report.py", "--results", str(records), "--doc", str(doc), record=False)

    page = doc.read_text(encoding="utf-8")
    assert "Prose kept as written." in page and "More prose." in page and "an old figure" not in page
    assert "| worklist: GET /api/v1/tasks | 8.25 |" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC; commit `\w+`.*; CPU pressure 42 %;.*dossiers 1,000,000", page)
    assert "*No run of `bench/engine.py` is recorded in bench/results/ yet.*" in page
    assert page.index("## Other recorded runs") < page.index("| GET /stats | 133 |")  # no marker: shown at the end
    assert "is up to date" in run_bench(tmp_path, "report.py", "--results", str(records), "--doc", str(doc), "--check",
                                        record=False)


def test_the_performance_page_shows_the_recorded_runs():
    """docs/performance.md is regenerated whenever bench/results/ changes (bench/report.py)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _spiffarena_stand_in(seen):
    """A stand-in for SpiffArena's backend on the machine's edge: the endpoints bench/spiffarena.py calls, answering as
    /work/shared/research/peer-spiffarena.md records the real server does (a bearer token from the built-in OpenID
    server, task rows carrying the task guid as `id`); an instance waits at a request task, then at one decision."""
    from flask import Flask, abort, jsonify, request

    app = Flask("spiffarena-stand-in")
    instances = {}

    @app.before_request
    def authenticated():
        if not request.path.startswith("/openid/") and request.headers.get("Authorization") != "Bearer dev-token":
            abort(401)

    @app.post("/openid/token")
    def token():
        assert request.authorization.username == "spiffworkflow-backend"
        seen.append(("login", request.form["code"].split(":")[0]))
        return jsonify(id_token="dev-token", access_token="dev-token")

    @app.post("/v1.0/login_with_access_token")
    def login():
        return jsonify(ok=True)

    @app.post("/v1.0/process-groups")
    @app.post("/v1.0/process-models/<group>")
    def create(group=None):
        return jsonify(request.get_json()), 201

    @app.post("/v1.0/process-models/<model>/files")
    def upload(model):
        seen.append(("file", request.files["file"].filename))
        return jsonify(ok=True), 201

    @app.put("/v1.0/process-models/<model>")
    def primary(model):
        seen.append(("primary", request.get_json()["primary_process_id"]))
        return jsonify(ok=True)

    @app.post("/v1.0/process-instances/<model>")
    def new_instance(model):
        instances[len(instances) + 1] = []
        return jsonify(id=len(instances)), 201

    @app.post("/v1.0/process-instance-run/<model>/<int:pi>")
    def run(model, pi):
        # Work as a server does, enough for /proc's 10 ms clock ticks to see it in a run of two lifecycles
        # (without it, a quick stand-in read as 0 CPU and the bench rightly said the lead was not measured).
        busy_until = time.thread_time() + 0.015
        while time.thread_time() < busy_until:
            pass
        return jsonify(status="user_input_required")

    @app.get("/v1.0/tasks")
    def tasks():
        pi = int(request.args["process_instance_id"])
        return jsonify(results=[{"id": f"guid-{pi}-{len(instances[pi])}"}])

    @app.get("/v1.0/tasks/<int:pi>/<guid>")
    def task(pi, guid):
        return jsonify(id=guid, form_schema={"type": "object"})

    @app.put("/v1.0/tasks/<int:pi>/<guid>")
    def submit(pi, guid):
        assert guid == f"guid-{pi}-{len(instances[pi])}" and request.args["execution_mode"] == "synchronous"
        instances[pi].append(request.get_json())
        seen.append(("submitted", json.dumps(request.get_json(), sort_keys=True)))
        return jsonify(ok=True)

    return app


def test_the_spiffarena_benchmark_drives_a_given_server_through_the_same_lifecycle_and_states_the_lead(tmp_path):
    from tests.support.simulators import serving

    seen = []
    with serving(_spiffarena_stand_in(seen)) as url:
        output = run_bench(tmp_path, "spiffarena.py", "--n", "2", "--warmup", "0", "--spiffarena-url", url,
                           "--spiffarena-pid", str(os.getpid()), env={"ONESTOP_BENCH_SPIFFARENA_URL": ""})
    assert_rows(output, r"\s+onestop\s+SpiffArena", r"lifecycles\s+2\s+2",
                rf"server CPU ms per lifecycle\s+{NUMBER}\s+{NUMBER}")
    assert re.search(rf"^lead: SpiffArena's server spends {NUMBER}x onestop's CPU per lifecycle; the claim of 12-20x "
                     r"is (kept|NOT kept)$", output, re.MULTILINE), output
    assert ("login", "admin") in seen and ("primary", "Process_onestop_bench_approval") in seen
    assert {name for kind, name in seen if kind == "file"} == {"approval.bpmn", "request-schema.json",
                                                               "decision-schema.json"}
    submitted = [json.loads(body) for kind, body in seen if kind == "submitted"]
    assert len(submitted) == 4 and {s.get("amount") for s in submitted} == {50, 500, None}  # both branches' requests
