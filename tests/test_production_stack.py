"""The production setup on loopback: PostgreSQL, Redis, granian with two workers (docs/deploy.md's
command) and a separate `onestop worker` process — and the outside corpus runner passing through it.
(gunicorn's workers on PostgreSQL under concurrent clients: tests/web/test_concurrency.py.)"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, SHARED
from tests.support.corpus import passed_count, unexpected_failures
from tests.support.postgres import admin_url_or_skip, create_test_database, drop_test_database
from tests.support.redis import redis_url_or_skip
from tests.support.servers import free_port, run_commands, stop, wait_until_healthy

pytestmark = pytest.mark.corpus
BIN = Path(sys.executable).parent
RUNNER = SHARED / "tools" / "corpus_runner.py"


def _spawn(args, env, log):
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def stack(tmp_path):
    database = create_test_database(admin_url_or_skip())
    redis = redis_url_or_skip()
    port = free_port()
    # A timer is looked at 0.1 s after the step that set it at the soonest, not 1 s (the engine's
    # floor; its default is tests/engine/test_clock.py's): the corpus waits for five short timers.
    env = dict(os.environ, ONESTOP_HOME=str(tmp_path / "home"), ONESTOP_DATABASE_URL=database,
               ONESTOP_REDIS_URL=redis, ONESTOP_TIMER_THREAD="0", ONESTOP_TIMER_RETRY_SECONDS="0.1")
    # `onestop init` then `onestop user create`, in one process (the CLI's start paid once).
    created = run_commands(env, ("init",), ("user", "create", "acceptance", "--role", "admin", "--token"))
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("web", "worker")}
    web = _spawn([str(BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "4",
                  "--respawn-failed-workers", "--no-ws", "--host", "127.0.0.1", "--port", str(port),
                  "onestop.wsgi:app"], env, logs["web"])
    worker = _spawn([str(BIN / "onestop"), "worker", "--threads", "2"], env, logs["worker"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, web, tmp_path / "web.log")
        yield base, token, tmp_path
    finally:
        stop(web)
        stop(worker)
        for log in logs.values():
            log.close()
        drop_test_database(database)


# Not `alone`: it asserts no time. The corpus runner waits up to 60 s for an answer and 10 s past a
# timer's due time; the same runner passes against `onestop serve` beside other tests (test_live_server).
@pytest.mark.skipif(not RUNNER.exists(), reason="the shared corpus runner is not beside the project")
def test_the_corpus_passes_through_granian_workers_and_a_queue_driven_worker(stack):
    base, token, logs = stack
    result = subprocess.run([sys.executable, str(RUNNER), "--base", base, "--token", token, "--manifest",
                             str(CONFORMANCE / "MANIFEST.json"), "--files", str(CONFORMANCE)],
                            capture_output=True, text=True, timeout=600)
    web_log, worker_log = (logs / "web.log").read_text(), (logs / "worker.log").read_text()
    assert unexpected_failures(result.stdout) == [], result.stdout + web_log[-2000:] + worker_log[-2000:]
    assert passed_count(result.stdout) >= 50, result.stdout
    # Timers fired from the queue: the web processes run no timer thread.
    assert "Executing onestop.fire_timers" in worker_log or "fire_timers" in worker_log, worker_log[-2000:]
    assert "Traceback" not in web_log and "Traceback" not in worker_log
