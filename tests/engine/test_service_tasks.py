"""Service tasks: every form the SpiffArena and Camunda modellers write either waits for the services
layer (an external task or a connector call) or is refused at upload naming the element, what it
calls and what to use instead."""

import pytest

from onestop.engine import ModelError
from onestop.engine.parsing import SourceFile

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _model(task: str, after: str = "", extra_ns: str = "") -> bytes:
    """A process start -> the given task (id Call) -> [after] -> end."""
    tail = "Call"
    flows = []
    if after:
        flows.append('<bpmn:sequenceFlow id="f2" sourceRef="Call" targetRef="After"/>')
        tail = "After"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN}" {extra_ns} id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Call"/>
    {task}
    {after}
    {''.join(flows)}
    <bpmn:sequenceFlow id="f3" sourceRef="{tail}" targetRef="EndEvent_1"/>
    <bpmn:endEvent id="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


CAMUNDA_NS = f'xmlns:camunda="{CAMUNDA}"'
SPIFF_NS = f'xmlns:spiffworkflow="{SPIFF}"'
EXTERNAL = '<bpmn:serviceTask id="Call" name="Ask the tax office" camunda:type="external" camunda:topic="tax-check"/>'
CONNECTOR = """<bpmn:serviceTask id="Call" name="Look up the parcel">
  <bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="http/GetRequestV2" resultVariable="parcel">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="url" type="str" value="'https://land.example/parcels/' + str(parcel_id)"/>
        <spiffworkflow:parameter id="timeout" type="int" value="parcel_id * 2"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements>
</bpmn:serviceTask>"""
# A script task after the call reads what the call brought back.
AFTER = '<bpmn:scriptTask id="After"><bpmn:script>seen = tax_ok</bpmn:script></bpmn:scriptTask>'


def _parse(engine, content: bytes):
    return engine.parse([SourceFile("model.bpmn", content)])


def _refusal(engine, content: bytes):
    with pytest.raises(ModelError) as caught:
        _parse(engine, content)
    return caught.value.problems


def test_a_camunda_external_task_waits_for_its_worker_and_the_workflow_runs_on_with_its_variables(engine):
    model = _parse(engine, _model(EXTERNAL, AFTER, CAMUNDA_NS))
    started = engine.start(model, {"tax_code": "0101234567"})
    assert started.status == "active" and started.ready == []
    [call] = started.service_calls
    assert (call.element_id, call.kind, call.topic, call.result_variable) == ("Call", "external", "tax-check", None)
    assert call.variables == {"tax_code": "0101234567"}
    assert started.pending_services == [call.task_id]
    assert [(w.element_id, w.type, w.name) for w in started.waiting] == [("Call", "external", "Ask the tax office")]
    done = engine.complete_service(model, started.state, call.task_id, {"tax_ok": True})
    assert done.status == "completed" and done.data["seen"] is True and done.service_calls == []
    assert done.waiting == [] and done.waiting_changed
    assert "Call" in [f.element_id for f in done.finished]


def test_a_service_task_of_a_camunda_model_no_longer_fails_with_an_internal_error(engine):
    # Before: TypeError: Object of type ServiceTask is not JSON serializable.
    model = _parse(engine, _model(EXTERNAL, extra_ns=CAMUNDA_NS))
    assert model.dialect == "camunda"
    assert engine.start(model).status == "active"


def test_a_spiffarena_connector_call_carries_its_operator_and_parameters_evaluated_against_the_task_data(engine):
    model = _parse(engine, _model(CONNECTOR, extra_ns=SPIFF_NS))
    started = engine.start(model, {"parcel_id": 21})
    [call] = started.service_calls
    assert (call.kind, call.operator, call.result_variable) == ("connector", "http/GetRequestV2", "parcel")
    assert call.params == {"url": "https://land.example/parcels/21", "timeout": 42}
    done = engine.complete_service(model, started.state, call.task_id, {"owner": "Lê C"})
    assert done.status == "completed" and done.data["parcel"] == {"owner": "Lê C"}


def test_a_connector_parameter_that_fails_puts_the_dossier_in_error_naming_the_element(engine):
    model = _parse(engine, _model(CONNECTOR, extra_ns=SPIFF_NS))
    step = engine.start(model, {})  # parcel_id is missing
    assert step.status == "error" and step.error["element_id"] == "Call" and step.service_calls == []


def test_a_failed_call_puts_the_workflow_in_error_and_a_retry_makes_it_pending_again(engine):
    model = _parse(engine, _model(EXTERNAL, AFTER, CAMUNDA_NS))
    started = engine.start(model)
    [call] = started.service_calls
    failed = engine.fail_service(model, started.state, call.task_id, "the tax office did not answer")
    assert failed.status == "error" and failed.service_calls == [] and failed.pending_services == []
    assert failed.error == {"element_id": "Call", "message": "the tax office did not answer"}
    again = engine.retry(model, failed.state)
    assert again.status == "active"
    [second] = again.service_calls
    assert (second.element_id, second.topic) == ("Call", "tax-check")
    done = engine.complete_service(model, again.state, second.task_id, {"tax_ok": False})
    assert done.status == "completed" and done.data["seen"] is False


def test_skipping_a_failed_call_runs_on_without_its_result(engine):
    model = _parse(engine, _model(EXTERNAL, extra_ns=CAMUNDA_NS))
    started = engine.start(model)
    failed = engine.fail_service(model, started.state, started.service_calls[0].task_id, "no answer")
    assert engine.skip(model, failed.state).status == "completed"


def test_completing_a_call_that_is_not_pending_is_refused(engine):
    from onestop.engine import TaskNotReady

    model = _parse(engine, _model(EXTERNAL, extra_ns=CAMUNDA_NS))
    started = engine.start(model)
    task_id = started.service_calls[0].task_id
    done = engine.complete_service(model, started.state, task_id, {})
    with pytest.raises(TaskNotReady):
        engine.complete_service(model, done.state, task_id, {})
    with pytest.raises(TaskNotReady):
        engine.fail_service(model, started.state, "00000000-0000-0000-0000-000000000000", "x")


def test_a_plain_service_task_without_an_implementation_passes_through(engine):
    for task, ns in (('<bpmn:serviceTask id="Call" name="Check"/>', ""),
                     ('<bpmn:serviceTask id="Call" name="Check"/>', CAMUNDA_NS),
                     ('<bpmn:serviceTask id="Call" implementation="##WebService"/>', "")):
        model = _parse(engine, _model(task, extra_ns=ns))
        step = engine.start(model)
        assert step.status == "completed" and step.service_calls == []


@pytest.mark.parametrize(("task", "calls"), [
    ('<bpmn:serviceTask id="Call" name="Notify" camunda:class="org.example.NotifyDelegate"/>',
     "the Java class org.example.NotifyDelegate"),
    ('<bpmn:serviceTask id="Call" camunda:expression="${mailer.send(execution)}"/>',
     "the expression ${mailer.send(execution)}"),
    ('<bpmn:serviceTask id="Call" camunda:delegateExpression="${notifier}"/>',
     "the delegate expression ${notifier}"),
    ("""<bpmn:serviceTask id="Call"><bpmn:extensionElements><camunda:connector>
         <camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>
       </bpmn:extensionElements></bpmn:serviceTask>""", "the Camunda connector http-connector"),
    ('<bpmn:sendTask id="Call" camunda:class="org.example.SendMail"/>', "the Java class org.example.SendMail"),
])
def test_a_camunda_service_task_that_runs_java_is_refused_naming_the_element_what_it_calls_and_what_to_use(
        engine, task, calls):
    [problem] = _refusal(engine, _model(task, extra_ns=CAMUNDA_NS))
    assert problem.element_id == "Call"
    assert calls in problem.message
    assert "external task" in problem.message and "connector" in problem.message
    assert "Error" not in problem.message and "Traceback" not in problem.message


def test_an_external_task_without_a_topic_is_refused():
    from onestop.engine.parsing import parse_model

    with pytest.raises(ModelError) as caught:
        parse_model([SourceFile("m.bpmn", _model('<bpmn:serviceTask id="Call" camunda:type="external"/>',
                                                 extra_ns=CAMUNDA_NS))])
    [problem] = caught.value.problems
    assert problem.element_id == "Call" and "topic" in problem.message


def test_a_connector_parameter_that_breaks_the_sandbox_rules_is_refused_at_upload(engine):
    bad = CONNECTOR.replace("parcel_id * 2", "__import__('os').system('id')")
    [problem] = _refusal(engine, _model(bad, extra_ns=SPIFF_NS))
    assert problem.element_id == "Call" and "timeout" in problem.message


def test_a_camunda_external_send_task_is_an_external_task_too(engine):
    task = '<bpmn:sendTask id="Call" camunda:type="external" camunda:topic="mail"/>'
    model = _parse(engine, _model(task, extra_ns=CAMUNDA_NS))
    [call] = engine.start(model).service_calls
    assert (call.kind, call.topic) == ("external", "mail")


def test_a_pending_call_survives_storing_and_loading_the_workflow(engine):
    from onestop.engine import ParsedModel

    model = _parse(engine, _model(CONNECTOR, extra_ns=SPIFF_NS))
    started = engine.start(model, {"parcel_id": 3})
    reloaded = ParsedModel.loads(model.dumps())
    done = engine.complete_service(reloaded, started.state, started.service_calls[0].task_id, [1, 2])
    assert done.status == "completed" and done.data["parcel"] == [1, 2]


def test_a_call_cancelled_by_a_boundary_timer_is_no_longer_pending(engine, clock):
    task = EXTERNAL.replace("/>", ">") + "</bpmn:serviceTask>"
    boundary = """<bpmn:boundaryEvent id="Late" attachedToRef="Call">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f9" sourceRef="Late" targetRef="LateEnd"/>
    <bpmn:endEvent id="LateEnd"/>"""
    model = _parse(engine, _model(task + boundary, extra_ns=CAMUNDA_NS))
    timed = engine.on_clock(clock)
    started = timed.start(model)
    assert len(started.pending_services) == 1
    clock.advance(3601)
    fired = timed.fire_timers(model, started.state)
    assert fired.status == "completed" and fired.pending_services == []


ERROR_BOUNDARY = """<bpmn:boundaryEvent id="Refused" attachedToRef="Call">
  <bpmn:errorEventDefinition errorRef="TaxError"/>
</bpmn:boundaryEvent>
<bpmn:sequenceFlow id="f8" sourceRef="Refused" targetRef="RefusedEnd"/>
<bpmn:endEvent id="RefusedEnd"/>"""


def _with_error_boundary(engine, code="TAX_UNKNOWN"):
    model = _model(EXTERNAL.replace("/>", "></bpmn:serviceTask>") + ERROR_BOUNDARY, extra_ns=CAMUNDA_NS)
    error = f'<bpmn:error id="TaxError" name="Tax error" errorCode="{code}"/>'
    return _parse(engine, model.replace(b"</bpmn:definitions>", error.encode() + b"</bpmn:definitions>"))


def test_a_bpmn_error_from_the_service_is_caught_by_the_tasks_error_boundary_event_with_its_data(engine):
    from onestop.engine import NotWaiting

    model = _with_error_boundary(engine)
    started = engine.start(model)
    task_id = started.service_calls[0].task_id
    with pytest.raises(NotWaiting):
        engine.service_error(model, started.state, task_id, "OTHER_CODE")
    caught = engine.service_error(model, started.state, task_id, "TAX_UNKNOWN", {"reason": "no such code"})
    assert caught.status == "completed" and caught.pending_services == []
    finished = {f.element_id: f.state for f in caught.finished}
    assert finished["RefusedEnd"] == "completed" and finished["Call"] == "cancelled"
    assert caught.data["reason"] == "no such code"


@pytest.mark.parametrize(("operator", "refused"), [
    ('<spiffworkflow:serviceTaskOperator resultVariable="x"/>', "without an operator id"),
    ('<spiffworkflow:serviceTaskOperator id="http/Get"><spiffworkflow:parameters>'
     '<spiffworkflow:parameter type="str" value="1"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>',
     "without an id"),
    ('<spiffworkflow:serviceTaskOperator id="http/Get"><spiffworkflow:parameters>'
     '<spiffworkflow:parameter id="url" value="1"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>',
     "without a type"),
    ('<spiffworkflow:serviceTaskOperator id="http/Get"><spiffworkflow:retry retries="three"/>'
     '</spiffworkflow:serviceTaskOperator>', "not a whole number"),
])
@pytest.mark.parametrize("tag", ["serviceTask", "userTask"])
def test_a_connector_spiffworkflow_cannot_read_is_refused_in_plain_words_not_with_its_exception(
        engine, operator, refused, tag):
    # SpiffWorkflow's own parser fails on these with "KeyError: 'id'" or "ValueError: invalid literal"; the
    # upload used to answer with that text, or quietly run the model in another dialect without its extensions.
    task = f'<bpmn:{tag} id="Call"><bpmn:extensionElements>{operator}</bpmn:extensionElements></bpmn:{tag}>'
    [problem] = _refusal(engine, _model(task, extra_ns=SPIFF_NS))
    assert problem.element_id == "Call" and refused in problem.message
    assert "Error" not in problem.message and "KeyError" not in problem.message


def test_a_connector_parameter_without_a_value_is_left_out_as_spiffarena_does(engine):
    task = CONNECTOR.replace('<spiffworkflow:parameter id="timeout" type="int" value="parcel_id * 2"/>',
                             '<spiffworkflow:parameter id="timeout" type="int"/>')
    model = _parse(engine, _model(task, extra_ns=SPIFF_NS))
    assert engine.start(model, {"parcel_id": 1}).service_calls[0].params == {"url": "https://land.example/parcels/1"}


def test_a_camunda_external_tasks_input_parameters_are_evaluated_for_its_worker(engine):
    task = """<bpmn:serviceTask id="Call" camunda:type="external" camunda:topic="tax-check">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="code">${tax_code}</camunda:inputParameter>
        <camunda:inputParameter name="office">Chi cục thuế</camunda:inputParameter>
        <camunda:inputParameter name="many"><camunda:list><camunda:value>a</camunda:value></camunda:list>
        </camunda:inputParameter>
        <camunda:outputParameter name="result">${x}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"""
    model = _parse(engine, _model(task, extra_ns=CAMUNDA_NS))
    assert {w["element_id"] for w in model.warnings if "is not used" in w["message"]} == {"Call"}
    [call] = engine.start(model, {"tax_code": "0101"}).service_calls
    assert call.params == {"code": "0101", "office": "Chi cục thuế"}


def test_an_input_parameter_that_cannot_be_read_is_refused_naming_it(engine):
    task = """<bpmn:serviceTask id="Call" camunda:type="external" camunda:topic="t">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="both">${a} and ${b}</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"""
    [problem] = _refusal(engine, _model(task, extra_ns=CAMUNDA_NS))
    assert problem.element_id == "Call" and "both" in problem.message


ZEEBE_NS = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def test_a_camunda_8_job_is_an_external_task_whose_topic_is_its_job_type(engine):
    # Before: it passed straight through, as if the job had been done.
    task = """<bpmn:serviceTask id="Call"><bpmn:extensionElements><zeebe:taskDefinition type="email" retries="3"/>
              </bpmn:extensionElements></bpmn:serviceTask>"""
    model = _parse(engine, _model(task, extra_ns=ZEEBE_NS))
    [call] = engine.start(model).service_calls
    assert (call.kind, call.topic) == ("external", "email")


def test_a_camunda_8_job_of_a_computed_type_is_refused_naming_it(engine):
    task = """<bpmn:serviceTask id="Call"><bpmn:extensionElements><zeebe:taskDefinition type="=kind"/>
              </bpmn:extensionElements></bpmn:serviceTask>"""
    [problem] = _refusal(engine, _model(task, extra_ns=ZEEBE_NS))
    assert problem.element_id == "Call" and "=kind" in problem.message


def test_an_activiti_or_flowable_java_service_task_is_refused_not_passed_through_as_if_it_did_nothing():
    from onestop.engine import ModelError
    from onestop.engine.parsing import SourceFile, parse_model

    for namespace, prefix in (("http://activiti.org/bpmn", "activiti"), ("http://flowable.org/bpmn", "flowable")):
        bpmn = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:{prefix}="{namespace}" id="d" targetNamespace="t">
  <process id="P" isExecutable="true">
    <startEvent id="S"/><sequenceFlow id="f1" sourceRef="S" targetRef="Java"/>
    <serviceTask id="Java" {prefix}:class="org.example.SendMail"/><sequenceFlow id="f2" sourceRef="Java" targetRef="E"/>
    <endEvent id="E"/>
  </process>
</definitions>""".encode()
        with pytest.raises(ModelError) as refused:
            parse_model([SourceFile("java.bpmn", bpmn)])
        message = str(refused.value)
        assert "Java" in message and "the Java class org.example.SendMail" in message and "external task" in message
