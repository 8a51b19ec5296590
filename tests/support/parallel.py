"""Running the suite in parallel (pytest-xdist) without making its timing tests dishonest.

A test marked ``alone`` asserts how long something took (a limit that holds, /healthz answering
under load) or loads the machine itself (dozens of threads racing, gunicorn under eight clients):
it must not share the machine's cores, nor PostgreSQL's connections, with another test. Under
xdist, every test takes a lock for its whole run (setup, call, teardown) in a folder the workers
share: a shared one for ordinary tests, an exclusive one for a test marked ``alone``, which so
runs alone while the other workers wait. A turnstile in front of the shared lock lets a waiting
``alone`` test in before the next ordinary test, so a stream of ordinary tests cannot starve it.
Without xdist (one process) there is nothing to take.

``worker_slot()`` tells each worker which share of a numbered resource (Redis's logical
databases) is its own.
"""

import contextlib
import fcntl
import os
import shutil
import tempfile

import pytest

ALONE = "alone"
_LOCK_DIR = "onestop_lock_dir"


def pytest_configure(config):
    if not hasattr(config, "workerinput") and _xdist_active(config):
        config._onestop_lock_dir = tempfile.mkdtemp(prefix="onestop-xdist-")


def _xdist_active(config):
    numprocesses = getattr(config.option, "numprocesses", None)
    return bool(numprocesses) and getattr(config.option, "dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Controller side: hand every worker the folder its locks live in."""
    folder = getattr(node.config, "_onestop_lock_dir", None)
    if folder is not None:
        node.workerinput[_LOCK_DIR] = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_onestop_lock_dir", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _flock(path, mode):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    folder = getattr(item.config, "workerinput", {}).get(_LOCK_DIR)
    if folder is None:
        return (yield)
    turnstile, running = os.path.join(folder, "turnstile"), os.path.join(folder, "running")
    if item.get_closest_marker(ALONE):
        with _flock(turnstile, fcntl.LOCK_EX), _flock(running, fcntl.LOCK_EX):
            return (yield)
    with _flock(turnstile, fcntl.LOCK_EX):
        pass  # wait behind an `alone` test that is waiting for its turn
    with _flock(running, fcntl.LOCK_SH):
        return (yield)


def worker_slot() -> tuple[int, int]:
    """(this worker's index, how many workers): (0, 1) without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not name.startswith("gw"):
        return 0, 1
    return int(name[2:]) % count, count
