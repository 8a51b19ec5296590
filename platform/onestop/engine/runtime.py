"""Moving a workflow from one persisted state to the next.

Each public method takes the model and the dossier's stored state text, does one thing
(start, complete a task, deliver a message, fire due timers) and returns a `Step`: the new state
text and everything the services persist beside it (ready tasks, waiting events, finished
elements, data, error). Nothing here touches a database or a web request.
"""

import functools
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from .. import clock as clocks
from .. import jsontext
from . import datastores, failures, serial, timeclock
from .budgets import (
    BudgetedScriptEngine,
    Budgets,
    PauseToPrune,
    StepCounter,
    bound_specs,
    check_stored_timers,
)
from .compact import compact, prunable
from .messages import DeliveredMessage, is_message
from .parsing import ParsedModel, parse_model
from .positioning import leading_to, steer_gateways
from .rounds import do_engine_steps
from .sandbox import Sandbox, ScriptError, make_script_engine
from .service_tasks import ServiceCall, call_of, is_waiting_call, merge_result

log = logging.getLogger("onestop.engine")

MAX_ADVANCE_ROUNDS = 200
# How often (in look-ups of live workflows) the share that found theirs is logged.
LIVE_LOG_EVERY = 1000
# How many persons' tasks `position` completes on its way to the named one at most.
MAX_POSITION_STEPS = 200
_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Within one advance, the finished past is pruned whenever the automatic steps have made the
# task tree this much deeper: only a loop does that (a procedure's steps are a few dozen at most),
# and pruning while SpiffWorkflow runs may reorder when it refreshes timers.
PRUNE_DEPTH = 50
EVENT_TYPES = {
    "TimerEventDefinition": "timer",
    "TimeDateEventDefinition": "timer",
    "DurationTimerEventDefinition": "timer",
    "CycleTimerEventDefinition": "timer",
    "MessageEventDefinition": "message",
    "SignalEventDefinition": "signal",
    "ConditionalEventDefinition": "conditional",
    "ErrorEventDefinition": "error",
    "EscalationEventDefinition": "escalation",
    "CancelEventDefinition": "cancel",
    "MultipleEventDefinition": "multiple",
}


class EngineError(Exception):
    """A request the workflow cannot take in its current state."""


class TaskNotReady(EngineError):
    """The task does not exist in this dossier or is no longer waiting for a person."""


class NotWaiting(EngineError):
    """Nothing in the dossier waits for the event that was sent."""


@dataclass
class TaskInfo:
    id: str
    element_id: str
    name: str
    lane: str | None
    form: str | None


@dataclass
class WaitInfo:
    task_id: str
    element_id: str
    type: str
    name: str | None
    due_at: datetime | None
    message: str | None = None  # a message wait: the message's name
    # A message wait with correlation properties, once the workflow is correlated: the correlation
    # keys' values a message must carry to be caught ({key: {property: value}}).
    correlations: dict = field(default_factory=dict)


@dataclass
class Finished:
    task_id: str
    element_id: str
    name: str | None
    state: str
    at: datetime


class _StateText:
    """Step.state: the state's text, or (given None with `state_utf8`) its UTF-8 decoded when first read. On SQLite
    the step stores the bytes orjson wrote and the dossier keeps them (models.Utf8TextField): the text of a state
    (~8 kB, its data Vietnamese) is made only if something reads it."""

    def __set_name__(self, owner, name):
        self.slot = "_" + name

    def __get__(self, step, owner=None):
        if step is None:
            raise AttributeError(self.slot)  # (to dataclasses: a field without a default)
        text = step.__dict__[self.slot]
        if text is None and step.state_utf8 is not None:
            text = step.__dict__[self.slot] = step.state_utf8.decode()
        return text

    def __set__(self, step, value):
        step.__dict__[self.slot] = value


@dataclass
class Step:
    """The outcome of one engine step, and everything persisted beside the new state."""

    state: str = _StateText()  # (None with state_utf8 given: decoded from it when read)
    status: str
    data: dict
    ready: list = field(default_factory=list)
    ready_added: list = field(default_factory=list)
    ready_removed: list = field(default_factory=list)
    waiting: list = field(default_factory=list)
    waiting_changed: bool = True
    finished: list = field(default_factory=list)
    error: dict | None = None
    next_timer_at: datetime | None = None
    # Service calls that became pending in this step (the services layer carries them out), and the
    # task ids of every call still pending after it.
    service_calls: list[ServiceCall] = field(default_factory=list)
    pending_services: list[str] = field(default_factory=list)
    services_changed: bool = False  # whether calls were pending before or after it (rows to look at)
    workflow: object = field(default=None, repr=False)
    table_writes: dict = field(default_factory=dict)  # lookup table name -> the value the step wrote (datastores)
    # The UTF-8 of `data`'s JSON text as stored (sql.to_json's), when copying it made it; None: not made.
    data_utf8: bytes | None = field(default=None, repr=False)
    # `state`'s UTF-8 when orjson wrote it (serial.dump_workflow_or_utf8), for SQLite to store as it is.
    state_utf8: bytes | None = field(default=None, repr=False)

    def state_is_text(self) -> bool:
        """Whether `state` has been made text (given, or read since): else only `state_utf8` holds it."""
        return self.__dict__["_state"] is not None
    # The scan of `workflow` that ended the step, while it still holds for the workflow as stored (the
    # pruning after it dropped no subprocess): `Engine.keep` keeps it beside the live workflow, so that the
    # next step's "before" and the live cache's task ids need no walk of the tasks of their own.
    scan: object = field(default=None, repr=False)

    @property
    def data_text(self) -> str | None:
        """`data`'s JSON text as stored (sql.to_json's), when copying it made it; None: not made. (Made from
        `data_utf8` when asked: SQLite stores those bytes as they are.)"""
        return None if self.data_utf8 is None else self.data_utf8.decode()


def _take_apart(workflow) -> None:
    """Break the reference cycles of a workflow evicted from the live cache (its tasks and it point at each
    other, and so do a subprocess's), so that it is freed at once, by its last reference going, instead of by
    the garbage collector (~5 us of CPU). Evicted workflows had lived long enough to reach the collector's
    oldest generation: under load they were most of what its full passes walked and freed (~30,000 objects a
    pass), and a full pass stops every thread of the process (docs/performance.md, section 2). It was kept
    ``live_size`` steps ago, so no step runs it any more (one whose step is still held is not kept again:
    `Engine.keep`); the specs it points to are shared and untouched."""
    for sub in list(getattr(workflow, "subprocesses", {}).values()):
        vars(sub).clear()
    vars(workflow).clear()


def _business_time(wall_seconds: float) -> datetime:
    """When SpiffWorkflow's wall-clock stamp happened, on the clock of the step under way."""
    return timeclock.current().at(wall_seconds)


def _on_clock(method):
    """Run an engine step with SpiffWorkflow's timers (and every time the step records) on the
    engine's clock."""
    @functools.wraps(method)
    def stepping(self, *args, **kwargs):
        with timeclock.stepping_on(self.clock):
            return method(self, *args, **kwargs)
    return stepping


def json_safe(value):
    """Task data as plain JSON types (datetimes become ISO text) for storage and the API. A number
    JSON cannot hold (a script's NaN or infinity) becomes null, as JavaScript's JSON.stringify does.
    Plain JSON types are copied through orjson (jsontext.plain_copy: the same copy, several times
    faster); anything else goes through the standard library."""
    return jsontext.plain_copy(value, _standard_safe)


def json_safe_and_utf8(value):
    """(json_safe(value), the UTF-8 of its stored text (sql.to_json's) as orjson wrote it while copying, or None)."""
    return jsontext.plain_copy_and_utf8(value, _standard_safe)


def _standard_safe(value):
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False), parse_constant=lambda _name: None)


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _error_message(exc) -> str:
    if isinstance(exc, ScriptError):
        return exc.args[0]
    parts = [str(exc.args[0]) if exc.args else type(exc).__name__]
    inner = getattr(exc, "exception", None)
    if inner is not None and str(inner) and str(inner) not in parts[0]:
        parts.append(str(inner.args[0]) if isinstance(inner, ScriptError) else f"{type(inner).__name__}: {inner}")
    for note in getattr(exc, "__notes__", []) or []:
        if note not in parts:
            parts.append(note)
    return failures.plain("; ".join(p for p in parts if p))[:2000]


def _error_element(exc, workflow):
    task = getattr(exc, "task", None)
    if task is not None:
        return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    spec = getattr(exc, "task_spec", None)
    if spec is not None:
        return getattr(spec, "bpmn_id", None) or spec.name
    failed = workflow.get_tasks(state=TaskState.ERROR)
    return failed[0].task_spec.bpmn_id if failed else None


@dataclass
class _Wait:
    task: object
    element_id: str
    name: str | None
    definition: object

    @property
    def kind(self):
        if is_message(self.definition):  # the dialects' message events are onestop's subclasses (engine.messages)
            return "message"
        return EVENT_TYPES.get(type(self.definition).__name__, "event")


def _due(task, definition) -> datetime | None:
    try:
        value = definition.details(task).value
    except Exception:  # an unevaluated or odd timer: look again shortly rather than never
        return None
    if isinstance(value, str):
        try:
            return TimerEventDefinition.get_datetime(value).astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):  # OverflowError: year 1 read at UTC+7
            return None
    return None


@dataclass(frozen=True)
class Stored:
    """A dossier's persisted workflow: a cache key, the serial of the stored state, and a way to
    read the state text (called only when the workflow is not already live in this process)."""

    key: object
    serial: int
    load_text: Callable[[], str]


@dataclass
class _Scan:
    ready: list
    waits: list
    finished: list
    engine_ready: bool
    calls: list = field(default_factory=list)  # tasks waiting for a service call
    started: float = 0.0


class Engine:
    """Parses models (cached by content) and runs workflows with the sandboxed script engine.

    Workflows of recently stepped dossiers stay live in a bounded per-process cache keyed by
    the dossier and validated by its serial, so the next step skips deserialization. A step
    takes the workflow out of the cache (no two threads ever share one); the caller puts it
    back with `keep` once the new state is safely stored. `offers(task_id)` tells the caller,
    before it reads the dossier, whether a live workflow here offers that task: when none does
    (the dossier's last step ran in another process), it reads the stored state with the task
    rather than in a second query. `live_counts()` says how often steps found their workflow.

    `compact_at`: the finished past is pruned (engine.compact) before a state is stored once the
    task tree holds this many tasks; 1 (the default) prunes at every step, so that a step loads and
    stores only what can still matter, however long the dossier's past; 0 never prunes.
    """

    def __init__(self, sandbox: Sandbox | None = None, cache_size: int = 512, live_size: int = 256,
                 compact_at: int = 1, budgets: Budgets | None = None, clock: clocks.Clock | None = None):
        # SpiffWorkflow logs every task state change at INFO: costly and noise in our logs.
        logging.getLogger("spiff").setLevel(logging.WARNING)
        # SpiffWorkflow asks its loggers' own level, not the effective one, whether to add every task
        # of the workflow (and a task's data) to a record's extras (`logger.level < 20`): at NOTSET
        # (0) every start and every (sub)workflow's end walked the task tree for a record never logged.
        for name in ("spiff.workflow", "spiff.task"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)
        self.sandbox = sandbox or Sandbox()
        self.budgets = budgets or Budgets()
        # Timer values and cardinalities are checked against the budgets as they are evaluated.
        self.script_engine = BudgetedScriptEngine(make_script_engine(self.sandbox), self.budgets)
        self._models = OrderedDict()
        self._cache_size = cache_size
        self._live = OrderedDict()  # key -> (serial, workflow, ids of the person's tasks it offers, its _Scan)
        self._live_size = live_size
        self._live_tasks = {}  # id of a person's task a live workflow offers -> that workflow's key
        self._live_counts = {"live": 0, "absent": 0, "stale": 0}
        self.compact_at = compact_at
        self._lock = threading.Lock()
        # The business time of its steps and timers: this clock, or (None) the one the process binds.
        self.clock = clock

    def close(self):
        counts = self.live_counts()
        if any(counts.values()):  # a worker's last word on its live workflows (the app closes its engine at exit)
            log.info("live workflows: %d of %d steps found theirs in this process (%d absent, %d stale)",
                     counts["live"], sum(counts.values()), counts["absent"], counts["stale"])
        self.sandbox.close()

    def on_clock(self, clock: clocks.Clock) -> "Engine":
        """An engine whose steps run on `clock`, sharing this one's sandbox, budgets and parsed models
        (a test case's or a practice dossier's own time, which jumps over waits). It keeps no live
        workflow; closing it is closing this one."""
        sibling = Engine(self.sandbox, cache_size=self._cache_size, live_size=0, compact_at=self.compact_at,
                         budgets=self.budgets, clock=clock)
        sibling._models, sibling._lock = self._models, self._lock
        return sibling

    # models -------------------------------------------------------------------------------

    @_on_clock
    def parse(self, files, process_id=None, **options) -> ParsedModel:
        """Check and parse uploaded files (raises ModelError with every problem found)."""
        options.setdefault("budgets", self.budgets)
        return parse_model(files, process_id=process_id, **options)

    def model(self, key: str, loader) -> ParsedModel:
        """The parsed model under key, parsing it with loader() the first time it is needed."""
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        model = loader()
        if isinstance(model, ParsedModel):
            model.pack()  # what a step seldom reads kept as bytes while the model stays cached
        with self._lock:
            self._models[key] = model
            while len(self._models) > self._cache_size:
                self._models.popitem(last=False)
        return model

    # live workflows -----------------------------------------------------------------------

    def keep(self, key, serial: int, step: "Step"):
        """Remember a step's workflow as the live state of `key` at `serial` (after it was stored). A workflow
        taken apart since (evicted while its step was still held) is not kept."""
        if step.workflow is not None and vars(step.workflow):
            self._put(key, serial, step.workflow, getattr(step, "scan", None))

    def forget(self, keys):
        """Drop any live workflow kept under these keys (rows written without a live workflow, such
        as imported dossiers, must never meet a stale one kept under a reused key)."""
        with self._lock:
            for key in keys:
                self._drop(key)

    def offers(self, task_id) -> bool:
        """Whether a workflow live in this process offers the person's task `task_id` (a hint: the
        step still checks the dossier's serial)."""
        with self._lock:
            return self._live_tasks.get(str(task_id)) in self._live

    def live_counts(self) -> dict:
        """How many steps of stored dossiers found their workflow live here ("live"), found none
        ("absent": never here, evicted, or last stepped by another process) or found an older one
        ("stale": another process stepped the dossier since; never used)."""
        with self._lock:
            return dict(self._live_counts)

    def _put(self, key, serial, workflow, scan=None):
        """Keep `workflow` live under `key` at `serial` with a scan of it as it stands (`scan`, or one made
        now): the next step begins from it, and its ready tasks (READY and a person's) are those offered."""
        if scan is None:
            scan = _scan(workflow, 0.0)
        offered = [t.id for t in scan.ready]
        evicted = []
        with self._lock:
            self._drop(key)
            self._live[key] = (serial, workflow, offered, scan)
            for task_id in offered:
                self._live_tasks[task_id] = key
            while len(self._live) > self._live_size:
                oldest = next(iter(self._live))
                entry = self._drop(oldest)
                if oldest != key and entry[1] is not workflow:
                    evicted.append(entry[1])
        for old in evicted:
            _take_apart(old)

    def _drop(self, key):
        """Take `key`'s live workflow out of the cache (with the lock held); the entry, or None."""
        entry = self._live.pop(key, None)
        if entry is not None:
            for task_id in entry[2]:
                if self._live_tasks.get(task_id) == key:
                    del self._live_tasks[task_id]
        return entry

    def _count(self, entry, serial):
        """Count a look-up of a live workflow (with the lock held); log the share now and then."""
        kind = "absent" if entry is None else "live" if entry[0] == serial else "stale"
        counts = self._live_counts
        counts[kind] += 1
        total = counts["live"] + counts["absent"] + counts["stale"]
        if total % LIVE_LOG_EVERY == 0:
            log.info("live workflows: %d of %d steps so far found theirs in this process (%d absent, %d stale)",
                     counts["live"], total, counts["absent"], counts["stale"])

    def _checkout(self, model, state):
        """The workflow to step: the live one kept for this state, else one restored from it."""
        return self._checkout_kept(model, state)[0]

    def _checkout_scanned(self, model, state):
        """The workflow to step, and its scan before the step: when the workflow was live, the one it was kept
        with (nothing has changed the workflow since), else a new one."""
        workflow, kept = self._checkout_kept(model, state)
        return workflow, kept if kept is not None else _scan(workflow, 0.0)

    def _checkout_kept(self, model, state):
        """(the workflow to step, the scan it was kept with if it was live, else None)."""
        if isinstance(state, Stored):
            with self._lock:
                entry = self._drop(state.key)
                self._count(entry, state.serial)
            if entry is not None and entry[0] == state.serial:
                return entry[1], _before(entry[3])
            state = state.load_text()
        return self.load(model, state), None

    def _specs(self, model):
        if model.dialect == "camunda" or model.spec is None:
            # Camunda multi-instance specs rewrite themselves at run time: never share them.
            spec, subprocess_specs = serial.restore_specs(model.dialect, model.spec_json)
        else:
            spec, subprocess_specs = model.spec, model.subprocess_specs
        bound_specs([spec, *subprocess_specs.values()], self.budgets)
        return spec, subprocess_specs

    # running ------------------------------------------------------------------------------

    @_on_clock
    def start(self, model: ParsedModel, data: dict | None = None) -> Step:
        """A new workflow of the model, run until it waits for a person or an event."""
        spec, subprocess_specs = self._specs(model)
        started = clocks.wall_seconds()
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        if data:
            workflow.task_tree.data.update(data)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(data)
        return self._advance(model, workflow, started, before=_Scan([], [], [], False))

    def load(self, model: ParsedModel, state: str):
        """A workflow rebuilt from its state text (never from the live cache)."""
        spec, subprocess_specs = self._specs(model)
        workflow = serial.load_workflow(model.dialect, spec, subprocess_specs, state)
        workflow.script_engine = self.script_engine
        return workflow

    @_on_clock
    def complete_task(self, model: ParsedModel, state, task_id: str, data: dict) -> Step:
        """Complete a ready human task with the submitted data and run on. `state`: text or Stored."""
        workflow, before = self._checkout_scanned(model, state)
        try:
            task = self._ready_task(workflow, task_id)
        except TaskNotReady:
            if isinstance(state, Stored):  # untouched: it is still the stored state
                self._put(state.key, state.serial, workflow, before)
            raise
        started = clocks.wall_seconds()
        task.set_data(**data)
        try:
            task.run()
        except Exception as exc:  # a post-script can fail: the dossier records it
            return self._failed(model, workflow, exc, started, before)
        return self._advance(model, workflow, started, before)

    @_on_clock
    def complete_service(self, model: ParsedModel, state, task_id: str, data) -> Step:
        """A pending service call answered: its result goes under the task's result variable, or
        (none given, a dict) is merged into the task's data, and the workflow runs on."""
        workflow, task = self._pending_call(state, model, task_id)
        before = _scan(workflow, 0.0)
        started = clocks.wall_seconds()
        try:
            merge_result(task, data)
            task.complete()
        except Exception as exc:  # a post-script can fail: the dossier records it
            return self._failed(model, workflow, exc, started, before)
        return self._advance(model, workflow, started, before)

    @_on_clock
    def fail_service(self, model: ParsedModel, state, task_id: str, message: str) -> Step:
        """A pending service call failed for good: the workflow goes into error at that task with
        `message` (plain words for the back office's incidents); `retry` makes the call pending again,
        `skip` runs on without its result."""
        workflow, task = self._pending_call(state, model, task_id)
        before = _scan(workflow, 0.0)
        started = clocks.wall_seconds()
        task.error()
        error = {"element_id": task.task_spec.bpmn_id, "message": str(message)[:2000]}
        return self._snapshot(model, workflow, before, _scan(workflow, started, model.element_forms), error=error)

    @_on_clock
    def service_error(self, model: ParsedModel, state, task_id: str, code: str, data: dict | None = None) -> Step:
        """A pending service call answered with a BPMN error (`code`): an error boundary event of the
        task that catches the code (or every error) takes it, with `data` merged into its data, and
        the workflow runs on from there. NotWaiting when none catches it (the workflow untouched)."""
        workflow, task = self._pending_call(state, model, task_id)
        before = _scan(workflow, 0.0)
        event = BpmnEvent(ErrorEventDefinition(code, code=code), payload=dict(data or {}))
        catching = [w for w in before.waits if w.kind == "error" and w.task.parent is task.parent
                    and w.task.task_spec.catches(w.task, event)]
        if not catching:
            if isinstance(state, Stored):
                self._put(state.key, state.serial, workflow)
            raise NotWaiting(f"no error boundary event of {task.task_spec.bpmn_id} catches the error code {code!r}")
        started = clocks.wall_seconds()
        try:
            catching[0].task.task_spec.catch(catching[0].task, event)
            catching[0].task.task_spec._update(catching[0].task)
        except Exception as exc:
            return self._failed(model, workflow, exc, started, before)
        return self._advance(model, workflow, started, before)

    def _pending_call(self, state, model, task_id):
        workflow = self._checkout(model, state)
        try:
            task = workflow.get_task_from_id(serial.task_id_of(workflow, str(task_id)))
        except (ValueError, KeyError, SpiffWorkflowException):
            task = None
        if task is None or not is_waiting_call(task):
            if isinstance(state, Stored):  # untouched: it is still the stored state
                self._put(state.key, state.serial, workflow)
            raise TaskNotReady(f"task {task_id} is not waiting for a service call")
        return workflow, task

    def task_data(self, model: ParsedModel, state, task_id: str) -> dict:
        """The variables a ready task sees."""
        if isinstance(state, Stored):
            with self._lock:  # a live workflow is only read while it sits in the cache: nobody steps it then
                entry = self._live.get(state.key)
                if entry is not None and entry[0] == state.serial:
                    return json_safe(self._ready_task(entry[1], task_id).data)
            state = state.load_text()
        return json_safe(self._ready_task(self.load(model, state), task_id).data)

    @_on_clock
    def deliver_message(self, model, state, name, payload=None, to=None) -> Step:
        """Deliver a BPMN message (by name or id) from outside to the catch event(s) waiting for it;
        its payload lands in the data as the model's dialect means it (engine.messages). Raises
        NotWaiting if nothing waits for it, or nothing whose correlation the payload matches."""
        workflow = self._checkout(model, state)
        return self._deliver(model, workflow, name, payload, to, clocks.wall_seconds())

    @_on_clock
    def start_by_message(self, model: ParsedModel, name: str, payload=None) -> Step:
        """A new workflow of a model whose process starts with message `name` (its name or id),
        started by that message with its payload. Raises NotWaiting if the process does not start
        with it."""
        if _message_name(model, name) not in model.start_messages():
            raise NotWaiting(f"the process does not start with message {name!r}")
        spec, subprocess_specs = self._specs(model)
        started = clocks.wall_seconds()
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        nothing = _Scan([], [], [], False)
        first = self._advance(model, workflow, started, before=nothing)
        if first.error:
            return first
        return self._deliver(model, workflow, name, payload, None, started, before=nothing)

    def message_correlations(self, model: ParsedModel, name: str, payload: dict) -> dict:
        """The correlation keys' values a payload of message `name` carries, read with the model's
        retrieval expressions ({key: {property: value}}; {} when the message declares none or the
        payload lacks them). Used to find the dossier a message is for without loading workflows."""
        wanted = _message_name(model, name)
        for spec in [model.spec, *(model.subprocess_specs or {}).values()]:
            for task_spec in (spec.task_specs.values() if spec is not None else ()):
                definition = getattr(task_spec, "event_definition", None)
                if is_message(definition) and definition.name == wanted and definition.correlation_properties:
                    try:
                        return definition.calculate_correlations(self.script_engine, definition.correlation_properties,
                                                                 dict(payload or {}))
                    except Exception:  # a payload without the property: it correlates with nothing
                        return {}
        return {}

    def _deliver(self, model, workflow, name, payload, to, started, before=None) -> Step:
        """Deliver a message to a checked-out workflow; `before`: what the step's answer compares
        with (by default, the workflow as it waits now)."""
        now = _scan(workflow, 0.0)
        before = before or now
        wanted = {name, _message_name(model, name)}
        targets = [w for w in now.waits
                   if w.kind == "message" and w.definition.name in wanted and (to is None or w.element_id == to)]
        if not targets:
            where = f" at {to}" if to else ""
            raise NotWaiting(f"the dossier is not waiting for message {name!r}{where}")
        definition, payload = targets[0].definition, payload or {}
        try:
            try:
                correlations = definition.get_correlations(targets[0].task, payload)
            except Exception:  # a retrieval expression the payload cannot answer
                names = ", ".join(sorted({p.name for p in definition.correlation_properties}))
                raise NotWaiting(f"message {name!r} must carry its correlation properties ({names})") from None
            event = DeliveredMessage(definition, payload=payload, correlations=correlations)
            catching = [w for w in targets if w.task.task_spec.catches(w.task, event)]
            if not catching:
                raise NotWaiting(f"message {name!r} does not match what the dossier waits for (correlation)")
            if to is None:
                workflow.send_event(event)
            else:
                for wait in catching:
                    wait.task.task_spec.catch(wait.task, event)
                    wait.task.task_spec._update(wait.task)
        except NotWaiting:
            raise
        except Exception as exc:
            return self._failed(model, workflow, exc, started, before)
        return self._advance(model, workflow, started, before)

    @_on_clock
    def cancel(self, model: ParsedModel, state) -> Step:
        """End the workflow where it stands (withdrawn, stopped, not accepted): every open task is cancelled."""
        workflow = self._checkout(model, state)
        before = _scan(workflow, 0.0)
        live = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        open_ids = {str(t.id) for t in _all_tasks(workflow) if t.state & live}
        started = clocks.wall_seconds()
        workflow.cancel()
        step = self._snapshot(model, workflow, before, _scan(workflow, started, model.element_forms), cancelled=True)
        # The history shows what was under way, not every step the process might still have taken.
        step.finished = [f for f in step.finished if f.task_id in open_ids]
        return step

    @_on_clock
    def migrate(self, model: ParsedModel, state) -> Step:
        """Carry a running workflow onto another version of its model: its tasks keep their ids,
        states and data, and what remains follows the new model. Raises EngineError when a task
        of the workflow names an element the new model lacks. (Which changes are safe is decided
        by the caller, comparing the versions.)"""
        text = state.load_text() if isinstance(state, Stored) else state
        try:
            workflow = self.load(model, text)
        except (KeyError, AttributeError, TypeError, ValueError, SpiffWorkflowException) as exc:
            raise EngineError(f"the running workflow does not fit the new version: {_error_message(exc)}") from None
        before = _scan(workflow, 0.0)
        return self._advance(model, workflow, clocks.wall_seconds(), before)

    def retry(self, model: ParsedModel, state) -> Step:
        """Run the failed step(s) of a workflow in error again (after a transient failure, or once
        the data it needed was set right)."""
        return self._recover(model, state, skip=False)

    def skip(self, model: ParsedModel, state) -> Step:
        """Mark the failed step(s) of a workflow in error as done without running them, and run on."""
        return self._recover(model, state, skip=True)

    @_on_clock
    def _recover(self, model, state, skip):
        workflow = self._checkout(model, state)
        failed = [t for t in _all_tasks(workflow) if t.state == TaskState.ERROR]
        if not failed:
            raise NotWaiting("no step of this workflow has failed")
        before = _scan(workflow, 0.0)
        started = clocks.wall_seconds()
        try:
            for task in failed:
                if skip:
                    task.complete()
                else:
                    task._set_state(TaskState.READY)
                    datastores.reread_inputs(task)  # a task that failed reading a lookup table reads it now
                    task.run()
        except Exception as exc:  # the step fails again: the dossier records it again
            return self._failed(model, workflow, exc, started, before)
        return self._advance(model, workflow, started, before)

    def human_steps(self, model: ParsedModel) -> dict:
        """The persons' tasks of the model and its subprocesses: element id -> name (its id if unnamed)."""
        spec, subprocess_specs = self._specs(model)
        return {t.bpmn_id: t.bpmn_name or t.bpmn_id for s in [spec, *subprocess_specs.values()]
                for t in s.task_specs.values() if getattr(t, "bpmn_id", None) and t.manual}

    @_on_clock
    def position(self, model: ParsedModel, element_id: str, data: dict | None = None) -> Step:
        """A new workflow brought to the point where the person's task `element_id` waits to be
        done (a dossier taken over from another system at the step it had reached there). From the
        start, each person's task waiting on the way that leads on to the named one is completed
        with the data as it stands (nothing new is submitted), and the automatic steps between run
        as usual; an exclusive gateway on the way takes a branch that leads on to the step (the one
        its conditions choose if they can, else the first such: the dossier did take that path).
        The answer's `ready_added` holds every task waiting at the end and its `finished` is empty:
        the steps walked through were done elsewhere. EngineError, saying why, when the model has no
        such task or no path from the start reaches it (the process waits for an event on the way,
        another kind of gateway turns away, a script on the way fails, or the process ends)."""
        # Specs of its own: their gateways are steered toward the step for this walk only.
        spec, subprocess_specs = serial.restore_specs(model.dialect, model.spec_json)
        bound_specs([spec, *subprocess_specs.values()], self.budgets)
        onward = leading_to(spec, subprocess_specs, element_id)
        if onward is None:
            raise EngineError(f"{element_id} is not a person's task of the process")
        steer_gateways([spec, *subprocess_specs.values()], onward)
        nothing = _Scan([], [], [], False)
        started = clocks.wall_seconds()
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        if data:
            workflow.task_tree.data.update(data)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(data)
        step = self._advance(model, workflow, started, before=nothing)
        for _ in range(MAX_POSITION_STEPS):
            if step.error:
                raise EngineError(f"the process stopped at {step.error['element_id']} before reaching {element_id}: "
                                  f"{step.error['message']}")
            if step.status != "active":
                raise EngineError(f"the process ends before reaching {element_id} with this data")
            ready = [t for t in _all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]
            if any(t.task_spec.bpmn_id == element_id for t in ready):
                return self._snapshot(model, workflow, nothing, _scan(workflow, 0.0, model.element_forms))
            leading = [t for t in ready if id(t.task_spec) in onward]
            if not leading:
                where = ", ".join(sorted({t.task_spec.bpmn_id for t in ready})) or "an event"
                raise EngineError(f"{element_id} cannot be reached from where the process waits ({where}) "
                                  "with this data")
            try:
                leading[0].run()
            except Exception as exc:  # a post-script on the way: said as the element it stopped at
                raise EngineError(f"the process stopped at {leading[0].task_spec.bpmn_id} before reaching "
                                  f"{element_id}: {_error_message(exc)}") from None
            step = self._advance(model, workflow, started, before=nothing)
        raise EngineError(f"{element_id} is not reached within {MAX_POSITION_STEPS} steps")

    def copy_positioned(self, step: Step, data: dict | None = None) -> Step:
        """Another workflow in the same place as `step` (from `position`), with task ids of its own
        and `data` (plain JSON values) added to every task's data: many dossiers at the same step of
        the same model share one `position` and cost a copy each."""
        doc = json.loads(step.state)
        if data:
            for tasks in [doc.get("tasks", {}), *(s.get("tasks", {}) for s in doc.get("subprocesses", {}).values())]:
                for task in tasks.values():
                    task.setdefault("data", {}).update(data)
        fresh = {}

        def renamed(match):
            old = match.group(0)
            new = fresh.get(old)
            if new is None:
                new = fresh[old] = str(uuid4())
            return new

        text = _TASK_ID.sub(renamed, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        ready = [TaskInfo(fresh.get(t.id, t.id), t.element_id, t.name, t.lane, t.form) for t in step.ready]
        waiting = [WaitInfo(fresh.get(w.task_id, w.task_id), w.element_id, w.type, w.name, w.due_at, w.message,
                            dict(w.correlations)) for w in step.waiting]
        return Step(state=text, status=step.status, data=json_safe({**step.data, **(data or {})}), ready=ready,
                    ready_added=list(ready), waiting=waiting, waiting_changed=bool(waiting),
                    next_timer_at=step.next_timer_at)

    @_on_clock
    def fire_timers(self, model: ParsedModel, state) -> Step:
        """Let every due timer fire and run on."""
        workflow = self._checkout(model, state)
        before = _scan(workflow, 0.0)
        return self._advance(model, workflow, clocks.wall_seconds(), before, refresh_first=True)

    # internals ----------------------------------------------------------------------------

    def _ready_task(self, workflow, task_id):
        try:
            task = workflow.get_task_from_id(serial.task_id_of(workflow, str(task_id)))
        except (ValueError, KeyError, SpiffWorkflowException):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(f"task {task_id} is not waiting to be done")
        return task

    def _advance(self, model, workflow, started, before, refresh_first=False):
        # Many automatic steps in a row: the finished past is pruned on the way (as after a step),
        # so that each step costs the same and the tree never outgrows SpiffWorkflow's reach.
        counter = StepCounter(self.budgets, prune_depth=PRUNE_DEPTH if self.compact_at and prunable(workflow) else None)
        pruned = []  # elements finished in this advance whose tasks were pruned meanwhile
        try:
            # Before SpiffWorkflow refreshes any timer: a stored cycle may predate the budgets.
            check_stored_timers(_all_tasks(workflow), self.budgets)
            if refresh_first:
                workflow.refresh_timers()
            rounds = 0
            while rounds < MAX_ADVANCE_ROUNDS:
                try:
                    do_engine_steps(workflow, did_complete_task=counter)
                except PauseToPrune:
                    pruned.extend(_scan(workflow, started).finished)
                    if compact(workflow, 0):
                        counter.pruned()
                    continue
                rounds += 1
                after = _scan(workflow, started, model.element_forms)
                if not after.engine_ready:
                    break
            if workflow.is_completed():
                counter.check_finished(workflow.tasks.values())
        except Exception as exc:  # any failure of the model stops this dossier only
            return self._failed(model, workflow, exc, started, before, pruned)
        return self._snapshot(model, workflow, before, _with_pruned(after, pruned))

    def _failed(self, model, workflow, exc, started, before, pruned=()):
        error = {"element_id": _error_element(exc, workflow), "message": _error_message(exc)}
        if not isinstance(exc, SpiffWorkflowException | WorkflowException | ScriptError):
            # A Python exception says nothing an administrator can act on: name the step instead.
            element_id, message = failures.run_failure(exc)
            error = {"element_id": element_id or error["element_id"], "message": message}
        after = _with_pruned(_scan(workflow, started, model.element_forms), pruned)
        return self._snapshot(model, workflow, before, after, error=error)

    def _snapshot(self, model, workflow, before, after, error=None, cancelled=False):
        ready = [] if error or cancelled else after.ready
        waits = [] if error or cancelled else after.waits
        waiting, next_due = [], None
        now = timeclock.current().now()
        known = serial.id_texts(workflow)
        for wait in waits:
            due = None
            if wait.kind == "timer":
                due = _due(wait.task, wait.definition) or (now + timedelta(seconds=30))
                next_due = due if next_due is None else min(next_due, due)
            info = WaitInfo(serial.id_text(known, wait.task.id), wait.element_id, wait.kind, wait.name, due)
            if wait.kind == "message":
                info.message = wait.definition.name
                if getattr(wait.definition, "correlation_properties", None):
                    info.correlations = json_safe(wait.task.workflow.correlations)
            waiting.append(info)
        # A pending service call is a wait too (for the dossier's pages): of kind "external" or "connector".
        waited_calls = [] if error or cancelled else after.calls
        waiting += [WaitInfo(str(t.id), t.task_spec.bpmn_id, t.task_spec.service["kind"], t.task_spec.bpmn_name, None)
                    for t in waited_calls]
        if next_due is not None:
            next_due = max(next_due, now + timedelta(seconds=self.budgets.timer_retry_seconds))
        if error is not None:
            status = "error"
        elif cancelled:
            status = "cancelled"
        elif workflow.is_completed():
            status = "completed"
        else:
            status = "active"
        if status == "completed":
            data = workflow.data
        elif workflow.last_task is not None:
            data = workflow.last_task.data
        else:
            data = workflow.task_tree.data
        subprocesses = len(workflow.subprocesses)
        if status == "active" and self.compact_at:
            compact(workflow, self.compact_at)
        # Pruning drops finished tasks only (every unfinished one descends from the new root), and
        # whole subprocesses whose task went with them: unless it dropped one, `after` still holds.
        still = after if len(workflow.subprocesses) == subprocesses else None
        before_ready = {t.id for t in before.ready}
        after_ready = {t.id for t in ready}
        calls = [] if cancelled else after.calls
        threshold = after.started - 0.000001
        source = data
        data, data_utf8 = json_safe_and_utf8(data)
        # orjson wrote the data's text: it is plain, which the dump need not ask again (at the end, it is the
        # workflow's data the state holds).
        state, state_utf8 = serial.dump_workflow_or_utf8(model.dialect, workflow,
                                                         plain_data=source if data_utf8 is not None else None)
        return Step(
            state=state,
            state_utf8=state_utf8,
            status=status,
            data=data,
            data_utf8=data_utf8,
            ready=ready,
            ready_added=[t for t in ready if t.id not in before_ready],
            ready_removed=sorted(before_ready - after_ready),
            waiting=waiting,
            waiting_changed=bool(before.waits or waits or before.calls or waited_calls),
            finished=sorted(after.finished, key=lambda f: f.at),
            error=error,
            next_timer_at=next_due if status == "active" else None,
            service_calls=[call_of(t, json_safe) for t in calls if after.started and t.last_state_change >= threshold],
            pending_services=[str(t.id) for t in calls],
            services_changed=bool(before.calls or calls),
            workflow=workflow,
            table_writes=datastores.pending_writes(),
            scan=still,
        )


def _message_name(model, name) -> str:
    """A message's name, given its name or its id."""
    return model.messages.get(name, name)


def _with_pruned(after: "_Scan", pruned) -> "_Scan":
    """The scan with the finished elements of tasks pruned during the advance put back."""
    if pruned:
        seen = {f.task_id for f in after.finished}
        after.finished = [f for f in pruned if f.task_id not in seen and not seen.add(f.task_id)] + after.finished
    return after


def _before(after: "_Scan") -> "_Scan":
    """A step's closing scan as the next step's opening one (`_scan(workflow, 0.0)` of the same workflow):
    the same ready tasks, waits and pending calls (the same task objects); nothing finished since."""
    return _Scan(list(after.ready), list(after.waits), [], after.engine_ready, list(after.calls))


def _all_tasks(workflow):
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def _scan(workflow, started: float, forms=None) -> _Scan:
    """One pass over every task: ready human tasks, waits, elements finished since `started`."""
    ready, waits, finished, calls, engine_ready = [], [], [], [], False
    threshold = started - 0.000001
    known = serial.id_texts(workflow)  # the ids' text as the load read it (or the last dump made it)
    for task in _all_tasks(workflow):
        state, spec = task.state, task.task_spec
        if state == TaskState.READY:
            if spec.manual:
                ready.append(TaskInfo(serial.id_text(known, task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id,
                                      spec.lane, forms.get(spec.bpmn_id) if forms else None))
            else:
                engine_ready = True
        elif state == TaskState.STARTED:
            if is_waiting_call(task):
                calls.append(task)
        elif state == TaskState.WAITING:
            definition = getattr(spec, "event_definition", None)
            if definition is None:
                continue
            if isinstance(definition, MultipleEventDefinition):
                branches = spec.outputs if isinstance(spec, EventBasedGateway) else [spec] * len(definition.event_definitions)
                for branch, sub in zip(branches, definition.event_definitions, strict=False):
                    waits.append(_Wait(task, branch.bpmn_id, branch.bpmn_name or getattr(sub, "name", None), sub))
            else:
                waits.append(_Wait(task, spec.bpmn_id, spec.bpmn_name or getattr(definition, "name", None), definition))
        elif state & (TaskState.COMPLETED | TaskState.CANCELLED) and started and spec.bpmn_id is not None \
                and task.last_state_change >= threshold:
            if state == TaskState.CANCELLED and isinstance(spec, UnstructuredJoin):
                continue  # the engine's bookkeeping for a branch that arrived second at a join
            finished.append(Finished(serial.id_text(known, task.id), spec.bpmn_id, spec.bpmn_name,
                                     "completed" if state == TaskState.COMPLETED else "cancelled",
                                     _business_time(task.last_state_change)))
    return _Scan(ready, waits, finished, engine_ready, calls, started)
