"""Running the suite in parallel (pytest-xdist) without making its timing tests dishonest.

A test marked ``alone`` asserts how long something took (a limit that holds, /healthz answering
under load, a quick script done before slow ones reach their limit) with a margin a busy neighbour
could eat, or needs the whole machine to prove a limit (a memory budget reached within a time
budget): it must not share the machine's cores, nor PostgreSQL's connections, with another test.
A test that loads the machine but asserts no time (gunicorn under eight clients, the corpus through
gunicorn) is not ``alone``: a test beside it only makes its load harsher, and the ordinary tests
beside it assert no time. Nor is a test whose timed work takes a small part of its limit, or whose
limit is a lower bound (waited at least so long), which a busy machine cannot break. Under
xdist, every test takes a lock in a folder the workers share: an ordinary test a shared one for
its whole run (setup, call, teardown); a test marked ``alone`` an exclusive one for its call, which
so runs alone while the other workers wait, and a shared one for its setup and teardown (starting
and stopping servers measures nothing: the other workers keep working meanwhile). A turnstile in
front of the shared lock lets a waiting ``alone`` test in before the next ordinary test, so a
stream of ordinary tests cannot starve it; an ``alone`` test's setup passes it by, so that every
file's servers start together at the start of a run.
Without xdist (one process) there is nothing to take.

Whole files go to the workers (``--dist loadfile``) in the order of collection, which this plugin
sets. The files with ``alone`` tests come first: an ``alone`` test waits for the test the other
workers are running, a short one at the start, maybe a browser test of half a minute later. Then
the longest files first (their last known durations are in tests/durations.json), so that no long
file starts last and keeps one worker busy while the others have nothing left; a file not yet
measured is guessed from its number of tests (a browser file counts as long). Within a file, its
``alone`` tests come first and together: a worker keeps the exclusive lock from one ``alone`` test
to the next, so the others drain once per file, not once per test; the teardown and setup between two
of them run under it too, so a file's servers are best started in its first ``alone`` test's
setup (tests/security/test_budgets.py starts both of its servers there). A full run with
``ONESTOP_STORE_DURATIONS=1`` writes the durations again.

``worker_slot()`` tells each worker which share of a numbered resource (Redis's logical
databases) is its own.
"""

import collections
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ALONE = "alone"
_LOCK_DIR = "onestop_lock_dir"
DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"
_GUESS_PER_TEST = 0.3  # seconds: about the suite's mean
_GUESS_BROWSER = 10.0  # a browser file starts Chromium and a server, and walks whole pages


def pytest_configure(config):
    if not hasattr(config, "workerinput") and _xdist_active(config):
        config._onestop_lock_dir = tempfile.mkdtemp(prefix="onestop-xdist-")


def _xdist_active(config):
    numprocesses = getattr(config.option, "numprocesses", None)
    return bool(numprocesses) and getattr(config.option, "dist", "no") != "no"


def _known_durations() -> dict:
    try:
        return json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The longest files first (every worker sorts the same way: they must agree on the order)."""
    known = _known_durations()
    counts = collections.Counter(_module(item.nodeid) for item in items)

    def expected(module):
        if module in known:
            return known[module]
        return counts[module] * _GUESS_PER_TEST + (_GUESS_BROWSER if "/browser/" in module else 0.0)

    position = {module: n for n, module in enumerate(dict.fromkeys(_module(item.nodeid) for item in items))}
    # Files with `alone` tests first (they wait for short tests, not a browser test); within a file,
    # its `alone` tests first and together: they then wait once for the other workers.
    with_alone = {_module(item.nodeid) for item in items if item.get_closest_marker(ALONE)}
    items.sort(key=lambda item: (_module(item.nodeid) not in with_alone, -expected(_module(item.nodeid)),
                                 position[_module(item.nodeid)], item.get_closest_marker(ALONE) is None))


_spent: collections.Counter = collections.Counter()


def pytest_runtest_logreport(report):
    if os.environ.get("ONESTOP_STORE_DURATIONS") == "1":
        _spent[_module(report.nodeid)] += report.duration


def pytest_sessionfinish(session, exitstatus):
    """With ONESTOP_STORE_DURATIONS=1, after a run that passed: each file's time, for the next runs' order."""
    if os.environ.get("ONESTOP_STORE_DURATIONS") != "1" or hasattr(session.config, "workerinput"):
        return
    if exitstatus == 0 and _spent:
        durations = {module: round(seconds, 1) for module, seconds in sorted(_spent.items())}
        DURATIONS.write_text(json.dumps(durations, indent=1) + "\n")


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


_held: contextlib.ExitStack | None = None  # the exclusive locks, held across consecutive `alone` tests


@contextlib.contextmanager
def _flock(path, mode):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _lock_folder(item):
    return getattr(item.config, "workerinput", {}).get(_LOCK_DIR)


@contextlib.contextmanager
def _shared(folder):
    """Beside other ordinary tests, never beside an `alone` test's call."""
    with _flock(os.path.join(folder, "turnstile"), fcntl.LOCK_EX):
        pass  # wait behind an `alone` test that is waiting for its turn
    with _flock(os.path.join(folder, "running"), fcntl.LOCK_SH):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    folder = _lock_folder(item)
    if folder is None or item.get_closest_marker(ALONE):
        return (yield)  # an `alone` test takes its locks phase by phase (below)
    with _shared(folder):
        return (yield)


# An `alone` test's setup and teardown (starting and stopping its servers, creating and dropping its
# databases, PostgreSQL's first cluster of the worker) assert no time: they run beside ordinary tests
# as those run beside each other, so the other workers keep working. Only its call is exclusive:
# nothing else runs while it measures, nor while it loads the machine on purpose.


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    folder = _lock_folder(item)
    if folder is None or not item.get_closest_marker(ALONE) or _held is not None:
        return (yield)  # ordinary, or right after an `alone` test: under the lock already held
    # Past the turnstile: an `alone` test waiting for its call does not hold back another file's `alone`
    # setup (its servers' start) until after its own call, so every file's servers start at once at the
    # start of a run; it waits for them instead (a few, once per file, unlike a stream of ordinary tests).
    with _flock(os.path.join(folder, "running"), fcntl.LOCK_SH):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    global _held
    folder = _lock_folder(item)
    if folder is not None and item.get_closest_marker(ALONE) and _held is None:
        held = contextlib.ExitStack()
        held.enter_context(_flock(os.path.join(folder, "turnstile"), fcntl.LOCK_EX))
        held.enter_context(_flock(os.path.join(folder, "running"), fcntl.LOCK_EX))
        _held = held
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    global _held
    folder = _lock_folder(item)
    if folder is None or not item.get_closest_marker(ALONE):
        return (yield)
    if nextitem is not None and nextitem.get_closest_marker(ALONE) and _held is not None:
        # Kept for this worker's next test, `alone` too: each wait for the other workers to finish
        # what they run costs the time of their longest test.
        return (yield)
    if _held is not None:
        _held.close()
        _held = None
    with _shared(folder):
        return (yield)


def worker_slot() -> tuple[int, int]:
    """(this worker's index, how many workers): (0, 1) without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not name.startswith("gw"):
        return 0, 1
    return int(name[2:]) % count, count
