"""What of Camunda 7's extensions runs here and what is refused at upload in plain words: scripts
in languages other than Python, execution and task listeners, conditions written as scripts; and
JUEL conditions with method calls that run (or are refused) instead of failing at run time."""

from xml.sax.saxutils import escape

import pytest

from onestop.engine import ModelError
from onestop.engine.parsing import SourceFile

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://onestop.test">
  <bpmn:process id="camunda" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Work" />
"""
_TAIL = """
    <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="Done" />
    <bpmn:endEvent id="Done"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _with_work(work: str) -> list:
    """start -> `work` (an element with id Work, in F1 and out F2) -> end."""
    return [SourceFile("camunda.bpmn", (_HEAD + work + _TAIL).encode())]


def _script_task(fmt: str, script: str, extra: str = "") -> list:
    return _with_work(f'<bpmn:scriptTask id="Work" name="Compute" scriptFormat="{fmt}"{extra}>'
                      f"<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>"
                      f"<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>")


def _task_with(extensions: str, tag: str = "userTask") -> list:
    return _with_work(f'<bpmn:{tag} id="Work" name="Review"><bpmn:extensionElements>{extensions}'
                      f"</bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming>"
                      f"<bpmn:outgoing>F2</bpmn:outgoing></bpmn:{tag}>")


def _refused(engine, files) -> dict:
    with pytest.raises(ModelError) as caught:
        engine.parse(files)
    return {p.element_id: p.message for p in caught.value.problems}


@pytest.mark.parametrize(("fmt", "script", "language"), [
    ("javascript", "execution.setVariable('fee', 10);", "JavaScript"),
    ("JavaScript", "var fee = 10;", "JavaScript"),
    ("groovy", "def fee = 10\nexecution.setVariable('fee', fee)", "Groovy"),
    ("ruby", "fee = 10", "Ruby"),
    ("rhino-script", "var fee = 10;", "rhino-script"),
])
def test_a_script_task_in_another_language_is_refused_naming_the_language(engine, fmt, script, language):
    problems = _refused(engine, _script_task(fmt, script))
    message = problems["Work"]
    assert language in message and "only Python scripts run here" in message
    assert "syntax" not in message


def test_a_python_script_task_of_camunda_runs(engine):
    model = engine.parse(_script_task("python", "fee = 10"))
    assert engine.start(model).data["fee"] == 10


def test_a_python_script_under_a_format_name_no_one_knows_runs_with_a_warning(engine):
    model = engine.parse(_script_task("reset", "fee = 10"))
    assert any("'reset' is no language onestop knows" in w["message"] for w in model.warnings)
    assert engine.start(model).data["fee"] == 10


def test_a_script_task_whose_script_is_a_file_elsewhere_is_refused(engine):
    files = _with_work('<bpmn:scriptTask id="Work" scriptFormat="groovy" camunda:resource="classpath://fee.groovy">'
                       "<bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>")
    message = _refused(engine, files)["Work"]
    assert "classpath://fee.groovy" in message and "Groovy" in message


@pytest.mark.parametrize(("listener", "words"), [
    ('<camunda:executionListener class="org.example.Audit" event="start" />',
     ("execution listener", "start", "Java class org.example.Audit")),
    ('<camunda:executionListener expression="${audit.log(execution)}" event="end" />',
     ("execution listener", "end", "expression ${audit.log(execution)}")),
    ('<camunda:taskListener delegateExpression="${notifier}" event="create" />',
     ("task listener", "create", "delegate expression ${notifier}")),
    ('<camunda:taskListener event="complete"><camunda:script scriptFormat="javascript">task.x = 1;'
     "</camunda:script></camunda:taskListener>",
     ("task listener", "complete", "JavaScript")),
    ('<camunda:executionListener event="start"><camunda:script scriptFormat="python">x = 1'
     "</camunda:script></camunda:executionListener>",
     ("execution listener", "start", "script task")),
])
def test_listeners_are_refused_naming_the_element_the_event_and_what_they_call(engine, listener, words):
    message = _refused(engine, _task_with(listener))["Work"]
    assert "are not run here" in message
    for word in words:
        assert word in message


def test_an_input_mapping_written_as_a_script_in_another_language_is_refused(engine):
    mapping = ('<camunda:inputOutput><camunda:inputParameter name="fee">'
               '<camunda:script scriptFormat="groovy">10 * 2</camunda:script>'
               "</camunda:inputParameter></camunda:inputOutput>")
    message = _refused(engine, _task_with(mapping))["Work"]
    assert "Groovy" in message and "fee" in message and "only Python" in message


def _gateway_with(condition: str) -> list:
    return [SourceFile("camunda.bpmn", (_HEAD.replace('targetRef="Work"', 'targetRef="Choose"') + f"""
    <bpmn:exclusiveGateway id="Choose" default="Otherwise"><bpmn:incoming>F1</bpmn:incoming>
      <bpmn:outgoing>Cheap</bpmn:outgoing><bpmn:outgoing>Otherwise</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Cheap" sourceRef="Choose" targetRef="CheapEnd">{condition}</bpmn:sequenceFlow>
    <bpmn:endEvent id="CheapEnd"><bpmn:incoming>Cheap</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Otherwise" sourceRef="Choose" targetRef="Done" />
    <bpmn:endEvent id="Done"><bpmn:incoming>Otherwise</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""").encode())]


def _ended_at(engine, model, **data):
    step = engine.start(model, data)
    assert step.status == "completed", step.error
    return [f.element_id for f in step.finished if f.element_id in ("CheapEnd", "Done")]


def test_a_condition_written_as_a_javascript_script_is_refused_naming_the_flow(engine):
    condition = ('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="javascript">'
                 "fee &lt; 10</bpmn:conditionExpression>")
    message = _refused(engine, _gateway_with(condition))["Cheap"]
    assert "JavaScript" in message and "Cheap" in message


@pytest.mark.parametrize(("juel", "data", "cheap"), [
    ('${kinds.contains("house")}', {"kinds": ["house", "land"]}, True),
    ('${kinds.contains("house")}', {"kinds": ["land"]}, False),
    ('${name.equals("An")}', {"name": "An"}, True),
    ("${notes.isEmpty()}", {"notes": []}, True),
    ('${code.startsWith("HN") and code.endsWith("01")}', {"code": "HN-01"}, True),
    ("${items.size() lt 3}", {"items": [1, 2]}, True),
    ("${not empty owner}", {"owner": ""}, False),
    ("${empty owner}", {"owner": None}, True),
    ("${applicant.age ge 18 && !blocked}", {"applicant": {"age": 20}, "blocked": False}, True),
    ('${name.toUpperCase() eq "AN" || name.trim() == "b"}', {"name": "an"}, True),
    ("${fee > 10 ? false : true}", {"fee": 5}, True),
])
def test_juel_conditions_with_common_methods_run(engine, juel, data, cheap):
    condition = f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(juel)}</bpmn:conditionExpression>'
    model = engine.parse(_gateway_with(condition))
    assert _ended_at(engine, model, **data) == (["CheapEnd"] if cheap else ["Done"])


@pytest.mark.parametrize(("juel", "method"), [
    ('${kinds.stream().anyMatch(k -> k == "x")}', "stream"),
    ('${dateTime().plusDays(1)}', "dateTime"),
    ('${order.getCustomer().getName() == "x"}', "getCustomer"),
])
def test_a_juel_method_without_a_translation_is_refused_at_upload_naming_it(engine, juel, method):
    condition = f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(juel)}</bpmn:conditionExpression>'
    message = _refused(engine, _gateway_with(condition))["Cheap"]
    assert method in message and "syntax" not in message


def _each_applicant(collection: str) -> list:
    return _with_work(f'<bpmn:userTask id="Work"><bpmn:incoming>F1</bpmn:incoming>'
                      f'<bpmn:outgoing>F2</bpmn:outgoing><bpmn:multiInstanceLoopCharacteristics '
                      f'camunda:collection="{collection}" camunda:elementVariable="applicant" /></bpmn:userTask>')


def test_a_multi_instance_collection_written_in_juel_names_the_data_it_reads(engine):
    model = engine.parse(_each_applicant("${applicants}"))
    step = engine.start(model, {"applicants": ["An", "Bình", "Chi"]})
    assert step.status == "active" and len(step.ready) == 3, step.error
    assert any("read as applicants" in w["message"] for w in model.warnings)


def test_a_multi_instance_collection_computed_by_a_bean_is_refused(engine):
    message = _refused(engine, _each_applicant("${registry.applicantsOf(dossier)}"))["Work"]
    assert "must name a list" in message and "registry.applicantsOf" in message
