"""The suite's order under xdist: files with `alone` tests first, then the longest files, each file's tests in
their own order (its `alone` tests first)."""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from tests.support import parallel

ROOT = Path(__file__).resolve().parents[1]


def _items(*nodeids, alone=()):
    def marker(nodeid):
        return lambda name: "alone" if name == "alone" and nodeid in alone else None

    return [SimpleNamespace(nodeid=nodeid, get_closest_marker=marker(nodeid)) for nodeid in nodeids]


def test_the_longest_files_are_handed_out_first_and_each_keeps_its_tests_in_order(tmp_path, monkeypatch):
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"tests/test_quick.py": 1.0, "tests/test_slow.py": 30.0}))
    monkeypatch.setattr(parallel, "DURATIONS", durations)
    items = _items("tests/test_quick.py::test_a", "tests/test_quick.py::test_b", "tests/test_slow.py::test_c",
                   "tests/test_slow.py::test_d", "tests/browser/test_page.py::test_e",
                   "tests/test_new.py::test_f")

    parallel.pytest_collection_modifyitems(None, items)

    assert [item.nodeid.split("::")[1] for item in items] == ["test_c", "test_d", "test_e", "test_a", "test_b",
                                                               "test_f"]


def test_a_file_never_measured_is_guessed_from_its_number_of_tests(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "DURATIONS", tmp_path / "missing.json")
    items = _items("tests/test_one.py::test_a", "tests/test_many.py::test_b", "tests/test_many.py::test_c")

    parallel.pytest_collection_modifyitems(None, items)

    assert [item.nodeid for item in items][0].startswith("tests/test_many.py")


def test_every_file_the_durations_name_still_exists():
    assert [name for name in json.loads(parallel.DURATIONS.read_text()) if not (ROOT / name).is_file()] == []


def test_a_files_alone_tests_come_first_and_together(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "DURATIONS", tmp_path / "missing.json")
    items = _items("tests/test_x.py::test_a", "tests/test_x.py::test_b", "tests/test_x.py::test_c",
                   "tests/test_x.py::test_d", alone=("tests/test_x.py::test_b", "tests/test_x.py::test_d"))

    parallel.pytest_collection_modifyitems(None, items)

    assert [item.nodeid.split("::")[1] for item in items] == ["test_b", "test_d", "test_a", "test_c"]


def test_files_with_alone_tests_are_handed_out_before_longer_files_without(tmp_path, monkeypatch):
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"tests/test_timed.py": 2.0, "tests/test_long.py": 30.0,
                                     "tests/test_short.py": 1.0}))
    monkeypatch.setattr(parallel, "DURATIONS", durations)
    items = _items("tests/test_long.py::test_a", "tests/test_short.py::test_b", "tests/test_timed.py::test_c",
                   "tests/test_timed.py::test_d", alone=("tests/test_timed.py::test_d",))

    parallel.pytest_collection_modifyitems(None, items)

    assert [item.nodeid.split("::")[1] for item in items] == ["test_d", "test_c", "test_a", "test_b"]


_BESIDE = {
    "conftest.py": '''
pytest_plugins = ["tests.support.parallel"]


def pytest_configure(config):
    config.addinivalue_line("markers", "alone: runs with no other test beside it")
''',
    "test_timed.py": '''
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def wait_for(name):
    deadline = time.monotonic() + 20
    while not (HERE / name).exists():
        assert time.monotonic() < deadline, f"{name} never appeared"
        time.sleep(0.01)


@pytest.fixture
def server():
    wait_for("ordinary-running")  # its servers start while the other worker runs an ordinary test
    (HERE / "alone-set-up").touch()
    yield


@pytest.mark.alone
def test_timed(server):
    assert not (HERE / "ordinary-running").exists()  # the call waited for the ordinary test to end
    (HERE / "timing").touch()
    time.sleep(0.2)  # a window in which an ordinary test would start if nothing held it back
    (HERE / "timing").unlink()
''',
    "test_ordinary.py": '''
import time
from pathlib import Path

HERE = Path(__file__).parent


def test_one():
    (HERE / "ordinary-running").touch()
    deadline = time.monotonic() + 20
    while not (HERE / "alone-set-up").exists():
        assert time.monotonic() < deadline, "the alone test's setup never ran beside this test"
        time.sleep(0.01)
    (HERE / "ordinary-running").unlink()


def test_two():
    assert not (HERE / "timing").exists()
''',
}


def test_an_alone_tests_setup_runs_beside_ordinary_tests_and_its_call_beside_none(tmp_path):
    for name, text in _BESIDE.items():
        (tmp_path / name).write_text(text)
    # Only xdist and this plugin: the installed plugins (schemathesis, hypothesis...) cost seconds of CPU per worker.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.pop("ONESTOP_STORE_DURATIONS", None)  # else this small run's end writes the suite's tests/durations.json
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-p", "no:cacheprovider", "-n", "2",
                          "--dist", "loadfile", "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "3 passed" in run.stdout, run.stdout[-3000:]



def _hook_entered(hook, *args, seconds=0.5):
    """Whether a hook wrapper of the plugin got past its locks (to its ``yield``) within ``seconds``."""
    entered = threading.Event()

    def run():
        wrapper = hook(*args)
        next(wrapper)  # takes the locks
        entered.set()
        with contextlib.suppress(StopIteration):
            wrapper.send(None)  # releases them

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return entered.wait(seconds), thread


def test_an_alone_test_waiting_for_its_call_holds_back_ordinary_tests_but_not_another_files_setup(tmp_path):
    folder = str(tmp_path)
    config = SimpleNamespace(workerinput={parallel._LOCK_DIR: folder})
    alone = SimpleNamespace(config=config, get_closest_marker=lambda name: "alone" if name == "alone" else None)
    ordinary = SimpleNamespace(config=config, get_closest_marker=lambda name: None)
    # Another worker's `alone` test waits for its call: it holds the turnstile while the tests running
    # hold the shared lock.
    with parallel._flock(os.path.join(folder, "turnstile"), fcntl.LOCK_EX):
        servers_start, _ = _hook_entered(parallel.pytest_runtest_setup, alone)
        ordinary_starts, held_back = _hook_entered(parallel.pytest_runtest_protocol, ordinary, None)
        assert servers_start and not ordinary_starts
    held_back.join(5)
    assert not held_back.is_alive()  # it ran once the waiting test had its turn
