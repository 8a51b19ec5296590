"""Task instructions as SpiffArena writes them: Jinja templates over the task's data, rendered in a
sandbox that neither reaches Python's internals nor runs (or writes) without bound."""

import logging
import time

import pytest

from onestop.formdefs.instructions import MAX_CHARS, render

DATA = {"applicant": {"name": "Trần Thị Bình"}, "fee_vnd": 150000, "items": ["CCCD", "Sổ hộ khẩu"],
        "note": "<script>alert(1)</script>"}


def test_variables_filters_and_loops_are_filled_from_the_task_data():
    text = ("Hồ sơ của **{{ applicant.name }}**: phí {{ '{:,}'.format(fee_vnd) }} đồng.\n"
            "{% for item in items %}\n- {{ item }}{% endfor %}")
    assert render(text, DATA) == "Hồ sơ của **Trần Thị Bình**: phí 150,000 đồng.\n\n- CCCD\n- Sổ hộ khẩu"


def test_values_are_escaped_so_task_data_cannot_inject_markup():
    assert render("{{ note }}", DATA) == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_plain_markdown_is_returned_as_it_is():
    assert render("Kiểm tra **giấy tờ**.", DATA) == "Kiểm tra **giấy tờ**."


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ items.append('x') }}",
])
def test_a_template_reaching_for_pythons_internals_is_shown_raw_and_logged(template, caplog):
    with caplog.at_level(logging.WARNING, logger="onestop.formdefs.instructions"):
        assert render(template, DATA) == template
    assert "not rendered" in caplog.text
    assert DATA["items"] == ["CCCD", "Sổ hộ khẩu"]


@pytest.mark.parametrize("template", [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
    "{% for i in range(9999) %}{{ 'abcdefghij' }}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ ['x' * 9000] * 9000 }}",
    "{{ 'x'|center(100000000) }}",
    "{{ 'x'.ljust(100000000) }}",
    "{{ '%099999999d' % 1 }}",
    "{{ '{0:>100000000}'.format(1) }}",
    "{{ ('y' * 9000).replace('', 'y' * 9000) }}",
    "{{ ''.join(['y' * 9000] * 99) }}",
    "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('ab', 60) }}",
])
def test_a_template_asking_for_unbounded_work_or_text_is_stopped_quickly_and_shown_raw(template):
    started = time.perf_counter()
    out = render(template, DATA)
    assert out == template and len(out) < MAX_CHARS
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("template", ["{{ missing.field }}", "{% for %}", "{{ 1 / 0 }}", "{{ items|sum }}"])
def test_a_broken_template_shows_the_raw_text_never_an_exception(template):
    assert render(template, DATA) == template


def test_an_internal_attribute_of_the_data_reads_as_nothing():
    assert render("[{{ applicant.__class__ }}{{ applicant.__dict__ }}]", DATA) == "[]"
