"""Form patterns are compiled and matched by RE2: linear time whatever the pattern, also inside jsonschema."""

import time

import pytest

from onestop.formdefs import check_schema, validate
from onestop.formdefs.camunda import from_form_js
from onestop.formdefs.patterns import check_pattern, search

CATASTROPHIC = ["^(a|a)*$", "^(a|aa)+$", "^(a*)*$", "^([a-z]+)*@x$", "^(\\w|\\d)*!$"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_pattern_that_backtracks_exponentially_in_re_is_matched_in_linear_time(pattern):
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": pattern}}}
    started = time.monotonic()
    errors = validate(schema, {"name": "a" * 100_000 + "!!"})
    assert time.monotonic() - started < 0.5
    assert [(e.field, e.code) for e in errors] in ([("name", "pattern")], [])


def test_a_pattern_still_means_what_json_schema_says():
    assert search("^[0-9]{12}$", "001203004567") and not search("^[0-9]{12}$", "00120300456x")
    assert search("[0-9]", "abc1")  # unanchored: found anywhere
    assert search("^(Hộ kinh doanh|HỘ KINH DOANH) .+", "Hộ kinh doanh Phở Bình")
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[0-9]{12}$"}}}
    assert validate(schema, {"id": "001203004567"}) == []
    assert [e.code for e in validate(schema, {"id": "12"})] == ["pattern"]


@pytest.mark.parametrize(("pattern", "reason"), [
    ("(?=a)b", "look-arounds"),
    ("(a)\\1", "back-references"),
    ("a{2000}", "cannot be used"),
    ("x" * 501, "longer than 500"),
])
def test_a_pattern_re2_cannot_run_is_refused_at_upload_with_its_pointer(pattern, reason):
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    [problem] = check_schema("f-schema.json", schema)
    assert problem.pointer == "/properties/code/pattern" and reason in problem.message


def test_a_camunda_form_pattern_is_checked_at_upload():
    document = {"components": [{"type": "textfield", "key": "name", "label": "Tên",
                                "validate": {"pattern": "(?<=x)y"}}]}
    form, problems = from_form_js("apply.form", document)
    assert form is None and problems[0].pointer == "/components/0/validate/pattern"
    assert check_pattern("^(a|a)*$") is None  # harmless under RE2: accepted, matched in linear time
    document["components"][0]["validate"]["pattern"] = "^(a|a)*$"
    form, problems = from_form_js("apply.form", document)
    assert problems == [] and form.schema["properties"]["name"]["pattern"] == "^(a|a)*$"


@pytest.mark.parametrize("pattern", [[], {}, ["^a$"], 12, None])
def test_a_pattern_that_is_not_text_is_refused_with_a_reason_not_an_error(pattern):
    # (found by tests/formdefs/test_formjs.py's generated pages: `{"pattern": []}` raised TypeError, unhashable)
    assert check_pattern(pattern) == "pattern must be a string"
    document = {"components": [{"type": "textfield", "key": "name", "label": "Tên", "validate": {"pattern": pattern}}]}
    form, problems = from_form_js("apply.form", document)
    assert form is None
    assert [(p.pointer, p.message) for p in problems] == [("/components/0/validate/pattern", "pattern must be a string")]
