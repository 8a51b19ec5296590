"""Translate what other modelling tools write into the Python expressions SpiffWorkflow evaluates.

Camunda Modeler writes JUEL (`${amount > 100 && approved}`, `#{approved}`) and raw ISO-8601
timer values (`P7D`, `R3/PT1H`, `2026-12-01T08:00:00Z`); SpiffWorkflow expects Python. What can
be translated is rewritten in the tree before parsing; what cannot raises `Untranslatable`.
"""

import re

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class Untranslatable(ValueError):
    """An expression that is neither Python nor JUEL that onestop understands."""


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
    return re.sub(r"\s+", " ", "".join(out)).strip()


def translate_expression(text: str) -> tuple[str, bool]:
    """Return (python_expression, was_translated)."""
    if is_juel(text):
        return juel_to_python(text), True
    return text.strip(), False


def is_raw_iso_timer(text: str) -> bool:
    value = text.strip()
    return bool(_ISO_DURATION.match(value) or _ISO_DATETIME.match(value) or _ISO_CYCLE.match(value))


def translate_timer(text: str) -> tuple[str, bool]:
    """Raw ISO-8601 values become Python string literals; JUEL becomes Python; Python stays."""
    value = text.strip()
    if is_raw_iso_timer(value):
        return repr(value), True
    if is_juel(value):
        return juel_to_python(value), True
    return value, False
