"""A PostgreSQL server for the tests and the benchmarks: a server to use, and fresh databases on it.

Standard library only (psycopg2 once a database is made), and importable as ``bench.pgserver`` from
both: the tests reach it through ``tests/support/postgres.py``, which adds what is pytest's (skip or
fail when there is no server); the benchmarks import it directly, never the tests.

Where the server comes from, in order:

1. ``ONESTOP_TEST_POSTGRES_URL`` (an admin URL: a superuser, or a role with CREATEDB, and an
   existing database to connect to, e.g. ``postgresql://onestop:onestop@127.0.0.1:5432/postgres``).
   ``.ci/run`` sets it.
2. Otherwise, when PostgreSQL's server binaries are on this machine (``/usr/lib/postgresql/*/bin``
   or ``initdb`` on PATH), a throwaway cluster in a temporary folder, listening on 127.0.0.1 on a
   free port and on a Unix socket in that folder, with trust authentication, stopped and removed
   when the process exits. As root it runs as the ``postgres`` system user (initdb refuses root).
   Its URL reaches it through the Unix socket (``postgresql://postgres@%2Ftmp%2Fonestop-pg-…:PORT/postgres``:
   less kernel work per round trip on both sides than loopback TCP), or over TCP when
   ``ONESTOP_TEST_POSTGRES_VIA=tcp`` (``local_cluster_url``).
3. Otherwise none: ``postgres_admin_url()`` returns None and ``postgres_unavailable_reason()`` says
   why — unless ``ONESTOP_REQUIRE_POSTGRES=1`` (CI), where the tests must fail rather than skip.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ENV_URL = "ONESTOP_TEST_POSTGRES_URL"
ENV_REQUIRE = "ONESTOP_REQUIRE_POSTGRES"
ENV_SQLITE_TEMPLATE = "ONESTOP_BENCH_SQLITE_TEMPLATE"
ENV_POSTGRES_TEMPLATE = "ONESTOP_BENCH_POSTGRES_TEMPLATE"
ENV_VIA = "ONESTOP_TEST_POSTGRES_VIA"  # how a throwaway cluster's URL reaches it: "unix" (default) or "tcp"
# "1": a throwaway cluster this process starts keeps PostgreSQL's own durability (fsync, synchronous_commit and
# full_page_writes on, as a production server runs) instead of the tests' settings, which turn them off
ENV_DURABLE = "ONESTOP_BENCH_POSTGRES_DURABLE"

_cache: dict[int, tuple[str | None, str]] = {}  # pid -> (url, reason when None)
_counter = itertools.count(1)
_admin_of: dict[str, str] = {}  # test database URL -> admin URL it was made from


def require_postgres() -> bool:
    """True when PostgreSQL must be there: tests fail instead of skipping (CI sets it)."""
    return os.environ.get(ENV_REQUIRE, "").strip() == "1"


def postgres_admin_url(folder: str | None = None) -> str | None:
    """An admin URL of a running PostgreSQL server, or None if none can be had. Cached per process:
    the first call decides. A throwaway cluster it starts is made in ``folder`` (default: the
    system's temporary folder); the tests pass ``memory_folder()``."""
    pid = os.getpid()
    if pid not in _cache:
        _cache[pid] = _find_or_start(folder)
    return _cache[pid][0]


def memory_folder(room: int = 2 * 1024**3) -> str | None:
    """/dev/shm when it is a writable folder with ``room`` bytes free (memory), else None.

    A throwaway cluster there costs a fraction of the CPU on disk: ``CREATE DATABASE … TEMPLATE``
    creates and ``DROP DATABASE`` removes some 700 files each time, and on a journalled file
    system (ext4) each create and unlink is a journal transaction in the kernel (measured: 90-440
    ms of server CPU per copy of the tests' template on ext4, 16 ms in /dev/shm)."""
    shm = "/dev/shm"
    try:
        free = shutil.disk_usage(shm).free if os.path.isdir(shm) and os.access(shm, os.W_OK) else 0
    except OSError:
        free = 0
    return shm if free >= room else None


def postgres_unavailable_reason() -> str:
    """Why ``postgres_admin_url()`` returned None (empty when it did not)."""
    postgres_admin_url()
    return _cache[os.getpid()][1]


# --- databases -------------------------------------------------------------------------------


def _connect(url: str, **options):
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=10, **options)
    conn.autocommit = True
    return conn


# Creating and dropping the databases goes through one session per thread and admin URL, kept open:
# a connection costs the server a backend's start and end (~5-7 ms of CPU each, measured on the
# tests' cluster), which was paid twice a test, for its database's copy and for its drop.
ADMIN_SESSION_NAME = "onestop-test-databases"  # their application_name begins so (pg_stat_activity)
_sessions = threading.local()  # .pid: the process that opened .by_url (admin URL -> connection)


def admin_session_name() -> str:
    """The application_name of the session this thread makes and drops databases through."""
    return f"{ADMIN_SESSION_NAME} {os.getpid()}/{threading.get_native_id()}"


def _admin_session(admin_url: str):
    """This thread's session to the server of admin_url, opened on first use and kept."""
    if getattr(_sessions, "pid", None) != os.getpid():
        # First use here, or in a forked child: the parent's sessions share their sockets with it, and
        # are not the child's to use (psycopg2 does not close them when the child frees them).
        _sessions.pid, _sessions.by_url = os.getpid(), {}
    conn = _sessions.by_url.get(admin_url)
    if conn is None or conn.closed:
        conn = _sessions.by_url[admin_url] = _connect(admin_url, application_name=admin_session_name())
    return conn


def _on_admin_session(admin_url: str, work):
    """work(cursor, server_version) on this thread's admin session; once more on a new session when
    the kept one turns out to have been closed (the server restarted, or ended it) before it ran."""
    import psycopg2

    for attempt in (1, 2):
        conn = _admin_session(admin_url)
        try:
            with conn.cursor() as cur:
                return work(cur, conn.server_version)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if not conn.closed or attempt == 2:
                raise
            _sessions.by_url.pop(admin_url, None)


def _with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def create_test_database(admin_url: str, template: str | None = None) -> str:
    """Create a database with a unique name; return its URL. Empty (UTF8, C collation) by default;
    with ``template`` (the name of a database made here, with no session open on it), a copy of
    that one: its schema and rows, encoding and collation."""
    name = f"onestop_test_{os.getpid()}_{next(_counter)}_{secrets.token_hex(3)}"
    if template is not None and not re.fullmatch(r"[A-Za-z0-9_]+", template):
        raise ValueError(f"refusing to copy database {template!r}")

    def create(cur, server_version):
        if template is not None:
            # FILE_COPY: for a database this small, faster than the default WAL_LOG (PostgreSQL 15+).
            strategy = " STRATEGY FILE_COPY" if server_version >= 150000 else ""
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        else:
            # template0 so the encoding is ours, whatever the cluster was initialised with.
            cur.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                f"LC_COLLATE 'C' LC_CTYPE 'C'"
            )

    _on_admin_session(admin_url, create)
    url = _with_dbname(admin_url, name)
    _admin_of[url] = admin_url
    return url


def drop_test_database(url: str, admin_url: str | None = None) -> None:
    """Drop a database made by ``create_test_database``, ending any sessions still on it."""
    name = _dbname(url)
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"refusing to drop database {name!r}")
    admin_url = _admin_of.pop(url, None) or admin_url or _with_dbname(url, "postgres")

    def drop(cur, server_version):
        if server_version >= 130000:  # FORCE ends the sessions still on it
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')

    _on_admin_session(admin_url, drop)


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path):
    """A database URL for one benchmark run: SQLite in `folder` ("sqlite", sqlite_database), or a new
    PostgreSQL database on the server postgres_admin_url() finds or starts, dropped afterwards."""
    if kind == "sqlite":
        yield sqlite_database(folder)
        return
    admin = postgres_admin_url()
    if not admin:
        raise RuntimeError(f"PostgreSQL unavailable: {postgres_unavailable_reason()}")
    url = new_database(admin)
    try:
        yield url
    finally:
        drop_test_database(url)


def new_database(admin_url: str) -> str:
    """A new PostgreSQL database for a benchmark run (create_test_database): empty, so that the run migrates it.

    When ``ONESTOP_BENCH_POSTGRES_TEMPLATE`` names a database of that server that every migration has been
    applied to, with no session open on it (tests/bench gives its tiny runs a copy of the tests' migrated
    template), the new one is a copy of it, as sqlite_database does for SQLite. Not for measuring."""
    return create_test_database(admin_url, template=os.environ.get(ENV_POSTGRES_TEMPLATE, "").strip() or None)


def sqlite_database(folder: Path) -> str:
    """The URL of a benchmark run's SQLite database: onestop.db in `folder`, empty, so that the run migrates it.

    When ``ONESTOP_BENCH_SQLITE_TEMPLATE`` names a SQLite file that every migration has been applied to
    (tests/bench gives its tiny runs the tests' migrated template), the database starts as a copy of it:
    the script still runs the migrations, which find nothing left to do. Not for measuring: a real run
    leaves it unset."""
    path = Path(folder) / "onestop.db"
    template = os.environ.get(ENV_SQLITE_TEMPLATE, "").strip()
    if template and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def temporary_database(admin_url: str):
    """A fresh database for the duration of the block; yields its URL."""
    url = create_test_database(admin_url)
    try:
        yield url
    finally:
        drop_test_database(url)


# --- a throwaway local cluster ---------------------------------------------------------------


def _version_key(path: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


def _find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(on_path)
    candidates += sorted(glob.glob("/usr/local/pgsql/bin/initdb")) + sorted(
        glob.glob("/opt/homebrew/opt/postgresql*/bin/initdb"), key=_version_key, reverse=True
    )
    for initdb in candidates:
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").exists() and (bindir / "postgres").exists():
            return bindir
    return None


def _runner():
    """How to run the server binaries: (wrap, user) where wrap(argv) gives the command line.

    Directly as a normal user; as root, as the ``postgres`` system user (initdb refuses root).
    (None, None) when that user does not exist.
    """
    if os.geteuid() != 0:
        return (lambda argv: list(argv)), None
    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return None, None
    if shutil.which("runuser"):
        return (lambda argv: ["runuser", "-u", "postgres", "--", *argv]), user
    return (lambda argv: ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]), user


def _run(wrap, argv, timeout=120):
    return subprocess.run(
        wrap(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd="/"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_cluster_url(socket_folder: str | Path, port: int, via: str | None = None) -> str:
    """The admin URL of a throwaway cluster listening on 127.0.0.1:``port`` and on a Unix socket in
    ``socket_folder``. ``via`` (default: ``ONESTOP_TEST_POSTGRES_VIA``, else "unix") says which: "unix",
    the folder percent-encoded as the URL's host (libpq's form; the URL still ends in ``/dbname``, which
    ``create_test_database`` replaces), or "tcp". A round trip through the socket costs the client and the
    server less kernel work than one through loopback TCP (docs/perfpg.md, area pgsys)."""
    via = (via or os.environ.get(ENV_VIA, "").strip() or "unix").lower()
    if via == "tcp":
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"
    if via == "unix":
        return f"postgresql://postgres@{quote(str(socket_folder), safe='')}:{port}/postgres"
    raise ValueError(f"{ENV_VIA} must be 'unix' or 'tcp', not {via!r}")


def _find_or_start(folder: str | None = None) -> tuple[str | None, str]:
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url, ""
    try:
        local_cluster_url("/", 0)  # a wrong ONESTOP_TEST_POSTGRES_VIA says so before any cluster is made
    except ValueError as exc:
        return None, str(exc)
    bindir = _find_bindir()
    if bindir is None:
        return None, f"{ENV_URL} is not set and no PostgreSQL server binaries (initdb) were found"
    wrap, user = _runner()
    if wrap is None:
        return None, "running as root and there is no 'postgres' system user to run initdb as"
    try:
        return _start_cluster(bindir, wrap, user, folder), ""
    except Exception as exc:  # any failure means "unavailable", with the reason
        return None, f"could not start a throwaway cluster with {bindir}: {exc}"


def cluster_settings(port: int, socket_folder: Path, durable: bool = False) -> str:
    """The lines a throwaway cluster's postgresql.conf gets. The tests' cluster trades durability for
    speed (a crash loses it whole, and nothing in it outlives the run); a `durable` one keeps
    PostgreSQL's defaults for it, so that a benchmark's commits wait for the disk as production's do."""
    speed = "" if durable else "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
    return (f"\n# onestop {'benchmark (durable)' if durable else 'tests'}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{socket_folder}'\n"
            f"{speed}"
            "max_connections = 200\n")


def _start_cluster(bindir: Path, wrap, user, folder: str | None = None) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="onestop-pg-", dir=folder))
    owner_pid = os.getpid()
    data = tmp / "data"
    log = tmp / "server.log"
    if user is not None:
        os.chown(tmp, user.pw_uid, user.pw_gid)

    def cleanup():
        if os.getpid() != owner_pid:  # a forked child exiting must not stop the parent's server
            return
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                _run(wrap, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], 60)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(cleanup)
    _reap_when_gone(owner_pid, tmp, data, wrap([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]))
    try:
        result = _run(
            wrap,
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {(result.stderr or result.stdout).strip()[-2000:]}")
        last_error = ""
        for _attempt in range(5):
            port = _free_port()
            settings = cluster_settings(port, tmp, durable=os.environ.get(ENV_DURABLE, "").strip() == "1")
            conf = data / "postgresql.conf"  # appended: a later line wins over an earlier one
            with open(conf, "a") as fh:
                fh.write(settings)
            result = _run(
                wrap,
                [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"],
            )
            if result.returncode == 0:
                url = local_cluster_url(tmp, port)
                _wait_ready(url)
                return url
            try:
                last_error = log.read_text()[-2000:]
            except OSError:
                last_error = (result.stderr or result.stdout).strip()[-2000:]
            if "already in use" not in last_error:
                break
        raise RuntimeError(f"pg_ctl start failed: {last_error}")
    except Exception:
        cleanup()
        atexit.unregister(cleanup)
        raise


# Run detached beside the owner: waits for it to end, then stops its cluster and removes the folder.
_REAPER = """
import os, select, shutil, subprocess, sys, time
owner, tmp, data, *stop = sys.argv[1:]
try:
    select.select([os.pidfd_open(int(owner))], [], [])  # readable once the owner has ended
except ProcessLookupError:
    pass
except OSError:  # no pidfd (Linux before 5.3): look once a second
    while os.path.exists(f"/proc/{owner}"):
        time.sleep(1)
if os.path.exists(os.path.join(data, "postmaster.pid")):
    subprocess.run(stop, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", timeout=60)
shutil.rmtree(tmp, ignore_errors=True)
"""


def _reap_when_gone(owner_pid: int, tmp: Path, data: Path, stop: list[str]) -> None:
    """Stop the cluster and remove its folder once its owner has ended, however it ended. The owner's
    atexit handler does it when it exits normally, but an xdist worker that does not come down within
    10 s of the end of the run is killed (execnet), and a killed process runs no atexit handler: its
    cluster (~150 MB of shared memory, its databases in /dev/shm) outlived it. A process of its own
    (started through sh, which returns at once, so that nothing here waits for it) waits on the
    owner's pidfd, costing no CPU meanwhile. It runs in a session of its own: in the owner's process
    group it died with the owner when the whole group was killed (`kill -- -PGID`, timeout(1)), and the
    cluster outlived both."""
    import sys

    subprocess.run(
        ["sh", "-c", '"$@" </dev/null >/dev/null 2>&1 &', "sh", sys.executable, "-I", "-S", "-c", _REAPER,
         str(owner_pid), str(tmp), str(data), *stop],
        stdin=subprocess.DEVNULL, cwd="/", check=True, timeout=60, start_new_session=True,
    )


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        try:
            _connect(url).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
