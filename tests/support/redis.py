"""Redis for the tests: ``ONESTOP_TEST_REDIS_URL`` (set by .ci/run), else a throwaway
``redis-server`` on a free loopback port when the binary is installed, else skip — or fail when
``ONESTOP_REQUIRE_REDIS=1``. Each caller gets its own logical database number, so tests that run
one after another never see each other's queue, and parallel workers (xdist) each draw from their
own share of the numbers."""

import atexit
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from tests.support.parallel import worker_slot
from tests.support.servers import free_port

ENV_URL = "ONESTOP_TEST_REDIS_URL"
ENV_REQUIRE = "ONESTOP_REQUIRE_REDIS"
_server = {}
_databases = itertools.count(1)


def _start():
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port = free_port()
    folder = tempfile.mkdtemp(prefix="onestop-redis-")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", folder, "--databases", "64"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(lambda: (process.terminate(), process.wait(10), shutil.rmtree(folder, ignore_errors=True)))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    return None


def redis_base_url():
    if "url" not in _server:
        _server["url"] = os.environ.get(ENV_URL, "").rstrip("/") or _start()
    return _server["url"]


def redis_url_or_skip():
    """A URL of a fresh logical Redis database, or skip (fail when Redis is required)."""
    base = redis_base_url()
    if base is None:
        if os.environ.get(ENV_REQUIRE) == "1":
            pytest.fail(f"{ENV_REQUIRE}=1 but no Redis server: set {ENV_URL} or install redis-server")
        pytest.skip("no Redis server (set ONESTOP_TEST_REDIS_URL or install redis-server)")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    # Databases 1..60 (the server has 64), shared out between parallel workers: each has its own.
    index, workers = worker_slot()
    share = max(60 // workers, 1)
    return f"{base}/{(index * share + next(_databases) % share) % 60 + 1}"
