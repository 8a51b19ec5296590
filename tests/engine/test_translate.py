"""Expressions written for Camunda become the Python SpiffWorkflow evaluates, or are refused."""

import pytest

from onestop.engine.translate import Untranslatable, translate_expression, translate_timer


@pytest.mark.parametrize(("juel", "python"), [
    ("${x == 'a'}", "x == 'a'"),
    ("#{approved}", "approved"),
    ("${amount > 100 && !rejected}", "amount > 100 and not rejected"),
    ("${a eq 1 || b ne 2}", "a == 1 or b != 2"),
    ("${empty note}", "not note"),
    ("${flag == true}", "flag == True"),
    ("${name == 'a && b'}", "name == 'a && b'"),
    ("${x != null}", "x != None"),
])
def test_juel_conditions_become_python(juel, python):
    assert translate_expression(juel) == (python, True)


def test_python_conditions_are_left_alone():
    assert translate_expression(" x > 1 ") == ("x > 1", False)


@pytest.mark.parametrize("juel", ["${execution.getVariable('x')}", "${task.assignee == 'a'}", "${}"])
def test_juel_reaching_into_engine_objects_is_refused(juel):
    with pytest.raises(Untranslatable):
        translate_expression(juel)


@pytest.mark.parametrize(("raw", "python"), [
    ("PT5M", "'PT5M'"),
    ("P7D", "'P7D'"),
    ("R3/PT1H", "'R3/PT1H'"),
    ("R6/P1D", "'R6/P1D'"),
    ("2026-12-01T08:00:00Z", "'2026-12-01T08:00:00Z'"),
    ("2026-12-01", "'2026-12-01'"),
    ("${reminder}", "reminder"),
])
def test_raw_iso_timers_become_string_literals(raw, python):
    assert translate_timer(raw) == (python, True)


def test_python_timer_expressions_stay_as_they_are():
    assert translate_timer('"PT1S"') == ('"PT1S"', False)
    assert translate_timer("due_date") == ("due_date", False)


@pytest.mark.parametrize(("juel", "python"), [
    ('${kinds.contains("house")}', "'house' in kinds"),
    ("${x.contains(y) == false}", "(y in x) == False"),
    ("${!notes.isEmpty()}", "not len(notes) == 0"),
    ("${items.size() gt 2}", "len(items) > 2"),
    ('${code.startsWith("HN")}', "code.startswith('HN')"),
    ('${name.equalsIgnoreCase("AN")}', "str(name).lower() == str('AN').lower()"),
    ("${applicant.address.ward}", "applicant['address']['ward']"),
    ('${m["k"].contains(1)}', "1 in m['k']"),
    ('${x.size() > 0 ? "a" : "b"}', "'a' if len(x) > 0 else 'b'"),
    ("${total div 2 mod 3}", "total / 2 % 3"),
])
def test_juel_methods_and_properties_become_python(juel, python):
    assert translate_expression(juel) == (python, True)


@pytest.mark.parametrize(("juel", "named"), [
    ("${order.getCustomer()}", ".getCustomer()"),
    ("${now()}", "now()"),
    ('${list.stream().filter(x -> x == "a")}', ".stream()"),
    ("${a ? b : c ? d : e}", "conditional"),
])
def test_juel_without_a_translation_is_refused_naming_what(juel, named):
    with pytest.raises(Untranslatable) as caught:
        translate_expression(juel)
    assert named in str(caught.value)
