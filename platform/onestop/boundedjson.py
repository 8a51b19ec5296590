"""JSON from outside, read within bounds: every request body and every uploaded JSON file.

Python's `json.loads` accepts what other parsers and the database do not, and what the code
behind it cannot digest: `NaN` and `Infinity` (and `1e400`, which becomes infinity), which
json.dumps then writes back as invalid JSON; lone UTF-16 surrogates (`"\\ud800"`), which no UTF-8
encoder will write, and NUL, which PostgreSQL's text refuses; nesting hundreds of levels deep,
which parses but makes every recursive walk behind it (validation, copying, serialisation)
overflow the stack; and any size. `loads` refuses each with a `Refused` (a ValueError) that says
what is wrong in plain words, before anything else sees the value.
"""

import json
import math
import re

MAX_DEPTH = 64  # levels of objects and arrays; forms and data nest a handful, a model's files a dozen

_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# Characters no text onestop stores may hold: lone surrogates (no UTF-8 encoder writes them) and
# NUL (PostgreSQL's text refuses it). Inside JSON both can only arrive as \\u escapes.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


class Refused(ValueError):
    """The text is not JSON onestop accepts; `reason` is one of: too_large, too_deep, not_finite,
    surrogate, nul, not_json; `message` says why in plain words."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def loads(text: str | bytes, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH):
    """The JSON value of `text` (UTF-8 bytes or str), or Refused: larger than `max_bytes`, nested
    deeper than `max_depth`, a number that is not finite, a lone surrogate, or not JSON at all."""
    if max_bytes is not None and len(text) > max_bytes:
        raise Refused("too_large", f"the JSON is larger than the limit of {size_text(max_bytes)}")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Refused("not_json", f"the JSON is not UTF-8 text (byte {exc.start})") from None
    _check_depth(text, max_depth)  # before parsing: the parser itself recurses once per level
    try:
        # json.loads builds a decoder (and its scanner) per call: one built once reads the same. A text that
        # still starts with a BOM goes to json.loads, whose refusal of it says so.
        value = json.loads(text) if text.startswith("\ufeff") else _DECODER.decode(text)
    except RecursionError:
        raise Refused("too_deep", f"the JSON is nested more than {max_depth} levels deep") from None
    except Refused:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python reads
        raise Refused("not_json", f"not valid JSON: {_short(exc)}") from None
    if _UNSTORABLE_ESCAPE.search(text):
        _check_strings(value)
    return value


def _check_depth(text: str, max_depth: int):
    # No deeper than the brackets it holds (counted inside strings too: never fewer): the usual body,
    # with a handful, needs no walk through its tokens (a Python loop over every string of it).
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise Refused("too_deep", f"the JSON is nested more than {max_depth} levels deep")
        elif token in "]}":
            depth -= 1


def _not_finite(name):
    raise Refused("not_finite", f"{name} is not a JSON number (only finite numbers are)")


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise Refused("not_finite", f"the number {text[:40]} is too large")
    return number


_DECODER = json.JSONDecoder(parse_constant=_not_finite, parse_float=_finite)


def _check_strings(value):
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, "a key")
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            _check_text(item, "a text")


def _check_text(text: str, what: str):
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise Refused("nul", f"{what} contains a NUL character (\\u0000), which no text may hold")
    raise Refused("surrogate", f"{what} contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a "
                               "character")


def _short(exc) -> str:
    text = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
    return text[:120] + where


def size_text(limit: int) -> str:
    """A byte limit in words: "16 MiB", "512 KiB"."""
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KiB"
