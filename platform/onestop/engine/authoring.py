"""Checks for the modeller's side panel: a gateway condition or a timer, as an administrator types it.

Nothing is run. A condition goes through the same translation (JUEL -> Python) and the same
sandbox rules as at upload and at run time (`sandbox.check_expression`); the names it reads are
compared with the names the procedure's forms fill in. A timer goes through the same translation
and the same budgets (`budgets.check_timer`) as at upload. Each finding carries a `code` that the
layers above turn into words in the administrator's language, and the engine's own sentence as
`detail`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .budgets import Budgets, check_timer, literal
from .problems import ModelError
from .sandbox import check_expression
from .sandbox_worker import SAFE_FUNCTIONS
from .translate import Untranslatable, translate_expression, translate_timer
from .xml import parse_xml

TIMER_KINDS = ("duration", "date", "cycle")
_CONSTANT_NAMES = {"True", "False", "None"}


@dataclass(frozen=True)
class ConditionCheck:
    """What the panel says about a condition: `code` None when it can be used as written."""

    python: str  # the expression the engine evaluates (JUEL translated)
    code: str | None = None  # "empty", "untranslatable", "syntax", "refused"
    detail: str = ""
    unknown_names: list = field(default_factory=list)  # read from the dossier's data, filled by no form


@dataclass(frozen=True)
class TimerCheck:
    """What the panel says about a timer: `code` None when it is within the engine's budgets."""

    value: str | None  # the ISO 8601 text, when the timer is written as a constant
    code: str | None = None  # "empty", "untranslatable", "syntax", "refused", "format", "wrong_kind", "too_far", "too_often"
    detail: str = ""
    computed: bool = False  # an expression computed from the dossier's data: checked when it runs


def check_condition(text: str, known_names=()) -> ConditionCheck:
    """Check a gateway condition without evaluating it: may the engine evaluate it, and which of
    the names it reads does no form of the procedure fill in."""
    if not (text or "").strip():
        return ConditionCheck("", "empty", "the expression is empty")
    try:
        python, _translated = translate_expression(text)
    except Untranslatable as exc:
        return ConditionCheck(text.strip(), "untranslatable", str(exc))
    problem = check_expression(python)
    if problem:
        return ConditionCheck(python, "syntax" if problem.startswith("syntax error") else "refused", problem)
    known = set(known_names) | set(SAFE_FUNCTIONS) | _CONSTANT_NAMES
    return ConditionCheck(python, unknown_names=sorted(set(_data_names(python)) - known))


def _data_names(python: str) -> list:
    """The names an expression reads from the dossier's data (not those its comprehensions bind)."""
    tree = ast.parse(python.strip(), "<expression>", "eval")
    bound = {node.id for comp in ast.walk(tree) if isinstance(comp, ast.comprehension)
             for node in ast.walk(comp.target) if isinstance(node, ast.Name)}
    return [node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound]


_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
_CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"


def declared_names(bpmn_files) -> set:
    """The data names a model itself sets, besides its form files: Camunda's formData fields, message
    variables, data objects, multi-instance items and what its scripts assign. `bpmn_files` are the
    BPMN documents' bytes; one that cannot be read sets nothing (the review reports it)."""
    names = set()
    for content in bpmn_files:
        try:
            root = parse_xml(content, "model.bpmn")
        except ModelError:
            continue
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            tag = node.tag
            if tag == f"{_CAMUNDA}formField" and node.get("id"):
                names.add(node.get("id"))
            elif tag in (f"{_SPIFF}messageVariable", f"{_SPIFF}variableName") and (node.text or "").strip():
                names.add(node.text.strip())
            elif node.get(f"{_CAMUNDA}resultVariable"):
                names.add(node.get(f"{_CAMUNDA}resultVariable"))
            elif tag in (f"{_BPMN}dataObject", f"{_BPMN}inputDataItem", f"{_BPMN}outputDataItem"):
                names.update(v for v in (node.get("id"), node.get("name")) if v)
            elif tag in (f"{_BPMN}script", f"{_SPIFF}preScript", f"{_SPIFF}postScript") and node.text:
                names.update(_assigned(node.text))
    return names


def _assigned(script: str) -> set:
    try:
        tree = ast.parse(script)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def check_timer_value(kind: str, text: str, budgets: Budgets | None = None, iso: bool = False) -> TimerCheck:
    """Check a timer as the model would hold it (raw ISO 8601 as Camunda writes it, or a Python
    expression as SpiffArena does) against the engine's budgets. iso=True: `text` is meant as the
    ISO 8601 value itself (the panel's field), never as an expression."""
    budgets = budgets or Budgets()
    if kind not in TIMER_KINDS:
        return TimerCheck(None, "wrong_kind", f"a timer is one of: {', '.join(TIMER_KINDS)}")
    if not (text or "").strip():
        return TimerCheck(None, "empty", "the timer has no value")
    if iso:
        return _checked(kind, text.strip(), budgets)
    try:
        python, _translated = translate_timer(text)
    except Untranslatable as exc:
        return TimerCheck(None, "untranslatable", str(exc))
    problem = check_expression(python)
    if problem:
        return TimerCheck(None, "refused", problem)
    value = literal(python)
    if value is None:
        return TimerCheck(None, computed=True)
    if not isinstance(value, str):
        return TimerCheck(None, "format", f"a timer must be ISO 8601 text, not {type(value).__name__}")
    return _checked(kind, value.strip(), budgets)


def _checked(kind, value, budgets) -> TimerCheck:
    problem = check_timer(kind, value, budgets)
    if problem:
        return TimerCheck(value, _timer_code(problem), problem)
    return TimerCheck(value)


def _timer_code(problem: str) -> str:
    # budgets.check_timer words its refusals; these are the ones the panel explains differently.
    if "is a duration, but" in problem:
        return "wrong_kind"
    if "years" in problem and ("longer than" in problem or "away" in problem):
        return "too_far"
    if "repeats more often" in problem:
        return "too_often"
    return "format"
