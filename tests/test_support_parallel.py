"""The suite's order under xdist: files with `alone` tests first, then the longest files, each file's tests in
their own order (its `alone` tests first)."""

import json
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
