"""BPMN unit tests: the `test_<model>.json` files SpiffArena keeps beside a process model's BPMN,
and onestop's superset of them, run against a parsed model in the engine's own sandbox and budgets.

A test file holds test cases by name (SpiffArena's format)::

    {"<case name>": {
        "tasks": {"<task id>" or "<process id>:<task id>": {"data": [{...}, {...}]}},
        "expected_output_json": {...}}}

Each time the workflow offers a task, the task's next `data` entry is submitted (a task reached
twice takes the second entry); a user task reached without data fails the case, a manual task is
completed with no data. The case passes when the workflow completes and its final data equals
`expected_output_json`. onestop adds, all optional (SpiffArena ignores what it does not know):

* on a task: `"lane"` (the lane it must be offered in) and `"role"` (the role that lane maps to in
  procedure.json "lanes");
* the start event's id in `"tasks"`: its first data entry is what the applicant submits to start;
* `"expected_end_event"`: the id of the end event the dossier must finish at;
* `"messages"`: {"<message name>": [payload, ...]} delivered, in order, when the workflow waits for
  that message and no task is ready;
* `"expected_output_json"` may be left out: the case then checks only where the dossier goes.
  SpiffArena's `"mocks"` are not supported: onestop's scripts call no backend functions.

When nothing is ready but timers, the case's own clock jumps to the earliest one and fires it, so a
case runs through a procedure's waits in milliseconds. Each engine step keeps the engine's budgets
(an endless loop, a runaway script is stopped and fails its case naming the element); on top, a case
takes at most MAX_CASE_STEPS steps and a whole run `seconds` of wall-clock time.

A result says why a case failed as data (`reason`: a kind, the element, what was expected and
what came), so that pages can say it in the administrator's language, and lists the elements the
case reached, for the coverage of a draft.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from .. import boundedjson
from ..clock import ShiftedClock
from .problems import ModelError
from .runtime import NotWaiting
from .xml import parse_xml

MAX_CASES = 100
MAX_CASE_STEPS = 200
DEFAULT_RUN_SECONDS = 30.0
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NEEDS_DATA = {"UserTask"}


def is_test_file(name: str) -> bool:
    """A SpiffArena unit-test file: test_<something>.json."""
    lower = name.rsplit("/", 1)[-1].lower()
    return lower.startswith("test_") and lower.endswith(".json") and len(lower) > len("test_.json")


def bpmn_name(test_file: str) -> str:
    """The BPMN file a test file belongs to: test_<name>.json -> <name>.bpmn."""
    return test_file.rsplit("/", 1)[-1][len("test_"):-len(".json")] + ".bpmn"


@dataclass
class TestCase:
    """One case of a test file."""

    __test__ = False  # not a pytest class

    file: str
    name: str
    tasks: dict = field(default_factory=dict)  # key -> {"data": [...], "lane": str, "role": str}
    expected_output: dict | None = None
    expected_end: str | None = None
    messages: dict = field(default_factory=dict)  # message name -> [payload, ...]


@dataclass
class TestFile:
    """A test file read: its cases, or why it cannot be read."""

    __test__ = False

    name: str
    bpmn: str
    cases: list = field(default_factory=list)
    problem: str | None = None


@dataclass
class CaseResult:
    """How a case went: passed, or the reason it failed, and the elements it reached."""

    file: str
    case: str
    passed: bool
    reason: dict | None = None  # {"kind", "message" (English), "element_id", "expected", "got", ...}
    reached: list = field(default_factory=list)  # element ids, in the order first reached
    end_event: str | None = None
    steps: int = 0

    def as_dict(self) -> dict:
        return {"file": self.file, "case": self.case, "passed": self.passed, "reason": self.reason,
                "reached": self.reached, "end_event": self.end_event, "steps": self.steps}


def read_test_file(name: str, content: bytes) -> TestFile:
    """The cases of a test file, or the file with `problem` saying why it cannot be read."""
    result = TestFile(name, bpmn_name(name))
    try:
        data = boundedjson.loads(content)
    except boundedjson.Refused as exc:
        result.problem = f"{name}: {exc.message}"
        return result
    if not isinstance(data, dict):
        result.problem = f"{name} must hold a JSON object of test cases by name"
        return result
    if len(data) > MAX_CASES:
        result.problem = f"{name} holds {len(data)} test cases; at most {MAX_CASES}"
        return result
    for case_name, body in data.items():
        problem = _case_problem(body)
        if problem:
            result.problem = f"{name}, case {case_name!r}: {problem}"
            return result
        result.cases.append(TestCase(
            name, str(case_name), dict(body.get("tasks") or {}), body.get("expected_output_json"),
            body.get("expected_end_event"), dict(body.get("messages") or {})))
    return result


def _case_problem(body) -> str | None:
    if not isinstance(body, dict):
        return "a test case must be a JSON object"
    tasks = body.get("tasks", {})
    if not isinstance(tasks, dict):
        return '"tasks" must map task ids to {"data": [...]}'
    for key, task in tasks.items():
        if not isinstance(task, dict):
            return f'task {key!r} must be an object like {{"data": [{{...}}]}}'
        entries = task.get("data", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return f'"data" of task {key!r} must be a list of objects'
        if any(not isinstance(task.get(k, ""), str) for k in ("lane", "role")):
            return f'"lane" and "role" of task {key!r} must be text'
    if not isinstance(body.get("expected_output_json", {}), dict):
        return '"expected_output_json" must be an object'
    if not isinstance(body.get("expected_end_event", ""), str):
        return '"expected_end_event" must be the id of an end event'
    messages = body.get("messages", {})
    if not isinstance(messages, dict) or not all(
            isinstance(v, list) and all(isinstance(p, dict) for p in v) for v in messages.values()):
        return '"messages" must map message names to lists of payload objects'
    return None


def process_of(content: bytes, name: str, max_bytes: int) -> str | None:
    """The id of the executable process a BPMN file defines (the first one), or None."""
    try:
        root = parse_xml(content, name, max_bytes)
    except ModelError:
        return None
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable", "true").lower() == "true" and process.get("id"):
            return process.get("id")
    return None


def run_cases(engine, model, cases, seconds: float = DEFAULT_RUN_SECONDS) -> list[CaseResult]:
    """Run each case on a fresh workflow of `model` with `engine`'s sandbox and budgets. Cases left
    when `seconds` of wall-clock time have passed fail without running."""
    deadline = time.monotonic() + seconds
    results = []
    for case in cases:
        if time.monotonic() > deadline:
            results.append(CaseResult(case.file, case.name, False, _reason(
                "time", f"the test run took longer than {seconds:g} seconds; this case did not run")))
            continue
        try:
            results.append(_CaseRun(engine, model, case, deadline).run())
        except Exception as exc:  # an uploaded model is untrusted: whatever it does fails its case alone
            results.append(CaseResult(case.file, case.name, False, _reason(
                "error", f"the case could not run: {type(exc).__name__}", got=type(exc).__name__)))
    return results


def _reason(kind, message, element_id=None, **details) -> dict:
    return {"kind": kind, "message": message, "element_id": element_id, **details}


class _Failed(Exception):  # noqa: N818 - carries a case's reason, not an error of the runner
    def __init__(self, reason: dict):
        super().__init__(reason["message"])
        self.reason = reason


class _CaseRun:
    """One case on its own workflow, with its own clock (its timers fire when it needs them)."""

    def __init__(self, engine, model, case: TestCase, deadline: float):
        self.clock = ShiftedClock()
        self.engine = engine.on_clock(self.clock)
        self.model, self.case, self.deadline = model, case, deadline
        self.elements = model.elements()
        self.used: Counter = Counter()
        self.messages_used: Counter = Counter()
        self.reached: list = []
        self.steps = 0

    def run(self) -> CaseResult:
        result = CaseResult(self.case.file, self.case.name, False)
        try:
            step = self.engine.start(self.model, self._start_data())
            step = self._walk(step)
            result.end_event = self._end_event()
            self._check_end(step, result.end_event)
            result.passed = True
        except _Failed as failed:
            result.reason = failed.reason
            result.end_event = result.end_event or self._end_event()
        result.reached, result.steps = self.reached, self.steps
        return result

    def _start_data(self) -> dict:
        for key in self.case.tasks:
            element = self.elements.get(key.rsplit(":", 1)[-1])
            if element and element["type"] == "StartEvent":
                entries = self.case.tasks[key].get("data") or [{}]
                self._reach(key.rsplit(":", 1)[-1])
                return dict(entries[0])
        return {}

    def _walk(self, step):
        while True:
            self._record(step)
            if step.status == "error":
                error = step.error or {}
                raise _Failed(_reason("error", f"the model failed at {error.get('element_id')}: "
                                               f"{error.get('message')}", error.get("element_id"),
                                      got=error.get("message")))
            if step.status != "active":
                return step
            self.steps += 1
            if self.steps > MAX_CASE_STEPS:
                raise _Failed(_reason("steps", f"the case took more than {MAX_CASE_STEPS} steps without the "
                                               "process finishing", step.ready[0].element_id if step.ready else None))
            if time.monotonic() > self.deadline:
                raise _Failed(_reason("time", "the test run ran out of time during this case"))
            step = self._next(step)

    def _next(self, step):
        if step.ready:
            task = step.ready[0]
            data = self._data_for(task)
            return self.engine.complete_task(self.model, step.state, task.id, data)
        if any(w.type == "message" for w in step.waiting):
            for name, payloads in self.case.messages.items():
                if self.messages_used[name] >= len(payloads):
                    continue
                try:
                    delivered = self.engine.deliver_message(self.model, step.state, name,
                                                            payloads[self.messages_used[name]])
                except NotWaiting:
                    continue
                self.messages_used[name] += 1
                return delivered
        timers = [w.due_at for w in step.waiting if w.type == "timer" and w.due_at is not None]
        if timers:
            ahead = (min(timers) - self.clock.now()).total_seconds()
            self.clock.advance(max(ahead, 0) + 1)
            return self.engine.fire_timers(self.model, step.state)
        where = step.waiting[0].element_id if step.waiting else None
        raise _Failed(_reason("stuck", "the process stopped waiting for something the case does not give"
                                       + (f" ({step.waiting[0].type} at {where})" if where else ""), where))

    def _data_for(self, task) -> dict:
        key = self._key(task.element_id)
        wanted = self.case.tasks.get(key) if key else None
        self._check_lane(task, wanted or {})
        entries = (wanted or {}).get("data")
        element_type = self.elements.get(task.element_id, {}).get("type")
        if entries is None:
            if element_type in NEEDS_DATA:
                raise _Failed(_reason("no_data", f"the case gives no data for the user task {task.element_id}",
                                      task.element_id))
            return {}
        index = self.used[key]
        if index >= len(entries):
            raise _Failed(_reason("data_exhausted", f"task {task.element_id} was reached {index + 1} times but the "
                                                    f"case gives data for {len(entries)}", task.element_id,
                                  expected=len(entries), got=index + 1))
        self.used[key] += 1
        return dict(entries[index])

    def _key(self, element_id) -> str | None:
        if element_id in self.case.tasks:
            return element_id
        return next((k for k in self.case.tasks if k.rsplit(":", 1)[-1] == element_id), None)

    def _check_lane(self, task, wanted: dict):
        lane = wanted.get("lane")
        if lane and lane != task.lane:
            raise _Failed(_reason("lane", f"task {task.element_id} was offered in lane {task.lane!r}, "
                                          f"not {lane!r}", task.element_id, expected=lane, got=task.lane))
        role = wanted.get("role")
        lanes = (self.model.metadata or {}).get("lanes")
        got = lanes.get(task.lane) if isinstance(lanes, dict) and task.lane else None
        if role and role != got:
            raise _Failed(_reason("role", f"task {task.element_id} is done by the role {got!r}, not {role!r}",
                                  task.element_id, expected=role, got=got))

    def _record(self, step):
        for finished in step.finished:
            if finished.state == "completed":
                self._reach(finished.element_id)
        for task in step.ready:
            self._reach(task.element_id)
        for wait in step.waiting:
            self._reach(wait.element_id)
        if step.error and step.error.get("element_id"):
            self._reach(step.error["element_id"])

    def _reach(self, element_id):
        if element_id and element_id not in self.reached:
            self.reached.append(element_id)

    def _end_event(self) -> str | None:
        ends = [e for e in self.reached if self.elements.get(e, {}).get("type") == "EndEvent"]
        return ends[-1] if ends else None

    def _check_end(self, step, end_event):
        if step.status != "completed":
            raise _Failed(_reason("not_completed", f"the process ended {step.status}, not completed"))
        expected_end = self.case.expected_end
        if expected_end and expected_end != end_event:
            raise _Failed(_reason("end_event", f"the process finished at {end_event}, not {expected_end}",
                                  end_event, expected=expected_end, got=end_event))
        expected = self.case.expected_output
        if expected is not None and expected != step.data:
            raise _Failed(_reason("output", "the final data differs from expected_output_json: "
                                  + "; ".join(_differences(expected, step.data)), None,
                                  expected=expected, got=step.data, differences=_differences(expected, step.data)))


MAX_DIFFERENCES = 5


def _differences(expected: dict, got: dict) -> list[str]:
    """The first few keys whose values differ, each as "key: expected X, got Y"."""
    out = []
    for key in sorted(set(expected) | set(got), key=str):
        if expected.get(key, _ABSENT) != got.get(key, _ABSENT):
            out.append(f"{key}: expected {_shown(expected.get(key, _ABSENT))}, got {_shown(got.get(key, _ABSENT))}")
            if len(out) == MAX_DIFFERENCES:
                break
    return out


_ABSENT = object()


def _shown(value, limit=80) -> str:
    if value is _ABSENT:
        return "(nothing)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"

