"""The engine moves workflows between stored states; the live cache never changes the outcome."""

import gc
import json
import logging
import weakref

import pytest

from onestop.engine import Engine, EngineError, Stored, TaskNotReady
from onestop.engine.parsing import SourceFile
from tests.conftest import MODELS

FORM = {"applicant_name": "Đinh G", "documents_complete": True}


def _review(engine):
    return engine.parse([SourceFile(p.name, p.read_bytes()) for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")])


def _summary(step):
    return (step.status, step.data, [t.element_id for t in step.ready], [f.element_id for f in step.finished],
            [t.element_id for t in step.ready_added], len(step.ready_removed))


def test_a_step_from_the_live_cache_equals_a_step_from_stored_text(engine):
    model = _review(engine)
    first = engine.start(model)
    engine.keep("cached", 1, first)
    via_cache = engine.complete_task(model, Stored("cached", 1, lambda: (_ for _ in ()).throw(AssertionError("read"))),
                                     first.ready[0].id, FORM)
    via_text = engine.complete_task(model, first.state, first.ready[0].id, FORM)
    assert _summary(via_cache)[:4] == _summary(via_text)[:4]
    assert (_summary(via_cache)[4], _summary(via_cache)[5]) == (["Task_Approve"], 1)


def test_a_cached_workflow_at_another_serial_is_never_used(engine):
    model = _review(engine)
    first = engine.start(model)
    engine.keep("stale", 1, first)
    second = engine.complete_task(model, first.state, first.ready[0].id, FORM)
    reads = []

    def load_text():
        reads.append(1)
        return second.state

    step = engine.complete_task(model, Stored("stale", 2, load_text), second.ready[0].id, {"approved": True})
    assert reads == [1] and step.status == "completed"


def test_a_task_that_is_not_ready_leaves_the_live_workflow_in_place(engine):
    model = _review(engine)
    first = engine.start(model)
    engine.keep("kept", 1, first)
    try:
        engine.complete_task(model, Stored("kept", 1, lambda: first.state), "00000000-0000-0000-0000-000000000000", {})
    except TaskNotReady:
        pass
    else:
        raise AssertionError("expected TaskNotReady")
    step = engine.complete_task(model, Stored("kept", 1, lambda: (_ for _ in ()).throw(AssertionError("read"))),
                                first.ready[0].id, FORM)
    assert [t.element_id for t in step.ready] == ["Task_Approve"]


def test_the_live_cache_is_bounded():
    engine = Engine(live_size=2)
    try:
        model = _review(engine)
        for key in range(5):
            engine.keep(key, 1, engine.start(model))
        assert list(engine._live) == [3, 4]
    finally:
        engine.close()


def test_the_engine_tells_which_tasks_a_live_workflow_offers_until_a_step_takes_it_out():
    engine = Engine(live_size=2)
    try:
        model = _review(engine)
        first = engine.start(model)
        task_id = first.ready[0].id
        assert not engine.offers(task_id)
        engine.keep("offering", 1, first)
        assert engine.offers(task_id)
        engine.complete_task(model, Stored("offering", 1, lambda: first.state), task_id, FORM)
        assert not engine.offers(task_id)  # checked out by the step (and not kept: never stored)
        engine.keep("offering", 1, first)
        engine.forget(["offering"])
        assert not engine.offers(task_id)
        engine.keep("offering", 1, first)
        for key in ("other", "third"):  # evicted by two newer ones
            engine.keep(key, 1, engine.start(model))
        assert not engine.offers(task_id)
    finally:
        engine.close()


def test_the_engine_counts_the_steps_that_found_their_workflow_live_absent_or_stale():
    engine = Engine(live_size=4)
    try:
        model = _review(engine)
        first = engine.start(model)
        engine.keep("d", 1, first)
        second = engine.complete_task(model, Stored("d", 1, lambda: first.state), first.ready[0].id, FORM)  # live
        engine.keep("d", 2, second)
        engine.task_data(model, Stored("d", 2, lambda: second.state), second.ready[0].id)  # a read: not counted
        engine.complete_task(model, Stored("d", 3, lambda: second.state), second.ready[0].id, {"approved": True})  # stale
        engine.complete_task(model, Stored("e", 1, lambda: first.state), first.ready[0].id, FORM)  # absent
        assert engine.live_counts() == {"live": 1, "absent": 1, "stale": 1}
    finally:
        engine.close()


def test_a_dossier_in_the_middle_of_a_multi_instance_goes_on_in_another_process(engine):
    from tests.conftest import CONFORMANCE

    path = CONFORMANCE / "spiffworkflow" / "bpmn" / "parallel_multiinstance_cardinality.bpmn"
    if not path.exists():
        import pytest

        pytest.skip("needs the conformance corpus")
    first, second = Engine(), Engine()  # two processes: each parses the model itself
    try:
        files = [SourceFile(path.name, path.read_bytes())]
        step = first.start(first.parse(files), {"input_data": [1, 2, 3]})
        step = first.complete_task(first.parse(files), step.state, step.ready[0].id, {"output_item": 0})
        model = second.parse(files)
        for n, task in enumerate(list(step.ready)):
            step = second.complete_task(model, step.state, task.id, {"output_item": (n + 1) * 2})
        assert step.status == "completed"
    finally:
        first.close()
        second.close()


def test_a_workflow_is_positioned_at_a_named_step_and_copies_of_it_get_task_ids_of_their_own(engine):
    model = _review(engine)
    assert engine.human_steps(model) == {"Task_Receive": "Tiếp nhận hồ sơ", "Task_Approve": "Phê duyệt"}
    at_approval = engine.position(model, "Task_Approve")
    assert [t.element_id for t in at_approval.ready_added] == ["Task_Approve"] and at_approval.finished == []
    one, two = (engine.copy_positioned(at_approval, {"applicant_full_name": name}) for name in ("An", "Bình"))
    assert len({at_approval.ready[0].id, one.ready[0].id, two.ready[0].id}) == 3
    assert engine.task_data(model, two.state, two.ready[0].id)["applicant_full_name"] == "Bình"
    done = engine.complete_task(model, one.state, one.ready[0].id, {"approved": True})
    assert done.status == "completed" and done.data["applicant_full_name"] == "An"


def test_a_step_the_model_lacks_or_no_path_reaches_is_refused_saying_why(engine):
    model = _review(engine)
    with pytest.raises(EngineError, match="End_Approved is not a person's task"):
        engine.position(model, "End_Approved")
    with pytest.raises(EngineError, match="Nope is not a person's task"):
        engine.position(model, "Nope")


def test_gateways_on_the_way_take_the_branch_that_leads_to_the_step_and_a_wait_on_the_way_is_said(engine):
    branching = engine.parse([SourceFile("branching.bpmn", BRANCHING.encode())])
    for data in ({"x": 1}, {"x": 2}, {}):  # the condition holds, turns away, cannot be read
        assert [t.element_id for t in engine.position(branching, "Task_B", data).ready] == ["Task_B"]
    assert [t.element_id for t in engine.position(branching, "Task_C", {"x": 1}).ready] == ["Task_C"]
    with pytest.raises(EngineError, match=r"Task_D cannot be reached from where the process waits \(an event\)"):
        engine.position(branching, "Task_D")
    at_c = engine.position(branching, "Task_C", {"x": 2})  # an ordinary dossier later decides by its data again
    done = engine.complete_task(branching, at_c.state, at_c.ready[0].id, {})
    assert done.status == "active" and [w.element_id for w in done.waiting] == ["Event_Wait"]
    started = engine.start(branching, {"x": 2})
    after_a = engine.complete_task(branching, started.state, started.ready[0].id, {})
    assert [t.element_id for t in after_a.ready] == ["Task_C"]  # the model's own gateway was never steered


BRANCHING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://onestop.test">
  <bpmn:process id="branching" isExecutable="true">
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_1" targetRef="Task_A" />
    <bpmn:userTask id="Task_A" name="A"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="Gateway_1" />
    <bpmn:exclusiveGateway id="Gateway_1" default="F4">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing><bpmn:outgoing>F4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="F3" sourceRef="Gateway_1" targetRef="Task_B">
      <bpmn:conditionExpression xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="bpmn:tFormalExpression">x == 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F4" sourceRef="Gateway_1" targetRef="Task_C" />
    <bpmn:userTask id="Task_B" name="B"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="Task_C" name="C"><bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F6</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F5" sourceRef="Task_B" targetRef="End_1" />
    <bpmn:sequenceFlow id="F6" sourceRef="Task_C" targetRef="Event_Wait" />
    <bpmn:intermediateCatchEvent id="Event_Wait">
      <bpmn:incoming>F6</bpmn:incoming><bpmn:outgoing>F7</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F7" sourceRef="Event_Wait" targetRef="Task_D" />
    <bpmn:userTask id="Task_D" name="D"><bpmn:incoming>F7</bpmn:incoming><bpmn:outgoing>F8</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F8" sourceRef="Task_D" targetRef="End_1" />
    <bpmn:endEvent id="End_1"><bpmn:incoming>F5</bpmn:incoming><bpmn:incoming>F8</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_model_the_engine_caches_is_packed_and_steps_through_it_as_before(engine):
    """The parsed-model cache holds each model packed (ParsedModel.pack): what a step seldom reads as bytes."""
    parsed = _review(engine)
    plain_step = engine.start(parsed)
    cached = engine.model("packed-review", lambda: _review(engine))
    assert isinstance(vars(cached)["_spec_json"], bytes) and engine.model("packed-review", None) is cached
    step = engine.start(cached)
    assert _summary(step)[:3] == _summary(plain_step)[:3]
    done = engine.complete_task(cached, step.state, step.ready[0].id, FORM)
    assert [t.element_id for t in done.ready] == ["Task_Approve"]


def test_a_workflow_evicted_from_the_live_cache_is_freed_at_once_without_the_garbage_collector():
    engine = Engine(live_size=1)
    try:
        model = _review(engine)
        first = engine.start(model)
        first_id = first.ready[0].id
        gc.collect()
        gc.disable()  # only reference counting frees anything below
        try:
            evicted = weakref.ref(first.workflow)
            engine.keep("a", 1, first)
            del first
            engine.keep("b", 1, second := engine.start(model))  # evicts "a"
            assert evicted() is None
            engine.keep("b", 1, second)  # the same workflow put again is not taken apart
            assert engine.offers(second.ready[0].id) and not engine.offers(first_id)
        finally:
            gc.enable()
        held = engine.start(model)
        engine.keep("c", 1, held)  # evicts "b"
        engine.keep("b", 1, second)  # its step was held: taken apart, it is not kept again
        assert list(engine._live) == ["c"]
        engine.keep("c", 1, held)
        step = engine.complete_task(model, Stored("c", 1, lambda: held.state), held.ready[0].id, FORM)
        assert [t.element_id for t in step.ready] == ["Task_Approve"]  # the live one still steps
        assert engine.live_counts()["live"] == 1
    finally:
        engine.close()


def test_spiffworkflow_lists_no_task_for_a_log_record_nobody_writes(monkeypatch):
    """SpiffWorkflow adds every task id (and a task's data) to a record's extras when its logger's own
    level is below INFO; its loggers are NOTSET in a fresh process, so every start walked the tree."""
    for name in ("spiff.workflow", "spiff.task"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)  # as a fresh process has them
    engine = Engine(live_size=0)
    try:
        step = engine.start(_review(engine))
        assert "tasks" not in step.workflow.collect_log_extras()
        assert "data" not in step.workflow.task_tree.collect_log_extras()
        assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)  # still not written
    finally:
        engine.close()


def test_a_level_set_on_spiffworkflow_s_loggers_is_left_alone(monkeypatch):
    monkeypatch.setattr(logging.getLogger("spiff.task"), "level", logging.DEBUG)
    Engine(live_size=0).close()
    assert logging.getLogger("spiff.task").level == logging.DEBUG


def _numbered_ids(monkeypatch, first):
    """Task ids numbered from `first` (SpiffWorkflow draws them with uuid4): two runs of one step get the same ids."""
    import itertools
    import uuid

    numbers = itertools.count(first)
    monkeypatch.setattr("SpiffWorkflow.task.uuid4", lambda: uuid.UUID(int=next(numbers)))


def _answer(step):
    """What a step answers besides its state: every part the scan before it decides."""
    return (step.status, [t.id for t in step.ready], [t.id for t in step.ready_added], step.ready_removed,
            [(w.task_id, w.element_id, w.type) for w in step.waiting], step.waiting_changed, step.services_changed,
            step.pending_services, [(f.task_id, f.state) for f in step.finished], step.error)


@pytest.mark.parametrize("model_name", ["permit", "branching"])
def test_a_live_step_begins_from_the_scan_its_previous_step_ended_with_and_answers_as_from_the_text(
        engine, monkeypatch, model_name):
    from onestop.engine import runtime
    from tests.engine.test_compact import _permit
    from tests.engine.test_rounds import _without_clock

    if model_name == "permit":  # parallel reviews: two tasks ready at once, one removed at a time
        model, data = _permit(engine), {"complete": True, "urban_agree": True, "environment_agree": True,
                                        "approved": True}
    else:  # a timer wait after Task_C
        model, data = engine.parse([SourceFile("branching.bpmn", BRANCHING.encode())]), {}
    scans = []
    scanning = runtime._scan
    monkeypatch.setattr(runtime, "_scan", lambda workflow, started, forms=None: scans.append(started)
                        or scanning(workflow, started, forms))
    text_engine = Engine(live_size=0)
    try:
        step = engine.start(model, {"x": 2})
        for serial in range(1, 8):
            if not step.ready:
                break
            engine.keep(f"live-{model_name}", serial, step)
            task_id = step.ready[-1].id
            _numbered_ids(monkeypatch, serial * 1000)
            from_text = text_engine.complete_task(model, step.state, task_id, data)
            _numbered_ids(monkeypatch, serial * 1000)
            del scans[:]
            step = engine.complete_task(model, Stored(f"live-{model_name}", serial, lambda: pytest.fail("read")),
                                        task_id, data)
            assert 0.0 not in scans  # no scan of the workflow before the step: the kept one
            assert _answer(step) == _answer(from_text)
            assert _without_clock(json.loads(step.state)) == _without_clock(json.loads(from_text.state))
    finally:
        text_engine.close()
    assert serial > 2


def test_keeping_a_step_s_workflow_live_takes_its_tasks_from_the_step(engine, monkeypatch):
    from onestop.engine import runtime

    model = _review(engine)
    first = engine.start(model)
    walks = []
    walking = runtime._all_tasks
    monkeypatch.setattr(runtime, "_all_tasks", lambda workflow: walks.append(1) or walking(workflow))
    engine.keep("offered", 1, first)
    assert walks == [] and engine.offers(first.ready[0].id)
