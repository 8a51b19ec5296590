"""Camunda models through the REST API: what runs starts a dossier, what cannot run is a 422 that
names each element in plain words, never a 5xx or an exception's text (issue 18 item 5)."""

import re

from tests.engine.test_feel import _files as fee_files
from tests.engine.test_feel import _rule as fee_rule
from tests.security.budget_models import ticking_task

_CAMUNDA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://onestop.test">
  <bpmn:process id="field_model" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeCycle>0/5 0/1 * 1/1 * ?</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Compute" />
    <bpmn:scriptTask id="Compute" scriptFormat="groovy"><bpmn:incoming>F1</bpmn:incoming>
      <bpmn:outgoing>F2</bpmn:outgoing><bpmn:script>def fee = 10</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Compute" targetRef="Review" />
    <bpmn:userTask id="Review"><bpmn:extensionElements>
        <camunda:taskListener class="org.example.Notify" event="create" /></bpmn:extensionElements>
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Review" targetRef="Done">
      <bpmn:conditionExpression>${owner.getName() == "x"}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:endEvent id="Done"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
EXCEPTION_TEXT = re.compile(r"Traceback|Error:|Exception|\bat 0x")


def test_a_camunda_model_with_java_engine_code_is_refused_naming_each_element(sqlite_admin_api):
    response = sqlite_admin_api.upload([("field_model.bpmn", _CAMUNDA.encode())])
    assert response.status_code == 422, response.json
    details = {d["element_id"]: d["message"] for d in response.json["details"]}
    assert "repeats more often than once every 60 seconds" in details["Begin"]
    assert "Groovy" in details["Compute"] and "only Python scripts run here" in details["Compute"]
    assert "task listener" in details["Review"] and "org.example.Notify" in details["Review"]
    assert ".getName()" in details["F3"]
    assert not EXCEPTION_TEXT.search(str(response.json)), response.json


def test_a_feel_decision_table_and_a_cron_timer_run_through_the_api(sqlite_admin_api):
    files = [(f.name, f.content) for f in fee_files(fee_rule("listed", '"house","villa"', "[1..100]", "100"),
                                                     fee_rule("other", "-", "-", "0"))]
    uploaded = sqlite_admin_api.upload(files)
    assert uploaded.status_code == 201, uploaded.json
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": uploaded.json["code"],
                                                  "data": {"kind": "villa", "area": 80}})
    assert dossier.status_code == 201, dossier.json
    stored = sqlite_admin_api.get(f"/dossiers/{dossier.json['code']}").json["data"]
    assert stored["fee"] == 100 and stored["urgent"] is False
    ticking = sqlite_admin_api.upload([("ticking.bpmn", ticking_task("0 0 8 ? * MON-FRI", "ticking"))])
    assert ticking.status_code == 201, ticking.json
    assert sqlite_admin_api.post("/dossiers", {"procedure": "ticking"}).status_code == 201
