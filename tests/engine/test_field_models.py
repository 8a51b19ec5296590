"""Models from the field that SpiffWorkflow's parser or runtime met with a Python exception: each one
runs, stops in error with a plain reason, or is refused at upload naming the element, what is not
supported and what to use instead; the exception's text never reaches the message."""

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from onestop.engine import ModelError
from onestop.engine.failures import parse_problem, plain
from onestop.engine.parsing import SourceFile
from tests.field_corpus.runner import EXCEPTION_TEXT

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs" targetNamespace="http://onestop.test">
{before}
  <bpmn:process id="field" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Work" />
    {work}
    <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="Done" />
    <bpmn:endEvent id="Done"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _model(work: str, before: str = "") -> bytes:
    """start -> `work` (an element with id Work, in F1 and out F2, and what hangs on it) -> end."""
    return _HEAD.format(work=work, before=before).encode()


def _files(work: str, before: str = "", *others) -> list:
    return [SourceFile("field.bpmn", _model(work, before)), *others]


def _refused(engine, files) -> dict:
    with pytest.raises(ModelError) as caught:
        engine.parse(files)
    problems = {p.element_id: p.message for p in caught.value.problems}
    assert not any(EXCEPTION_TEXT.search(m) for m in problems.values()), problems
    return problems


def _rule_task(attributes: str = "") -> str:
    return (f'<bpmn:businessRuleTask id="Work" name="Check the fee"{attributes}>'
            "<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:businessRuleTask>")


# --- businessRuleTask with no camunda:decisionRef (KeyError: '{camunda}decisionRef') ---------------

def test_a_camunda_business_rule_task_naming_no_decision_runs_as_a_plain_task_with_a_warning(engine):
    model = engine.parse(_files(_rule_task(' camunda:resultVariable="fee"')))
    assert model.dialect == "camunda"
    step = engine.start(model)
    assert step.status == "active" and [t.element_id for t in step.ready] == ["Work"]
    assert engine.complete_task(model, step.state, step.ready[0].id, {}).status == "completed"
    [warning] = [w for w in model.warnings if w["element_id"] == "Work"]
    assert "camunda:decisionRef" in warning["message"] and "plain task" in warning["message"]


def test_a_business_rule_task_naming_no_decision_outside_a_camunda_model_is_refused_naming_it(engine):
    plain_bpmn = _model(_rule_task()).replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', b"")
    message = _refused(engine, [SourceFile("field.bpmn", plain_bpmn)])["Work"]
    assert "businessRuleTask Work names no decision table" in message and "calledDecisionId" in message


@pytest.mark.parametrize(("attributes", "called"), [
    (' camunda:class="org.example.FeeRules"', "Java class org.example.FeeRules"),
    (' camunda:expression="${feeRules.check(dossier)}"', "expression ${feeRules.check(dossier)}"),
    (' camunda:delegateExpression="${feeRules}"', "delegate expression ${feeRules}"),
    (' camunda:type="external" camunda:topic="fees"', "external task"),
])
def test_a_camunda_business_rule_task_calling_code_instead_of_a_decision_is_refused_naming_it(engine, attributes,
                                                                                               called):
    message = _refused(engine, _files(_rule_task(attributes)))["Work"]
    assert "businessRuleTask Work" in message and called in message and "camunda:decisionRef" in message


# --- a DMN file of a draft DMN version (IndexError: list index out of range) --------------------------

_DRAFT_DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<Definitions xmlns="http://www.omg.org/spec/DMN/20130901" id="definitions" name="camunda" namespace="http://x">
  <Decision id="orderDiscount" name="Order discount"><DecisionTable id="table" /></Decision>
</Definitions>
"""


def test_a_dmn_file_of_a_draft_dmn_version_is_refused_naming_the_file(engine):
    with pytest.raises(ModelError) as caught:
        engine.parse(_files(_rule_task(' camunda:decisionRef="orderDiscount"'), "",
                            SourceFile("orderDiscount.dmn", _DRAFT_DMN)))
    [problem] = caught.value.problems
    assert problem.file == "orderDiscount.dmn" and "orderDiscount.dmn" in problem.message
    assert "20130901" in problem.message and "DMN 1.3" in problem.message
    assert not EXCEPTION_TEXT.search(problem.message)


def test_a_decision_named_in_activitis_namespace_is_refused_saying_which_namespace_to_use(engine):
    # The Camunda Modeler of 2015 wrote xmlns:camunda="http://activiti.org/bpmn".
    activiti = _model(_rule_task(' camunda:decisionRef="orderDiscount"')).replace(
        b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', b'xmlns:camunda="http://activiti.org/bpmn"')
    message = _refused(engine, [SourceFile("field.bpmn", activiti)])["Work"]
    assert "http://activiti.org/bpmn" in message and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in message


# --- a compensation boundary event (NotImplementedError('Unsupported Catch Event ...')) -------------

_TASK = '<bpmn:task id="Work" name="Book the room"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:task>'


def test_a_compensation_boundary_event_is_refused_naming_it_and_what_to_draw_instead(engine):
    boundary = ('<bpmn:boundaryEvent id="Undo" name="Cancel the booking" attachedToRef="Work">'
                '<bpmn:compensateEventDefinition id="Comp" /></bpmn:boundaryEvent>')
    message = _refused(engine, _files(_TASK + boundary))["Undo"]
    assert "boundaryEvent Undo" in message and "compensation" in message and "error boundary event" in message


def test_a_boundary_event_with_no_event_definition_is_refused_naming_it(engine):
    boundary = '<bpmn:boundaryEvent id="Edge" attachedToRef="Work" />'
    message = _refused(engine, _files(_TASK + boundary))["Edge"]
    assert "boundaryEvent Edge" in message and "no event definition" in message


# --- a reference to a message, signal, error or escalation that is not defined -----------------------
# (TypeError: NodeParser.raise_validation_exception() got an unexpected keyword argument 'node')

def test_a_send_task_whose_message_is_not_defined_is_refused_naming_the_message(engine):
    messages = '<bpmn:message id="send_invoice" name="Send Invoice" />'
    send = ('<bpmn:sendTask id="Work" name="Send the letter" messageRef="love_letter">'
            '<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:sendTask>')
    for extension in ("", '<bpmn:extensionElements><spiffworkflow:instructionsForEndUser>x'
                          '</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>'):
        message = _refused(engine, _files(send.replace("<bpmn:incoming>", extension + "<bpmn:incoming>"),
                                          messages))["Work"]
        assert "sendTask Work" in message and "'love_letter'" in message and "send_invoice" in message


@pytest.mark.parametrize(("definition", "kind"), [
    ('<bpmn:signalEventDefinition signalRef="nowhere" />', "signal"),
    ('<bpmn:errorEventDefinition errorRef="nowhere" />', "error"),
    ('<bpmn:escalationEventDefinition escalationRef="nowhere" />', "escalation"),
    ('<bpmn:messageEventDefinition messageRef="nowhere" />', "message"),
])
def test_a_catch_event_whose_definition_is_not_defined_is_refused_naming_it(engine, definition, kind):
    boundary = f'<bpmn:boundaryEvent id="Edge" attachedToRef="Work">{definition}</bpmn:boundaryEvent>'
    message = _refused(engine, _files(_TASK + boundary))["Edge"]
    assert "boundaryEvent Edge" in message and f"{kind} 'nowhere'" in message


# --- a parallel multi-instance whose collection is not in the data ('NoneType' object is not iterable)

_EACH = ('<bpmn:task id="Work" name="Check each"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>'
         '<bpmn:multiInstanceLoopCharacteristics camunda:collection="input_data" camunda:elementVariable="item" />'
         '</bpmn:task>')


def test_a_multi_instance_whose_collection_is_missing_stops_in_error_naming_the_collection(engine):
    model = engine.parse(_files(_EACH))
    step = engine.start(model)
    assert step.status == "error" and step.error["element_id"] == "Work"
    assert "input_data" in step.error["message"] and not EXCEPTION_TEXT.search(step.error["message"])
    step = engine.start(model, {"input_data": ["a", "b"]})
    assert step.status == "active" and [t.element_id for t in step.ready] == ["Work", "Work"]


def test_a_multi_instance_whose_collection_is_no_list_stops_in_error_naming_it(engine):
    step = engine.start(engine.parse(_files(_EACH)), {"input_data": 7})
    assert step.status == "error" and step.error["element_id"] == "Work"
    assert "input_data" in step.error["message"] and "list" in step.error["message"]
    assert not EXCEPTION_TEXT.search(step.error["message"])


# --- the generic path: object reprs and Python exceptions never reach a message --------------------

def test_an_element_repr_in_a_spiffworkflow_message_becomes_the_elements_name():
    node = etree.fromstring('<bpmn:targetRef xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
                            'Store_1</bpmn:targetRef>')
    owner = etree.fromstring('<userTask id="Ask" />')
    exc = ValidationException(f"Cannot resolve dataOutputAssociation {node}", owner, "c.bpmn")
    problem = parse_problem(exc, "c.bpmn")
    assert problem.element_id == "Ask" and "dataOutputAssociation targetRef" in problem.message
    assert " at 0x" not in problem.message and not EXCEPTION_TEXT.search(problem.message)
    assert plain(f"cannot use {node} or {owner}") == "cannot use targetRef or userTask"


def test_a_python_exception_inside_spiffworkflows_parser_is_told_as_the_element_that_could_not_be_read():
    # SpiffWorkflow's own Camunda parser, without onestop's checks in front of it, fails on this
    # model with KeyError: '{camunda}decisionRef'.
    with pytest.raises(KeyError) as caught:
        CamundaParser().add_bpmn_xml(etree.fromstring(_model(_rule_task())), filename="field.bpmn")
    problem = parse_problem(caught.value, "field.bpmn")
    assert problem.element_id == "Work" and problem.file == "field.bpmn"
    assert "businessRuleTask Work" in problem.message and "could not be read" in problem.message
    assert "decisionRef" not in problem.message and not EXCEPTION_TEXT.search(problem.message)


def test_a_python_exception_spiffworkflow_wraps_as_a_validation_error_is_told_as_the_element_that_could_not_be_read():
    # SpiffWorkflow's SpiffArena parser, without onestop's checks in front of it, meets a message it
    # cannot find with a TypeError of its own, which its task parser wraps: TypeError("NodeParser...").
    send = ('<bpmn:sendTask id="Work" messageRef="love_letter"><bpmn:incoming>F1</bpmn:incoming>'
            '<bpmn:outgoing>F2</bpmn:outgoing></bpmn:sendTask>')
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(_model(send)), filename="field.bpmn")
    with pytest.raises(ValidationException) as caught:
        parser.get_spec("field")
    assert "TypeError" in str(caught.value)
    problem = parse_problem(caught.value, "field.bpmn")
    assert problem.element_id == "Work" and "sendTask Work could not be read" in problem.message
    assert not EXCEPTION_TEXT.search(problem.message)


def test_a_python_exception_outside_any_element_names_the_file():
    try:
        [][0]
    except IndexError as exc:
        problem = parse_problem(exc, "orders.dmn")
    assert problem.file == "orders.dmn" and "orders.dmn" in problem.message
    assert not EXCEPTION_TEXT.search(problem.message)


def test_a_python_exception_while_running_a_step_is_told_as_the_step_that_could_not_run(engine):
    # SpiffWorkflow runs range(count) for this cardinality and fails with a TypeError when count is text.
    each = ('<bpmn:task id="Work" name="Check each"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>'
            '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>count</bpmn:loopCardinality>'
            '</bpmn:multiInstanceLoopCharacteristics></bpmn:task>')
    plain_bpmn = _model(each).replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', b"")
    model = engine.parse([SourceFile("field.bpmn", plain_bpmn.replace(b'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"', b""))])
    step = engine.start(model, {"count": "three"})
    assert step.status == "error" and step.error["element_id"] == "Work"
    assert "could not run Work" in step.error["message"] and not EXCEPTION_TEXT.search(step.error["message"])


def test_a_descriptive_process_is_refused_as_not_executable_not_for_what_it_draws(engine):
    drawn = _model(_TASK + '<bpmn:boundaryEvent id="Undo" attachedToRef="Work"><bpmn:compensateEventDefinition />'
                           "</bpmn:boundaryEvent>").replace(b'isExecutable="true"', b'isExecutable="false"')
    [message] = _refused(engine, [SourceFile("field.bpmn", drawn)]).values()
    assert "no executable process" in message


def test_a_business_rule_task_of_a_descriptive_process_beside_the_executable_one_does_not_stop_the_model(engine):
    drawn = ('<bpmn:process id="partner" isExecutable="false">'
             '<bpmn:businessRuleTask id="Rules" camunda:class="org.example.PartnerRules" /></bpmn:process>')
    model = engine.parse(_files(_TASK, drawn))
    assert model.dialect == "camunda" and model.start_id == "field"
    assert engine.start(model).status == "active"
