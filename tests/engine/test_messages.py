"""Messages delivered from outside take their payload into the dossier's data, in every dialect."""

import pytest

from onestop.engine import NotWaiting
from onestop.engine.parsing import SourceFile

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
HEAD = (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN}" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="t">')


def _model(engine, body, messages='<bpmn:message id="Message_Paid" name="fee_paid" />', process="p"):
    xml = f'{HEAD}{messages}<bpmn:process id="{process}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
    return engine.parse([SourceFile("m.bpmn", xml.encode())])


CAMUNDA_MARK = '<bpmn:extensionElements><camunda:properties><camunda:property name="x" value="y" /></camunda:properties></bpmn:extensionElements>'
SPIFF_MARK = '<bpmn:extensionElements><spiffworkflow:instructionsForEndUser>x</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>'


def _message_start(mark=""):
    return (f'<bpmn:startEvent id="Begin">{mark}<bpmn:outgoing>f1</bpmn:outgoing>'
            '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" /></bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="Begin" targetRef="Review" />'
            '<bpmn:userTask id="Review"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f2" sourceRef="Review" targetRef="Finish" />'
            '<bpmn:endEvent id="Finish"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>')


def _intermediate(mark=""):
    return ('<bpmn:startEvent id="Begin"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f0" sourceRef="Begin" targetRef="Wait" />'
            f'<bpmn:intermediateCatchEvent id="Wait">{mark}<bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>'
            '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" /></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="Wait" targetRef="Review" />'
            '<bpmn:userTask id="Review"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f2" sourceRef="Review" targetRef="Finish" />'
            '<bpmn:endEvent id="Finish"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>')


def _boundary(mark=""):
    return ('<bpmn:startEvent id="Begin"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f0" sourceRef="Begin" targetRef="Check" />'
            '<bpmn:userTask id="Check"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f1" sourceRef="Check" targetRef="Finish" />'
            '<bpmn:endEvent id="Finish"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>'
            f'<bpmn:boundaryEvent id="Paid" attachedToRef="Check">{mark}<bpmn:outgoing>f3</bpmn:outgoing>'
            '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" /></bpmn:boundaryEvent>'
            '<bpmn:sequenceFlow id="f3" sourceRef="Paid" targetRef="Review" />'
            '<bpmn:userTask id="Review"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f4" sourceRef="Review" targetRef="Finish2" />'
            '<bpmn:endEvent id="Finish2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>')


SHAPES = {"message start": _message_start, "intermediate catch": _intermediate, "boundary": _boundary}
MARKS = {"bpmn": "", "camunda": CAMUNDA_MARK, "spiff": SPIFF_MARK}


@pytest.mark.parametrize("dialect", list(MARKS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_delivered_message_puts_its_payload_into_the_data_in_every_dialect_and_shape(engine, dialect, shape):
    model = _model(engine, SHAPES[shape](MARKS[dialect]))
    assert model.dialect == dialect
    started = engine.start(model, {"applicant": "Lê A"})
    assert [w.type for w in started.waiting] == ["message"]
    step = engine.deliver_message(model, started.state, "fee_paid", {"amount": 150000, "receipt": "BL-7"})
    assert step.status == "active", step.error
    assert [t.element_id for t in step.ready] == ["Review"]
    assert step.data["amount"] == 150000 and step.data["receipt"] == "BL-7"
    assert not any(key.endswith("_Response") for key in step.data)


def test_a_camunda_message_start_no_longer_fails_with_a_key_error(engine):
    model = _model(engine, _message_start(CAMUNDA_MARK))
    step = engine.deliver_message(model, engine.start(model).state, "fee_paid", {"amount": 1})
    assert step.error is None and step.data == {"amount": 1}


def test_a_camunda_result_variable_holds_the_whole_payload(engine):
    body = _intermediate(CAMUNDA_MARK).replace(
        '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" />',
        '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" camunda:resultVariable="payment" />')
    model = _model(engine, body)
    assert model.dialect == "camunda"
    step = engine.deliver_message(model, engine.start(model).state, "fee_paid", {"amount": 2})
    assert step.data["payment"] == {"amount": 2} and "amount" not in step.data


def test_a_spiffarena_message_variable_holds_the_whole_payload(engine):
    body = _intermediate(SPIFF_MARK).replace(
        '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" />',
        '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid"><bpmn:extensionElements>'
        '<spiffworkflow:messageVariable>payment</spiffworkflow:messageVariable>'
        '</bpmn:extensionElements></bpmn:messageEventDefinition>')
    model = _model(engine, body)
    assert model.dialect == "spiff"
    step = engine.deliver_message(model, engine.start(model).state, "fee_paid", {"amount": 3})
    assert step.data["payment"] == {"amount": 3} and "amount" not in step.data


SPIFF_CORRELATED = (
    '<bpmn:collaboration id="c"><bpmn:participant id="pp" processRef="p" />'
    '<bpmn:correlationKey name="payment_key"><bpmn:correlationPropertyRef>receipt_no</bpmn:correlationPropertyRef>'
    '</bpmn:correlationKey></bpmn:collaboration>'
    '<bpmn:message id="Message_Paid" name="fee_paid" />'
    '<bpmn:correlationProperty id="receipt_no" name="receipt_no">'
    '<bpmn:correlationPropertyRetrievalExpression messageRef="Message_Paid">'
    '<bpmn:messagePath>receipt</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression>'
    '</bpmn:correlationProperty>')


def test_the_correlations_a_payload_carries_are_read_with_the_models_retrieval_expressions(engine):
    model = _model(engine, _intermediate(SPIFF_MARK), messages=SPIFF_CORRELATED)
    assert model.dialect == "spiff"
    assert engine.message_correlations(model, "fee_paid", {"receipt": "BL-9"}) == {"payment_key": {"receipt_no": "BL-9"}}
    assert engine.message_correlations(model, "fee_paid", {"other": 1}) == {}


def test_a_workflow_correlated_by_a_first_message_refuses_a_second_one_with_another_key(engine):
    body = _intermediate(SPIFF_MARK).replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="Wait" targetRef="Review" />',
        '<bpmn:sequenceFlow id="f1" sourceRef="Wait" targetRef="Again" />'
        '<bpmn:intermediateCatchEvent id="Again"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f9</bpmn:outgoing>'
        '<bpmn:messageEventDefinition id="d2" messageRef="Message_Paid" /></bpmn:intermediateCatchEvent>'
        '<bpmn:sequenceFlow id="f9" sourceRef="Again" targetRef="Review" />').replace(
        '<bpmn:userTask id="Review"><bpmn:incoming>f1</bpmn:incoming>', '<bpmn:userTask id="Review"><bpmn:incoming>f9</bpmn:incoming>')
    model = _model(engine, body, messages=SPIFF_CORRELATED)
    first = engine.deliver_message(model, engine.start(model).state, "fee_paid", {"receipt": "BL-1"})
    assert [w.element_id for w in first.waiting] == ["Again"]
    assert first.waiting[0].correlations == {"payment_key": {"receipt_no": "BL-1"}}
    with pytest.raises(NotWaiting):
        engine.deliver_message(model, first.state, "fee_paid", {"receipt": "BL-2"})
    second = engine.deliver_message(model, first.state, "fee_paid", {"receipt": "BL-1", "amount": 4})
    assert [t.element_id for t in second.ready] == ["Review"] and second.data["amount"] == 4


@pytest.mark.parametrize("dialect", list(MARKS))
def test_a_model_names_the_messages_its_process_starts_with(engine, dialect):
    assert _model(engine, _message_start(MARKS[dialect])).start_messages() == ["fee_paid"]
    assert _model(engine, _intermediate(MARKS[dialect])).start_messages() == []


@pytest.mark.parametrize("dialect", list(MARKS))
def test_a_workflow_started_by_its_message_runs_on_with_the_payload(engine, dialect):
    model = _model(engine, _message_start(MARKS[dialect]))
    step = engine.start_by_message(model, "fee_paid", {"amount": 5})
    assert step.error is None and [t.element_id for t in step.ready] == ["Review"] and step.data["amount"] == 5
    with pytest.raises(NotWaiting):
        engine.start_by_message(model, "another", {})


def _file(engine, name):
    from tests.conftest import MODELS

    return engine.parse([SourceFile(name, (MODELS / name).read_bytes())])


def test_a_spiffarena_wait_correlated_by_a_process_variable_catches_only_its_own_message(engine):
    model = _file(engine, "land-record-spiff.bpmn")
    assert model.dialect == "spiff"
    started = engine.start(model, {"parcel": "P-12"})
    assert [(w.message, w.correlations) for w in started.waiting] == [
        ("land_record_ready", {"parcel_key": {"parcel_no": "P-12"}})]
    with pytest.raises(NotWaiting):
        engine.deliver_message(model, started.state, "land_record_ready", {"parcel": "P-99", "area": 80})
    step = engine.deliver_message(model, started.state, "land_record_ready", {"parcel": "P-12", "area": 120})
    assert step.data["record"] == {"parcel": "P-12", "area": 120}


def test_a_camunda_model_from_the_modeller_starts_with_its_message_and_waits_for_the_next(engine):
    model = _file(engine, "tax-notice-camunda.bpmn")
    assert model.dialect == "camunda" and model.start_messages() == ["tax_assessed"]
    step = engine.start_by_message(model, "tax_assessed", {"tax_vnd": 1200000})
    assert step.data == {"tax_vnd": 1200000} and [t.element_id for t in step.ready] == ["Review"]


def _gateway(mark=""):
    return ('<bpmn:startEvent id="Begin"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f0" sourceRef="Begin" targetRef="Gate" />'
            '<bpmn:eventBasedGateway id="Gate"><bpmn:incoming>f0</bpmn:incoming>'
            '<bpmn:outgoing>f1</bpmn:outgoing><bpmn:outgoing>f2</bpmn:outgoing></bpmn:eventBasedGateway>'
            '<bpmn:sequenceFlow id="f1" sourceRef="Gate" targetRef="Wait" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="Gate" targetRef="Late" />'
            f'<bpmn:intermediateCatchEvent id="Wait">{mark}<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>'
            '<bpmn:messageEventDefinition id="d1" messageRef="Message_Paid" /></bpmn:intermediateCatchEvent>'
            '<bpmn:intermediateCatchEvent id="Late"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>'
            '<bpmn:timerEventDefinition id="t1"><bpmn:timeDuration>"P30D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="f3" sourceRef="Wait" targetRef="Finish" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="Late" targetRef="Review" />'
            '<bpmn:endEvent id="Finish"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>'
            '<bpmn:userTask id="Review"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f5" sourceRef="Review" targetRef="Finish2" />'
            '<bpmn:endEvent id="Finish2"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>')


@pytest.mark.parametrize("dialect", list(MARKS))
def test_a_message_winning_an_event_gateway_race_is_stored_and_its_payload_kept(engine, dialect):
    model = _model(engine, _gateway(MARKS[dialect]))
    started = engine.start(model)
    assert sorted(w.type for w in started.waiting) == ["message", "timer"]
    step = engine.deliver_message(model, started.state, "fee_paid", {"amount": 6})
    assert step.error is None and step.status == "completed" and step.data["amount"] == 6
    reloaded = engine.load(model, step.state)  # the state written (with the message it kept) is read back
    assert reloaded.is_completed()


@pytest.mark.parametrize("dialect", list(MARKS))
def test_a_non_interrupting_boundary_message_takes_its_payload_and_leaves_the_task(engine, dialect):
    body = _boundary(MARKS[dialect]).replace('<bpmn:boundaryEvent id="Paid" attachedToRef="Check">',
                                             '<bpmn:boundaryEvent id="Paid" attachedToRef="Check" cancelActivity="false">')
    model = _model(engine, body)
    step = engine.deliver_message(model, engine.start(model).state, "fee_paid", {"amount": 8})
    assert step.error is None and sorted(t.element_id for t in step.ready) == ["Check", "Review"]
    review = next(t.id for t in step.ready if t.element_id == "Review")
    assert engine.task_data(model, step.state, review)["amount"] == 8


def test_a_correlation_expression_the_sandbox_refuses_is_refused_at_upload_naming_its_property(engine):
    from onestop.engine import ModelError

    hostile = SPIFF_CORRELATED.replace("<bpmn:messagePath>receipt</bpmn:messagePath>",
                                       "<bpmn:messagePath>receipt.__class__</bpmn:messagePath>")
    with pytest.raises(ModelError) as refused:
        _model(engine, _intermediate(SPIFF_MARK), messages=hostile)
    [problem] = refused.value.problems
    assert problem.element_id == "receipt_no" and "correlation expression" in problem.message
