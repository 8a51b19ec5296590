"""Compact JSON text, written by orjson wherever it writes exactly what the standard library writes.

onestop stores JSON as text: a workflow's state (engine.serial), a dossier's data and every other
JSON column (models.JSONField, sql.to_json), and the audit chain's MACs cover JSON laid out by
`json.dumps(..., ensure_ascii=False, separators=(",", ":"))`. orjson writes the same text about
5x faster (a completion writes its dossier's data and state several times: ~10 % of its
instructions were the standard encoder), but not for every value:

* a NaN or an infinity: orjson writes `null`, the standard encoder `NaN` / `Infinity`;
* a float under 1e-4: orjson writes `1e-5` or `0.00001` where Python writes `1e-05`;
* a UUID or an enum member: orjson writes its text or value, where the standard encoder asks
  `default` (SpiffWorkflow's encoder stores a UUID as a typed object);
* subclasses, dates, dataclasses, sets...: what `default` makes of them.

So orjson is used only for a value made of exact `dict`, `list`, `tuple`, `str`, `int`, `bool`,
`None` and floats it writes the same way (`plain`), and a value orjson refuses (an integer beyond
64 bits, a key that is not text, a lone surrogate, nesting deeper than 254) goes to the standard
encoder too: the text is the same byte for byte either way (tests/test_jsontext.py).

The other way, `loads` reads JSON text as `json.loads` does, through orjson (~2x faster on a workflow's
state) when orjson reads it the same: see there.
"""

import json

import orjson

# A value with more nodes than this (or a cycle, which the standard encoder refuses) is not walked
# to the end: the standard encoder writes it (or raises as it always did).
MAX_NODES = 20_000


_ATOMS = frozenset({str, int, bool, type(None)})


def plain(value) -> bool:
    """Whether `value` holds only the types orjson writes exactly as `json.dumps` does, and at most
    MAX_NODES of them."""
    todo = [(value,)]  # groups of values: the top one, then each container's items
    left = MAX_NODES
    while todo:
        items = todo.pop()
        left -= len(items)
        if left < 0:
            return False
        for x in items:  # the atoms here, the containers later: most of a value is atoms
            t = type(x)
            if t in _ATOMS:
                continue
            if t is float:  # NaN fails both tests
                if 1e-4 <= abs(x) < 1e16 or x == 0.0:
                    continue
                return False
            if t is dict:
                todo.append(x.values())  # a key that is not text: orjson refuses it (see dumps)
            elif t is list or t is tuple:
                todo.append(x)
            else:
                return False
    return True


def dumps(value, cls=None, default=None, known_plain=None) -> str:
    """`json.dumps(value, cls=cls, default=default, ensure_ascii=False, separators=(",", ":"))`,
    the same text, through orjson when `plain(value)` (json then never calls `default` either).
    `known_plain`: what `plain(value)` answers, when the caller knows it for less (the caller made
    most of `value` of text, dictionaries and lists, and looked at the rest with `plain`)."""
    return dumps_and_utf8(value, cls, default, known_plain)[0]


def dumps_and_utf8(value, cls=None, default=None, known_plain=None) -> tuple:
    """(`dumps(...)`, its UTF-8 when orjson wrote it, else None): the bytes orjson wrote, for a caller that
    can store them as they are (a str bound to SQLite is encoded to UTF-8 again)."""
    text, written = dumps_or_utf8(value, cls, default, known_plain)
    return (written.decode() if text is None else text), written


def dumps_or_utf8(value, cls=None, default=None, known_plain=None) -> tuple:
    """(None, the UTF-8 of `dumps(...)` as orjson wrote it) when orjson wrote it, else (`dumps(...)`, None): for a
    caller that may never need the text (decoding it costs ~10 instructions a byte of Vietnamese text)."""
    if plain(value) if known_plain is None else known_plain:
        try:
            return None, orjson.dumps(value)
        except orjson.JSONEncodeError:  # beyond 64 bits, a key not text, a surrogate, too deep
            pass
    return json.dumps(value, cls=cls, default=default, ensure_ascii=False, separators=(",", ":")), None


def plain_copy(value, otherwise):
    """A copy of `value` as `json.loads(json.dumps(value))` gives it, through orjson when
    `plain(value)`; else (or if orjson refuses it) `otherwise(value)`, the caller's own way."""
    return plain_copy_and_utf8(value, otherwise)[0]


def plain_copy_and_utf8(value, otherwise):
    """(`plain_copy(value, otherwise)`, the UTF-8 of its `dumps` text as orjson wrote it, or None: when orjson made
    the copy, the text it wrote on the way is the copy's `dumps` text too (a copy of plain values is plain, and
    orjson writes each of its floats as the one it read); None when `otherwise` made it). For a caller that stores
    the bytes as they are (decoding them to text costs ~10 instructions a byte of Vietnamese text, and a str bound
    to SQLite is encoded to UTF-8 again)."""
    if plain(value):
        try:
            written = orjson.dumps(value)
            return orjson.loads(written), written
        except orjson.JSONEncodeError:
            pass
    return otherwise(value), None


def loads(text: str | bytes):
    """`json.loads(text)`: the same value, read by orjson when it reads `text` as json does.

    orjson refuses some text json takes (NaN, Infinity, 1e400, a lone surrogate, nesting deeper than 1024):
    json then reads it. The one text it reads differently is an integer beyond 64 bits, which it makes a
    float. So what orjson read is taken only when orjson writes it back as `text` exactly, byte for byte:
    an integer read as a float would come back with a point or an exponent, and a float written back as
    its own text is the float json reads from that text (both round correctly). A text orjson would lay
    out otherwise (spaces, escapes, `1e-05`, a repeated key) is read by json, as before: the check costs
    ~1/5 of the read, the fallback a read by each."""
    try:
        value = orjson.loads(text)
        if orjson.dumps(value) == (text.encode() if type(text) is str else text):
            return value
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # refused, or too deep to write back
        pass
    return json.loads(text)
