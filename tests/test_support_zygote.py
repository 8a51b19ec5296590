"""Test servers forked from the warm zygote (tests/support/servers.py) are `onestop serve` as the script
starts it: their own environment, session, log and exit code."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.servers import free_port, stop, wait_until_healthy, zygote

ONESTOP = Path(sys.executable).parent / "onestop"


def _parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_servers_started_at_once_each_run_in_their_own_session_with_their_own_environment(tmp_path):
    """Two servers forked at once (as test_budgets starts its two): each serves its own port from its own
    home, leads a session of its own and is the zygote's child, not the test process's, and logs to its
    own file; a SIGTERM to its process group ends it with gunicorn's exit code (0), reported by poll."""
    servers, errors = {}, []

    def serve(name):
        try:
            port, home, log = free_port(), tmp_path / name / "home", tmp_path / name / "server.log"
            home.parent.mkdir()
            env = dict(os.environ, ONESTOP_HOME=str(home), ONESTOP_PORT=str(port), ONESTOP_WEB_WORKERS="1",
                       ONESTOP_DATABASE_URL="", ONESTOP_TIMER_THREAD="0")
            process = zygote().start(["serve"], env, log)
            wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
            servers[name] = (port, home, log, process)
        except Exception as exc:  # the test fails on it below
            errors.append(exc)

    threads = [threading.Thread(target=serve, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        for port, home, log, process in servers.values():
            assert process.poll() is None
            assert os.getsid(process.pid) == os.getpgid(process.pid) == process.pid
            assert _parent_of(process.pid) == zygote().process.pid != os.getpid()
            assert (home / "admin-token.txt").is_file()  # its own ONESTOP_HOME from its start on
            assert f"onestop serving http://127.0.0.1:{port}/  (data in {home}," in log.read_text()
    finally:
        for *_, process in servers.values():
            stop(process, signal.SIGTERM)
    assert [process.poll() for *_, process in servers.values()] == [0, 0]


def test_a_forked_server_that_cannot_start_fails_as_the_script_does(tmp_path):
    """A setting the server refuses: the forked `serve` ends with the script's exit code and error line."""
    env = dict(os.environ, ONESTOP_HOME=str(tmp_path / "home"), ONESTOP_PORT=str(free_port()),
               ONESTOP_DATABASE_URL="nosuch://x")
    script = subprocess.run([str(ONESTOP), "serve"], env=env, capture_output=True, text=True, timeout=120)
    forked = zygote().start(["serve"], env, tmp_path / "forked.log")
    assert forked.wait(120) == script.returncode == 2
    last = ("error: ONESTOP_DATABASE_URL must be sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DATABASE; "
            "its scheme is 'nosuch'")
    assert script.stderr.splitlines()[-1] == (tmp_path / "forked.log").read_text().splitlines()[-1] == last
    assert forked.poll() == 2


def _processes_working_in(folder) -> list[int]:
    """The processes whose working folder is `folder` (a command run there and what it started), this test's process
    and the zygote aside (they may have started there too). (Their environment would not tell: a forked child's
    /proc environ is the zygote's, whatever it set since.)"""
    found, ours = [], {os.getpid(), zygote().process.pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in ours:
            try:
                if os.readlink(entry / "cwd") == str(folder):
                    found.append(int(entry.name))
            except OSError:  # ended meanwhile, or not ours to read
                pass
    return found


def test_a_command_that_overruns_its_timeout_is_killed_with_the_processes_it_started(tmp_path, monkeypatch):
    """A warm run that times out (a `serve` that never ends, say) takes its whole process group with it: killing only
    the command left the workers its server had forked running, orphaned, after the test run had ended."""
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.chdir(folder)  # where the run works (Commands.run: this process's working folder)
    env = dict(os.environ, ONESTOP_HOME=str(tmp_path / "home"), ONESTOP_PORT=str(free_port()), ONESTOP_WEB_WORKERS="2",
               ONESTOP_WEB_SERVER="granian", ONESTOP_DATABASE_URL="", ONESTOP_TIMER_THREAD="0")
    seen, done = [0], threading.Event()

    def watch():
        while not done.is_set():
            seen[0] = max(seen[0], len(_processes_working_in(folder)))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            zygote().run("serve", env=env, timeout=20)
    finally:
        done.set()
        watcher.join()
    assert seen[0] >= 3  # the server and its two workers ran
    deadline = time.monotonic() + 10
    while _processes_working_in(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_working_in(folder) == []
