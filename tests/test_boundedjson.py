"""The bounded JSON reader: what it takes, what it refuses, and why."""

import json

import pytest

from onestop import boundedjson
from onestop.boundedjson import Refused


def _refusal(text, **limits) -> str:
    with pytest.raises(Refused) as caught:
        boundedjson.loads(text, **limits)
    return caught.value.reason


def test_ordinary_json_reads_as_python_values():
    assert boundedjson.loads(b'\xef\xbb\xbf{"t\xc3\xaan": ["Nguy\xe1\xbb\x85n", 1, 2.5, true, null]}') == {
        "tên": ["Nguyễn", 1, 2.5, True, None]}


def test_nesting_is_counted_in_objects_and_arrays_up_to_the_limit():
    assert boundedjson.loads("[" * 64 + "]" * 64) is not None
    assert _refusal("[" * 65 + "]" * 65) == "too_deep"
    assert _refusal('{"a": ' * 10 + "1" + "}" * 10, max_depth=9) == "too_deep"


def test_brackets_inside_texts_do_not_count_as_nesting():
    text = '{"a": "' + "[{" * 1000 + '\\"[[[", "b": ["]]]"]}'
    assert boundedjson.loads(text)["b"] == ["]]]"]


def test_the_size_limit_is_checked_before_parsing():
    assert _refusal('"' + "x" * 100 + '"', max_bytes=50) == "too_large"
    assert boundedjson.loads('"' + "x" * 10 + '"', max_bytes=50) == "x" * 10


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e309", "[-2E400]"])
def test_numbers_that_are_not_finite_are_refused(text):
    assert _refusal(text) == "not_finite"


def test_lone_surrogates_are_refused_but_pairs_are_characters():
    assert _refusal('["\\ud800"]') == "surrogate"
    assert _refusal('{"\\udc00": 1}') == "surrogate"
    assert boundedjson.loads('"\\ud83d\\ude00"') == "\U0001F600"
    assert boundedjson.loads('"\\\\ud800"') == "\\ud800"  # an escaped backslash, not an escape


@pytest.mark.parametrize("text", [b"", b"{", b"{'a': 1}", b'"\xff"', b"1" * 5000])
def test_what_is_not_json_says_so(text):
    assert _refusal(text) == "not_json"


def test_one_decoder_reads_every_text(monkeypatch):
    # json.loads with parse_constant/parse_float builds a decoder and its scanner per call; one built once reads alike.
    built = []

    class Counted(json.JSONDecoder):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(json, "JSONDecoder", Counted)
    for _ in range(3):
        assert boundedjson.loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert _refusal("[NaN]") == "not_finite" and _refusal("[1e999]") == "not_finite"
    assert built == []


def test_a_second_bom_is_refused_as_json_refuses_it():
    with pytest.raises(Refused) as caught:
        boundedjson.loads(b"\xef\xbb\xbf\xef\xbb\xbf{}")
    assert caught.value.message == "not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) (line 1, column 1)"
