"""FEEL in decision tables (Camunda Modeler's DMN): unary tests and literals become the Python
SpiffWorkflow evaluates, or the upload is refused naming the table, the rule and the cell; a
decision is never silently wrong."""

import time

import pytest

from onestop.engine import ModelError
from onestop.engine.feel import translate_input_entry, translate_literal
from onestop.engine.parsing import SourceFile
from onestop.engine.translate import Untranslatable

_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://onestop.test">
  <bpmn:process id="fee" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Decide" />
    <bpmn:businessRuleTask id="Decide" camunda:decisionRef="fee_table">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Decide" targetRef="Done" />
    <bpmn:endEvent id="Done"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="fees" name="Fees"
  namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="fee_table" name="Fee table">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in_kind" label="Kind"><inputExpression id="e1" typeRef="string"><text>kind</text></inputExpression></input>
      <input id="in_area" label="Area"><inputExpression id="e2" typeRef="integer"><text>area</text></inputExpression></input>
      <output id="out_fee" name="fee" typeRef="integer" />
      <output id="out_urgent" name="urgent" typeRef="boolean" />
RULES
    </decisionTable>
  </decision>
</definitions>
"""


def _rule(rule_id, kind, area, fee, urgent="false"):
    return (f'<rule id="{rule_id}"><inputEntry id="{rule_id}_kind"><text>{kind}</text></inputEntry>'
            f'<inputEntry id="{rule_id}_area"><text>{area}</text></inputEntry>'
            f'<outputEntry id="{rule_id}_fee"><text>{fee}</text></outputEntry>'
            f'<outputEntry id="{rule_id}_urgent"><text>{urgent}</text></outputEntry></rule>')


def _files(*rules):
    dmn = _DMN.replace("RULES", "\n".join(rules))
    return [SourceFile("fee.bpmn", _BPMN.encode()), SourceFile("fee.dmn", dmn.encode())]


def _decide(engine, model, **data):
    step = engine.start(model, data)
    assert step.status == "completed", step.error
    return step.data.get("fee"), step.data.get("urgent")


@pytest.fixture(scope="module")
def fee_model(engine):
    return engine.parse(_files(
        _rule("house_small", '"house","villa"', "[1..100]", "100", "true"),
        _rule("house_large", '"house","villa"', "]100..500]", "200"),
        _rule("not_land", 'not("land")', "&lt; 50", "50"),
        _rule("land_listed", '"land"', "1,2,3", "10"),
        _rule("land_far", '"land"', "not([1..1000])", "999"),
        _rule("any", "-", "-", "0"),
    ))


@pytest.mark.parametrize(("data", "fee", "urgent"), [
    ({"kind": "villa", "area": 80}, 100, True),  # a FEEL list entry matches one of its values
    ({"kind": "house", "area": 100}, 100, True),  # a closed range includes its end
    ({"kind": "house", "area": 101}, 200, False),  # ]100..500] excludes 100 and includes 500
    ({"kind": "house", "area": 500}, 200, False),
    ({"kind": "shop", "area": 40}, 50, False),  # not("land") and a comparison
    ({"kind": "land", "area": 2}, 10, False),  # a list of numbers
    ({"kind": "land", "area": 5000}, 999, False),  # not() of a range
    ({"kind": "land", "area": 500}, 0, False),
])
def test_feel_unary_tests_decide_as_camunda_would(engine, fee_model, data, fee, urgent):
    assert _decide(engine, fee_model, **data) == (fee, urgent)


def test_a_feel_list_entry_matches_one_of_its_values_instead_of_nothing(engine):
    model = engine.parse(_files(_rule("listed", '"house","villa"', "-", "100", "False"),
                                _rule("other", "-", "-", "0", "False")))
    assert _decide(engine, model, kind="villa", area=1) == (100, False)
    assert _decide(engine, model, kind="land", area=1) == (0, False)


def test_translations_are_reported_as_warnings_naming_the_cell(fee_model):
    cells = [w["message"] for w in fee_model.warnings if "house_small" in w["message"]]
    assert any('"house","villa"' in message for message in cells)


@pytest.mark.parametrize(("feel", "python"), [
    ('"a","b"', '? in ("a", "b")'),
    ("[1..5]", "1 <= ? <= 5"),
    ("]1..5[", "1 < ? < 5"),
    ("(1..5]", "1 < ? <= 5"),
    ("1, 2, 3", "? in (1, 2, 3)"),
    ("'a', 'b'", "? in ('a', 'b')"),  # as a Python author would write the list
    ('not("a", "b")', 'not (? in ("a", "b"))'),
    ("not([1..5], 7)", "not (1 <= ? <= 5 or ? == 7)"),
    ("< 5, > 10", "? < 5 or ? > 10"),
    ("true", "True"),
    ("null", "None"),
    ("applicant.age", 'applicant["age"]'),
    ("> applicant.age", '> applicant["age"]'),
    ("in ['a', 'b']", "? in ['a', 'b']"),  # SpiffWorkflow would glue it to the input: `kindin [...]`
    ("not in ('a', 'b')", "? not in ('a', 'b')"),
])
def test_feel_unary_tests_become_python_over_the_input(feel, python):
    assert translate_input_entry(feel) == (python, True)


@pytest.mark.parametrize("python", ['"house"', "5", ">= 6", "< limit", "? in ['a', 'b']", "-", "", '== "a"'])
def test_cells_that_already_mean_the_same_in_python_are_left_alone(python):
    assert translate_input_entry(python) == (python, False)


@pytest.mark.parametrize(("feel", "python"), [("true", "True"), ("false", "False"), ("null", "None"),
                                              ('"a"', '"a"'), ("10", "10"), ("fee * 2", "fee * 2")])
def test_output_literals_become_python(feel, python):
    assert translate_literal(feel)[0] == python


@pytest.mark.parametrize("feel", ['date("2026-01-01")', "[1..", 'starts with("a")', "Customer Status",
                                  '"a",,"b"', "< ", 'matches(?, "x")'])
def test_feel_that_has_no_translation_is_untranslatable(feel):
    with pytest.raises(Untranslatable):
        translate_input_entry(feel)


def test_an_untranslatable_cell_is_refused_at_upload_naming_the_table_rule_and_cell(engine):
    with pytest.raises(ModelError) as caught:
        engine.parse(_files(_rule("by_date", '"house"', 'date("2026-01-01")', "1")))
    [problem] = caught.value.problems
    assert problem.element_id == "by_date_area"
    for words in ("fee_table", "by_date", "Area", 'date("2026-01-01")'):
        assert words in problem.message


def test_a_python_decision_table_of_spiffarena_decides_as_written(engine):
    model = engine.parse(_files(_rule("r1", "in ['house', 'villa']", "&gt; 10", "area * 2", "True"),
                                _rule("r2", "-", "-", "0", "False")))
    assert [w["element_id"] for w in model.warnings if "read as" in w["message"]] == ["r1_kind"]
    assert _decide(engine, model, kind="villa", area=20) == (40, True)


def test_a_huge_cell_is_refused_at_once_not_translated_character_by_character():
    started = time.monotonic()
    with pytest.raises(Untranslatable):
        translate_input_entry('"a",' * 200_000)
    assert time.monotonic() - started < 1
