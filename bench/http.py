"""The REST API under the production server setup: granian (the default) or gunicorn workers, real clients,
against /healthz.

For each database (SQLite in a temp dir, or a fresh PostgreSQL database) and each number of worker
processes, the script prepares the database with the real command line (`onestop init`, `onestop user
create bench --role admin --token`), starts `granian --interface wsgi --workers N --blocking-threads T
onestop.wsgi:app` (`--server gthread`: `gunicorn -k gthread --threads T -w N 'onestop.app:create_app()'`; T is
`onestop serve`'s for the database, 8 on SQLite and 4 on PostgreSQL, unless --threads is given)
on 127.0.0.1 (free port, ONESTOP_TIMER_THREAD=0), uploads bench/models/permit.bpmn through
`POST /api/v1/procedures`, and drives three workloads at 1, 4 and 16 concurrent keep-alive clients:

* healthz:  GET /healthz                                   (the floor of the HTTP stack: WSGI + one SELECT 1)
* submit:   POST /api/v1/dossiers {"procedure", "data"}    (start a permit dossier to its first task)
* complete: POST /api/v1/tasks/{id}/complete {"data"}      (complete the first task of a dossier made before)

Clients are threads with one keep-alive socket each (RawConnection), spread over several processes (fork) so
that they do not share one GIL; their CPU is measured and shown. Every run is bounded by time (and, for
completions, by the dossiers prepared for it) and talks to 127.0.0.1 only.

    .venv/bin/python bench/http.py [--quick] [--databases sqlite,postgresql] [--workers 2,4]
                                   [--clients 16] [--json FILE] [--py-spy submit]

See bench/README.md for what the columns mean.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is called http.py: run as a script, its folder comes first on sys.path and would shadow the
# standard library's `http` package (http.client, and everything that imports it). Drop it first.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if __name__ == "http":  # imported in place of the standard library's package (bench/ was on sys.path): hand it over
    import importlib

    del sys.modules["http"]
    sys.modules["http"] = importlib.import_module("http")  # the import machinery returns what sys.modules holds

import argparse  # noqa: E402
import collections  # noqa: E402
import contextlib  # noqa: E402
import http.client  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from array import array  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

ROOT = HERE.parent
MODELS = HERE / "models"
WORKLOADS = ("healthz", "submit", "complete")
# Issue 22's targets at the main client count, on 2 cores: submissions/s and p99 per database.
TARGET_SUBMIT_RPS = {"sqlite": 300, "postgresql": 200}
TARGET_P99_MS = {"sqlite": 50.0, "postgresql": 100.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")
TASK_ID = re.compile(rb'"tasks":\s*\[\s*\{\s*"id":\s*"([0-9a-fA-F-]{36})"')


def _bench_engine():
    """bench/engine.py as a module (its data: the same application and form as the step benchmark)."""
    spec = importlib.util.spec_from_file_location("onestop_bench_engine", HERE / "engine.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


APPLICATION = APPLICANT = FORM_RECEIVE = None  # bench/engine.py's data, loaded by main()


# --- /proc ---------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return sorted(int(x) for x in fh.read().split())
    except OSError:
        pass
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def memory_kb(pid: int) -> dict:
    """VmRSS and VmHWM (peak RSS) of a process, in kB; empty if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (children not included)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _tree_cpu(pid: int | None) -> dict | None:
    """CPU seconds of a process and its children, by pid (None when there is no such process to watch)."""
    if pid is None:
        return None
    return {p: cpu_seconds(p) for p in [pid, *children(pid)]}


def machine_cpu():
    """(busy, steal, total) jiffies of all CPUs so far, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            values = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, (values[7] if len(values) > 7 else 0), total


def mount_of(path: Path) -> str:
    """Filesystem type of the mount holding path (fsync cost depends on it)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], f"{parts[2]} {parts[0]}"
    except OSError:
        pass
    return kind


def code_version() -> str:
    """The checkout measured: commit, and whether platform/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "platform"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{head or '?'}{' + uncommitted changes in platform/' if dirty else ''}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the server ----------------------------------------------------------------------------------


def _tool(name: str) -> list[str]:
    """A console script of this venv, or `python -m` when it is not beside the interpreter."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", {"onestop": "onestop.cli"}.get(name, name)]


class Server:
    """The web server under test (granian, or gunicorn with the app factory), as production runs it; started in its own
    process group. `name` is what it is called in messages."""

    def __init__(self, env: dict, home: Path, workers: int, threads: int, kind: str = "gthread"):
        self.env, self.home, self.workers, self.threads, self.kind = env, home, workers, threads, kind
        self.port = free_port()
        self.name = "granian" if kind == "granian" else "gunicorn"
        self.log_path = home / "server.log"
        self.proc = None
        self.started_s = 0.0
        self.db_pid = None  # a local PostgreSQL's postmaster: its backends' CPU is measured too

    def launch(self):
        """Start the server and return at once."""
        argv = SERVERS[self.kind](self)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def start(self, timeout: float = 60.0):
        """Start the server and wait until every worker is up and /healthz answers 200."""
        t0 = time.monotonic()
        self.launch()
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if len(children(self.proc.pid)) == self.workers:
                status, _ = request(self.port, "GET", "/healthz", timeout=2, quiet=True)
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)
        self.started_s = time.monotonic() - t0
        return self

    @property
    def master(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


def _gunicorn(server: Server, *options) -> list[str]:
    return [*_tool("gunicorn"), *options, "-w", str(server.workers), "-b", f"127.0.0.1:{server.port}",
            "--no-control-socket", "--graceful-timeout", "5", "onestop.app:create_app()"]


# --server: how the app is served. gthread as before; gthread+conf and sync with onestop.gunicorn_conf
# (gc.freeze after start-up, as production and `onestop serve` run); granian on the same app (onestop.wsgi).
SERVERS = {
    "gthread": lambda s: _gunicorn(s, "-k", "gthread", "--threads", str(s.threads)),
    "gthread+conf": lambda s: _gunicorn(s, "-c", "python:onestop.gunicorn_conf", "--threads", str(s.threads)),
    "sync": lambda s: _gunicorn(s, "-c", "python:onestop.gunicorn_conf", "-k", "sync"),
    "granian": lambda s: [*_tool("granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(s.port),
                          "--workers", str(s.workers), "--blocking-threads", str(s.threads), "--no-ws",
                          "--workers-kill-timeout", "5", "onestop.wsgi:app"],
}


def request(port, method, path, body=None, headers=None, timeout=30.0, quiet=False):
    """One request on a fresh connection: (status, body bytes); status 0 on a connection error."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        if not quiet:
            return 0, repr(exc).encode()
        return 0, b""
    finally:
        conn.close()


def multipart(files: list[tuple[str, bytes]], field_name: str = "files") -> tuple[bytes, str]:
    boundary = "----onestop-bench-" + secrets.token_hex(12)
    parts = []
    for name, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def permit_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(MODELS.iterdir()) if p.is_file() and p.suffix in (".bpmn", ".json")]


def prepare_database(env: dict) -> str:
    """`onestop init` and `onestop user create bench --role admin --token`; returns the token."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.measure import onestop_commands

    output = onestop_commands(env, ["init"], ["user", "create", "bench", "--role", "admin", "--token"])
    return output.strip().splitlines()[-1].strip()


# --- the clients ---------------------------------------------------------------------------------


@dataclass
class Work:
    """What one client does: `method path body` repeatedly, or once per path, until the deadline (or `limit` requests)."""

    method: str
    path: str = ""
    body: bytes = b""
    paths: list | None = None
    limit: int | None = None
    capture: bool = False  # keep the first task id of each (2xx) response


class RawConnection:
    """One keep-alive HTTP/1.1 connection on a plain socket: the request's bytes are written once, the answer's
    status line, Content-Length (or chunks) and body read with a few byte searches.

    http.client parsed every answer's header block with the email package and rebuilt every request's header
    lines: ~0.25 ms of the client processes' CPU per request (~10 % of what the server spends), on the cores the
    server under test shares. The bytes on the wire are the ones http.client sent (the same header lines), so the
    server does the same work; a latency is still request written to body read."""

    def __init__(self, port: int, timeout: float = 60.0):
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def head(self, method: str, path: str, headers: dict, body: bytes) -> bytes:
        """The request's line and header lines, as http.client writes them (Host, Accept-Encoding, Content-Length)."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Accept-Encoding: identity"]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buffer += chunk

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request (its whole bytes) and read its answer: (status, body)."""
        if self.sock is None:
            self.connect()
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end + 2].lower(), self.buffer[end + 4:]
        status = int(head[9:12])
        close = b"\r\nconnection: close\r\n" in head
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            length = int(head[at + 17:head.index(b"\r\n", at + 2)])
            while len(self.buffer) < length:
                self._fill()
            data, self.buffer = self.buffer[:length], self.buffer[length:]
        elif b"\r\ntransfer-encoding: chunked\r\n" in head:
            data = self._chunked()
        else:  # neither: the body ends with the connection
            with contextlib.suppress(ConnectionError):
                while True:
                    self._fill()
            data, self.buffer, close = self.buffer, b"", True
        if close:
            self.close()
        return status, data

    def _chunked(self) -> bytes:
        parts = []
        while True:
            while (eol := self.buffer.find(b"\r\n")) < 0:
                self._fill()
            size = int(self.buffer[:eol].split(b";", 1)[0], 16)
            self.buffer = self.buffer[eol + 2:]
            while len(self.buffer) < size + 2:
                self._fill()
            parts.append(self.buffer[:size])
            self.buffer = self.buffer[size + 2:]
            if size == 0:  # (no trailers are sent to these clients)
                return b"".join(parts)


def _client_thread(port, headers, work: Work, deadline: float, out: dict, conn: RawConnection, shared, keepalive: bool):
    latencies = array("d")
    started = array("d")  # time.monotonic() when each request was sent: lines the slow ones up with the server's
    statuses = collections.Counter()
    bodies, captured = [], []
    i = 0
    ran_out = False
    fixed = None if work.paths is not None else conn.head(work.method, work.path, headers, work.body) + work.body
    while True:
        if time.monotonic() >= deadline or (work.limit is not None and i >= work.limit):
            break
        if work.paths is not None:  # one shared list for all clients: take the next path
            with shared.get_lock():
                index = shared.value
                shared.value += 1
            if index >= len(work.paths):
                ran_out = True
                break
            path = work.paths[index]
            request_bytes = conn.head(work.method, path, headers, work.body) + work.body
        else:
            path, request_bytes = work.path, fixed
        started.append(time.monotonic())
        t0 = time.perf_counter()
        try:
            status, data = conn.exchange(request_bytes)
            if not keepalive:
                conn.close()  # connects again on the next request
        except (OSError, ValueError) as exc:
            status, data = 0, f"{type(exc).__name__}: {exc}".encode()
            conn.close()
        latencies.append((time.perf_counter() - t0) * 1000)
        i += 1
        statuses[status] += 1
        if 200 <= status < 300:
            if work.capture:
                match = TASK_ID.search(data)
                if match:
                    captured.append(match.group(1).decode())
        elif len(bodies) < 3:
            bodies.append((status, f"{work.method} {path}", data[:400].decode(errors="replace")))
    conn.close()
    out.update(latencies=latencies, started=started, statuses=statuses, bodies=bodies, captured=captured, ran_out=ran_out,
               ended=time.monotonic())


def _client_process(port, token, works, duration, go, start_at, ready, results, shared, keepalive):
    """One client process: a thread and a keep-alive connection per (index, Work); reports CPU and samples."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Connection": "keep-alive" if keepalive else "close"}
    conns = []
    for _ in works:
        conn = RawConnection(port, timeout=60)
        conn.connect()
        conns.append(conn)
    ready.put(os.getpid())
    go.wait()
    deadline = start_at.value + duration
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    outs = [{} for _ in works]
    threads = [threading.Thread(target=_client_thread, args=(port, headers, w, deadline, o, c, shared, keepalive))
               for (_i, w), o, c in zip(works, outs, conns, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    results.put({"cpu": cpu, "threads": [(i, o) for (i, _w), o in zip(works, outs, strict=True)]})


@dataclass
class Load:
    """The outcome of one load run, all clients together."""

    wall: float
    latencies: list
    per_client: list  # per client, in order: (time.monotonic() the request was sent, latency ms)
    statuses: collections.Counter
    bodies: list
    captured: list
    unused: list  # paths of count-bounded work that no client got to
    ran_out: int  # clients that found no path left before the deadline
    client_cpu: float
    server_cpu: float
    db_cpu: float | None  # CPU of the local PostgreSQL's processes (None: SQLite, in the workers; or not local)
    worker_cpu: list
    machine_busy: float  # % of all cores, everything on the machine
    steal: float

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok

    @property
    def rps(self) -> float:
        return sum(self.statuses.values()) / self.wall


def run_load(server: Server, token: str, works: list[Work], procs: int, duration: float,
             keepalive: bool = True) -> Load:
    """Run the clients (client i in process i % procs), all starting together; bounded by duration.

    Works with `paths` must all share one list: the clients take the next path from it in turn.
    """
    ctx = multiprocessing.get_context("fork")
    go, start_at = ctx.Event(), ctx.Value("d", 0.0, lock=False)
    shared = ctx.Value("q", 0)
    ready, results = ctx.Queue(), ctx.Queue()
    procs = max(1, min(procs, len(works)))
    indexed = list(enumerate(works))
    processes = [ctx.Process(target=_client_process, daemon=True,
                             args=(server.port, token, indexed[p::procs], duration, go, start_at, ready, results, shared,
                                   keepalive))
                 for p in range(procs)]
    for p in processes:
        p.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        workers = server.worker_pids()
        cpu0 = [cpu_seconds(pid) for pid in workers]
        master0 = cpu_seconds(server.master)
        db0 = _tree_cpu(server.db_pid)
        m0 = machine_cpu()
        t0 = time.monotonic()
        start_at.value = t0
        go.set()
        outs = [results.get(timeout=duration + 300) for _ in processes]
        m1 = machine_cpu()
        cpu1 = [cpu_seconds(pid) for pid in workers]
        master1 = cpu_seconds(server.master)
        db1 = _tree_cpu(server.db_pid)
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    threads = dict(item for o in outs for item in o["threads"])
    wall = max(1e-9, max(t["ended"] for t in threads.values()) - t0)
    latencies, per_client, statuses, bodies, captured, unused = [], [], collections.Counter(), [], [], []
    for index in range(len(works)):
        t = threads[index]
        latencies.extend(t["latencies"])
        per_client.append(list(zip(t["started"], t["latencies"], strict=True)))
        statuses.update(t["statuses"])
        bodies.extend(t["bodies"])
        captured.extend(t["captured"])
    if works and works[0].paths is not None:
        unused = works[0].paths[shared.value:]
    busy = steal = 0.0
    if m0 and m1 and m1[2] > m0[2]:
        busy = 100 * (m1[0] - m0[0]) / (m1[2] - m0[2])
        steal = 100 * (m1[1] - m0[1]) / (m1[2] - m0[2])
    worker_cpu = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    return Load(wall=wall, latencies=latencies, per_client=per_client, statuses=statuses, bodies=bodies, captured=captured, unused=unused,
                ran_out=sum(1 for t in threads.values() if t["ran_out"]), client_cpu=sum(o["cpu"] for o in outs),
                server_cpu=sum(worker_cpu) + (master1 - master0), worker_cpu=worker_cpu, machine_busy=busy,
                db_cpu=None if db0 is None else sum(db1.get(pid, 0.0) - db0.get(pid, 0.0) for pid in db1),
                steal=steal)


# --- databases -----------------------------------------------------------------------------------


def _postgres():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import pgserver as postgres

    return postgres


def fresh_database(kind: str, home: Path):
    """A database URL for one server: SQLite in `home`, or a new PostgreSQL database (dropped afterwards)."""
    return _postgres().fresh_database(kind, home)


def fsync_probe(folder: Path, n: int = 100) -> str:
    """What one durable commit costs the disk here: 4 kB appended + fsync, n times (SQLite FULL does one per commit)."""
    path = folder / f"fsync-probe-{os.getpid()}"
    took = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(n):
            os.write(fd, b"\0" * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            took.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    ordered = sorted(took)
    return (f"fsync of 4 kB: mean {sum(took) / n:.2f} ms, p50 {_pct(ordered, 0.5):.2f}, p90 {_pct(ordered, 0.9):.2f} "
            f"(so at most ~{1000 / (sum(took) / n):.0f} serial commits/s)")


def postmaster_pid(url: str) -> int | None:
    """The pid of a PostgreSQL server on this machine (from its data directory), else None."""
    if not url.startswith("postgres"):
        return None
    import psycopg2

    try:
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW data_directory")
                data_dir = cur.fetchone()[0]
        finally:
            conn.close()
        return int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    except Exception:  # not local, not readable: the column stays empty
        return None


def describe_database(url: str, home: Path) -> str:
    if url.startswith("sqlite"):
        from onestop.db import open_database

        db = open_database(url)
        db.connect()
        try:
            mode = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(db.execute_sql("PRAGMA synchronous").fetchone()[0])
            version = db.execute_sql("SELECT sqlite_version()").fetchone()[0]
        finally:
            db.close()
        return f"SQLite {version} (journal={mode}, synchronous={sync}, on {mount_of(home)}; {fsync_probe(home)})"
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            shown = []
            for name in ("server_version", "fsync", "synchronous_commit"):
                cur.execute(f"SHOW {name}")
                shown.append(cur.fetchone()[0])
    finally:
        conn.close()
    return f"PostgreSQL {shown[0]} {reached(url)} (fsync={shown[1]}, synchronous_commit={shown[2]})"


def reached(url: str) -> str:
    """How a postgresql:// URL reaches its server, as libpq reads it, with the URL itself (password hidden): through
    a Unix socket (a host that is a folder) or over TCP. The run's notes say it: a round trip over loopback TCP costs
    both sides more kernel work than one through the socket (docs/perfpg.md, area pgsys)."""
    from onestop.db import postgres_url_parameters  # (the server's own reading of it)

    params = postgres_url_parameters(url)
    host, port = params["host"], params["port"]
    shown = re.sub(r"(password=)[^&]*", r"\1***", re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url))
    if host.startswith("/"):
        return f"through the Unix socket in {host} (port {port}; {shown})"
    return f"over TCP at {host}:{port} ({shown})"


def database_notes(runs: list) -> list[str]:
    """The notes' line on each PostgreSQL server measured: its version, settings and how it was reached."""
    return sorted({f"{_DB_NAMES[run.db]} of the run: {run.description.removeprefix('PostgreSQL ')}"
                   for run in runs if run.db == "postgresql" and run.description})


# --- one server, its cells -----------------------------------------------------------------------


def _pct(ordered, q):
    """Nearest-rank percentile of an ordered list."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


@dataclass
class Cell:
    db: str
    workers: int
    clients: int
    workload: str
    load: Load
    worker_hwm_kb: list
    worker_rss_kb: list
    master_hwm_kb: int
    note: str = ""

    def summary(self) -> dict:
        ordered = sorted(self.load.latencies)
        return {"n": len(ordered), "rps": self.load.rps, "ok": self.load.ok, "errors": self.load.errors,
                "p50": _pct(ordered, 0.50), "p95": _pct(ordered, 0.95), "p99": _pct(ordered, 0.99),
                "max": ordered[-1] if ordered else float("nan")}


@dataclass
class ServerRun:
    db: str
    workers: int
    description: str = ""
    prepare_s: float = 0.0
    started_s: float = 0.0
    upload_ms: float = 0.0
    cells: list = field(default_factory=list)
    profiles: list = field(default_factory=list)
    restarted: bool = False
    topped_up: list = field(default_factory=list)


def _json_body(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def warm_up(server: Server, token: str, code: str, rounds: int):
    """Fresh connections (so that every worker likely gets some): submit, then complete its first task."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    failures = []

    def one():
        status, body = request(server.port, "POST", "/api/v1/dossiers",
                               _json_body({"procedure": code, "data": APPLICATION, "applicant": APPLICANT}), headers)
        match = TASK_ID.search(body) if status == 201 else None
        if not match:
            failures.append((status, body[:400]))
            return
        status, body = request(server.port, "POST", f"/api/v1/tasks/{match.group(1).decode()}/complete",
                               _json_body({"data": FORM_RECEIVE}), headers)
        if status != 200:
            failures.append((status, body[:400]))
        request(server.port, "GET", "/healthz", headers=headers)

    threads = [threading.Thread(target=one) for _ in range(rounds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"warm-up failed: {failures[0][0]} {failures[0][1].decode(errors='replace')}\n"
                           f"{server.name} log:\n{server.log_tail(60)}")


def upload_model(server: Server, token: str) -> tuple[str, float]:
    body, content_type = multipart(permit_files())
    t0 = time.perf_counter()
    status, reply = request(server.port, "POST", "/api/v1/procedures", body,
                            {"Authorization": f"Bearer {token}", "Content-Type": content_type})
    took = (time.perf_counter() - t0) * 1000
    if status not in (200, 201):
        raise RuntimeError(f"upload failed: {status} {reply[:600].decode(errors='replace')}\n"
                           f"{server.name} log:\n{server.log_tail(60)}")
    return json.loads(reply)["code"], took


class Driver:
    """The workloads against one running server; keeps the pool of first tasks that completions use."""

    def __init__(self, server: Server, token: str, code: str, procs: int, keepalive: bool, requests: int | None = None):
        self.server, self.token, self.code, self.procs, self.keepalive = server, token, code, procs, keepalive
        self.requests = requests  # at most this many requests a client in a cell (None: until the cell's time is up)
        self.pool: list[str] = []  # ids of ready first tasks (Task_Receive) of dossiers made by submissions
        self.submit_rate: dict[int, float] = {}
        self.topped_up: list = []  # (clients, dossiers made, seconds): untimed submissions before a completion run
        self.submit_body = _json_body({"procedure": code, "data": APPLICATION, "applicant": APPLICANT})
        self.complete_body = _json_body({"data": FORM_RECEIVE})

    def works(self, workload: str, clients: int, duration: float) -> tuple[list[Work], str]:
        if workload == "healthz":
            return [Work("GET", "/healthz", limit=self.requests) for _ in range(clients)], ""
        if workload == "submit":
            return [Work("POST", "/api/v1/dossiers", self.submit_body, capture=True, limit=self.requests)
                    for _ in range(clients)], ""
        # complete: enough prepared dossiers for the duration at 2x the submission rate seen at this concurrency
        rate = self.submit_rate.get(clients) or max(self.submit_rate.values(), default=50.0)
        need = math.ceil(rate * 2 * duration) + 4 * clients
        if self.requests is not None:
            need = min(need, self.requests * clients)
        note = ""
        if len(self.pool) < need:
            missing = need - len(self.pool)
            t0 = time.monotonic()
            per = math.ceil(missing / clients)
            load = run_load(self.server, self.token,
                            [Work("POST", "/api/v1/dossiers", self.submit_body, capture=True, limit=per)
                             for _ in range(clients)], self.procs, max(120.0, 20 * duration), self.keepalive)
            self.pool.extend(load.captured)
            self.topped_up.append((clients, len(load.captured), time.monotonic() - t0))
            if load.errors:
                note = f"{load.errors} errors while preparing dossiers for it"
        ids, self.pool = self.pool[:need], self.pool[need:]
        paths = [f"/api/v1/tasks/{i}/complete" for i in ids]
        return [Work("POST", body=self.complete_body, paths=paths, limit=self.requests) for _ in range(clients)], note

    def run(self, workload: str, clients: int, duration: float) -> tuple[Load, str]:
        works, note = self.works(workload, clients, duration)
        load = run_load(self.server, self.token, works, self.procs, duration, self.keepalive)
        if workload == "submit":
            self.pool.extend(load.captured)
            self.submit_rate[clients] = load.ok / load.wall
        elif workload == "complete":
            self.pool[:0] = [p.split("/")[4] for p in load.unused]
            if load.ran_out:
                note = (note + "; " if note else "") + f"{load.ran_out} clients ran out of dossiers"
        return load, note


def measure_memory(server: Server):
    workers = server.worker_pids()
    mems = [memory_kb(pid) for pid in workers]
    return ([m.get("VmHWM", 0) for m in mems], [m.get("VmRSS", 0) for m in mems],
            memory_kb(server.master).get("VmHWM", 0))


def server_env(home: Path, url: str) -> dict:
    """The environment of the command line and gunicorn: none of the caller's ONESTOP_ settings, and this
    checkout's platform/ and admin/ first on the path. The server runs in the temp home, where a relative
    PYTHONPATH (`platform:admin`) finds nothing and another checkout's installed copy would be measured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESTOP_")}
    path = [str(ROOT / "platform"), str(ROOT / "admin")] + [p for p in [env.get("PYTHONPATH")] if p]
    env.update(ONESTOP_HOME=str(home), ONESTOP_DATABASE_URL=url, ONESTOP_TIMER_THREAD="0",
               PYTHONPATH=os.pathsep.join(path))
    return env


def threads_shown(databases, args):
    """The threads per worker of the run's databases: one number, or each database's (sqlite 8, postgresql 4)."""
    counts = {kind: threads_for(kind, args) for kind in databases}
    if len(set(counts.values())) == 1:
        return next(iter(counts.values()))
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def threads_for(kind: str, args) -> int:
    """Threads per worker for a database: --threads, else what `onestop serve` runs there (onestop.config.WEB_THREADS)."""
    from onestop.config import WEB_THREADS

    return args.threads or WEB_THREADS[kind]


def run_server(kind: str, workers: int, args, clients_list: list[int], tmp_root: Path) -> ServerRun:
    run = ServerRun(kind, workers)
    home = Path(tempfile.mkdtemp(prefix=f"{kind}-w{workers}-", dir=tmp_root))
    with fresh_database(kind, home) as url:
        env = {**server_env(home, url), **dict(item.split("=", 1) for item in args.server_env)}
        t0 = time.monotonic()
        token = prepare_database(env)
        run.prepare_s = time.monotonic() - t0
        run.description = describe_database(url, home)
        server = Server(env, home, workers, threads_for(kind, args), args.server)
        server.db_pid = postmaster_pid(url)
        try:
            server.start()
            run.started_s = server.started_s
            pids = server.worker_pids()
            code, run.upload_ms = upload_model(server, token)
            warm_up(server, token, code, rounds=args.warmup_rounds * workers)
            driver = Driver(server, token, code, args.client_procs, not args.no_keepalive, args.requests)
            for clients in clients_list:
                for workload in WORKLOADS:
                    print(f"# {kind} w={workers} c={clients} {workload} ...", file=sys.stderr, flush=True)
                    load, note = driver.run(workload, clients, args.duration)
                    cell = Cell(kind, workers, clients, workload, load, *measure_memory(server), note=note)
                    run.cells.append(cell)
                    s = cell.summary()
                    print(f"#   {s['rps']:.0f} req/s, p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, "
                          f"{s['errors']} errors{'; ' + note if note else ''}", file=sys.stderr, flush=True)
            for workload in args.py_spy:
                print(f"# {kind} w={workers} c={max(clients_list)} {workload} under py-spy ...", file=sys.stderr,
                      flush=True)
                run.profiles.append(profile(server, driver, workload, max(clients_list), max(args.duration, 5.0),
                                            home, args.profile_top))
            run.restarted = server.worker_pids() != pids
            run.topped_up = driver.topped_up
        finally:
            server.stop()
            if server.proc is not None and server.proc.returncode not in (0, None):
                print(f"# {server.name} exited with {server.proc.returncode}; log tail:\n{server.log_tail()}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return run


# --- py-spy --------------------------------------------------------------------------------------

# Where a sample's innermost Python frame is, by file path: the first matching marker names the area.
AREAS = [
    ("peewee.py", "peewee: building SQL, rows -> models, and the driver's C calls under it"),
    ("psycopg2", "psycopg2 (Python side)"),
    ("sqlite3", "sqlite3 (Python side)"),
    ("SpiffWorkflow", "SpiffWorkflow"),
    ("jsonschema", "jsonschema"),
    ("referencing", "jsonschema"),
    ("/json/", "json (stdlib)"),
    ("onestop/engine", "onestop.engine"),
    ("onestop/services", "onestop.services"),
    ("onestop/web", "onestop.web"),
    ("onestop/", "onestop (other)"),
    ("werkzeug", "flask/werkzeug"),
    ("flask", "flask/werkzeug"),
    ("gunicorn", "gunicorn"),
    ("lxml", "lxml"),
]
# Inclusive share of these functions: (function name, end of its file path, label).
MARKED = [
    ("wrapper", "onestop/web/api.py", "api view incl. authentication"),
    ("user_for_token", "services/users.py", "  users.user_for_token (token SELECT)"),
    ("start_dossier", "services/dossiers.py", "  dossiers.start_dossier"),
    ("complete_task", "services/dossiers.py", "  dossiers.complete_task"),
    ("get_work_item", "services/dossiers.py", "    get_work_item (SELECT work item + dossier)"),
    ("_validate_form", "services/dossiers.py", "    _validate_form (jsonschema)"),
    ("current_version", "services/procedures.py", "    procedures.current_version (SELECT)"),
    ("start", "engine/runtime.py", "    Engine.start"),
    ("complete_task", "engine/runtime.py", "    Engine.complete_task"),
    ("load_workflow", "engine/serial.py", "      serial.load_workflow"),
    ("dump_workflow", "engine/serial.py", "      serial.dump_workflow"),
    ("_store", "services/steps.py", "    steps._store (CAS UPDATE, rows, audit)"),
    ("write_step_rows", "services/steps.py", "    steps.write_step_rows"),
    ("record", "services/audit.py", "    audit.record"),
    ("dossier", "web/present.py", "  present.dossier (SELECT tasks, waiting, history, events)"),
    ("jsonify", "flask/json/__init__.py", "  flask.jsonify (response JSON)"),
    ("sql", "peewee.py", "peewee: compiling queries to SQL text (Context.sql)"),
    ("_execute_cursor", "peewee.py", "driver: cursor.execute (SQLite/psycopg2 C code)"),
    ("begin", "peewee.py", "BEGIN (SQLite IMMEDIATE: waits for the write lock)"),
    ("commit", "peewee.py", "COMMIT (SQLite synchronous=FULL: WAL fsync)"),
    ("connect", "peewee.py", "connect per request (SQLite: open + PRAGMAs; PG: pool)"),
    ("close", "peewee.py", "close per request (SQLite: close the file)"),
]
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def _py_spy() -> str | None:
    script = Path(sys.executable).parent / "py-spy"
    return str(script) if script.exists() else shutil.which("py-spy")


def _read_raw(path: Path) -> tuple[int, collections.Counter, collections.Counter, collections.Counter]:
    """py-spy's raw (collapsed) stacks -> (samples, own time by frame, inclusive by frame, own time by area)."""
    own, inclusive, areas = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [(m["func"], m["file"]) for m in (FRAME.match(part.strip()) for part in stack.split(";")) if m]
        if not frames:
            continue
        n = int(count)
        total += n
        func, file = frames[-1]
        own[(func, _short(file))] += n
        areas[next((label for marker, label in AREAS if marker in file), "other: stdlib (threading, selectors, ...)")] += n
        for key in set(frames):
            inclusive[key] += n
    return total, own, inclusive, areas


def profile(server: Server, driver: Driver, workload: str, clients: int, duration: float, home: Path, top: int,
            rate: int = 100) -> dict:
    """An extra run of the workload with two py-spy samplers on every worker: where wall time and CPU go.

    wall: every thread that is not idle (running, waiting in SQLite's busy handler, in fsync...);
    gil: only the thread holding the GIL (Python's CPU time; C code that releases the GIL is not in it).
    """
    tool = _py_spy()
    if tool is None:
        return {"workload": workload, "error": "py-spy not found (.venv/bin/pip install py-spy)"}
    works, _note = driver.works(workload, clients, duration)  # completions: the dossiers are made before sampling
    spies = {}
    for mode, flags in (("wall", []), ("gil", ["--gil"])):
        out = home / f"py-spy-{workload}-{mode}.txt"
        spies[mode] = (out, subprocess.Popen(
            [tool, "record", "--pid", str(server.master), "--subprocesses", "--rate", str(rate), "--nonblocking", *flags,
             "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL))
    time.sleep(1.0)  # attach
    load = run_load(server, driver.token, works, driver.procs, duration, driver.keepalive)
    if workload == "submit":
        driver.pool.extend(load.captured)
    result = {"workload": workload, "clients": clients, "rps": load.rps, "errors": load.errors,
              "server_cpu_pct": 100 * load.server_cpu / load.wall}
    for mode, (out, spy) in spies.items():
        spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if not out.exists():
            return {"workload": workload, "error": f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}"}
        total, own, inclusive, areas = _read_raw(out)
        marked = [(label, sum(c for (f, path), c in inclusive.items()
                              if f.split(".")[-1] == func and path.endswith(suffix))) for func, suffix, label in MARKED]
        result[mode] = {"samples": total, "areas": areas.most_common(), "marked": marked,
                        "own": [(f"{f} ({p})", n) for (f, p), n in own.most_common(top)]}
    return result


def _short(path: str) -> str:
    for marker in ("site-packages/", "platform/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def print_profile(run: ServerRun, prof: dict):
    head = f"py-spy, {run.db} w={run.workers} {prof['workload']}"
    if "error" in prof:
        print(f"\n{head}: {prof['error']}")
        return
    wall, gil = prof["wall"], prof["gil"]
    tw, tg = max(1, wall["samples"]), max(1, gil["samples"])
    print(f"\n{head} at {prof['clients']} clients, an extra run under the samplers ({prof['rps']:.0f} req/s, server CPU "
          f"{prof['server_cpu_pct']:.0f} %, {prof['errors']} errors). wall% = of {wall['samples']} samples of non-idle "
          f"worker threads (running, or blocked in SQLite/I/O); gil% = of {gil['samples']} samples of the thread holding "
          "the GIL (Python CPU). 100 Hz each, all workers.")
    print("   wall%   gil%  by area of the innermost Python frame")
    gil_areas = dict(gil["areas"])
    for label, n in wall["areas"]:
        print(f"  {100 * n / tw:6.1f} {100 * gil_areas.pop(label, 0) / tg:6.1f}  {label}")
    for label, n in gil_areas.items():
        print(f"  {0:6.1f} {100 * n / tg:6.1f}  {label}")
    print("   wall%   gil%  inclusive: the function is on the stack")
    for (label, n), (_label, g) in zip(wall["marked"], gil["marked"], strict=True):
        if n or g:
            print(f"  {100 * n / tw:6.1f} {100 * g / tg:6.1f}  {label}")
    for mode, t in (("wall", tw), ("gil", tg)):
        print(f"  top by own time ({mode}):")
        for label, n in prof[mode]["own"]:
            print(f"  {100 * n / t:6.1f}  {label}")


# --- report --------------------------------------------------------------------------------------


def _mb(kb) -> str:
    return f"{kb / 1024:.0f}"


def table(runs: list[ServerRun]) -> str:
    head = ("db", "w", "c", "workload", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "err",
            "srv cpu%", "ms/req", "split%", "db cpu%", "cli cpu%", "busy%", "worker peak MB", "master MB")
    rows = []
    for run in runs:
        for cell in run.cells:
            s, load = cell.summary(), cell.load
            total_worker = sum(load.worker_cpu) or 1.0
            split = "/".join(f"{100 * c / total_worker:.0f}" for c in load.worker_cpu)
            rows.append((cell.db, str(cell.workers), str(cell.clients), cell.workload + ("*" if cell.note else ""),
                         str(s["n"]), f"{s['rps']:.0f}", f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['p99']:.1f}",
                         f"{s['max']:.0f}", str(s["errors"]),
                         f"{100 * load.server_cpu / load.wall:.0f}", f"{1000 * load.server_cpu / max(1, s['n']):.1f}",
                         split, "-" if load.db_cpu is None else f"{100 * load.db_cpu / load.wall:.0f}",
                         f"{100 * load.client_cpu / load.wall:.0f}", f"{load.machine_busy:.0f}",
                         "/".join(_mb(k) for k in cell.worker_hwm_kb), _mb(cell.master_hwm_kb)))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in (0, 3) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


_DB_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def footer(runs: list[ServerRun], main_clients: int) -> list[str]:
    mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
    lines = []
    for db, target in TARGET_SUBMIT_RPS.items():
        submit = [(r.workers, c.summary()["rps"]) for r in runs if r.db == db
                  for c in r.cells if c.workload == "submit" and c.clients == main_clients]
        if submit:
            best = max(rps for _w, rps in submit)
            shown = ", ".join(f"{rps:.0f} (w={w})" for w, rps in submit)
            lines.append(f"{mark(best >= target)} submissions/s with {_DB_NAMES[db]} at {main_clients} clients on "
                         f"{os.cpu_count()} cores: {shown}; target >= {target}")
    for run in runs:
        for cell in run.cells:
            if cell.clients == main_clients and cell.workload != "healthz":
                p99 = cell.summary()["p99"]
                target = TARGET_P99_MS[run.db]
                lines.append(f"{mark(p99 < target)} p99 {cell.workload} {run.db} w={run.workers} at "
                             f"{main_clients} clients: {p99:.1f} ms; target < {target:.0f} ms")
    errors = sum(c.load.errors for r in runs for c in r.cells)
    lines.append(f"{mark(errors == 0)} errors (non-2xx or connection failures) over all cells: {errors}; target 0")
    return lines


def machine_facts(load_at_start: str, descriptions: dict, code: str) -> dict:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "load": load_at_start, "python": platform.python_version(),
            "gunicorn": importlib.metadata.version("gunicorn"), "granian": importlib.metadata.version("granian"),
            "flask": importlib.metadata.version("flask"),
            "spiffworkflow": importlib.metadata.version("SpiffWorkflow"),
            "peewee": importlib.metadata.version("peewee"), "databases": descriptions, "code": code}


# --- main ----------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description="REST API under granian or gunicorn: throughput and latency (see bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="short runs (1.5 s per cell): a smoke test, ~2 min")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql (default: both)")
    parser.add_argument("--workers", default="2,4", help="web server worker processes (default 2,4)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker: granian's blocking threads, gunicorn's gthread threads (default: "
                             "`onestop serve`'s for the database, onestop.config.WEB_THREADS: 8 on SQLite, 4 on PostgreSQL)")
    parser.add_argument("--server", default="granian", choices=sorted(SERVERS),
                        help="granian (default: `onestop serve`'s and production's server), gunicorn gthread, "
                             "or gthread+conf or sync with onestop.gunicorn_conf")
    parser.add_argument("--postgres-durable", action="store_true",
                        help="the throwaway PostgreSQL cluster keeps fsync, synchronous_commit and full_page_writes on, "
                             "as production does (default: off, as the tests' cluster; SQLite is always durable)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the main runs (default 16)")
    parser.add_argument("--baseline-clients", default="1,4", help="client counts of the latency baseline (default 1,4)")
    parser.add_argument("--client-procs", type=int, default=4,
                        help="processes the clients are spread over (default 4; threads within each)")
    parser.add_argument("--no-keepalive", action="store_true",
                        help="a new connection per request (Connection: close) instead of keep-alive")
    parser.add_argument("--duration", type=float, default=None, help="seconds per cell (default 15; --quick 1.5)")
    parser.add_argument("--requests", type=int, default=None,
                        help="at most N requests a client in each cell, which then ends before --duration once all are "
                             "answered: for a run whose figures do not matter, such as the tiny CI run (default: no limit)")
    parser.add_argument("--warmup-rounds", type=int, default=6,
                        help="untimed submit + complete rounds per worker before the cells (default 6)")
    parser.add_argument("--py-spy", default="", help="workloads to profile afterwards with py-spy, e.g. submit,complete")
    parser.add_argument("--profile-top", type=int, default=12, help="functions to show per profile (default 12)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the server under test, e.g. ONESTOP_SQLITE_CHECKPOINT_SECONDS=0 (repeatable)")
    parser.add_argument("--json", dest="json_file", default=None, help="write every sample and the summary here")
    parser.add_argument("--tmp", default=None, help="where the temp dirs (SQLite files, logs) go (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (server logs, databases)")
    args = parser.parse_args(argv)
    global APPLICATION, APPLICANT, FORM_RECEIVE
    data = _bench_engine()  # also puts the repository's root on sys.path
    from bench import results as bench_results  # the run's record (bench/results.py)

    run_pressure = bench_results.Pressure()
    APPLICATION, APPLICANT, FORM_RECEIVE = data.APPLICATION, data.APPLICANT, data.FORM_RECEIVE
    args.duration = args.duration or (1.5 if args.quick else 15.0)
    args.py_spy = [w for w in args.py_spy.split(",") if w]
    databases = [d for d in args.databases.split(",") if d]
    bad = [d for d in databases if d not in ("sqlite", "postgresql")] + [w for w in args.py_spy if w not in WORKLOADS]
    if bad:
        parser.error(f"unknown database or workload {bad[0]!r}")
    if args.postgres_durable and "postgresql" not in databases:
        parser.error("--postgres-durable is about PostgreSQL's cluster: add postgresql to --databases")
    worker_counts = _ints(args.workers)
    clients_list = sorted(set(_ints(args.baseline_clients)) | {args.clients})
    durable = False  # whether PostgreSQL's figures are a durable cluster's (the record's name and title say so)
    if args.postgres_durable and "postgresql" in databases:
        postgres = _postgres()
        if os.environ.get(postgres.ENV_URL, "").strip():
            print(f"# --postgres-durable: the server at {postgres.ENV_URL} keeps its own settings (shown below)",
                  file=sys.stderr)
        else:
            os.environ[postgres.ENV_DURABLE] = "1"  # read when the throwaway cluster starts, below
            durable = True

    load_at_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    code = code_version()
    tmp_root = Path(tempfile.mkdtemp(prefix="onestop-bench-http-", dir=args.tmp))
    runs: list[ServerRun] = []
    skipped = []
    started = time.monotonic()
    steal0 = machine_cpu()
    try:
        for kind in databases:
            if kind == "postgresql" and not _postgres().postgres_admin_url():
                skipped.append(f"postgresql skipped: {_postgres().postgres_unavailable_reason()}")
                print(f"# {skipped[-1]}", file=sys.stderr)
                continue
            for workers in worker_counts:
                runs.append(run_server(kind, workers, args, clients_list, tmp_root))
    finally:
        if not args.keep:
            shutil.rmtree(tmp_root, ignore_errors=True)
    steal1 = machine_cpu()
    steal = ""
    if steal0 and steal1 and steal1[2] > steal0[2]:
        steal = f"; CPU steal during the run {100 * (steal1[1] - steal0[1]) / (steal1[2] - steal0[2]):.1f} %"

    descriptions = {}
    for run in runs:
        descriptions.setdefault(run.db, run.description)
    facts = machine_facts(load_at_start, descriptions, code)
    print(f"# machine: nproc={facts['nproc']} ({facts['cpu']}), load {facts['load']}; python {facts['python']}; "
          f"granian {facts['granian']}; gunicorn {facts['gunicorn']}; Flask {facts['flask']}; SpiffWorkflow {facts['spiffworkflow']}; "
          f"peewee {facts['peewee']}; code {facts['code']}; databases: {'; '.join(descriptions.values()) or '-'}")
    print(f"# {'quick' if args.quick else 'full'} run: --server {args.server}, --threads {threads_shown(databases, args)} -w "
          f"{'/'.join(map(str, worker_counts))}; {args.duration:g} s per cell; clients {'/'.join(map(str, clients_list))} "
          f"({'new connection per request' if args.no_keepalive else 'keep-alive'} sockets, threads in {args.client_procs} processes); {time.monotonic() - started:.0f} s{steal}")
    for line in skipped:
        print(f"# {line}")
    for run in runs:
        made = sum(n for _c, n, _s in run.topped_up)
        print(f"# {run.db} w={run.workers}: init + user {run.prepare_s:.1f} s; {args.server} up (all workers, /healthz 200) "
              f"in {run.started_s:.1f} s; model upload {run.upload_ms:.0f} ms; completions took the first tasks of "
              f"the dossiers the submission runs made, plus {made} made untimed before {len(run.topped_up)} of them"
              + ("; A WORKER WAS RESTARTED during the run" if run.restarted else ""))
    print(table(runs))
    print("# n = requests; req/s = all requests / wall; latency = client-side, request sent to body read; err = non-2xx or "
          "connection failure; srv cpu% = CPU of master + workers (100 = one core), ms/req = that CPU per request, "
          "split% = share of each worker; db cpu% = the local PostgreSQL's processes; "
          "cli cpu% = the client processes; busy% = whole machine, of all cores; worker peak MB = VmHWM of each worker "
          "so far; * = see notes")
    for run in runs:
        for cell in run.cells:
            if cell.note:
                print(f"#   * {run.db} w={run.workers} c={cell.clients} {cell.workload}: {cell.note}")
    for line in footer(runs, args.clients):
        print(line)
    if runs:
        served_by = "granian" if args.server == "granian" else f"gunicorn {args.server}"
        bench_results.save("http", *bench_results.parse_table(table(runs)),
                           variant="-".join(databases) + ("-durable" if durable else "")
                           + ("" if args.server == "gthread" else f"-{args.server}"),
                           title=f"The REST API under {served_by} ({', '.join(databases)}"
                                 f"{', PostgreSQL durable' if durable else ''})", pressure=run_pressure,
                           sizes={"seconds_per_cell": args.duration, "workers": args.workers, "clients": args.clients,
                                  "threads": threads_shown(databases, args), **({"requests_per_client": args.requests} if args.requests else {})},
                           notes=[*footer(runs, args.clients), *database_notes(runs)])
    shown = 0
    for run in runs:
        for cell in run.cells:
            for status, what, body in cell.load.bodies:
                if shown < 8:
                    print(f"error {run.db} w={run.workers} c={cell.clients} {cell.workload}: {status} {what}: {body}")
                    shown += 1
    for run in runs:
        for prof in run.profiles:
            print_profile(run, prof)

    if args.json_file:
        doc = {"machine": facts, "quick": args.quick, "duration_s": args.duration, "threads": threads_shown(databases, args),
               "client_procs": args.client_procs, "servers": []}
        for run in runs:
            doc["servers"].append({
                "db": run.db, "workers": run.workers, "description": run.description, "prepare_s": run.prepare_s,
                "started_s": run.started_s, "upload_ms": run.upload_ms, "restarted": run.restarted,
                "profiles": run.profiles,
                "cells": [{"clients": c.clients, "workload": c.workload, **c.summary(), "note": c.note,
                           "wall_s": c.load.wall, "statuses": {str(k): v for k, v in c.load.statuses.items()},
                           "client_cpu_s": c.load.client_cpu, "server_cpu_s": c.load.server_cpu, "db_cpu_s": c.load.db_cpu,
                           "worker_cpu_s": c.load.worker_cpu, "machine_busy_pct": c.load.machine_busy,
                           "steal_pct": c.load.steal, "worker_hwm_kb": c.worker_hwm_kb, "worker_rss_kb": c.worker_rss_kb,
                           "master_hwm_kb": c.master_hwm_kb, "error_bodies": c.load.bodies,
                           "latencies_ms": [round(x, 3) for x in c.load.latencies],
                           "per_client": [[[round(t, 6), round(x, 3)] for t, x in client] for client in c.load.per_client]}
                          for c in run.cells],
            })
        Path(args.json_file).write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
