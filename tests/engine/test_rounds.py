"""The engine's automatic rounds run what SpiffWorkflow's do_engine_steps runs, in its order, without its walks."""

import itertools
import json
import uuid
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

from onestop.engine import Engine, rounds, runtime
from onestop.engine.parsing import SourceFile
from tests.support import enginewalk

PERMIT = Path(__file__).resolve().parents[2] / "bench" / "models"


def _flow(source, target, condition=None):
    body = (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
            if condition else "")
    return f'<bpmn:sequenceFlow id="F_{source}_{target}" sourceRef="{source}" targetRef="{target}">{body}</bpmn:sequenceFlow>'


def _model(process_id, elements, flows):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D_{process_id}" targetNamespace="http://onestop.test">
  <bpmn:process id="{process_id}" isExecutable="true">
    {elements}
    {"".join(_flow(*f) for f in flows)}
  </bpmn:process>
</bpmn:definitions>
"""


def _script(element_id, script):
    return f'<bpmn:scriptTask id="{element_id}" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


# Parallel branches of script tasks, one of them split again, joined, then a person's task, an
# inclusive gateway taking two of three branches, and a second person's task: rounds with several
# automatic tasks READY at once, at different depths of the tree.
BRANCHES = _model("branches", "".join([
    '<bpmn:startEvent id="Begin"/>',
    '<bpmn:parallelGateway id="Split"/>', '<bpmn:parallelGateway id="Join"/>',
    '<bpmn:parallelGateway id="Split2"/>', '<bpmn:parallelGateway id="Join2"/>',
    _script("A", "a = 1"), _script("B", "b = 2"), _script("C1", "c1 = 3"), _script("C2", "c2 = 4"),
    _script("D", "d = a + b + c1 + c2"),
    '<bpmn:userTask id="Task_Check" name="Check"/>',
    '<bpmn:inclusiveGateway id="Fork"/>', '<bpmn:inclusiveGateway id="Merge"/>',
    _script("E1", "e1 = 1"), _script("E2", "e2 = 2"), _script("E3", "e3 = 3"),
    '<bpmn:userTask id="Task_Last" name="Last"/>', '<bpmn:endEvent id="Finish"/>',
]), [("Begin", "Split"), ("Split", "A"), ("Split", "Split2"), ("Split", "B"),
     ("Split2", "C1"), ("Split2", "C2"), ("C1", "Join2"), ("C2", "Join2"), ("Join2", "Join"),
     ("A", "Join"), ("B", "Join"), ("Join", "D"), ("D", "Task_Check"), ("Task_Check", "Fork"),
     ("Fork", "E1", "d &gt; 5"), ("Fork", "E2", "d &lt; 5"), ("Fork", "E3", "d == 10"),
     ("E1", "Merge"), ("E2", "Merge"), ("E3", "Merge"), ("Merge", "Task_Last"), ("Task_Last", "Finish")])

# A script, then an embedded subprocess of scripts started in the middle of the rounds (from then on
# SpiffWorkflow's own do_engine_steps runs them), then a person's task and more scripts.
SUBPROCESS = _model("with_subprocess", "".join([
    '<bpmn:startEvent id="Begin"/>', _script("Before", "x = 1"),
    '<bpmn:subProcess id="Sub"><bpmn:startEvent id="SubStart"/>' + _script("Inside", "y = x + 1")
    + '<bpmn:endEvent id="SubEnd"/>' + _flow("SubStart", "Inside") + _flow("Inside", "SubEnd") + "</bpmn:subProcess>",
    _script("After", "z = y + 1"), '<bpmn:userTask id="Task_Look" name="Look"/>',
    _script("Last", "w = z + 1"), '<bpmn:endEvent id="Finish"/>',
]), [("Begin", "Before"), ("Before", "Sub"), ("Sub", "After"), ("After", "Task_Look"), ("Task_Look", "Last"),
     ("Last", "Finish")])


def _files(name):
    if name == "permit":
        return [SourceFile(p.name, p.read_bytes()) for p in sorted(PERMIT.iterdir()) if p.suffix in (".bpmn", ".json")]
    return [SourceFile(f"{name}.bpmn", {"branches": BRANCHES, "subprocess": SUBPROCESS}[name].encode())]


@pytest.fixture
def fresh_engine():
    engine = Engine(compact_at=1)
    yield engine
    engine.close()


def _without_clock(value):
    """A stored state without what the wall clock decides: SpiffWorkflow's stamps, a timer's due time (the only
    parts two runs of the same steps may write differently)."""
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in ("last_state_change", "event_value")}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _dossier(engine, name, monkeypatch):
    """Every step of a dossier of the model (each person's task done in turn), task ids numbered in
    order so that two runs give the same ids: what each step stored and answered."""
    numbers = itertools.count(1)
    monkeypatch.setattr("SpiffWorkflow.task.uuid4", lambda: uuid.UUID(int=next(numbers)))
    model = engine.parse(_files(name))
    step = engine.start(model, {"applicant": "Bùi H"})
    seen = []
    for _ in range(20):
        seen.append((_without_clock(json.loads(step.state)), step.status, step.data,
                     [t.id for t in step.ready], [(f.task_id, f.element_id, f.state) for f in step.finished],
                     [(w.task_id, w.element_id) for w in step.waiting], step.error))
        if not step.ready:
            return seen
        data = {"complete": True, "urban_agree": True, "environment_agree": True, "approved": True}
        step = engine.complete_task(model, step.state, step.ready[0].id, data)
    return seen


@pytest.mark.parametrize("name", ["branches", "subprocess", "permit"])
def test_a_dossier_stores_and_answers_what_spiffworkflows_own_rounds_give(fresh_engine, monkeypatch, name):
    ours = _dossier(fresh_engine, name, monkeypatch)
    monkeypatch.setattr(runtime, "do_engine_steps",
                        lambda workflow, did_complete_task: workflow.do_engine_steps(did_complete_task=did_complete_task))
    theirs = _dossier(fresh_engine, name, monkeypatch)
    assert ours == theirs
    assert len(ours) >= 2 and ours[-1][1] == "completed"


def test_the_rounds_run_the_same_tasks_in_the_same_order_as_spiffworkflow(fresh_engine, monkeypatch):
    """Straight at SpiffWorkflow: two copies of one workflow, one run by each."""
    model = fresh_engine.parse(_files("branches"))
    ran = {"ours": [], "theirs": []}
    for who in ran:
        numbers = itertools.count(1)
        monkeypatch.setattr("SpiffWorkflow.task.uuid4", lambda numbers=numbers: uuid.UUID(int=next(numbers)))
        workflow = BpmnWorkflow(model.spec, model.subprocess_specs, script_engine=fresh_engine.script_engine)
        record = lambda task, who=who: ran[who].append((task.task_spec.name, task.id))  # noqa: E731
        for _ in range(3):  # up to the first person's task, then past it to the second
            if who == "ours":
                rounds.do_engine_steps(workflow, did_complete_task=record)
            else:
                workflow.do_engine_steps(did_complete_task=record)
            manual = workflow.get_tasks(state=TaskState.READY, manual=True)
            if manual:
                manual[0].run()
    assert ran["ours"] == ran["theirs"]
    names = [name for name, _ in ran["ours"]]
    assert {"A", "B", "C1", "C2", "D", "E1", "E3"} <= set(names) and "E2" not in names


def test_a_step_runs_its_automatic_tasks_without_walking_the_task_tree(fresh_engine, monkeypatch):
    monkeypatch.setattr(rounds, "automatic_ready", rounds.automatic_ready.__wrapped__)  # not the suite's check
    model = fresh_engine.parse(_files("permit"))
    step = fresh_engine.start(model, {"applicant": "Bùi H"})
    walks = []
    listing = Workflow.get_tasks

    def counted(self, first_task=None, **kwargs):
        if kwargs.get("state") == TaskState.READY:
            walks.append(kwargs)
        return listing(self, first_task, **kwargs)

    monkeypatch.setattr(Workflow, "get_tasks", counted)
    step = fresh_engine.complete_task(model, step.state, step.ready[0].id, {})
    assert step.status == "active" and [t.element_id for t in step.ready] == ["Task_Appraise"]
    assert walks == []  # SpiffWorkflow's do_engine_steps walked the tree for READY tasks in each round


def test_a_task_the_walk_would_not_reach_is_left_to_the_walk(fresh_engine):
    model = fresh_engine.parse(_files("branches"))
    workflow = BpmnWorkflow(model.spec, model.subprocess_specs)
    answer = rounds.automatic_ready.__wrapped__
    ready = answer(workflow)
    while ready[0].parent is None:  # the root: run on to a READY task with a parent
        ready[0].run()
        ready = answer(workflow)
    assert ready == enginewalk.walked(workflow) != []
    # Under a task in a predicted state, SpiffWorkflow's iterator does not look: neither is it found here.
    ready[0].parent._state = TaskState.LIKELY
    assert ready[0].state == TaskState.READY
    assert answer(workflow) == [] == enginewalk.walked(workflow)


def test_the_suite_compares_every_answer_with_spiffworkflows_walk(fresh_engine):
    before = enginewalk.COMPARED[0]
    model = fresh_engine.parse(_files("branches"))
    fresh_engine.start(model)
    assert enginewalk.COMPARED[0] > before
