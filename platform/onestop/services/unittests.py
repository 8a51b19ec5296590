"""A draft's BPMN unit tests: the `test_<model>.json` files beside its model (SpiffArena's format, or
onestop's superset of it: engine.unittests), run on upload and from the draft's test page, each run
kept with every case's result and the elements it reached (the draft's coverage).

A test file belongs to the BPMN file of its name (test_<name>.json -> <name>.bpmn), as in
SpiffArena: its cases run on the draft's model when that file holds the process the draft starts,
else on the model compiled from the draft's files starting that file's process. A run takes at
most RUN_SECONDS of wall-clock time in all, and every engine step the engine's budgets.

Administrators also write cases by doing: a finished practice dossier becomes a case (what was
submitted at each task, in which lane, the end it reached and its final data) saved into the
draft's test file like any other edit (drafts.save: compare-and-set, audited).
"""

import json
import re
import time
from dataclasses import dataclass, field

from ..db import write_transaction
from ..engine import SourceFile, is_test_file, process_of, read_test_file, run_cases
from ..models import DraftTestRun, User
from . import drafts, practice, procedures
from .errors import Conflict, Forbidden, Invalid, NotFound
from .procedures import checked_model
from .runtime import engine, on_behalf_of

MAX_TEST_FILES = 20
RUN_SECONDS = 20.0  # all the test files of one run, wall-clock; each engine step has its own budgets
_CASE_NAME = re.compile(r"^[\w .:-]{1,80}$")


@dataclass
class TestReport:
    """One run of a draft's tests."""

    __test__ = False

    draft_id: int
    revision: int
    origin: str
    ran_at: object = None
    ran_by: str | None = None
    results: list = field(default_factory=list)  # CaseResult.as_dict() each
    problems: list = field(default_factory=list)  # {"file", "message"}: files that could not run

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r["passed"])

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed + len(self.problems)


def test_files(files) -> list:
    """The unit-test files among a draft's files."""
    return [f for f in files if is_test_file(f.name)]


def run(actor, draft_id, origin="page", max_bytes=5 * 1024 * 1024) -> TestReport | None:
    """Run the draft's test files and keep the run; None when the draft has none."""
    if not actor.has_role(*drafts.DRAFT_ROLES):
        raise Forbidden("only an administrator runs a draft's tests")
    state = drafts.state(actor, draft_id)
    tests = test_files(state.files)
    if not tests:
        return None
    report = TestReport(draft_id, state.revision, origin)
    with on_behalf_of(actor.centre_id):
        _run_files(report, list(state.files), tests, max_bytes)
    with write_transaction():
        row = DraftTestRun.create(draft=draft_id, ran_by=actor.id, revision=state.revision, origin=origin[:16],
                                  passed=report.passed, failed=report.failed,
                                  results=report.results + [{"problem": p} for p in report.problems])
    report.ran_at, report.ran_by = row.ran_at, actor.display_name or actor.username
    return report


def run_uploaded(actor, files, version, max_bytes=5 * 1024 * 1024):
    """The test_*.json among uploaded `files` run on the stored version's model: a TestReport, or
    None without test files. The run is answered, not kept: an API upload has no draft."""
    tests = test_files(files)
    if not tests:
        return None
    report = TestReport(0, 0, "upload")
    with on_behalf_of(actor.centre_id):
        _run_files(report, files, tests, max_bytes, procedures.model_for(version))
    return report


def _run_files(report, files, tests, max_bytes, model=None):
    try:
        model = model or checked_model(files, max_bytes=max_bytes)
    except Invalid as exc:
        report.problems.append({"file": None, "message": "the model was refused, so no test ran: " + "; ".join(
            str(p.get("message")) for p in (exc.details or [])[:3])})
        return
    if len(tests) > MAX_TEST_FILES:
        report.problems.append({"file": None, "message": f"only the first {MAX_TEST_FILES} test files ran"})
    deadline = time.monotonic() + RUN_SECONDS
    for test in tests[:MAX_TEST_FILES]:
        read = read_test_file(test.name, test.content)
        if read.problem:
            report.problems.append({"file": test.name, "message": read.problem})
            continue
        try:
            target = _model_for(read.bpmn, files, model, max_bytes)
        except Invalid as exc:
            report.problems.append({"file": test.name, "message": exc.message})
            continue
        report.results.extend(r.as_dict() for r in run_cases(engine(), target, read.cases,
                                                                 seconds=max(deadline - time.monotonic(), 0)))


def _model_for(bpmn: str, files, model, max_bytes):
    """The model a test file's cases run on: its BPMN file's process."""
    source = next((f for f in files if f.name == bpmn), None)
    if source is None:
        raise Invalid(f"there is no {bpmn} beside this test file (test_<name>.json tests <name>.bpmn)")
    process_id = process_of(source.content, source.name, max_bytes)
    if process_id is None or process_id == model.start_id or process_id in _primary_processes(files, model, max_bytes):
        return model
    return checked_model(files, process_id=process_id, max_bytes=max_bytes)


def _primary_processes(files, model, max_bytes) -> set:
    bpmn = primary_bpmn(files, model, max_bytes)
    return {process_of(bpmn.content, bpmn.name, max_bytes)} if bpmn else set()


def primary_bpmn(files, model, max_bytes=5 * 1024 * 1024) -> SourceFile | None:
    """The BPMN file holding the process the draft starts (the only one, or the one naming it)."""
    bpmns = [f for f in files if f.name.lower().endswith((".bpmn", ".bpmn20.xml", ".bpmn2"))]
    if len(bpmns) == 1:
        return bpmns[0]
    for f in bpmns:
        if process_of(f.content, f.name, max_bytes) == model.start_id:
            return f
    marker = f'id="{model.start_id}"'.encode()
    return next((f for f in bpmns if marker in f.content), bpmns[0] if bpmns else None)


def latest(actor, draft_id) -> TestReport | None:
    """The draft's last test run, or None."""
    drafts.state(actor, draft_id)
    row = DraftTestRun.select().where(DraftTestRun.draft == draft_id).order_by(DraftTestRun.id.desc()).first()
    if row is None:
        return None
    who = User.get_or_none(User.id == row.ran_by_id) if row.ran_by_id else None
    return TestReport(draft_id, row.revision, row.origin, row.ran_at,
                      (who.display_name or who.username) if who else None,
                      [r for r in row.results if "problem" not in r], [r["problem"] for r in row.results if "problem" in r])


def case_from_practice(actor, practice_id) -> dict:
    """A test case that does again what a finished practice dossier did: each task's submitted data
    in order, the lane it was offered in, the end event it reached and its final data."""
    row = practice.get(actor, practice_id)
    if row.state != "completed":
        raise Conflict("only a practice dossier that reached its end becomes a test case")
    tasks: dict = {}
    for entry in row.journal:
        task = tasks.setdefault(entry["element_id"], {"data": []})
        task["data"].append(entry["data"])
        if entry.get("lane"):
            task["lane"] = entry["lane"]
    return {"tasks": tasks, "expected_end_event": practice.end_event(row, practice.model_of(row)),
            "expected_output_json": row.data}


def add_case(actor, draft_id, practice_id, name, revision, max_bytes=5 * 1024 * 1024) -> int:
    """Save a finished practice dossier as the case `name` of the draft's test file (test_<model>.json,
    made if missing); returns the draft's new revision (Conflict if someone saved meanwhile)."""
    name = (name or "").strip()
    if not _CASE_NAME.match(name):
        raise Invalid("name the test case with 1 to 80 letters, digits, spaces or . : _ -")
    row = practice.get(actor, practice_id)
    if row.draft_id != draft_id:
        raise NotFound("no such practice dossier in this draft")
    case = case_from_practice(actor, practice_id)
    state, model = practice.draft_model(actor, draft_id, max_bytes)
    bpmn = primary_bpmn(list(state.files), model, max_bytes)
    file_name = "test_" + bpmn.name.rsplit(".", 1)[0] + ".json"
    existing = state.file(file_name)
    cases = {}
    if existing is not None:
        read = json.loads(existing.content) if not read_test_file(file_name, existing.content).problem else None
        if read is None:
            raise Invalid(f"{file_name} cannot be read; mend it before adding cases to it")
        cases = read
    if name in cases:
        raise Invalid(f"the test file already has a case named {name!r}")
    cases[name] = case
    content = json.dumps(cases, ensure_ascii=False, indent=2).encode()
    return drafts.save(actor, draft_id, {file_name: content}, revision, max_bytes)
