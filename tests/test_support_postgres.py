"""The PostgreSQL test support itself: a server is found or started, and databases come and go."""

from pathlib import Path

import psycopg2
import pytest

from tests.support.postgres import (
    admin_url_or_skip,
    create_test_database,
    drop_test_database,
    temporary_database,
)


def _database_exists(admin_url, name):
    conn = psycopg2.connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def test_create_connect_and_drop_a_database():
    admin_url = admin_url_or_skip()
    url = create_test_database(admin_url)
    name = url.rsplit("/", 1)[1]
    assert name.startswith("onestop_test_")
    try:
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("select 1")
                assert cur.fetchone() == (1,)
                cur.execute("SHOW server_encoding")
                assert cur.fetchone() == ("UTF8",)
            # Left open on purpose: dropping must end sessions still connected.
            assert _database_exists(admin_url, name)
            drop_test_database(url)
        finally:
            conn.close()
    finally:
        drop_test_database(url)  # idempotent
    assert not _database_exists(admin_url, name)


def test_temporary_databases_are_distinct():
    admin_url = admin_url_or_skip()
    with temporary_database(admin_url) as first, temporary_database(admin_url) as second:
        assert first != second
    assert not _database_exists(admin_url, first.rsplit("/", 1)[1])


def test_a_throwaway_cluster_for_the_tests_lives_in_memory_when_there_is_room():
    import os

    import pytest

    from tests.support.postgres import ENV_URL, memory_folder

    admin_url = admin_url_or_skip()
    if os.environ.get(ENV_URL, "").strip() or memory_folder() is None:
        pytest.skip("the tests use a server of their own, or /dev/shm has no room")
    conn = psycopg2.connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW data_directory")
            (folder,) = cur.fetchone()
    finally:
        conn.close()
    # Each test's database is made and dropped there: some 700 files each time, cheap only in memory.
    assert folder.startswith(memory_folder() + "/onestop-pg-")


def _server_address(url):
    """inet_server_addr() of a session on url: NULL through a Unix socket, the server's address over TCP."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT inet_server_addr()::text, current_setting('unix_socket_directories'), "
                        "current_setting('port')::int")
            return cur.fetchone()
    finally:
        conn.close()


def test_a_throwaway_clusters_url_names_its_socket_folder_or_its_tcp_port_as_asked(monkeypatch):
    """The URL of a throwaway cluster (bench/pgserver.py), worked out without one: it runs in CI too, whose tests
    use a server of their own."""
    from bench.pgserver import ENV_VIA, local_cluster_url

    monkeypatch.delenv(ENV_VIA, raising=False)
    assert local_cluster_url("/tmp/onestop-pg-x", 5433) == local_cluster_url("/tmp/onestop-pg-x", 5433, "unix")
    assert "%2Ftmp%2Fonestop-pg-x" in local_cluster_url("/tmp/onestop-pg-x", 5433)
    monkeypatch.setenv(ENV_VIA, "tcp")
    assert local_cluster_url("/tmp/onestop-pg-x", 5433) == "postgresql://postgres@127.0.0.1:5433/postgres"
    monkeypatch.setenv(ENV_VIA, "udp")
    with pytest.raises(ValueError, match="ONESTOP_TEST_POSTGRES_VIA must be 'unix' or 'tcp'"):
        local_cluster_url("/tmp/onestop-pg-x", 5433)


def test_a_throwaway_cluster_trades_durability_for_speed_unless_a_benchmark_asks_for_production_durability():
    from bench.pgserver import cluster_settings

    tests = cluster_settings(5433, "/tmp/onestop-pg-x")
    assert "fsync = off" in tests and "synchronous_commit = off" in tests and "full_page_writes = off" in tests
    durable = cluster_settings(5433, "/tmp/onestop-pg-x", durable=True)
    assert "fsync" not in durable and "synchronous_commit" not in durable and "full_page_writes" not in durable
    assert "port = 5433" in durable and "unix_socket_directories = '/tmp/onestop-pg-x'" in durable


def test_a_durable_throwaway_cluster_runs_with_fsync_and_synchronous_commit_on():
    """bench/http.py --postgres-durable: the cluster a benchmark starts itself commits as production does."""
    import os
    import subprocess
    import sys

    from bench.pgserver import ENV_DURABLE, ENV_URL, _find_bindir

    if _find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries (initdb) here")
    script = ("import psycopg2; from bench.pgserver import postgres_admin_url, postgres_unavailable_reason; "
              "url = postgres_admin_url(); assert url, postgres_unavailable_reason(); "
              "c = psycopg2.connect(url); cur = c.cursor(); "
              "print([cur.execute(f'SHOW {n}') or cur.fetchone()[0] for n in ('fsync', 'synchronous_commit', "
              "'full_page_writes')]); c.close()")
    env = {k: v for k, v in os.environ.items() if k != ENV_URL} | {ENV_DURABLE: "1"}
    shown = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                           cwd=Path(__file__).resolve().parents[1])
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.strip().splitlines()[-1] == "['on', 'on', 'on']"


def test_a_throwaway_cluster_is_reached_through_its_unix_socket_and_over_tcp_when_asked(monkeypatch):
    """Loopback TCP costs both sides more kernel work per round trip than a Unix socket (docs/perfpg.md,
    area pgsys): the throwaway cluster's URL names its socket's folder, and ONESTOP_TEST_POSTGRES_VIA=tcp its
    127.0.0.1 port. A database made from it keeps the way in."""
    import os

    from bench.pgserver import ENV_URL, ENV_VIA, local_cluster_url

    admin_url = admin_url_or_skip()
    if os.environ.get(ENV_URL, "").strip():
        pytest.skip("the tests use a server of their own")
    address, folder, port = _server_address(admin_url)
    assert address is None and admin_url == local_cluster_url(folder, port) == local_cluster_url(folder, port, "unix")
    with temporary_database(admin_url) as url:
        assert _server_address(url)[0] is None
    monkeypatch.setenv(ENV_VIA, "tcp")
    tcp = local_cluster_url(folder, port)
    assert tcp == f"postgresql://postgres@127.0.0.1:{port}/postgres" and _server_address(tcp)[0] == "127.0.0.1/32"
    monkeypatch.setenv(ENV_VIA, "udp")
    with pytest.raises(ValueError, match="ONESTOP_TEST_POSTGRES_VIA must be 'unix' or 'tcp'"):
        local_cluster_url(folder, port)


def _sessions_named(admin_url, name):
    conn = psycopg2.connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid", (name,))
            return [pid for (pid,) in cur.fetchall()]
    finally:
        conn.close()


def test_databases_are_made_and_dropped_through_one_session_of_the_thread_kept_open():
    from bench.pgserver import admin_session_name

    admin_url = admin_url_or_skip()
    drop_test_database(create_test_database(admin_url))
    sessions = _sessions_named(admin_url, admin_session_name())
    for _ in range(3):
        drop_test_database(create_test_database(admin_url))
    # A connection per copy and per drop cost the server a backend's start and end each time.
    assert len(sessions) == 1
    assert _sessions_named(admin_url, admin_session_name()) == sessions


def test_a_forked_child_makes_databases_through_a_session_of_its_own_and_leaves_its_parents_open():
    import os
    import signal

    from bench.pgserver import admin_session_name

    admin_url = admin_url_or_skip()
    drop_test_database(create_test_database(admin_url))
    sessions = _sessions_named(admin_url, admin_session_name())
    child = os.fork()
    if child == 0:  # sharing the parent's socket would mix the two processes' messages
        code = 1
        try:
            signal.alarm(60)  # a child stuck on a lock another thread of the parent held fails the test, not hangs it
            drop_test_database(create_test_database(admin_url))
            code = 0 if len(_sessions_named(admin_url, admin_session_name())) == 1 else 2
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0
    drop_test_database(create_test_database(admin_url))
    assert len(sessions) == 1
    assert _sessions_named(admin_url, admin_session_name()) == sessions


@pytest.mark.parametrize("killed", ["the owner", "the owner's process group"])
def test_a_throwaway_cluster_whose_owner_was_killed_is_stopped_and_removed(killed):
    """Killed alone, or with its whole process group (`kill -- -PGID`, timeout(1), a job control stop):
    the process that stops the cluster is not in the owner's group, so it outlives both."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest
    from bench.pgserver import ENV_URL, _find_bindir

    if _find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries to start a cluster with")
    # An xdist worker that is slow to come down is killed: no atexit handler of its runs.
    env = {key: value for key, value in os.environ.items() if key != ENV_URL}
    owner = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, bench.pgserver as pg; print(pg.postgres_admin_url('/dev/shm'), "
         "pg.postgres_unavailable_reason(), flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[1],
        start_new_session=killed != "the owner",  # a group of its own, to kill without this test's
    )
    try:
        url = owner.stdout.readline().split()[0]
        assert url.startswith("postgresql://"), url
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SHOW data_directory")
            (data,) = cur.fetchone()
        conn.close()
    finally:
        if killed == "the owner":
            owner.send_signal(signal.SIGKILL)
        else:
            os.killpg(owner.pid, signal.SIGKILL)
        owner.wait()
        owner.stdout.close()
    folder = Path(data).parent
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=5).close()
