"""Translate what other modelling tools write into the Python expressions SpiffWorkflow evaluates.

Camunda Modeler writes JUEL (`${amount > 100 && approved}`, `#{approved}`) and raw ISO-8601
timer values (`P7D`, `R3/PT1H`, `2026-12-01T08:00:00Z`); SpiffWorkflow expects Python. What can
be translated is rewritten in the tree before parsing; what cannot raises `Untranslatable`.
"""

import ast
import re

from . import cron

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class Untranslatable(ValueError):
    """An expression that is neither Python nor JUEL that onestop understands."""


# The sandbox's own limit on an expression's length (sandbox.MAX_EXPRESSION_LENGTH).
MAX_JUEL_LENGTH = 2_000
_JUEL_WRAPPED = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_STRING = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.S)
_JUEL_WORDS = [
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
    (re.compile(r"\beq\b"), "=="),
    (re.compile(r"\bne\b"), "!="),
    (re.compile(r"\bgt\b"), ">"),
    (re.compile(r"\bge\b"), ">="),
    (re.compile(r"\blt\b"), "<"),
    (re.compile(r"\ble\b"), "<="),
    (re.compile(r"\bempty\s+"), "not "),
    (re.compile(r"\bdiv\b"), "/"),
    (re.compile(r"\bmod\b"), "%"),
    (re.compile(r"\btrue\b"), "True"),
    (re.compile(r"\bfalse\b"), "False"),
    (re.compile(r"\bnull\b"), "None"),
]
# JUEL reaches into the engine's Java objects; nothing of that exists here.
_JUEL_JAVA = re.compile(r"\b(execution|task|authenticatedUserId|S|JSON|XML)\s*[.(]")

_ISO_DURATION = re.compile(
    r"^-?P(?=\d|T\d)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?"
    r"(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$"
)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/[^\s]+$")


def is_juel(text: str) -> bool:
    return bool(text and _JUEL_WRAPPED.match(text))


def juel_to_python(text: str) -> str:
    """`${a > 1 && b}` -> `a > 1 and b`; raise Untranslatable for what has no Python meaning."""
    inner = _JUEL_WRAPPED.match(text).group(1).strip()
    if not inner:
        raise Untranslatable("empty expression")
    if len(inner) > MAX_JUEL_LENGTH:
        raise Untranslatable(f"the expression is longer than {MAX_JUEL_LENGTH} characters")
    parts = _STRING.split(inner)
    out = []
    for index, part in enumerate(parts):
        if index % 2:  # a string literal: leave it alone
            out.append(part)
            continue
        if _JUEL_JAVA.search(part):
            raise Untranslatable(f"the expression {text!r} calls engine objects that do not exist here")
        if "${" in part or "#{" in part:
            raise Untranslatable(f"the expression {text!r} mixes several JUEL blocks")
        for pattern, replacement in _JUEL_WORDS:
            part = pattern.sub(replacement, part)
        out.append(part)
    python = _ternary(re.sub(r"\s+", " ", "".join(out)).strip(), text)
    return _juel_methods(python, text)


# JUEL's `a ? b : c`, outside string literals: Python writes it `b if a else c`.
def _ternary(python: str, text: str) -> str:
    parts = _STRING.split(python)
    marks = [(i, m.start(), m.group()) for i, part in enumerate(parts) if not i % 2
             for m in re.finditer(r"[?:]", part)]
    if not marks:
        return python
    if [mark for _i, _at, mark in marks] != ["?", ":"]:
        raise Untranslatable(f"the conditional in {text!r} is not translated; write it in Python as "
                             "'value if condition else other'")
    (qi, qat, _), (ci, cat, _) = marks
    flat = [len("".join(parts[:qi])) + qat, len("".join(parts[:ci])) + cat]
    condition, yes, no = python[:flat[0]], python[flat[0] + 1:flat[1]], python[flat[1] + 1:]
    return f"({yes.strip()}) if ({condition.strip()}) else ({no.strip()})"


class _JuelMethods(ast.NodeTransformer):
    """Java's methods on strings and collections, and property access on maps, as Python.

    JUEL reads `order.amount` from a map (task data here are JSON objects): `order["amount"]`.
    A method with no meaning here, or a bare function (Camunda's `dateTime()`, `now()`), is
    refused by name so that the model is corrected at upload, not at run time."""

    def __init__(self, text):
        self.text = text

    def visit_Call(self, node):  # noqa: N802 - ast's naming
        if isinstance(node.func, ast.Name):
            raise Untranslatable(f"{self.text!r} calls {node.func.id}(), a function of Camunda's engine that does not "
                                 "exist here; write the condition in Python over the task's data")
        if not isinstance(node.func, ast.Attribute) or node.keywords:
            return self.generic_visit(node)
        receiver = self.visit(node.func.value)
        args = [self.visit(a) for a in node.args]
        make = _METHODS.get((node.func.attr, len(args)))
        if make is None:
            raise Untranslatable(f"{self.text!r} calls the Java method .{node.func.attr}(), which has no Python "
                                 f"translation here (translated: {', '.join(sorted({m for m, _n in _METHODS}))}); "
                                 "write the condition in Python over the task's data")
        return ast.copy_location(make(receiver, *args), node)

    def visit_Attribute(self, node):  # noqa: N802 - ast's naming
        return ast.copy_location(ast.Subscript(value=self.visit(node.value), slice=ast.Constant(node.attr),
                                               ctx=ast.Load()), node)


def _call(name, *args):
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])


def _method(receiver, name, *args):
    return ast.Call(func=ast.Attribute(value=receiver, attr=name, ctx=ast.Load()), args=list(args), keywords=[])


def _lower(value):
    return _method(_call("str", value), "lower")


_METHODS = {
    ("contains", 1): lambda r, x: ast.Compare(left=x, ops=[ast.In()], comparators=[r]),
    ("equals", 1): lambda r, x: ast.Compare(left=r, ops=[ast.Eq()], comparators=[x]),
    ("equalsIgnoreCase", 1): lambda r, x: ast.Compare(left=_lower(r), ops=[ast.Eq()], comparators=[_lower(x)]),
    ("isEmpty", 0): lambda r: ast.Compare(left=_call("len", r), ops=[ast.Eq()], comparators=[ast.Constant(0)]),
    ("size", 0): lambda r: _call("len", r),
    ("length", 0): lambda r: _call("len", r),
    ("startsWith", 1): lambda r, x: _method(r, "startswith", x),
    ("endsWith", 1): lambda r, x: _method(r, "endswith", x),
    ("toUpperCase", 0): lambda r: _method(r, "upper"),
    ("toLowerCase", 0): lambda r: _method(r, "lower"),
    ("trim", 0): lambda r: _method(r, "strip"),
    ("toString", 0): lambda r: _call("str", r),
}


def _juel_methods(python: str, text: str) -> str:
    """Rewrite method calls and property access of a translated JUEL expression (see _JuelMethods).
    Text that is not Python at all is left as it is, for the sandbox's check to name the problem,
    after refusing any Java method it calls by name."""
    try:
        tree = ast.parse(python, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is None:
        for part in _STRING.split(python)[::2]:
            for name in re.findall(r"\.\s*([A-Za-z_]\w*)\s*\(", part):
                if not any(method == name for method, _n in _METHODS):
                    raise Untranslatable(f"{text!r} calls the Java method .{name}(), which has no Python "
                                         "translation here; write the condition in Python over the task's data")
        return python
    if not any(isinstance(node, ast.Call | ast.Attribute) for node in ast.walk(tree)):
        return python
    try:
        return ast.unparse(ast.fix_missing_locations(_JuelMethods(text).visit(tree)))
    except RecursionError:
        raise Untranslatable(f"{text!r} is nested too deeply") from None


def translate_expression(text: str) -> tuple[str, bool]:
    """Return (python_expression, was_translated)."""
    if is_juel(text):
        return juel_to_python(text), True
    return text.strip(), False


def is_raw_iso_timer(text: str) -> bool:
    value = text.strip()
    return bool(_ISO_DURATION.match(value) or _ISO_DATETIME.match(value) or _ISO_CYCLE.match(value))


def translate_timer(text: str) -> tuple[str, bool]:
    """Raw ISO-8601 values and cron expressions become Python string literals; JUEL becomes
    Python; Python stays."""
    value = text.strip()
    if is_raw_iso_timer(value) or cron.is_cron(value):
        return repr(value), True
    if is_juel(value):
        return juel_to_python(value), True
    return value, False
