"""bench/http.py's footer judges each database against issue 22's own targets."""

import collections
import importlib.util
import sys
from pathlib import Path

HTTP = Path(__file__).resolve().parents[2] / "bench" / "http.py"


def _bench_http():
    # Loaded under another name: as `http` it would stand in for the standard library's package.
    spec = importlib.util.spec_from_file_location("onestop_bench_http", HTTP)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up while it runs)
    spec.loader.exec_module(module)
    return module


def _run(http, db, p99_ms, submissions):
    def cell(workload, n):
        slow = n // 50  # 2 % of the requests: the 99th percentile is theirs
        latencies = [1.0] * (n - slow) + [p99_ms] * slow
        load = http.Load(wall=1.0, latencies=latencies, per_client=[], statuses=collections.Counter({200: n}),
                         bodies=[], captured=[], unused=[], ran_out=0, client_cpu=0.0, server_cpu=0.0, db_cpu=None,
                         worker_cpu=[], machine_busy=0.0, steal=0.0)
        return http.Cell(db, 2, 16, workload, load, [], [], 0)
    return http.ServerRun(db, 2, cells=[cell("submit", submissions), cell("complete", submissions)])


def test_postgresql_is_held_to_100_ms_and_200_submissions_a_second_and_sqlite_to_50_ms_and_300():
    http = _bench_http()
    lines = http.footer([_run(http, "sqlite", 70.0, 350), _run(http, "postgresql", 70.0, 250)], 16)
    assert "✓ submissions/s with SQLite at 16 clients on" in "\n".join(lines)
    assert any(line.startswith("✓ submissions/s with PostgreSQL") and "target >= 200" in line for line in lines)
    assert "✗ p99 submit sqlite w=2 at 16 clients: 70.0 ms; target < 50 ms" in lines
    assert "✓ p99 submit postgresql w=2 at 16 clients: 70.0 ms; target < 100 ms" in lines
    assert "✓ p99 complete postgresql w=2 at 16 clients: 70.0 ms; target < 100 ms" in lines
    slow = http.footer([_run(http, "postgresql", 120.0, 150)], 16)
    assert "✗ p99 submit postgresql w=2 at 16 clients: 120.0 ms; target < 100 ms" in slow
    assert any(line.startswith("✗ submissions/s with PostgreSQL") for line in slow)


def test_the_notes_say_how_postgresql_was_reached_with_its_url_and_no_password():
    """A round trip through a Unix socket costs both sides less kernel work than one over loopback TCP (docs/perfpg.md,
    area pgsys): a run's record says which way its figures were measured."""
    http = _bench_http()
    unix = "postgresql://postgres@%2Ftmp%2Fonestop-pg-x1:5433/onestop_test_1"
    assert http.reached(unix) == f"through the Unix socket in /tmp/onestop-pg-x1 (port 5433; {unix})"
    assert http.reached("postgresql://bench@/app?host=/run/postgresql&port=5432&password=s3cret") == (
        "through the Unix socket in /run/postgresql (port 5432; postgresql://bench@/app?host=/run/postgresql&port=5432"
        "&password=***)")
    tcp = http.reached("postgresql://onestop:s3cret@127.0.0.1:5432/postgres")
    assert tcp == "over TCP at 127.0.0.1:5432 (postgresql://onestop:***@127.0.0.1:5432/postgres)"
    runs = [http.ServerRun("postgresql", w, description=f"PostgreSQL 16.4 {tcp} (fsync=off, synchronous_commit=off)")
            for w in (2, 4)] + [http.ServerRun("sqlite", 2, description="SQLite 3.45.1 (journal=wal)")]
    assert http.database_notes(runs) == [f"PostgreSQL of the run: 16.4 {tcp} (fsync=off, synchronous_commit=off)"]
