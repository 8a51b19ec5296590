"""The one XML door: DTDs, entities, oversize and broken files never get through."""

import pytest

from onestop.engine import ModelError
from onestop.engine.xml import parse_xml
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.corpus

HOSTILE = CONFORMANCE / "hostile"


def _refusal(content, name="m.bpmn", **kw):
    with pytest.raises(ModelError) as caught:
        parse_xml(content, name, **kw)
    return caught.value.problems[0].message


def test_an_external_entity_is_refused_before_it_is_read():
    message = _refusal((HOSTILE / "xxe_external_entity.bpmn").read_bytes())
    assert "DOCTYPE" in message and "root:" not in message


def test_billion_laughs_is_refused_quickly():
    import time

    started = time.perf_counter()
    assert "DOCTYPE" in _refusal((HOSTILE / "billion_laughs.bpmn").read_bytes())
    assert time.perf_counter() - started < 1.0


def test_a_doctype_in_utf16_is_refused_too():
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>'
    assert "DOCTYPE" in _refusal(text.encode("utf-16"))


def test_malformed_xml_names_the_line():
    message = _refusal((HOSTILE / "malformed_xml.bpmn").read_bytes())
    assert "not well-formed" in message and "line" in message


def test_a_file_over_the_size_cap_is_refused_without_parsing():
    assert "larger than" in _refusal(b"<a>" + b" " * 2000 + b"</a>", max_bytes=1024)


def test_a_doctype_word_inside_text_is_harmless():
    root = parse_xml(b"<a><b>see &lt;!DOCTYPE html&gt; in the docs</b></a>", "ok.bpmn")
    assert root.find("b").text.startswith("see <!DOCTYPE")
