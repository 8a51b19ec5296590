"""Mixed starts and contested completions through gunicorn workers: no 5xx, one winner per task.

The production setup on loopback: a fresh database (a new PostgreSQL database, or SQLite in a temp
dir) prepared with the real command line, `gunicorn -k gthread -w WORKERS --threads THREADS
'onestop.app:create_app()'`, the review model of tests/models uploaded through the API. Then CLIENTS
threads, each with its own keep-alive connection, loop until the time is up:

* start:    POST /api/v1/dossiers                      (a dossier to its first task; expects 201)
* complete: POST /api/v1/tasks/{receive}/complete      (its first task; expects 200)
* contest:  POST /api/v1/tasks/{approve}/complete      (the last task, which resolves the dossier,
            by its owner and RIVALS other clients at once; expects exactly one 200, the others 409)

A client that finds a contest waiting joins it instead of starting a dossier, so starts, plain
completions and contested completions are interleaved, which is what made PostgreSQL deadlock
before the write order was fixed (issue 14). After the run the audit chain is verified with
`onestop audit verify`. The report: requests and errors per kind, p50/p95 latency, contests and
their winners, server CPU per request (gunicorn's workers; PostgreSQL's backends when the server
is a throwaway cluster of this process) and /proc/pressure/cpu before and after.

    .venv/bin/python bench/concurrency.py [--quick] [--databases postgresql,sqlite] [--workers 2]
                                          [--clients 8] [--seconds 60] [--rivals 2] [--json FILE]

`--quick` runs 15 s. tests/web/test_concurrency.py runs the same driver in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.measure import descendants, onestop_commands, pressure_line, stop_group, tree_cpu_seconds  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

MODEL_FILES = (ROOT / "tests" / "models" / "review.bpmn", ROOT / "tests" / "models" / "receive-schema.json")
PROCEDURE = "review"


def _tool(name: str) -> list[str]:
    """A console script of this venv, or `python -m` when it is not beside the interpreter."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", {"onestop": "onestop.cli"}.get(name, name)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- processes and their CPU ---------------------------------------------------------------------


def _postgres_support():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import pgserver as postgres

    return postgres


def _deadlocks(url: str) -> int | None:
    """How many deadlocks PostgreSQL has detected in the database so far (None for SQLite)."""
    if not url.startswith("postgres"):
        return None
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _postmaster(url: str) -> int | None:
    """The postmaster's pid of a PostgreSQL server on this machine, if its data folder can be read."""
    import psycopg2

    with contextlib.suppress(Exception):
        with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
            folder = cursor.fetchone()[0]
        return int(Path(folder, "postmaster.pid").read_text().split()[0])
    return None


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class Stack:
    """A running gunicorn on a prepared database."""

    base: str
    port: int
    token: str
    env: dict
    log_path: Path
    process: subprocess.Popen
    database_pid: int | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def database(kind: str, folder: Path):
    """A fresh database URL of that kind (a new PostgreSQL database is dropped afterwards), and the
    pid of the PostgreSQL server when this machine runs it."""
    pg = _postgres_support()
    with pg.fresh_database(kind, folder) as url:
        yield url, None if kind == "sqlite" else _postmaster(pg.postgres_admin_url())


@contextlib.contextmanager
def stack(url: str, folder: Path, workers: int = 2, threads: int = 4, database_pid: int | None = None):
    """gunicorn as production runs it, on a database prepared by `onestop init` with an admin's token."""
    home = folder / "home"
    # This checkout's code, whatever the environment has installed.
    path = os.pathsep.join([str(ROOT / "platform"), str(ROOT / "admin")] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env = dict(os.environ, ONESTOP_HOME=str(home), ONESTOP_DATABASE_URL=url, ONESTOP_TIMER_THREAD="0", PYTHONPATH=path)
    env.pop("ONESTOP_REDIS_URL", None)
    output = onestop_commands(env, ["init"], ["user", "create", "bench", "--role", "admin", "--token"])
    token = output.strip().splitlines()[-1].strip()
    port = _free_port()
    log_path = folder / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*_tool("gunicorn"), "-k", "gthread", "-w", str(workers), "--threads", str(threads),
             "-b", f"127.0.0.1:{port}", "--no-control-socket", "--graceful-timeout", "5", "onestop.app:create_app()"],
            env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    running = Stack(f"http://127.0.0.1:{port}", port, token, env, log_path, process, database_pid)
    try:
        _wait_until_up(running, workers)
        yield running
    finally:
        stop_group(process, 20)


def _wait_until_up(running: Stack, workers: int, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while True:
        if running.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{running.log()[-3000:]}")
        if len(descendants(running.process.pid)) > workers:
            with contextlib.suppress(OSError, http.client.HTTPException), contextlib.closing(
                    http.client.HTTPConnection("127.0.0.1", running.port, timeout=2)) as connection:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer /healthz:\n{running.log()[-3000:]}")
        time.sleep(0.05)


def upload_model(running: Stack) -> None:
    boundary = "----onestop-" + secrets.token_hex(8)
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{p.name}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + p.read_bytes() + b"\r\n"
                    for p in MODEL_FILES) + f"--{boundary}--\r\n".encode()
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", running.port, timeout=60)) as connection:
        connection.request("POST", "/api/v1/procedures", body=body,
                           headers={"Authorization": f"Bearer {running.token}",
                                    "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        text = response.read()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {text[:500]!r}")


def audit_verified(running: Stack) -> tuple[bool, str]:
    """`onestop audit verify` on the stack's database: (unbroken, what it said)."""
    done = subprocess.run([*_tool("onestop"), "audit", "verify"], env=running.env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


# --- the clients ---------------------------------------------------------------------------------

KINDS = ("start", "complete", "contest")
EXPECTED = {"start": {201}, "complete": {200}, "contest": {200, 409}}


@dataclass
class Contest:
    """One task completed by several clients at once."""

    task_id: str
    parties: int
    barrier: threading.Barrier = field(init=False)
    statuses: list = field(default_factory=list)

    def __post_init__(self):
        self.barrier = threading.Barrier(self.parties)


@dataclass
class Report:
    database: str
    workers: int
    clients: int
    seconds: float
    statuses: dict = field(default_factory=lambda: {k: {} for k in KINDS})  # kind -> status -> count
    latencies: dict = field(default_factory=lambda: {k: [] for k in KINDS})  # kind -> [seconds]
    unexpected: list = field(default_factory=list)  # (kind, status, body) samples
    contests: list = field(default_factory=list)
    server_cpu_s: float = 0.0
    database_cpu_s: float | None = None
    pressure_before: str = ""
    pressure_after: str = ""
    audit: tuple = (None, "")
    late_losers: int = 0  # 409s of raced completions that found the task already done (the others lost at the store)
    retries: int = 0  # units of work run again after a deadlock or serialization failure (gunicorn's log)
    deadlocks: int | None = None  # deadlocks PostgreSQL detected in the database during the run

    def requests(self, kind: str) -> int:
        return sum(self.statuses[kind].values())

    def server_errors(self, kind: str | None = None) -> int:
        kinds = KINDS if kind is None else (kind,)
        return sum(n for k in kinds for status, n in self.statuses[k].items() if status >= 500 or status == 0)

    def wrong_winners(self) -> list:
        """Contests that had no winner or more than one."""
        return [c for c in self.contests if c.statuses.count(200) != 1]

    def percentile(self, kind: str, q: float) -> float | None:
        values = sorted(self.latencies[kind])
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))]

    def as_dict(self) -> dict:
        total = sum(self.requests(k) for k in KINDS)
        return {
            "database": self.database, "workers": self.workers, "clients": self.clients, "seconds": self.seconds,
            "kinds": {k: {"requests": self.requests(k), "statuses": {str(s): n for s, n in self.statuses[k].items()},
                          "errors_5xx": self.server_errors(k),
                          "p50_ms": _ms(self.percentile(k, 0.5)), "p95_ms": _ms(self.percentile(k, 0.95))}
                      for k in KINDS},
            "contests": len(self.contests), "contests_without_one_winner": len(self.wrong_winners()),
            "late_losers": self.late_losers,
            "unexpected": self.unexpected[:10],
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_s / total, 2) if total else None,
            "database_cpu_ms_per_request": (round(1000 * self.database_cpu_s / total, 2)
                                            if total and self.database_cpu_s is not None else None),
            "cpu_pressure_before": self.pressure_before, "cpu_pressure_after": self.pressure_after,
            "audit_verified": self.audit[0], "audit_says": self.audit[1][-300:],
            "retries": self.retries, "deadlocks_detected": self.deadlocks,
        }


def _ms(seconds):
    return None if seconds is None else round(1000 * seconds, 1)


class _Client:
    def __init__(self, running: Stack, report: Report, lock: threading.Lock):
        self.running, self.report, self.lock = running, report, lock
        self.headers = {"Authorization": f"Bearer {running.token}", "Content-Type": "application/json"}
        self.connection = None

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def post(self, kind: str, path: str, body: dict):
        started = time.monotonic()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.running.port, timeout=60)
            self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = self.connection.getresponse()
            status, text = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            status, text = 0, repr(exc).encode()
        elapsed = time.monotonic() - started
        with self.lock:
            counted = self.report.statuses[kind]
            counted[status] = counted.get(status, 0) + 1
            self.report.latencies[kind].append(elapsed)
            if kind == "contest" and status == 409 and b"no longer waiting" in text:
                self.report.late_losers += 1
            if status not in EXPECTED[kind] and len(self.report.unexpected) < 50:
                self.report.unexpected.append((kind, status, text[:300].decode(errors="replace")))
        try:
            return status, json.loads(text) if status < 300 else None
        except ValueError:
            return status, None


def _first_task(body, element):
    for task in (body or {}).get("tasks", []):
        if task.get("element_id") == element:
            return task["id"]
    return None


def _client_loop(client: _Client, deadline: float, contests: queue.Queue, rivals: int, n: int):
    try:
        _client_work(client, deadline, contests, rivals, n)
    finally:
        client.close()


def _client_work(client: _Client, deadline: float, contests: queue.Queue, rivals: int, n: int):
    serial = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            _attempt(client, contests.get_nowait())
            continue
        serial += 1
        status, dossier = client.post("start", "/api/v1/dossiers", {"procedure": PROCEDURE, "data": {
            "applicant_full_name": f"Người nộp {n}-{serial}", "applicant_email": f"c{n}-{serial}@example.invalid"}})
        receive = _first_task(dossier, "Task_Receive")
        if receive is None:
            continue
        status, dossier = client.post("complete", f"/api/v1/tasks/{receive}/complete",
                                      {"data": {"applicant_name": f"Người nộp {n}", "documents_complete": True}})
        approve = _first_task(dossier, "Task_Approve")
        if approve is None:
            continue
        contest = Contest(approve, rivals + 1)
        with client.lock:
            client.report.contests.append(contest)
        for _ in range(rivals):
            contests.put(contest)
        _attempt(client, contest)


def _attempt(client: _Client, contest: Contest):
    with contextlib.suppress(threading.BrokenBarrierError):
        contest.barrier.wait(timeout=0.5)  # all at once if the rivals come in time; else alone
    status, _ = client.post("contest", f"/api/v1/tasks/{contest.task_id}/complete", {"data": {"approved": True}})
    with client.lock:
        contest.statuses.append(status)


def drive(running: Stack, kind: str, workers: int, clients: int = 8, seconds: float = 15.0, rivals: int = 2) -> Report:
    """Run the mixed load against a stack with the model uploaded; the report of what came back."""
    report = Report(kind, workers, clients, seconds)
    lock, contests = threading.Lock(), queue.Queue()
    report.pressure_before = pressure_line()
    deadlocks_before = _deadlocks(running.env["ONESTOP_DATABASE_URL"])
    cpu_before = tree_cpu_seconds(running.process.pid), tree_cpu_seconds(running.database_pid)
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=_client_loop, args=(_Client(running, report, lock), deadline, contests,
                                                           rivals, n), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    report.server_cpu_s = tree_cpu_seconds(running.process.pid) - cpu_before[0]
    if running.database_pid is not None:
        report.database_cpu_s = tree_cpu_seconds(running.database_pid) - cpu_before[1]
    report.pressure_after = pressure_line()
    if deadlocks_before is not None:
        time.sleep(1)  # PostgreSQL publishes its counters about once a second
        report.deadlocks = _deadlocks(running.env["ONESTOP_DATABASE_URL"]) - deadlocks_before
    report.retries = running.log().count("write retried")
    report.audit = audit_verified(running)
    return report


def run(kind: str, workers: int = 2, threads: int = 4, clients: int = 8, seconds: float = 15.0, rivals: int = 2,
        folder: Path | None = None) -> tuple[Report, str]:
    """A fresh database and stack of that kind, the load, and (the report, gunicorn's log)."""
    with contextlib.ExitStack() as cleanup:
        if folder is None:
            folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="onestop-concurrency-")))
        url, database_pid = cleanup.enter_context(database(kind, folder))
        running = cleanup.enter_context(stack(url, folder, workers, threads, database_pid))
        upload_model(running)
        report = drive(running, kind, workers, clients, seconds, rivals)
        return report, running.log()


def _print(report: Report):
    body = report.as_dict()
    print(f"\n{report.database}: {report.workers} gunicorn workers, {report.clients} clients, {report.seconds:.0f} s")
    print(f"{'kind':<10}{'requests':>10}{'5xx':>6}  statuses{'':<14}{'p50 ms':>8}{'p95 ms':>8}")
    for kind, line in body["kinds"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(line["statuses"].items()))
        print(f"{kind:<10}{line['requests']:>10}{line['errors_5xx']:>6}  {statuses:<22}"
              f"{line['p50_ms'] or '-':>8}{line['p95_ms'] or '-':>8}")
    print(f"contests: {body['contests']}, without exactly one winner: {body['contests_without_one_winner']}; "
          f"losers told 409 on arrival (task already done): {body['late_losers']}, the others lost at the store")
    print(f"server CPU per request: {body['server_cpu_ms_per_request']} ms"
          + (f", database CPU per request: {body['database_cpu_ms_per_request']} ms"
             if body["database_cpu_ms_per_request"] is not None else ""))
    print(f"/proc/pressure/cpu before: {body['cpu_pressure_before']}\n                   after:  {body['cpu_pressure_after']}")
    print(f"units of work retried: {body['retries']}"
          + (f", deadlocks PostgreSQL detected: {body['deadlocks_detected']}"
             if body["deadlocks_detected"] is not None else ""))
    print(f"audit verify: {'ok' if body['audit_verified'] else 'BROKEN'} ({body['audit_says'][-120:]})")
    for kind, status, text in body["unexpected"][:5]:
        print(f"  unexpected {kind} {status}: {text[:200]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s instead of 60 s")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rivals", type=int, default=2, help="other clients racing each contested completion")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    results, failed = [], False
    for kind in args.databases.split(","):
        report, log = run(kind.strip(), args.workers, args.threads, args.clients, seconds, args.rivals)
        _print(report)
        results.append(report.as_dict())
        failed |= bool(report.server_errors() or report.wrong_winners() or report.unexpected or not report.audit[0])
        if report.server_errors():
            print(log[-3000:], file=sys.stderr)
    rows = [[r["database"], kind, k["requests"], k["errors_5xx"], k["p50_ms"], k["p95_ms"]]
            for r in results for kind, k in r["kinds"].items()]
    bench_results.save("concurrency", ["database", "request", "n", "5xx", "p50 ms", "p95 ms"], rows,
                       variant=args.databases.replace(",", "-"), title="Contested completions under load",
                       sizes={"seconds": seconds, "workers": args.workers, "threads": args.threads,
                              "clients": args.clients, "rivals": args.rivals},
                       notes=[f"{r['database']}: {r['contests']} contests, {r['contests_without_one_winner']} without "
                              f"exactly one winner; server CPU {r['server_cpu_ms_per_request']} ms/request; audit "
                              f"verified: {r['audit_verified']}" for r in results])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
