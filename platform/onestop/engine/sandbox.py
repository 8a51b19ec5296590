"""Sandbox for the code inside uploaded BPMN/DMN models.

Models are uploaded by administrators and are treated as untrusted code. SpiffWorkflow
runs two kinds of code through its script engine, and this module replaces both:

* **Expressions** (gateway conditions, timers, DMN cells, multi-instance cardinality,
  message payloads) are evaluated in this process by an allow-listed AST evaluator
  built on ``simpleeval``. Only names from task data and ``extra``, a fixed set of
  functions and a per-type list of attributes are reachable; sizes of numbers,
  strings, sequences and comprehensions are bounded. On top of that every evaluation
  has a budget (:class:`ExpressionBudget`) that no expression can bypass, because it is
  charged in the one method every node goes through: a number of steps, a wall-clock
  deadline, and the size of every value the expression builds (counted as a tree, so a
  list holding the same big value many times costs what its text would). A hostile
  expression stops with :class:`ExpressionLimitError` within the deadline and leaves
  nothing behind.
* **Scripts** (script tasks, pre/post scripts) run in a pool of long-lived child
  processes (:mod:`onestop.engine.sandbox_worker`) with RestrictedPython, resource
  limits and a wall-clock timeout enforced here. Results come back as JSON only. The
  caller names the tenant (a centre) a script runs for with :meth:`Sandbox.on_behalf_of`;
  one tenant holds at most its share of the workers, and a freed worker goes to the
  waiting tenant running the fewest scripts.

Neither kind of code can read a memory address: ``id`` and ``hash`` are refused, an
expression cannot turn a function into text, and a script's ``str``, ``repr``, f-strings,
``%`` and caught exceptions drop the address from default reprs.

:func:`check_expression` and :func:`check_script` apply the same rules at upload time.
:func:`make_script_engine` plugs the sandbox into SpiffWorkflow; note that the script
engine is not serialized, so it must be set again on every deserialized workflow.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import ctypes
import ctypes.util
import datetime as _dt
import functools
import gc
import itertools
import json
import operator as op
import os
import re
import select
import subprocess
import sys
import threading
import time
import types
import weakref
from dataclasses import dataclass

import simpleeval
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from onestop.engine import sandbox_worker
from onestop.engine.sandbox_worker import check_script, find_name_problems, format_problem, without_addresses

__all__ = [
    "Sandbox",
    "SandboxEnvironment",
    "SandboxScriptEngine",
    "ExpressionBudget",
    "ExpressionLimitError",
    "ScriptError",
    "ScriptNameError",
    "check_expression",
    "check_script",
    "make_script_engine",
]

MAX_EXPRESSION_LENGTH = 2_000
MAX_EXPRESSION_NODES = 500
MAX_STRING_LENGTH = 100_000
MAX_SEQUENCE_LENGTH = 10_000
MAX_INT_BITS = 20_000
MAX_FORMAT_NUMBER = 1_000
MAX_ROUND_DIGITS = 100
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_MESSAGE_LENGTH = 2_000
WORKER_START_TIMEOUT = 15.0
# Per evaluation: a wall-clock limit, the size of what an expression may build (in bytes as
# sys.getsizeof counts them, shared values counted each time they are held) and the number
# of evaluation steps (nodes, comprehension rounds included). A gateway condition takes a few
# microseconds, a few hundred bytes and a few dozen steps.
DEFAULT_EXPRESSION_TIMEOUT = 1.0
DEFAULT_EXPRESSION_MEMORY_MB = 32
MAX_EXPRESSION_STEPS = 1_000_000
# Script workers per process; each idle worker holds some 20 MB.
DEFAULT_POOL_SIZE = 4

# Only the worker file is given to the child; see sandbox_worker's docstring.
_WORKER_PATH = os.path.abspath(sandbox_worker.__file__)


class ScriptError(Exception):
    """A script or expression was refused or failed.

    ``message`` is plain text for the administrator (with "(line N)" when known),
    ``line`` the 1-based script line or None. ``args[0]`` is the message, which is
    what SpiffWorkflow puts into its ``WorkflowTaskException``.
    """

    def __init__(self, message: str, line: int | None = None):
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[:MAX_MESSAGE_LENGTH] + "…"
        super().__init__(message)
        self.message = message
        self.line = line


class ScriptNameError(ScriptError, NameError):
    """An undefined name; also a NameError so SpiffWorkflow adds its "did you mean" hint."""


class ExpressionLimitError(ScriptError):
    """An expression used up its budget (time, size or steps) and was stopped."""


@dataclass(frozen=True)
class ExpressionBudget:
    """What one expression evaluation may spend: seconds of wall-clock time, bytes of values
    built, and evaluation steps."""

    seconds: float = DEFAULT_EXPRESSION_TIMEOUT
    memory_bytes: int = DEFAULT_EXPRESSION_MEMORY_MB * 1024 * 1024
    steps: int = MAX_EXPRESSION_STEPS

    def __post_init__(self):
        if not (self.seconds > 0 and self.memory_bytes > 0 and self.steps > 0):
            raise ValueError("an expression budget must be positive")


# --------------------------------------------------------------------------- expressions


def _too_long(what: str, size: int, limit: int) -> simpleeval.IterableTooLong:
    return simpleeval.IterableTooLong(f"{what} would be too long ({size}, at most {limit})")


_SEQUENCES = (str, bytes, list, tuple)
_TEXTS = (str, bytes)


def _length_limit(*values) -> int:
    # Data may legitimately hold strings longer than the limit; operations may keep
    # them that size but not grow them further.
    longest = max((len(v) for v in values if isinstance(v, _SEQUENCES)), default=0)
    return max(MAX_STRING_LENGTH if any(isinstance(v, _TEXTS) for v in values) else MAX_SEQUENCE_LENGTH, longest)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value):
    if _is_int(value) and value.bit_length() > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh(f"the number is too large (more than {MAX_INT_BITS} bits)")
    return value


def _safe_add(a, b):
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        size = len(a) + len(b)
        if size > _length_limit(a, b):
            raise _too_long("the result", size, _length_limit(a, b))
    return _check_int(a + b)


def _safe_mult(a, b):
    for seq, count in ((a, b), (b, a)):
        if isinstance(seq, _SEQUENCES) and _is_int(count):
            size = len(seq) * max(count, 0)
            limit = MAX_STRING_LENGTH if isinstance(seq, _TEXTS) else MAX_SEQUENCE_LENGTH
            if size > limit:
                raise _too_long("the repeated value", size, limit)
            if not isinstance(seq, _TEXTS) and count > 1 and any(isinstance(x, list | dict | set | tuple) for x in seq):
                raise simpleeval.FeatureNotAvailable("repeating lists that contain lists or dicts is not allowed")
    if _is_int(a) and _is_int(b) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh(f"the product is too large (more than {MAX_INT_BITS} bits)")
    return a * b


def _safe_power(a, b):
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and b * a.bit_length() > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh(f"{a} ** {b} is too large")
    if isinstance(b, int | float) and abs(b) > 1_000_000 and not isinstance(a, float):
        raise simpleeval.NumberTooHigh("the exponent is too large")
    return a**b


def _safe_lshift(a, b):
    if _is_int(a) and _is_int(b) and a.bit_length() + b > MAX_INT_BITS:
        raise simpleeval.NumberTooHigh(f"{a} << {b} is too large")
    return a << b


_OPERATORS = dict(simpleeval.DEFAULT_OPERATORS)
_OPERATORS.update(
    {
        ast.Add: _safe_add,
        ast.Mult: _safe_mult,
        ast.Pow: _safe_power,
        ast.LShift: _safe_lshift,
        ast.RShift: op.rshift,
        ast.Mod: lambda a, b: _safe_mod(a, b),
    }
)


def _safe_mod(a, b):
    # "%s" * n is bounded, but "%0999999d" % 1 is not.
    if isinstance(a, _TEXTS):
        if (b"*" if isinstance(a, bytes) else "*") in a:
            raise simpleeval.FeatureNotAvailable("'*' widths in % formatting are not allowed")
        _check_format_numbers(a if isinstance(a, str) else a.decode("latin-1"))
        # "%s" % big_structure would build its whole text first.
        _estimate_text_size(b, MAX_STRING_LENGTH + len(a))
        result = a % b
        if len(result) > _length_limit(a):
            raise _too_long("the formatted text", len(result), _length_limit(a))
        return result
    return a % b


_FORMAT_NUMBER = re.compile(r"\d+")


def _check_format_numbers(spec: str) -> None:
    if any(int(n) > MAX_FORMAT_NUMBER for n in _FORMAT_NUMBER.findall(spec[:MAX_STRING_LENGTH])):
        raise simpleeval.FeatureNotAvailable(f"format widths and precisions above {MAX_FORMAT_NUMBER} are not allowed")


def _estimate_text_size(value, budget: int) -> int:
    """Roughly how long str(value) would be; stops as soon as ``budget`` is exceeded."""
    stack = [value]
    total = 0
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _TEXT_CONTAINERS):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif _is_int(item):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, _TEXT_SAFE):
            total += 40
        else:
            # The text of a function or method holds its memory address in this process.
            raise simpleeval.FeatureNotAvailable(
                f"only data can be turned into text in expressions, not {_type_name(item)}"
            )
        if total > budget:
            raise _too_long("the text", total, budget)
    return total


_TEXT_SAFE = (float, bool, type(None), bytes, _dt.date, _dt.time, _dt.timedelta, range)
_TEXT_CONTAINERS = (list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))


def _safe_str(value="", *args):
    if not args and not isinstance(value, str | bytes | bytearray):
        _estimate_text_size(value, MAX_STRING_LENGTH)
    return str(value, *args)


def _safe_sum(iterable, start=0):
    if not isinstance(start, int | float):
        raise simpleeval.FeatureNotAvailable("sum() only adds numbers")
    total = start
    for item in iterable:
        if not isinstance(item, int | float):
            raise TypeError(f"sum() only adds numbers, not {type(item).__name__}")
        total = _check_int(total + item)
    return total


def _safe_round(number, ndigits=None):
    if ndigits is not None and (not _is_int(ndigits) or abs(ndigits) > MAX_ROUND_DIGITS):
        raise simpleeval.FeatureNotAvailable(f"round() digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(number) if ndigits is None else round(number, ndigits)


def _safe_range(*args):
    result = range(*args)
    if len(result) > MAX_SEQUENCE_LENGTH:
        raise _too_long("range()", len(result), MAX_SEQUENCE_LENGTH)
    return result


def _sized(function, limit_of):
    """Wrap a str method whose result size can be computed (or bounded) beforehand."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        size = limit_of(*args, **kwargs)
        if size > MAX_STRING_LENGTH:
            raise _too_long("the text", size, MAX_STRING_LENGTH)
        return function(*args, **kwargs)

    return wrapper


def _str_method(name: str, text: str):
    method = getattr(text, name)
    if name in ("ljust", "rjust", "center", "zfill"):
        return _sized(method, lambda width, *rest: max(len(text), width if _is_int(width) else 0))
    if name == "replace":

        def replace_size(old, new, count=-1):
            if not isinstance(old, str) or not isinstance(new, str):
                return 0
            hits = text.count(old) if old else len(text) + 1
            if count is not None and count >= 0:
                hits = min(hits, count)
            grown = len(text) + hits * max(len(new) - len(old), 0)
            return grown if grown > len(text) else 0

        return _sized(method, replace_size)
    if name == "join":

        def join_size(items):
            if not isinstance(items, list | tuple | set | frozenset | dict | str):
                items = list(items)  # the items are bounded by comprehension limits
            total = sum(len(x) for x in items if isinstance(x, str)) + len(text) * max(len(items) - 1, 0)
            return total

        def join(items):
            materialized = items if isinstance(items, list | tuple | str) else list(items)
            size = join_size(materialized)
            if size > MAX_STRING_LENGTH:
                raise _too_long("the text", size, MAX_STRING_LENGTH)
            return text.join(materialized)

        return join
    return method


_STR_ATTRS = frozenset(
    """capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit
    isidentifier islower isnumeric isprintable isspace istitle isupper lower lstrip partition
    removeprefix removesuffix rfind rindex rpartition rsplit rstrip split splitlines startswith
    strip swapcase title upper ljust rjust center zfill replace join""".split()
)
_DATE_ATTRS = frozenset(
    "year month day weekday isoweekday isoformat isocalendar strftime replace toordinal ctime".split()
)
_DATETIME_ATTRS = _DATE_ATTRS | frozenset("hour minute second microsecond date time timestamp".split())
# Read-only attributes per exact type; mutating methods (append, update, pop...) are
# left out so that evaluating a condition can never change task data.
_ALLOWED_ATTRS = {
    str: _STR_ATTRS,
    dict: frozenset({"get", "keys", "values", "items", "copy"}),
    list: frozenset({"index", "count", "copy"}),
    tuple: frozenset({"index", "count"}),
    set: frozenset(
        "union intersection difference symmetric_difference issubset issuperset isdisjoint copy".split()
    ),
    frozenset: frozenset(
        "union intersection difference symmetric_difference issubset issuperset isdisjoint copy".split()
    ),
    int: frozenset({"bit_length", "real", "imag", "numerator", "denominator"}),
    bool: frozenset(),
    float: frozenset({"is_integer", "real", "imag"}),
    _dt.datetime: _DATETIME_ATTRS,
    _dt.date: _DATE_ATTRS,
    _dt.timedelta: frozenset({"days", "seconds", "microseconds", "total_seconds"}),
}
# Attributes of the classes themselves (datetime.now(), date.today()...).
_ALLOWED_CLASS_ATTRS = {
    _dt.datetime: frozenset({"now", "today", "fromisoformat", "strptime", "combine", "min", "max"}),
    _dt.date: frozenset({"today", "fromisoformat", "min", "max"}),
    _dt.timedelta: frozenset({"min", "max"}),
}

_FUNCTIONS = {
    "len": len,
    "str": _safe_str,
    "int": int,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": _safe_sum,
    "round": _safe_round,
    "sorted": sorted,
    "reversed": lambda seq: list(reversed(seq)),
    "enumerate": lambda seq, start=0: list(enumerate(seq, start)),
    "zip": lambda *seqs: list(zip(*seqs, strict=False)),
    "any": any,
    "all": all,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "range": _safe_range,
    "datetime": _dt.datetime,
    "date": _dt.date,
    "timedelta": _dt.timedelta,
}
assert set(_FUNCTIONS) == set(sandbox_worker.SAFE_FUNCTIONS), "expression and script functions differ"

_ATTR_NOT_FOUND = object()


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with our operators, functions, attribute allow-list and name lookup.

    An instance is not thread-safe (comprehensions swap ``self.nodes``), so each
    thread keeps its own; see :func:`_evaluator`.
    """

    def __init__(self):
        super().__init__(operators=_OPERATORS, functions=dict(_FUNCTIONS), names={})
        self.functions = dict(_FUNCTIONS)  # EvalWithCompoundTypes adds the raw list/dict/...
        self.data: dict = {}
        self.extra: dict = {}
        self.nodes[ast.Name] = self._eval_name
        self.budget = ExpressionBudget()
        self.deadline = self.polite_after = 0.0
        self.steps_left = 0
        self.bytes_left = 0

    def run(self, text: str, node: ast.AST, data: dict, extra: dict, budget: ExpressionBudget):
        self.data, self.extra, self.budget = data, extra, budget
        self.steps_left, self.bytes_left = budget.steps, budget.memory_bytes
        now = time.monotonic()
        self.deadline, self.polite_after = now + budget.seconds, now + _POLITE_AFTER
        try:
            return self.eval(text, previously_parsed=node)
        finally:
            self.data, self.extra = {}, {}

    def _eval(self, node):
        # Every node of every evaluation passes here (simpleeval's handlers, comprehension
        # rounds included, recurse through self._eval), so the budget cannot be bypassed.
        self.steps_left -= 1
        if not self.steps_left & _CLOCK_EVERY:
            if self.steps_left < 0:
                raise ExpressionLimitError(f"expression stopped: more than {self.budget.steps} steps")
            now = time.monotonic()
            if now > self.deadline:
                raise self._out_of_time()
            if now > self.polite_after:
                # A long evaluation lets the process's other threads (/healthz, other
                # requests) have the interpreter every few steps, not only at the
                # interpreter's forced switch every 5 ms.
                time.sleep(0)
        kind = type(node)
        try:
            handler = self.nodes[kind]
        except KeyError:
            raise simpleeval.FeatureNotAvailable(f"{kind.__name__} is not available in expressions") from None
        result = handler(node)
        self._check_disallowed_items(result)
        if kind in _BUILDING_NODES and (kind is not ast.Subscript or isinstance(node.slice, ast.Slice)):
            self._charge(result)
        return result

    def _out_of_time(self) -> ExpressionLimitError:
        return ExpressionLimitError(f"expression stopped: time limit of {self.budget.seconds:g} s exceeded")

    def _charge(self, value) -> None:
        """Count a value the expression built against the size budget (as a tree: a value held
        twice counts twice, which is what its text or stored JSON would cost)."""
        kind = type(value)
        if kind in _SCALARS:
            self.bytes_left -= sys.getsizeof(value)
        else:
            self.bytes_left -= _tree_size(value, self.bytes_left + 1, self.deadline)
        if self.bytes_left < 0:
            megabytes = self.budget.memory_bytes / (1024 * 1024)
            raise ExpressionLimitError(f"expression stopped: it would build more than {megabytes:g} MB of values")

    def _eval_name(self, node):
        # Task data wins over extra, as in SpiffWorkflow's TaskDataEnvironment.
        name = node.id
        if name in self.data:
            return self.data[name]
        if name in self.extra:
            return self.extra[name]
        if name in self.functions:
            return self.functions[name]
        raise ScriptNameError(f"name '{name}' is not defined")

    def _eval_attribute(self, node):
        if node.attr.startswith("_"):
            raise simpleeval.FeatureNotAvailable(f"attributes starting with '_' are not allowed: .{node.attr}")
        value = self._eval(node.value)
        if isinstance(value, type):
            allowed = _ALLOWED_CLASS_ATTRS.get(value, frozenset())
        else:
            allowed = _ALLOWED_ATTRS.get(type(value), frozenset())
        if node.attr not in allowed:
            raise simpleeval.FeatureNotAvailable(
                f"'.{node.attr}' is not available on {_type_name(value)} in expressions"
            )
        if isinstance(value, str):
            return _str_method(node.attr, value)
        if isinstance(value, _dt.date) and node.attr == "strftime":
            return _sized(value.strftime, lambda fmt: _estimate_strftime(fmt))
        return getattr(value, node.attr)

    def _eval_call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id not in self.functions:
            if node.func.id in self.data or node.func.id in self.extra:
                raise simpleeval.FeatureNotAvailable(f"'{node.func.id}' is a variable, not a function")
            raise ScriptNameError(f"name '{node.func.id}' is not defined")
        return super()._eval_call(node)

    def _eval_formattedvalue(self, node):
        value = self._eval(node.value)
        if node.conversion not in (-1, ord("s")):
            raise simpleeval.FeatureNotAvailable("!r and !a are not available in expressions")
        text = _safe_str(value)  # also bounds what format() below may build
        if node.format_spec:
            spec = self._eval(node.format_spec)
            _check_format_numbers(spec)
            return format(value if node.conversion == -1 else text, spec)
        return text

    def _check_disallowed_items(self, item):
        # simpleeval walks every container on every step; the attribute allow-list
        # already makes modules and foreign objects useless, so a flat check suffices.
        if type(item) in _PLAIN_TYPES:
            return
        if isinstance(item, types.ModuleType):
            raise simpleeval.FeatureNotAvailable("modules are not allowed in expressions")
        if callable(item) and not isinstance(item, type) and _is_disallowed(item):
            raise simpleeval.FeatureNotAvailable("this function is not allowed in expressions")

    def _eval_joinedstr(self, node):
        total = 0
        parts = []
        for part in node.values:
            text = str(self._eval(part))
            total += len(text)
            if total > MAX_STRING_LENGTH:
                raise _too_long("the text", total, MAX_STRING_LENGTH)
            parts.append(text)
        return "".join(parts)


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list, dict, tuple, set})
_SCALARS = frozenset({str, bytes, int, float, bool, type(None), _dt.date, _dt.datetime, _dt.timedelta})
_CONTAINERS = (list, tuple, set, frozenset)
# Nodes whose value may be newly built (and so is charged); names, constants, comparisons and
# plain subscripts only return what already exists or a bool.
_BUILDING_NODES = frozenset(
    {
        ast.BinOp,
        ast.UnaryOp,
        ast.Call,
        ast.List,
        ast.Tuple,
        ast.Dict,
        ast.Set,
        ast.ListComp,
        ast.GeneratorExp,
        ast.DictComp,
        ast.Subscript,
        ast.JoinedStr,
        ast.FormattedValue,
    }
)
_TREE_CHECK_EVERY = 4096
# The clock is read every 16 steps (and the step count checked then): a step costs about a
# microsecond, and one step's work is bounded by the size checks.
_CLOCK_EVERY = 15
# After this long an evaluation yields the interpreter at every clock check.
_POLITE_AFTER = 0.001


def _tree_size(value, limit: int, deadline: float) -> int:
    """Bytes of ``value`` counted as a tree (shared parts each time they are reached); stops
    counting once ``limit`` is passed, and stops on the deadline, so the walk itself is bounded."""
    total = 0
    stack = [value]
    visited = 0
    while stack:
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            stack.extend(item)
        if total > limit:
            return total
        visited += 1
        if visited % _TREE_CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise ExpressionLimitError("expression stopped: time limit exceeded")
    return total


def _is_disallowed(function) -> bool:
    try:
        return function in simpleeval.DISALLOW_FUNCTIONS
    except TypeError:
        return False


def _estimate_strftime(fmt) -> int:
    return len(fmt) * 16 if isinstance(fmt, str) else 0


def _type_name(value) -> str:
    if isinstance(value, type):
        return f"the {value.__name__} class"
    return f"{type(value).__name__} values"


_local = threading.local()


def _evaluator() -> _Evaluator:
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = _Evaluator()
    return evaluator


# The node types the evaluator can handle, derived from the evaluator itself so the
# upload check and the run time agree.
_EXPRESSION_NODES = frozenset(t for t in _Evaluator().nodes if issubclass(t, ast.expr))


def _parse_expression(text: str) -> tuple[ast.AST | None, str | None, int | None]:
    """Return (node, None, None) for an acceptable expression or (None, message, line)."""
    if not isinstance(text, str):
        return None, "an expression must be text", None
    # Checked before the cache so that huge texts are never kept as cache keys.
    if len(text) > MAX_EXPRESSION_LENGTH * 2:
        return None, f"the expression is too long ({len(text)} characters, at most {MAX_EXPRESSION_LENGTH})", None
    return _parse_expression_cached(text)


@functools.lru_cache(maxsize=2048)
def _parse_expression_cached(text: str) -> tuple[ast.AST | None, str | None, int | None]:
    stripped = text.strip()
    if not stripped:
        return None, "the expression is empty", None
    if len(stripped) > MAX_EXPRESSION_LENGTH:
        return None, f"the expression is too long ({len(stripped)} characters, at most {MAX_EXPRESSION_LENGTH})", None
    try:
        tree = ast.parse(stripped, "<expression>", "eval")
    except SyntaxError as err:
        return None, f"syntax error: {err.msg}", err.lineno
    except (ValueError, RecursionError, MemoryError) as err:
        return None, f"the expression cannot be read: {err.__class__.__name__}", None
    count = 0
    for _node in ast.walk(tree):
        count += 1
        if count > MAX_EXPRESSION_NODES:
            return None, f"the expression is too complex (more than {MAX_EXPRESSION_NODES} parts)", None
    problem = find_name_problems(tree, "expressions")
    if problem:
        return None, problem[0], problem[1]
    # [*a, *b] is supported, other uses of * are not.
    list_items = {id(item) for node in ast.walk(tree) if isinstance(node, ast.List) for item in node.elts}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Starred):
            if id(node) not in list_items:
                return None, "* is only supported inside a list in expressions", line
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            return None, "bytes literals are not supported in expressions", line
        if isinstance(node, ast.expr) and type(node) not in _EXPRESSION_NODES:
            return None, f"{_NODE_WORDS.get(type(node), type(node).__name__)} is not supported in expressions", line
        if isinstance(node, ast.BinOp | ast.UnaryOp) and type(node.op) not in _OPERATORS:
            return None, f"the operator {type(node.op).__name__} is not supported in expressions", line
        if isinstance(node, ast.Compare) and any(type(o) not in _OPERATORS for o in node.ops):
            return None, "this comparison is not supported in expressions", line
        if isinstance(node, ast.comprehension) and node.is_async:
            return None, "async comprehensions are not supported in expressions", line
    return tree.body, None, None


_NODE_WORDS = {
    ast.Lambda: "lambda",
    ast.NamedExpr: "the := operator",
    ast.SetComp: "a set comprehension",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


def check_expression(text: str) -> str | None:
    """Return a plain-language reason why ``text`` may not be used as an expression, or None.

    Refuses syntax errors, statements, names and attributes starting with ``_``, calls
    of eval/exec/open/getattr/type/... , constructs the evaluator does not support
    (lambda, :=, set comprehensions...) and overly long or complex expressions.
    """
    node, message, line = _parse_expression(text)
    return None if node is not None else format_problem(message, line)


def evaluate_expression(expression: str, data: dict, extra: dict | None = None,
                        budget: ExpressionBudget | None = None):
    """Evaluate ``expression`` against task ``data`` (and ``extra`` names) in this process.

    The evaluation spends at most ``budget`` (default: :class:`ExpressionBudget`'s).
    Raises ExpressionLimitError when the budget runs out, ScriptError when the
    expression is refused, ScriptNameError for an undefined name, and ordinary Python
    errors (KeyError, TypeError, ...) raised while evaluating an allowed expression.
    """
    node, message, line = _parse_expression(expression)
    if node is None:
        raise ScriptError(format_problem(message, line), line)
    try:
        return _evaluator().run(expression, node, data if data is not None else {}, extra or {},
                                budget or _DEFAULT_BUDGET)
    except ExpressionLimitError as err:
        failure = ExpressionLimitError(err.message)
    except simpleeval.InvalidExpression as err:
        failure = ScriptError(_simpleeval_message(err))
    except RecursionError:
        failure = ScriptError("the expression is nested too deeply")
    # Raised outside the except blocks: no context or traceback keeps the values the
    # expression built alive, so they are freed here, and handed back to the system.
    if isinstance(failure, ExpressionLimitError):
        _return_freed_memory()
    raise failure


_DEFAULT_BUDGET = ExpressionBudget()


def _load_malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: the allocator keeps what it keeps
        return None


_MALLOC_TRIM = _load_malloc_trim()


def _return_freed_memory() -> None:
    """Give the heap that a stopped expression freed back to the system. Each thread has its own
    malloc arena, so without this every request thread could keep a budget's worth of free heap."""
    # simpleeval's comprehension keeps its partial result in a closure that refers to itself:
    # only the collector frees that cycle.
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _simpleeval_message(err: simpleeval.InvalidExpression) -> str:
    if isinstance(err, simpleeval.FunctionNotDefined):
        return f"function '{err.func_name}' is not available in expressions"
    if isinstance(err, simpleeval.FeatureNotAvailable) and str(err).startswith("Sorry, "):
        return str(err)[len("Sorry, "):]
    return getattr(err, "message", None) or str(err)


# --------------------------------------------------------------------------- scripts


class _Worker:
    """One child process; used by one thread at a time (checked out of the pool)."""

    def __init__(self, memory_mb: int, max_response_bytes: int):
        self.max_response_bytes = max_response_bytes
        self.pid_of_parent = os.getpid()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                _WORKER_PATH,
                "--memory-mb",
                str(memory_mb),
                "--max-response-bytes",
                str(max_response_bytes),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # No secrets from the web process' environment reach the child.
            env={"PATH": os.defpath, "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "random"},
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        self.buffer = b""
        try:
            ready = self._read_line(time.monotonic() + WORKER_START_TIMEOUT)
            started = ready is not None and json.loads(ready) == {"ready": True}
        except (TimeoutError, ScriptError, ValueError):
            started = False
        if not started:
            self.kill()
            raise ScriptError("the script worker could not start")

    def request(self, payload: bytes, timeout: float) -> dict:
        """Send one request line and wait for the response; kill the child on any trouble."""
        deadline = time.monotonic() + timeout
        try:
            self._write(payload, deadline)
            line = self._read_line(deadline)
        except TimeoutError:
            self.kill()
            raise ScriptError(f"script stopped: time limit of {timeout:g} s exceeded") from None
        if line is None:
            code = self.kill()
            raise ScriptError(_death_message(code))
        try:
            response = json.loads(line)
        except (ValueError, RecursionError):
            self.kill()
            raise ScriptError("the script worker sent an unreadable answer") from None
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
            self.kill()
            raise ScriptError("the script worker sent an unreadable answer")
        if response.get("restart"):
            self.kill()
        return response

    def _write(self, payload: bytes, deadline: float) -> None:
        fd = self.process.stdin.fileno()
        view = memoryview(payload)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                raise TimeoutError
            try:
                written = os.write(fd, view[:65536])
            except (BrokenPipeError, OSError):
                return  # the child died; reading will report it
            view = view[written:]

    def _read_line(self, deadline: float) -> bytes | None:
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                raise TimeoutError
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > self.max_response_bytes + 1:
                self.kill()
                raise ScriptError(f"the script result is too large (more than {self.max_response_bytes} bytes)")
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        """Kill the child (if still running), reap it and close the pipes; return its exit code."""
        if self.pid_of_parent != os.getpid():
            return None  # inherited through fork: the child belongs to the parent process
        try:
            self.process.kill()
        except OSError:
            pass
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        return code


def _death_message(code: int | None) -> str:
    # Without a response the child died: RLIMIT_AS makes allocation fail, which
    # usually shows up as MemoryError (answered), an abort or a kill by the kernel.
    return (
        "script stopped: memory limit exceeded or the script worker crashed"
        f" (exit status {code})"
    )


def _encode_value(value):
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(type(value).__name__)


def _encode_request(script: str, data: dict, extra: dict) -> bytes:
    try:
        return (
            json.dumps({"script": script, "data": data, "extra": extra}, default=_encode_value, ensure_ascii=True)
            .encode("ascii")
            + b"\n"
        )
    except (TypeError, ValueError) as err:
        for source in (data, extra):
            for key, value in source.items():
                try:
                    json.dumps(value, default=_encode_value)
                except (TypeError, ValueError):
                    raise ScriptError(
                        f"task data variable '{key}' cannot be passed to a script ({type(value).__name__})"
                    ) from None
        raise ScriptError(f"task data cannot be passed to a script ({err})") from None


# Who the scripts run now are for (a centre's id, set by the service layer through
# Sandbox.on_behalf_of); None for work of no centre (the command line, tests).
_TENANT: contextvars.ContextVar = contextvars.ContextVar("onestop_sandbox_tenant", default=None)


class _FairGate:
    """Hands out ``size`` slots, at most ``per_tenant`` of them to one tenant at a time.

    When callers wait, a freed slot goes to the waiting tenant that holds the fewest slots
    (the earliest arrival among equals): a tenant with many slow scripts queues behind its
    own share and never delays another tenant beyond that.
    """

    def __init__(self, size: int, per_tenant: int):
        self.size = size
        self.per_tenant = per_tenant
        self._condition = threading.Condition()
        self._held: dict = {}
        self._in_use = 0
        self._waiting: list[tuple[int, object]] = []
        self._tickets = itertools.count()

    def acquire(self, tenant, timeout: float) -> bool:
        """Take a slot for ``tenant``; False if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            ticket = (next(self._tickets), tenant)
            self._waiting.append(ticket)
            try:
                while self._next() is not ticket:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._condition.wait(remaining)
                self._in_use += 1
                self._held[tenant] = self._held.get(tenant, 0) + 1
                return True
            finally:
                self._waiting.remove(ticket)
                # Another waiter may now be next (or this one gave up its turn).
                self._condition.notify_all()

    def release(self, tenant) -> None:
        """Give back a slot taken by ``tenant``."""
        with self._condition:
            self._in_use -= 1
            held = self._held.pop(tenant) - 1
            if held:
                self._held[tenant] = held
            self._condition.notify_all()

    def held(self, tenant) -> int:
        """How many slots ``tenant`` holds now."""
        with self._condition:
            return self._held.get(tenant, 0)

    def _next(self):
        if self._in_use >= self.size:
            return None
        chosen, fewest = None, None
        for ticket in self._waiting:
            held = self._held.get(ticket[1], 0)
            if held < self.per_tenant and (fewest is None or held < fewest):
                chosen, fewest = ticket, held
        return chosen


class Sandbox:
    """Evaluates expressions in-process and runs scripts in a pool of worker processes.

    ``timeout`` is the wall-clock limit per script in seconds, ``memory_mb`` the
    address-space limit of each worker, ``pool_size`` the number of workers (started
    lazily, respawned after a timeout or crash). One tenant (a centre, named with
    :meth:`on_behalf_of`) runs at most ``per_tenant`` scripts at once (default: half the
    pool, at least one); a script waits at most ``wait_timeout`` seconds for a worker, and
    freed workers go to the waiting tenant running the fewest scripts. Expressions spend
    at most ``expression_timeout`` seconds and ``expression_memory_mb`` of values each.
    Thread-safe; call :meth:`close` when done.
    """

    def __init__(
        self,
        timeout: float = 2.0,
        memory_mb: int = 256,
        pool_size: int = DEFAULT_POOL_SIZE,
        *,
        per_tenant: int | None = None,
        wait_timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        expression_timeout: float = DEFAULT_EXPRESSION_TIMEOUT,
        expression_memory_mb: float = DEFAULT_EXPRESSION_MEMORY_MB,
    ):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        per_tenant = per_tenant or max(1, pool_size // 2)
        if not 1 <= per_tenant <= pool_size:
            raise ValueError("per_tenant must be between 1 and pool_size")
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.pool_size = pool_size
        self.per_tenant = per_tenant
        self.wait_timeout = wait_timeout
        self.max_response_bytes = max_response_bytes
        self.expression_budget = ExpressionBudget(
            seconds=expression_timeout, memory_bytes=int(expression_memory_mb * 1024 * 1024)
        )
        self._lock = threading.Lock()
        self._gate = _FairGate(pool_size, per_tenant)
        self._idle: list[_Worker] = []
        self._closed = False
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, _kill_all, self._idle)

    @staticmethod
    @contextlib.contextmanager
    def on_behalf_of(tenant):
        """Within this block (this thread or task), scripts run on ``tenant``'s share of the pool."""
        token = _TENANT.set(tenant)
        try:
            yield
        finally:
            _TENANT.reset(token)

    def evaluate(self, expression: str, data: dict, extra: dict | None = None):
        """Evaluate an expression against task data within this sandbox's expression budget;
        see :func:`evaluate_expression`."""
        return evaluate_expression(expression, data, extra, self.expression_budget)

    def execute(self, script: str, data: dict, extra: dict | None = None) -> dict:
        """Run ``script`` with ``data`` as its variables and return the new task data.

        ``data`` itself is not changed. Names in ``extra`` are readable by the script
        but never written back. Functions, modules and names starting with ``_`` that
        the script creates are dropped; datetime/date values become ISO strings,
        tuples become lists, and any other value JSON cannot hold (set, timedelta...)
        makes the script fail with a message naming the variable.
        Raises ScriptError (ScriptNameError for undefined names).
        """
        problem = sandbox_worker.find_script_problem(script)
        if problem:
            raise ScriptError(format_problem(*problem), problem[1])
        payload = _encode_request(script, data if data is not None else {}, extra or {})
        tenant = _TENANT.get()
        worker = self._checkout(tenant)
        healthy = False
        try:
            response = worker.request(payload, self.timeout)
            healthy = worker.alive and not response.get("restart")
        finally:
            self._checkin(worker, healthy, tenant)
        if response["ok"]:
            result = response.get("data")
            if not isinstance(result, dict):
                raise ScriptError("the script worker sent an unreadable answer")
            return result
        message = str(response.get("error") or "the script failed")
        line = response.get("line")
        line = line if isinstance(line, int) and not isinstance(line, bool) else None
        if response.get("kind") == "NameError":
            raise ScriptNameError(message, line)
        raise ScriptError(message, line)

    def close(self) -> None:
        """Stop all idle workers; workers in use are stopped when their script ends."""
        with self._lock:
            self._closed = True
            idle, self._idle[:] = list(self._idle), []
        for worker in idle:
            worker.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _checkout(self, tenant) -> _Worker:
        if not self._gate.acquire(tenant, self.wait_timeout):
            raise ScriptError(
                f"the script sandbox is busy (no worker free within {self.wait_timeout:g} s); try again later"
            )
        try:
            with self._lock:
                if self._closed:
                    raise ScriptError("the script sandbox is closed")
                if self._pid != os.getpid():
                    # After fork the workers (and their pipes) belong to the parent.
                    self._idle.clear()
                    self._pid = os.getpid()
                worker = self._idle.pop() if self._idle else None
            if worker is not None and not worker.alive:
                worker.kill()
                worker = None
            return worker or _Worker(self.memory_mb, self.max_response_bytes)
        except BaseException:
            self._gate.release(tenant)
            raise

    def _checkin(self, worker: _Worker, healthy: bool, tenant) -> None:
        try:
            with self._lock:
                keep = healthy and not self._closed and worker.pid_of_parent == os.getpid()
                if keep:
                    self._idle.append(worker)
            if not keep:
                worker.kill()
        finally:
            self._gate.release(tenant)


def _kill_all(workers: list[_Worker]) -> None:
    for worker in list(workers):
        worker.kill()
    workers.clear()


# --------------------------------------------------------------------------- SpiffWorkflow


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that evaluates and executes through a Sandbox."""

    def __init__(self, sandbox: Sandbox):
        super().__init__({})
        self.sandbox = sandbox

    def evaluate(self, expression, context, external_context=None):
        """Evaluate ``expression`` with the task data ``context``."""
        return self.sandbox.evaluate(expression, context, external_context)

    def execute(self, script, context, external_context=None):
        """Run ``script`` and replace the task data ``context`` in place with the result."""
        result = self.sandbox.execute(script, context, external_context)
        context.clear()
        context.update(result)
        return True

    def call_service(self, context, **kwargs):
        """Service tasks are not part of this platform."""
        raise ScriptError("service tasks are not supported")


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine that reports ScriptError lines and messages cleanly."""

    def evaluate(self, task, expression, external_context=None):
        """Evaluate like PythonScriptEngine, but keep the reason in the error message."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as err:
            reason = err.message if isinstance(err, ScriptError) else _describe_error(err)
            # The message reaches administrators; an error's text may hold the repr (and memory
            # address) of an object of this process, so only the cleaned text goes on.
            failure = WorkflowTaskException(
                f"Error evaluating expression '{expression}': {reason}", task=task,
                exception=err if isinstance(err, ScriptError) else ScriptError(reason),
            )
        raise failure

    def call_service(self, task, **kwargs):
        # SpiffWorkflow 3.2's version refers to an undefined name when it fails.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as err:
            raise self.create_task_exec_exception(task, "", err) from err

    def create_task_exec_exception(self, task, script, err):
        """Wrap ScriptError as WorkflowTaskException with its plain message and line."""
        if isinstance(err, ScriptError) and not isinstance(err, SpiffWorkflowException):
            line, error_line = self.get_error_line_number_and_content(script, err)
            return WorkflowTaskException(err.message, task=task, exception=err, line_number=line, error_line=error_line)
        return super().create_task_exec_exception(task, script, err)

    def get_error_line_number_and_content(self, script, err):
        """Use the line the worker reported; the parent's traceback has none."""
        if isinstance(err, ScriptError):
            lines = (script or "").splitlines()
            if err.line and 0 < err.line <= len(lines):
                return err.line, lines[err.line - 1]
            return err.line or 0, ""
        return super().get_error_line_number_and_content(script, err)


def _describe_error(err: Exception) -> str:
    text = without_addresses(str(err))
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[:MAX_MESSAGE_LENGTH] + "…"
    return f"{err.__class__.__name__}: {text}" if text else err.__class__.__name__


def make_script_engine(sandbox: Sandbox) -> PythonScriptEngine:
    """Return a SpiffWorkflow script engine that runs everything through ``sandbox``.

    Set it on every workflow, including each one loaded from storage: SpiffWorkflow
    does not serialize the engine and falls back to its unrestricted default.
    """
    return SandboxScriptEngine(environment=SandboxEnvironment(sandbox))

