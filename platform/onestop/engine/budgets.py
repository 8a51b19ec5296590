"""Budgets for the work an uploaded model makes the engine do, so that no model can pin a thread.

An uploaded model is untrusted code. Besides its scripts and expressions (the sandbox's budget),
it decides how far away its timers are, how often a cycle fires, how many instances a
multi-instance task creates and how many steps the engine takes before the dossier waits. Each
is bounded here, by the same `Budgets` at upload (where the value is written in the model) and at
run time (where it comes from an expression, or from a dossier stored before the bound existed):

- a timer more than `max_timer_years` away, a date as far in the past, or a cycle shorter than
  `min_cycle_seconds` (an ISO 8601 cycle or a cron expression, engine.cron), is refused before
  SpiffWorkflow's duration arithmetic (which loops once per month of the duration) ever sees it;
- a multi-instance task creates at most `max_instances` instances (cardinality or collection);
- one advance of a workflow runs at most `max_automatic_steps` automatic steps and at most
  `max_step_seconds` of them, and never lets the task tree grow deeper than SpiffWorkflow can
  follow (its task iteration stops at depth 1000: a deeper workflow looked `completed`).

A budget that runs out raises `BudgetExceeded`: the dossier goes into error naming the element
and the limit, the same way a failing script does. Nothing here imports Flask or a database.
"""

from __future__ import annotations

import ast
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from . import cron
from .timeclock import aware_now

# SpiffWorkflow's TaskIterator (get_tasks, is_completed, do_engine_steps) stops at depth 1000;
# past it, ready tasks are not run and an unfinished workflow reports itself completed.
SPIFF_MAX_DEPTH = 1000
DEPTH_MARGIN = 50
MAX_TIMER_TEXT = 200
_DAY = 86_400
_UNIT_SECONDS = {"years": 365.25 * _DAY, "months": 30.44 * _DAY, "weeks": 7 * _DAY, "days": _DAY,
                 "hours": 3600, "minutes": 60, "seconds": 1}


@dataclass(frozen=True)
class Budgets:
    """The limits one engine applies; the defaults fit every bundled procedure many times over."""

    max_automatic_steps: int = 1_000
    max_step_seconds: float = 3.0
    max_instances: int = 1_000
    max_timer_years: int = 100
    min_cycle_seconds: int = 60
    # A timer is looked at no sooner than this after the step that set it (nor again sooner after a
    # look that could not fire it): a due time that stays in the past must not spin the timer worker.
    timer_retry_seconds: float = 1.0

    @property
    def max_timer_seconds(self) -> float:
        return self.max_timer_years * _UNIT_SECONDS["years"]


class BudgetExceeded(WorkflowTaskException):
    """A model asked for more than its budget: the dossier stops in error at `task`.

    `limit` names the budget (automatic_steps, step_seconds, depth, timer, instances), so that
    callers and tests can tell them apart without reading the message."""

    def __init__(self, limit: str, message: str, task=None):
        super().__init__(message, task=task)
        self.limit = limit


# -------------------------------------------------------------------------------- timers

def _duration_seconds(text: str) -> float:
    """The length of an ISO 8601 duration in seconds (months and years approximated), computed
    without SpiffWorkflow's month-by-month loop; ValueError if SpiffWorkflow would not take it."""
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)  # plain string splitting: cheap
    except Exception as exc:  # SpiffWorkflow raises a bare Exception for a malformed duration
        raise ValueError(f"{text!r} is not an ISO 8601 duration") from exc
    try:
        return sum(float(parsed.get(unit, 0)) * factor for unit, factor in _UNIT_SECONDS.items())
    except OverflowError:
        return float("inf")


def _date(text: str) -> datetime | None:
    """The date and time of a timer (aware UTC); None for a date at the very edge of the calendar
    that cannot be moved into UTC (year 1 read at UTC+7): certainly too far away."""
    try:
        value = TimerEventDefinition.parse_time_or_duration(text)
    except OverflowError:
        return None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time") from exc
    if not isinstance(value, datetime):
        raise ValueError(f"{text!r} is not an ISO 8601 date and time")
    return value


def _check_duration(text: str, budgets: Budgets, minimum: float = 0) -> str | None:
    seconds = _duration_seconds(text)
    if seconds > budgets.max_timer_seconds:
        return f"the duration {text} is longer than {budgets.max_timer_years} years"
    if seconds < minimum:
        return f"the cycle {text} repeats more often than once every {int(minimum)} seconds"
    return None


def _check_date(text: str, budgets: Budgets, now: datetime) -> str | None:
    when = _date(text)
    if when is None or abs(when - now) > timedelta(seconds=budgets.max_timer_seconds):
        return f"the date {text} is more than {budgets.max_timer_years} years away"
    return None


def check_timer(kind: str, value, budgets: Budgets, now: datetime | None = None) -> str | None:
    """Why a timer value may not be used (a plain sentence), or None when it is within budget.

    kind: "duration" (timeDuration), "date" (timeDate) or "cycle" (timeCycle), as SpiffWorkflow
    reads them. Only string splitting and one datetime parse happen here, whatever the value."""
    if not isinstance(value, str):
        return f"a timer must be ISO 8601 text, not {type(value).__name__}"
    text = value.strip()
    if len(text) > MAX_TIMER_TEXT:
        return f"the timer value is longer than {MAX_TIMER_TEXT} characters"
    now = now or aware_now()
    if cron.is_cron(text):
        if kind != "cycle":
            return f"{text} is a cron expression: it repeats, so it belongs in a cycle timer (timeCycle)"
        return cron.check(text, budgets.min_cycle_seconds, budgets.max_timer_seconds, now)
    try:
        if kind == "duration":
            return _check_duration(text, budgets)
        if kind == "date":
            if text.upper().startswith("P"):
                return f"{text} is a duration, but the timer expects a date (timeDate)"
            return _check_date(text, budgets, now)
        return _check_cycle(text, budgets, now)
    except ValueError as exc:
        return str(exc)


def _check_cycle(text: str, budgets: Budgets, now: datetime) -> str | None:
    # The same reading as SpiffWorkflow's parse_iso_recurring_interval: R[n]/start-or-duration[/end-or-duration].
    if not text.upper().startswith("R"):
        raise ValueError(f"{text!r} is not an ISO 8601 repeating interval (R/...)")
    components = text.upper().replace("--", "/").strip("R").split("/")
    if len(components) not in (2, 3) or not (components[0] == "" or components[0].isdigit()):
        raise ValueError(f"{text!r} is not an ISO 8601 repeating interval (R[n]/duration)")
    durations = [c for c in components[1:] if c.startswith("P")]
    if len(durations) != 1:
        raise ValueError(f"{text!r} must have exactly one duration (R[n]/duration, R[n]/start/duration)")
    for component in components[1:]:
        if component.startswith("P"):
            problem = _check_duration(component, budgets, minimum=budgets.min_cycle_seconds)
        else:
            problem = _check_date(component, budgets, now)
        if problem:
            return problem
    return None


def timer_kind(definition) -> str | None:
    """The kind check_timer expects for a SpiffWorkflow timer definition (None: not a timer)."""
    if isinstance(definition, CycleTimerEventDefinition):
        return "cycle"
    if isinstance(definition, DurationTimerEventDefinition):
        return "duration"
    if isinstance(definition, TimeDateEventDefinition):
        return "date"
    return None


def literal(python_text: str):
    """The constant an expression writes literally (a quoted string, a number), or None."""
    try:
        return ast.literal_eval(python_text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _timer_definitions(spec):
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if timer_kind(d)]
    return [definition] if timer_kind(definition) else []


def _timer_element(task, definition) -> str:
    """The element a timer belongs to: after an event-based gateway, the catch event waiting on it."""
    spec = task.task_spec
    if isinstance(spec, EventBasedGateway):  # its definitions are its branches' in order
        for output, theirs in zip(spec.outputs, spec.event_definition.event_definitions, strict=False):
            if theirs is definition:
                return getattr(output, "bpmn_id", None) or output.name
    return _element(task)


def _element(task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_id", None) or spec.name


def check_stored_timers(workflow_tasks, budgets: Budgets, now: datetime | None = None) -> None:
    """Look at the timers a stored workflow is waiting on before SpiffWorkflow refreshes them.

    A cycle stored before cycles were bounded (R/PT0S) fired on every refresh and grew the dossier
    without end: it now stops the dossier. A cycle that missed several occurrences while the
    server was down fires once, not once per missed occurrence."""
    now = now or aware_now()
    for task in workflow_tasks:
        if task.state != TaskState.WAITING:
            continue
        for definition in _timer_definitions(task.task_spec):
            if not isinstance(definition, CycleTimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            if not isinstance(value, dict) or value.get("cycles") == 0 or "cron" in value:
                continue  # a cron cycle was checked when it was read, and fires once for missed occurrences
            duration = value.get("duration") or 0
            if duration < budgets.min_cycle_seconds:
                raise BudgetExceeded("timer", f"timer cycle of {_element(task)} repeats every {duration:g} seconds; "
                                              f"the shortest cycle allowed is {budgets.min_cycle_seconds} seconds",
                                     task)
            try:
                due = datetime.fromisoformat(value["next"])
            except (KeyError, TypeError, ValueError):
                continue
            if due.tzinfo is None:
                due = due.replace(tzinfo=UTC)
            missed = int((now - due).total_seconds() // duration) if duration > 0 else 0
            if missed >= 1:
                cycles = value["cycles"]
                if cycles > 0:
                    missed = min(missed, cycles - 1)
                    value["cycles"] = cycles - missed
                value["next"] = (due + timedelta(seconds=duration * missed)).isoformat()


# -------------------------------------------------------------------------------- instances

_bounded_classes: dict = {}


def _bounded_class(cls):
    """A subclass of a data reference class whose get() refuses collections over the budget."""
    bounded = _bounded_classes.get(cls)
    if bounded is None:
        def get(self, my_task, *args, **kwargs):
            value = cls.get(self, my_task, *args, **kwargs)
            _check_instances(my_task, value, self._onestop_max_instances)
            return value

        bounded = _bounded_classes[cls] = type(f"Bounded{cls.__name__}", (cls,), {"get": get})
    return bounded


def _check_instances(task, value, limit):
    if isinstance(value, int | float) and not isinstance(value, bool):
        count = value
    else:
        try:
            count = len(value)
        except TypeError:
            return
    if count > limit:
        raise BudgetExceeded("instances", f"multi-instance {_element(task)} would create {count:g} instances; "
                                          f"at most {limit} are allowed", task)


def bound_specs(specs, budgets: Budgets) -> None:
    """Make every multi-instance input collection of these specs refuse more than the budget's
    instances when the task reads it (cardinalities are checked by BudgetedScriptEngine)."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            data_input = getattr(task_spec, "data_input", None)
            if data_input is None or not hasattr(data_input, "get"):
                continue
            if not type(data_input).__name__.startswith("Bounded"):
                data_input.__class__ = _bounded_class(type(data_input))
            data_input._onestop_max_instances = budgets.max_instances


# -------------------------------------------------------------------------------- expressions

class BudgetedScriptEngine:
    """The script engine a workflow runs with, checking what budgeted expressions return.

    It wraps the sandboxed script engine: a timer's value is checked before SpiffWorkflow
    computes anything from it, a multi-instance cardinality before any instance is created.
    Everything else is the wrapped engine's."""

    def __init__(self, inner, budgets: Budgets):
        self._inner = inner
        self.budgets = budgets

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def evaluate(self, task, expression, external_context=None):
        value = self._inner.evaluate(task, expression, external_context)
        spec = getattr(task, "task_spec", None)
        if spec is None:
            return value
        for definition in _timer_definitions(spec):
            if definition.expression == expression:
                problem = check_timer(timer_kind(definition), value, self.budgets)
                if problem:
                    raise BudgetExceeded("timer", f"timer of {_timer_element(task, definition)}: {problem}", task)
        if getattr(spec, "cardinality", None) == expression:
            _check_instances(task, value, self.budgets.max_instances)
        return value


# -------------------------------------------------------------------------------- steps

class PauseToPrune(Exception):  # noqa: N818 - a signal, not an error
    """Raised by StepCounter between two automatic steps so that the caller can prune the
    finished past before SpiffWorkflow goes on (every ready task stays ready)."""


class StepCounter:
    """Counts the automatic steps of one advance (SpiffWorkflow's did_complete_task callback) and
    stops the advance when a budget runs out."""

    def __init__(self, budgets: Budgets, prune_depth: int | None = None):
        self.budgets = budgets
        # Pause (PauseToPrune) once this advance has made the task tree prune_depth deeper.
        self.prune_depth = prune_depth
        self._prune_at = None
        self.started = time.monotonic()
        self.steps = 0
        self.elements: Counter = Counter()
        self._depths: dict = {}

    def __call__(self, task):
        self.steps += 1
        if getattr(task.task_spec, "bpmn_id", None):
            self.elements[task.task_spec.bpmn_id] += 1
        budgets = self.budgets
        if self.steps > budgets.max_automatic_steps:
            raise BudgetExceeded("automatic_steps", f"automatic step limit: the process ran "
                                                    f"{budgets.max_automatic_steps} automatic steps without waiting "
                                                    f"for a person or an event ({self._loop()})", task)
        if time.monotonic() - self.started > budgets.max_step_seconds:
            raise BudgetExceeded("step_seconds", f"automatic work limit: the process worked for more than "
                                                 f"{budgets.max_step_seconds:g} seconds without waiting for a person "
                                                 f"or an event ({self._loop()})", task)
        depth = self._depth(task)
        if depth >= SPIFF_MAX_DEPTH - DEPTH_MARGIN:
            if self.steps * 2 >= depth:  # this advance made the tree that deep: a loop without a wait
                message = (f"automatic step limit: the process ran {self.steps} automatic steps without waiting "
                           f"for a person or an event, as many in a row as the engine can follow ({self._loop()})")
            else:
                message = (f"depth limit: the process has gone {depth} steps deep and the engine cannot prune "
                           f"what is finished; it cannot follow it further ({self._loop()})")
            raise BudgetExceeded("depth", message, task)
        if self.prune_depth:
            if self._prune_at is None:
                self._prune_at = depth + self.prune_depth
            elif depth >= self._prune_at:
                self._prune_at = None  # measured again from the next step, in the pruned tree
                raise PauseToPrune()

    def pruned(self):
        """The tree was re-rooted: depths known so far are off."""
        self._depths.clear()

    def _depth(self, task) -> int:
        parent = task.parent
        known = self._depths.get(parent.id) if parent is not None else -1
        depth = known + 1 if known is not None else task.depth
        self._depths[task.id] = depth
        return depth

    def _loop(self) -> str:
        most = self.elements.most_common(3)
        return "most repeated: " + ", ".join(f"{element} ({count}×)" for element, count in most)

    def check_finished(self, workflow_tasks) -> None:
        """A workflow that reports itself completed while tasks are unfinished went deeper than
        SpiffWorkflow follows: refuse to call that completed."""
        for task in workflow_tasks:
            if task.state & TaskState.NOT_FINISHED_MASK:
                raise BudgetExceeded("depth", f"depth limit: the process went more than {SPIFF_MAX_DEPTH} steps "
                                              f"deep; the engine lost track of {_element(task)}", task)
