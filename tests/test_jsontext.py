"""jsontext writes the standard library's compact JSON text byte for byte, through orjson only where
orjson writes the same; json_safe, the data column and the workflow state are unchanged by it."""

import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop import jsontext
from onestop.engine import serial
from onestop.engine.runtime import json_safe, json_safe_and_utf8
from onestop.models import JSONField
from onestop.sql import to_json


def standard(value, cls=None, default=None):
    return json.dumps(value, cls=cls, default=default, ensure_ascii=False, separators=(",", ":"))


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):  # noqa: UP042 - the mixed kind, whose str() is not its value
    FAST = "fast"


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


@dataclasses.dataclass
class Point:
    x: int


def _default(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


AWKWARD = [
    math.nan, math.inf, -math.inf, [1.0, math.nan], {"x": -math.inf},
    1e-5, 2.5e-7, 9.99e-5, 1e-4, 0.0001234, 5e-324, -0.0, 0.0, 1e16, 1.5e16, 9999999999999998.0, 1e22, 1e300,
    1.7976931348623157e308, 320.5, 1733450000.123456, 0.1 + 0.2,
    2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**40, [2**64],
    {1: "a"}, {None: 1}, {True: 2}, {1.5: 3}, {"a": {2: "b"}},
    "\ud800", ["a\udfff"], {"\ud83d": 1},
    "".join(chr(i) for i in range(0x80)) + "\u2028\u2029\ufeff\x85é😀",
    uuid.UUID(int=7), Colour.RED, Level.HIGH, Mode.FAST, Text("t"), {Text("k"): 1}, Number(5), Real(1.5),
    OrderedDict(b=1, a=2), (1, "two", (3.0,)), datetime.datetime(2025, 7, 10, 8, 30), datetime.date(2025, 7, 10),
    {"at": datetime.time(8, 30)}, {1, 2}, frozenset({"x"}), Point(1), decimal.Decimal("1.10"), b"bytes",
    [[[[[[[[[[[]]]]]]]]]]], json.loads("[" * 300 + "]" * 300),
    {"tasks": {"id": {"data": {"n": 3, "ok": True, "none": None, "list": [1, 2.5, "x"]}}}},
]


def _typed(v):
    """A value's JSON and repr: 1 == 1.0 == True and 0.0 == -0.0 in Python, not here."""
    return json.dumps(v, ensure_ascii=False) + repr(v)


def _same(run_new, run_old):
    """Both give the same result, or both raise the same kind of exception."""
    try:
        expected = run_old()
    except Exception as exc:  # noqa: BLE001 - the new way must fail the same way
        with pytest.raises(type(exc)):
            run_new()
        return
    assert run_new() == expected


@pytest.mark.parametrize("value", AWKWARD, ids=[repr(v)[:40] for v in AWKWARD])
def test_dumps_writes_the_standard_text_for_awkward_values(value):
    _same(lambda: jsontext.dumps(value), lambda: standard(value))
    _same(lambda: jsontext.dumps(value, default=_default), lambda: standard(value, default=_default))
    _same(lambda: JSONField().db_value(value), lambda: standard(value))
    _same(lambda: to_json(value), lambda: standard(value))


@pytest.mark.parametrize("value", AWKWARD, ids=[repr(v)[:40] for v in AWKWARD])
def test_json_safe_gives_the_same_values_and_types_as_before(value):
    def before():
        return json.loads(json.dumps(value, default=_default, ensure_ascii=False), parse_constant=lambda _name: None)

    _same(lambda: _typed(json_safe(value)), lambda: _typed(before()))


def test_a_cycle_is_refused_as_before():
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(loop)
    assert not jsontext.plain(loop)


def test_plain_values_take_orjson_and_the_others_do_not(monkeypatch):
    calls = []
    real = jsontext.orjson.dumps
    monkeypatch.setattr(jsontext.orjson, "dumps", lambda v, *a, **k: calls.append(v) or real(v, *a, **k))
    data = {"name": "Nguyễn Văn An", "floors": 4, "area": 320.5, "docs": ["a", "b"], "ok": True, "none": None}
    assert jsontext.dumps(data) == standard(data)
    assert calls == [data]
    for odd in (math.nan, 1e-5, uuid.UUID(int=1), Colour.RED, Text("x"), datetime.date(2025, 1, 1)):
        assert not jsontext.plain({"v": [odd]})
    assert not jsontext.plain([[0]] * (jsontext.MAX_NODES + 1))  # too many to walk: the standard encoder writes it


def test_a_workflow_state_with_typed_values_is_the_same_text():
    """SpiffWorkflow's encoder stores a UUID or a datetime as a typed object, a NaN as NaN: the state's
    text must not change with the encoder that wrote it."""
    spiff = serial.serializer_for("spiff").spiff
    doc = {"data": {"when": datetime.datetime(2025, 7, 10), "id": uuid.UUID(int=3), "nan": math.nan,
                    "tiny": 1e-7, "name": "Trần Thị Bình"},
           "tasks": {"t": {"state": 64, "last_state_change": 1733450000.25, "data": {}}}}
    spiff.registry._encoder_mode = True
    try:
        text = jsontext.dumps(doc, cls=spiff._encoder_cls)
        assert text == standard(doc, cls=spiff._encoder_cls)
    finally:
        spiff.registry._encoder_mode = False
    assert '"typename":"UUID"' in text and "NaN" in text and "1e-07" in text


json_values = st.recursive(  # beyond 64 bits, NaN, tiny floats, lone surrogates, keys that are not text
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(st.characters(exclude_categories=())),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=5) | st.integers(-3, 3), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_dumps_and_json_safe_match_the_standard_library_on_generated_values(value):
    _same(lambda: jsontext.dumps(value), lambda: standard(value))
    _same(lambda: _typed(json_safe(value)),
          lambda: _typed(json.loads(json.dumps(value, ensure_ascii=False), parse_constant=lambda _name: None)))


LOADS_TEXTS = [
    "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
    "100000000000000000000000", '{"n":[1,12345678901234567890123,{"m":-99999999999999999999}]}',
    "NaN", "-Infinity", '[Infinity,1]', "1e400", "-1e400", "1.7976931348623159e308", "1e-05", "1e-5", "1E5",
    "1e+16", "1e16", "0.30000000000000004", "123456789012345678.123456789012345678", "-0", "-0.0", "5e-324",
    '"\\ud800"', '["a\\udfff"]', '"\\ud83d\\ude00"', '"\\u00e9"', '"é😀\\u2028"', '"\\u0000\\n"',
    '{"a":1,"a":2,"b":3}', ' {"a": [1, 2]} ', '{"a":1}\n', "[" * 300 + "]" * 300, "[" * 1100 + "]" * 1100,
    "", "[1,]", "{'a':1}", '"\\x"', "nul", "\ufeff[]", "[1] [2]",
    '{"tasks":{"id":{"data":{"n":3,"ok":true,"none":null,"list":[1,2.5,"x"]}}}}',
]


@pytest.mark.parametrize("text", LOADS_TEXTS, ids=[t[:40] for t in LOADS_TEXTS])
def test_loads_reads_what_the_standard_library_reads(text):
    _same(lambda: _typed(jsontext.loads(text)), lambda: _typed(json.loads(text)))
    if "\ud800" not in text and "\udfff" not in text:
        _same(lambda: _typed(jsontext.loads(text.encode())), lambda: _typed(json.loads(text.encode())))


def test_loads_takes_orjsons_reading_only_when_it_writes_the_text_back(monkeypatch):
    calls = []
    real = jsontext.json.loads
    monkeypatch.setattr(jsontext.json, "loads", lambda t, *a, **k: calls.append(t) or real(t, *a, **k))
    plain_text = standard({"name": "Nguyễn Văn An", "floors": 4, "area": 320.5, "docs": ["a"], "ok": None})
    assert jsontext.loads(plain_text) == real(plain_text)
    assert calls == []
    for other in ("[18446744073709551616]", "[1e-05]", '{"a": 1}', "[NaN]"):
        assert _typed(jsontext.loads(other)) == _typed(real(other))
    assert calls == ["[18446744073709551616]", "[1e-05]", '{"a": 1}', "[NaN]"]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_loads_matches_the_standard_library_on_generated_texts(value):
    for text in (standard(value), json.dumps(value)):
        _same(lambda: _typed(jsontext.loads(text)), lambda: _typed(json.loads(text)))  # noqa: B023


def _copy_and_text(value):
    """json_safe_and_utf8's copy (as _typed shows it) and whether its UTF-8 is the copy's standard text."""
    copy, utf8 = json_safe_and_utf8(value)
    assert utf8 is None or utf8.decode() == standard(copy) == jsontext.dumps(copy)
    return _typed(copy)


@pytest.mark.parametrize("value", AWKWARD, ids=[repr(v)[:40] for v in AWKWARD])
def test_json_safe_and_utf8_gives_json_safes_copy_and_the_copys_text(value):
    _same(lambda: _copy_and_text(value), lambda: _typed(json_safe(value)))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_safe_and_utf8_on_generated_values(value):
    _same(lambda: _copy_and_text(value), lambda: _typed(json_safe(value)))
    if jsontext.plain(value):
        assert json_safe_and_utf8(value)[1] is not None or not _fits_orjson(value)


def _fits_orjson(value):
    try:
        jsontext.orjson.dumps(value)
        return True
    except jsontext.orjson.JSONEncodeError:
        return False
