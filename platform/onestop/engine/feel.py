"""FEEL in decision tables, as the Python SpiffWorkflow's DMN engine evaluates.

Camunda Modeler writes DMN cells in FEEL; SpiffWorkflow evaluates every cell as Python: an input
entry `"a","b"` became the tuple ("a", "b"), compared with the input and never equal, so the rule
silently matched nothing. Before parsing, each cell is rewritten in place:

- input entries (FEEL unary tests): lists `"a","b"` and `1, 2, 3`, ranges `[1..5]`, `]1..5[`,
  `(1..5]`, comparisons `< 10`, negations `not(...)` and their combinations become a Python test
  of the input (`?` stands for it, as SpiffWorkflow reads it): `? in ("a", "b")`, `1 <= ? <= 5`;
- every cell: `true`, `false`, `null` become True, False, None; a FEEL path `applicant.age` reads
  the data as JSON objects are read here, `applicant["age"]`;
- a cell that already means the same in Python (`"house"`, `>= 6`, SpiffArena's `in ['a', 'b']`)
  is left as it is.

What has no translation (FEEL dates and functions, names with spaces) is refused at upload,
naming the decision, the rule and the input: a decision is never silently wrong.
"""

from __future__ import annotations

import ast
import re

from lxml import etree

from .problems import Problem
from .sandbox import MAX_EXPRESSION_LENGTH, check_expression
from .sandbox_worker import SAFE_FUNCTIONS
from .translate import Untranslatable

_STRING = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.S)
_NAME = r"[A-Za-z_]\w*"
_ENDPOINT = rf'-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|{_NAME}(?:\.{_NAME})*'
_RANGE = re.compile(rf"^([\[\]\(])\s*({_ENDPOINT})\s*\.\.\s*({_ENDPOINT})\s*([\[\]\)])$", re.S)
_COMPARISON = re.compile(rf"^(<=|>=|<|>)\s*({_ENDPOINT})$", re.S)
_ENDPOINT_ONLY = re.compile(rf"^({_ENDPOINT})$", re.S)
_NEGATION = re.compile(r"^not\s*\((.*)\)$", re.S)
_WORDS = {"true": "True", "false": "False", "null": "None"}
_PATH = re.compile(rf"^{_NAME}(?:\.{_NAME})+$")
# FEEL's temporal literals and built-ins have no Python meaning here, even where they parse as Python.
_FEEL_FUNCTIONS = {"date", "time", "duration", "number", "string", "contains", "matches", "substring",
                   "upper", "lower", "floor", "ceiling", "count", "mean", "now", "today"}
# SpiffWorkflow's own reading of `?` (DMNEngine.evaluate): the input, outside quotes.
_INPUT_MARK = re.compile(r"""(\?)(?=(?:[^'"]|['"][^'"]*['"])*$)""")


def _words(text: str) -> str:
    """true/false/null as Python, outside string literals."""
    parts = _STRING.split(text)
    for index in range(0, len(parts), 2):
        parts[index] = re.sub(r"\b(true|false|null)\b", lambda m: _WORDS[m.group(1)], parts[index])
    return "".join(parts)


def _endpoint(text: str) -> str:
    text = text.strip()
    if text in _WORDS:
        return _WORDS[text]
    if _PATH.match(text):
        first, *rest = text.split(".")
        return first + "".join(f'["{key}"]' for key in rest)
    return text


def _split(text: str) -> list[str]:
    """Top-level comma-separated pieces: commas inside strings, parentheses and ranges stay."""
    pieces, current, depth, index = [], [], 0, 0
    started = ranged = False  # the piece so far has something other than blanks / holds `..`
    while index < len(text):
        char = text[index]
        string = _STRING.match(text, index) if char in "\"'" else None
        if string:
            current.append(string.group())
            index = string.end()
            started = True
            continue
        if char == "(" or (char == "]" and not started):  # `]1..5[` opens with a `]`
            depth += 1
        elif char == ")" or char == "]":
            depth -= 1
        elif char == "[":  # `[1..5[` closes with a `[`
            depth += -1 if depth > 0 and ranged else 1
        if char == "," and depth == 0:
            pieces.append("".join(current).strip())
            current, started, ranged = [], False, False
        else:
            ranged = ranged or (char == "." and index > 0 and text[index - 1] == ".")
            started = started or not char.isspace()
            current.append(char)
        index += 1
    pieces.append("".join(current).strip())
    return pieces


def _test(piece: str) -> tuple[str, str | None]:
    """One positive unary test as (kind, python): kind is "value", "comparison" or "range"."""
    found = _RANGE.match(piece)
    if found:
        opening, low, high, closing = found.groups()
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return "range", f"{_endpoint(low)} {low_op} ? {high_op} {_endpoint(high)}"
    found = _COMPARISON.match(piece)
    if found:
        return "comparison", f"? {found.group(1)} {_endpoint(found.group(2))}"
    found = _ENDPOINT_ONLY.match(piece)
    if found:
        return "value", _endpoint(found.group(1))
    raise Untranslatable(f"{piece!r} is not a FEEL test onestop translates (a value, a list of values, a range such "
                         "as [1..5], a comparison such as < 10, or not(...) of these)")


def _python_reading(text: str) -> str | None:
    """The Python SpiffWorkflow would evaluate for a cell left as it is, or None if it is not Python."""
    marked = _INPUT_MARK.sub("dmninputexpr", text)
    for candidate in ((marked,) if "dmninputexpr" in marked else (f"dmninputexpr == ({text})",
                                                                 f"dmninputexpr {text}")):
        try:
            tree = ast.parse(candidate, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                    node.func.id in _FEEL_FUNCTIONS or node.func.id not in SAFE_FUNCTIONS):
                raise Untranslatable(f"FEEL's {node.func.id}(...) has no translation here; compare with a plain value "
                                     "(dates as text: \"2026-01-31\")")
        return candidate
    return None


def _bounded(cell: str) -> None:
    if len(cell) > MAX_EXPRESSION_LENGTH:
        raise Untranslatable(f"the cell is longer than {MAX_EXPRESSION_LENGTH} characters")


def translate_input_entry(text: str) -> tuple[str, bool]:
    """An input entry (FEEL unary tests) -> (Python as SpiffWorkflow evaluates it, translated?).
    Raises Untranslatable for what has no translation."""
    cell = (text or "").strip()
    if cell in ("", "-"):
        return text, False
    _bounded(cell)
    negated = _NEGATION.match(cell)
    inner = negated.group(1).strip() if negated else cell
    pieces = _split(inner)
    if not negated and len(pieces) == 1:
        try:
            kind, python = _test(cell)
        except Untranslatable:
            kind = None
        if kind in ("value", "comparison"):
            # Already Python, but for FEEL's words and paths: `> 5` stays, `true` becomes `True`.
            same = python if kind == "value" else python.replace("? ", "", 1)
            changed = re.sub(r"\s+", "", same) != re.sub(r"\s+", "", cell)
            return (same, True) if changed else (text, False)
        if kind is None:
            python = _words(cell)
            reading = _python_reading(python)
            if reading is None:
                _test(cell)  # raises, naming what FEEL test was expected
            if reading == f"dmninputexpr {python}" and python[:1].isalpha():
                # SpiffWorkflow glues the input to the cell (`kind` + `in [...]`: `kindin [...]`).
                python = f"? {python}"
            return (python, True) if python != cell else (text, False)
    if any(not piece for piece in pieces):
        raise Untranslatable(f"{cell!r} has an empty entry between two commas")
    tests = [_test(piece) for piece in pieces]
    if all(kind == "value" for kind, _python in tests) and len(tests) > 1:
        python = f"? in ({', '.join(p for _kind, p in tests)})"
    else:
        python = " or ".join(p if kind != "value" else f"? == {p}" for kind, p in tests)
    return (f"not ({python})" if negated else python), True


def translate_literal(text: str) -> tuple[str, bool]:
    """An output entry or input expression -> (Python, translated?): FEEL's words and paths."""
    cell = (text or "").strip()
    _bounded(cell)
    if _PATH.match(cell):
        python = _endpoint(cell)
    else:
        python = _words(cell)
    return python, python != cell


def _check_python(python: str, entry: bool) -> str | None:
    """The sandbox's objection to a cell as SpiffWorkflow will evaluate it, or None."""
    if not python.strip() or (entry and python.strip() == "-"):
        return None
    if entry:
        reading = _python_reading(python)
        if reading is None:
            return "it is neither a FEEL test onestop translates nor Python"
        return check_expression(reading)
    return check_expression(python)


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _children(node, name):
    return [child for child in node if _local(child) == name]


def _text_of(node):
    texts = _children(node, "text")
    return texts[0] if texts else None


def rewrite_decisions(root, file: str) -> tuple[list, list]:
    """Rewrite the FEEL cells of a DMN document in place; return (problems, warnings), each
    naming the decision, the rule (and its row) and the input or output of the cell."""
    problems, warnings = [], []
    for decision in root.iter():
        if _local(decision) != "decision":
            continue
        for table in decision.iter():
            if _local(table) != "decisionTable":
                continue
            inputs = _children(table, "input")
            outputs = _children(table, "output")
            labels = [i.get("label") or i.get("name") or i.get("id") or "?" for i in inputs]
            out_labels = [o.get("name") or o.get("label") or o.get("id") or "?" for o in outputs]
            for index, item in enumerate(inputs):
                for expression in _children(item, "inputExpression"):
                    _rewrite(_text_of(expression), expression, translate_literal, False,
                             f"decision {decision.get('id')}, input '{labels[index]}'", file, problems, warnings)
            for row, rule in enumerate(_children(table, "rule"), start=1):
                where = f"decision {decision.get('id')}, rule {rule.get('id')} (row {row})"
                for index, entry in enumerate(_children(rule, "inputEntry")):
                    label = labels[index] if index < len(labels) else str(index + 1)
                    _rewrite(_text_of(entry), entry, translate_input_entry, True, f"{where}, input '{label}'",
                             file, problems, warnings)
                for index, entry in enumerate(_children(rule, "outputEntry")):
                    label = out_labels[index] if index < len(out_labels) else str(index + 1)
                    _rewrite(_text_of(entry), entry, translate_literal, False, f"{where}, output '{label}'",
                             file, problems, warnings)
    return problems, warnings


def _rewrite(text_node, owner, translate, entry, where, file, problems, warnings):
    if text_node is None or not (text_node.text or "").strip():
        return
    original = text_node.text.strip()
    try:
        python, translated = translate(original)
    except Untranslatable as exc:
        problems.append(Problem(owner.get("id"), f"{where}: cannot translate the FEEL cell {original!r}: {exc}", file))
        return
    problem = _check_python(python, entry)
    if problem:
        problems.append(Problem(owner.get("id"), f"{where}: the cell {original!r}: {problem}", file))
        return
    if translated:
        text_node.text = python
        warnings.append(Problem(owner.get("id"), f"{where}: FEEL {original!r} read as {python}", file))
