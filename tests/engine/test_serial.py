"""A dossier's stored state is SpiffWorkflow's own format: onestop's one-pass task conversion writes
the same text as SpiffWorkflow's converter and reads back what it wrote, typed values included."""

import enum
import json
import math
import sys
from collections import Counter
from datetime import datetime
from uuid import UUID

import pytest

from onestop import jsontext
from onestop.engine import serial
from onestop.engine.parsing import SourceFile
from tests.conftest import MODELS

MODELS_AND_DATA = [
    (("review.bpmn", "receive-schema.json"), {"applicant_name": "Đinh G", "documents_complete": True, "approved": True}),
    (("land-record-spiff.bpmn",), {"parcel": "TĐ-125", "approved": True, "complete": True}),
    (("timer.bpmn",), {"note": "chờ"}),
    (("tax-notice-camunda.bpmn",), {"amount": 1000, "paid": True}),
]


def _model(engine, names):
    return engine.parse([SourceFile(name, (MODELS / name).read_bytes()) for name in names])


def _specs(model):
    if model.spec is None:
        return serial.restore_specs(model.dialect, model.spec_json)
    return model.spec, model.subprocess_specs


def _stock(model, fn):
    """fn() with SpiffWorkflow's own task converter in place of the one-pass one."""
    converter = serial.serializer_for(model.dialect).workflow_converter
    assert converter.fast_tasks  # the one-pass conversion is what the engine runs
    converter.fast_tasks = False
    try:
        return fn()
    finally:
        converter.fast_tasks = True


def _steps(engine, model, data, limit=8):
    """Every state a workflow of the model goes through, completing its first ready task (or sending
    the message it waits for) each time."""
    step = engine.start(model, data)
    states = [step.state]
    while step.status == "active" and len(states) < limit:
        messages = [w.message for w in step.waiting if w.type == "message"]
        if step.ready:
            step = engine.complete_task(model, step.state, step.ready[0].id, data)
        elif messages:
            step = engine.deliver_message(model, step.state, messages[0], data)
        else:
            break
        states.append(step.state)
    return states


@pytest.mark.parametrize(("names", "data"), MODELS_AND_DATA, ids=[m[0][0] for m in MODELS_AND_DATA])
def test_every_state_is_written_and_read_as_spiffworkflows_own_converter_does(engine, names, data):
    model = _model(engine, names)
    states = _steps(engine, model, data)
    assert len(states) > 1
    for text in states:
        spec, subprocess_specs = _specs(model)
        fast = serial.load_workflow(model.dialect, spec, subprocess_specs, text)
        stock = _stock(model, lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, text))  # noqa: B023
        # Each side writes the text it read, whichever side restored the workflow.
        assert serial.dump_workflow(model.dialect, fast) == text
        assert serial.dump_workflow(model.dialect, stock) == text
        assert _stock(model, lambda: serial.dump_workflow(model.dialect, fast)) == text  # noqa: B023
        # The state's UTF-8 (as SQLite's rows hand it over) restores the same workflow.
        assert serial.dump_workflow(model.dialect, serial.load_workflow(model.dialect, spec, subprocess_specs,
                                                                        text.encode())) == text
        assert [(t.id, t.state, t.data, t.internal_data, t._parent, t._children) for t in fast.tasks.values()] == \
            [(t.id, t.state, t.data, t.internal_data, t._parent, t._children) for t in stock.tasks.values()]


def test_typed_values_in_the_data_come_back_as_they_were(engine):
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G"})
    workflow = step.workflow
    when = datetime(2026, 12, 5, 8, 30)
    ready = next(t for t in workflow.tasks.values() if t.task_spec.manual and t.data)
    ready.data.update({"received": when, "nested": {"at": [when]}, "text": 'a "typename" in words'})
    root = workflow.task_tree
    root.data["opened"] = when
    text = serial.dump_workflow(model.dialect, workflow)
    spec, subprocess_specs = _specs(model)
    for restored in (serial.load_workflow(model.dialect, spec, subprocess_specs, text),
                     serial.load_workflow(model.dialect, spec, subprocess_specs, text.encode()),
                     _stock(model, lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, text))):
        again = restored.tasks[ready.id].data
        assert again["received"] == when and again["nested"] == {"at": [when]}
        assert again["text"] == 'a "typename" in words'
        assert restored.task_tree.data["opened"] == when
        assert serial.dump_workflow(model.dialect, restored) == text


def test_restored_task_data_never_shares_containers_with_its_parent(engine):
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G", "documents": ["CCCD", "Đơn"], "owner": {"name": "A"}})
    spec, subprocess_specs = _specs(model)
    workflow = serial.load_workflow(model.dialect, spec, subprocess_specs, step.state)
    ready = next(t for t in workflow.tasks.values() if t.task_spec.manual)
    ready.data["documents"].append("Bản vẽ")
    ready.data["owner"]["name"] = "B"
    assert ready.parent.data["documents"] == ["CCCD", "Đơn"] and ready.parent.data["owner"] == {"name": "A"}


def _counting(fn, wanted):
    """fn()'s result and how many times, while it ran, the profiler saw each `wanted` event: ("c_call", builtin)."""
    seen = Counter()

    def count(frame, event, arg):
        if event == "c_call" and ("c_call", arg) in wanted:
            seen[("c_call", arg)] += 1

    sys.setprofile(count)
    try:
        result = fn()
    finally:
        sys.setprofile(None)
    return result, seen


def test_restoring_a_task_copies_only_its_parents_containers(engine):
    """A task restored from its parent's data copies the parent's dictionary whole and only the
    containers in it one by one: restoring does not ask of every value of every task what it is."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    data = {f"field_{i:03d}": f"giá trị {i}" for i in range(200)} | {"documents": ["CCCD"], "owner": {"name": "A"}}
    step = engine.start(model, data)
    spec, subprocess_specs = _specs(model)
    workflow, seen = _counting(lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, step.state),
                               {("c_call", isinstance)})
    from_parent = [t for t in workflow.tasks.values() if t.parent is not None]
    assert len(from_parent) >= 3
    # Before: one isinstance per value of the parent's data for every task restored from it (600+ here).
    assert seen[("c_call", isinstance)] < 2 * len(data)
    stock = _stock(model, lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, step.state))
    assert [t.data for t in workflow.tasks.values()] == [t.data for t in stock.tasks.values()]
    for task in from_parent:
        for key in ("documents", "owner"):
            if key in task.data:
                assert task.data[key] is not task.parent.data[key]


def test_plain_workflow_data_is_written_without_a_look_at_each_value(engine):
    """The workflow's data, when its values are plain JSON types, is written without asking each whether
    it is callable or a module (SpiffWorkflow's registry.clean, run twice on it); the text is
    SpiffWorkflow's converter's."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    workflow = engine.start(model, {"applicant_name": "Đinh G"}).workflow
    workflow.data.update({f"field_{i:03d}": [i, f"giá trị {i}", None, 1.5] for i in range(100)})
    text, seen = _counting(lambda: serial.dump_workflow(model.dialect, workflow), {("c_call", callable)})
    assert seen[("c_call", callable)] < 10  # before: over 200, two per value
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, workflow)) == text


def test_callables_and_modules_in_the_workflow_data_are_left_out_as_spiffworkflow_does(engine):
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    workflow = engine.start(model, {"applicant_name": "Đinh G"}).workflow
    workflow.data.update({"kept": ["CCCD"], "helper": len, "module": json, "when": datetime(2026, 12, 6, 7, 0)})
    text = serial.dump_workflow(model.dialect, workflow)
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, workflow)) == text
    assert set(json.loads(text)["data"]) == {"kept", "when"}


def test_each_task_id_is_made_text_once_per_dump(engine):
    """UUID.__str__ (Python code) runs once per task of the state: the workflow's root and last task
    are tasks of it, whose text the dump has already made."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    workflow = engine.start(model, {"applicant_name": "Đinh G"}).workflow
    assert workflow.last_task is not None and workflow.last_task.id in workflow.tasks
    vars(workflow).pop(serial._ID_TEXTS)  # ids whose text no dump made yet (the start's dump made it)
    made = Counter()

    def count(frame, event, arg):
        if event == "call" and frame.f_code is UUID.__str__.__code__:
            made["text"] += 1

    sys.setprofile(count)
    try:
        text = serial.dump_workflow(model.dialect, workflow)
    finally:
        sys.setprofile(None)
    assert made["text"] == len(workflow.tasks)  # before: two more (the root's, the last task's)
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, workflow)) == text


def test_a_state_is_read_by_orjson_when_it_reads_it_as_json_does(engine):
    """The state's text is read by orjson (jsontext.loads), not by the standard decoder, when orjson
    reads it the same; an integer beyond 64 bits in the data (which orjson would make a float) is read
    by the standard decoder, exactly."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G", "count": 7})
    spec, subprocess_specs = _specs(model)
    seen = Counter()

    def count(frame, event, arg):
        if event == "call" and frame.f_code is json.JSONDecoder.decode.__code__:
            seen["decode"] += 1

    def load(text):
        sys.setprofile(count)
        try:
            return serial.load_workflow(model.dialect, spec, subprocess_specs, text)
        finally:
            sys.setprofile(None)

    workflow = load(step.state)
    assert seen["decode"] == 0  # before: the standard decoder read every state
    assert serial.dump_workflow(model.dialect, workflow) == step.state
    big = step.state.replace('"count":7', f'"count":{2**64 + 1}')
    assert big != step.state
    workflow = load(big)
    assert seen["decode"] == 1
    assert 2**64 + 1 in [t.data.get("count") for t in workflow.tasks.values()]
    assert serial.dump_workflow(model.dialect, workflow) == big


def _reachable(values) -> set:
    """The ids of every dictionary and list inside `values`."""
    seen, todo = set(), list(values)
    while todo:
        value = todo.pop()
        if isinstance(value, dict | list) and id(value) not in seen:
            seen.add(id(value))
            todo.extend(value.values() if isinstance(value, dict) else value)
    return seen


def test_a_dump_looks_only_at_the_parts_of_the_state_that_can_hold_other_values(engine, monkeypatch):
    """Whether orjson can write the state (jsontext.plain) is asked of the data, deltas, internal data,
    events, subprocesses and the tasks' scalar fields, not of the tasks' ids, children and typenames
    the dump itself made (half of a state's values)."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    workflow = engine.start(model, {"applicant_name": "Đinh G", "documents": ["CCCD"]}).workflow
    asked = []
    real = jsontext.plain
    monkeypatch.setattr(jsontext, "plain", lambda value: asked.append(value) or real(value))
    written = []
    real_dumps = jsontext.orjson.dumps
    monkeypatch.setattr(jsontext.orjson, "dumps", lambda v, *a, **k: written.append(v) or real_dumps(v, *a, **k))
    text = serial.dump_workflow(model.dialect, workflow)
    assert len(written) == 1  # orjson wrote it
    looked_at = _reachable(asked)
    doc = written[0]
    assert id(doc) not in looked_at and id(doc["tasks"]) not in looked_at  # before: plain(the whole state)
    assert not any(id(task) in looked_at or id(task["children"]) in looked_at for task in doc["tasks"].values())
    assert any(id(task["internal_data"]) in looked_at for task in doc["tasks"].values())
    empty = [v for task in doc["tasks"].values() for v in (task["internal_data"], *task["delta"].values()) if not v]
    assert empty and not any(id(v) in looked_at for v in empty)  # nor at empty deltas and internal data
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, workflow)) == text


class Level(enum.IntEnum):
    HIGH = 64


class Name(str):
    pass


ODD_FIELDS = {
    "a tiny float": lambda task, workflow: setattr(task, "last_state_change", 1e-05),
    "a huge float": lambda task, workflow: setattr(task, "last_state_change", 1.5e16),
    "a NaN": lambda task, workflow: setattr(task, "last_state_change", math.nan),
    "an int enum": lambda task, workflow: setattr(task, "_state", Level.HIGH),
    "a str subclass": lambda task, workflow: setattr(task.task_spec, "name", Name(task.task_spec.name)),
    "a uuid in internal data": lambda task, workflow: task.internal_data.update(ref=UUID(int=5)),
    "a datetime in a delta": lambda task, workflow: task.data.update(at=datetime(2026, 12, 6, 8, 0)),
    "a tiny float in the correlations": lambda task, workflow: workflow.correlations.update(x={"v": 2e-7}),
    "a child outside the workflow": lambda task, workflow: task._children.append(UUID(int=9)),
}


@pytest.mark.parametrize("odd", ODD_FIELDS)
def test_a_state_with_values_orjson_writes_otherwise_is_the_standard_text(engine, odd):
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    workflow = engine.start(model, {"applicant_name": "Đinh G"}).workflow
    task = next(t for t in workflow.tasks.values() if t.parent is not None and t.task_spec.manual)
    spec_name = task.task_spec.name
    try:
        ODD_FIELDS[odd](task, workflow)
        stock = _stock(model, lambda: serial.dump_workflow(model.dialect, workflow))
        assert serial.dump_workflow(model.dialect, workflow) == stock
    finally:
        task.task_spec.name = spec_name  # the spec is the model's, shared


def _calls(fn, codes):
    """fn()'s result and how many times each of these Python functions (their code objects) ran."""
    seen = Counter()

    def count(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            seen[frame.f_code] += 1

    sys.setprofile(count)
    try:
        return fn(), seen
    finally:
        sys.setprofile(None)


def test_a_load_hashes_each_task_id_about_once(engine):
    """UUID.__hash__ is Python code: restoring finds parents (and their data's containers) by their ids'
    text and keeps the mapping Task() fills; the root is found by its text too, not parsed again."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G", "documents": ["CCCD"]})
    spec, subprocess_specs = _specs(model)
    workflow, seen = _calls(lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, step.state),
                            {UUID.__hash__.__code__, UUID.__init__.__code__})
    assert len(workflow.tasks) >= 4
    assert seen[UUID.__hash__.__code__] <= len(workflow.tasks) + 2  # before: 5 a task
    assert seen[UUID.__init__.__code__] <= len(workflow.tasks) + 1  # before: the root's id parsed twice
    assert serial.dump_workflow(model.dialect, workflow) == step.state


def _odd_ids(text, how):
    """The state's text with its task ids written otherwise: another case, keys not the tasks' ids, twins."""
    doc = json.loads(text)
    tasks = doc["tasks"]
    first, second = list(tasks)[:2]
    if how == "upper parents":
        for task in tasks.values():
            task["parent"] = task["parent"] and task["parent"].upper()
    elif how == "upper root":
        doc["root"] = doc["root"].upper()
    elif how == "upper ids":
        for key in list(tasks):
            tasks[key.upper()] = tasks.pop(key)
            tasks[key.upper()]["id"] = key.upper()
    elif how == "keys not ids":
        tasks[second.upper()] = tasks.pop(second)
    elif how == "a key of another id":  # (the task stored under a key that is not its id, even by value)
        tasks["00000000-0000-4000-8000-000000000001"] = tasks.pop(second)
    elif how == "a twin id":
        tasks[second]["id"] = first
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("how", ["upper parents", "upper root", "upper ids", "keys not ids", "a twin id"])
def test_ids_written_otherwise_are_restored_as_spiffworkflows_converter_does(engine, how):
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G", "documents": ["CCCD"]})
    text = _odd_ids(step.state, how)
    spec, subprocess_specs = _specs(model)
    fast = serial.load_workflow(model.dialect, spec, subprocess_specs, text)
    stock = _stock(model, lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, text))
    assert list(fast.tasks) == list(stock.tasks)
    assert [(t.id, t.state, t.data, t.internal_data, t._parent, t._children) for t in fast.tasks.values()] == \
        [(t.id, t.state, t.data, t.internal_data, t._parent, t._children) for t in stock.tasks.values()]
    assert fast.task_tree.id == stock.task_tree.id
    assert [t.id for t in fast.task_tree] == [t.id for t in stock.task_tree]
    written = serial.dump_workflow(model.dialect, fast)
    assert written == _stock(model, lambda: serial.dump_workflow(model.dialect, stock))
    # Every id written as UUID.__str__ writes it (a task moved to the end of the mapping, or a twin, aside).
    assert written == step.state or how in ("keys not ids", "a twin id")


def test_a_task_stored_under_a_key_that_is_not_its_id_is_written_as_spiffworkflows_converter_writes_it(engine):
    # (Such a state has no tree SpiffWorkflow can walk; its dump wrote the key's text and raised KeyError.)
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G", "documents": ["CCCD"]})
    text = _odd_ids(step.state, "a key of another id")
    spec, subprocess_specs = _specs(model)
    fast = serial.load_workflow(model.dialect, spec, subprocess_specs, text)
    stock = _stock(model, lambda: serial.load_workflow(model.dialect, spec, subprocess_specs, text))
    assert serial.dump_workflow(model.dialect, fast) == _stock(model, lambda: serial.dump_workflow(model.dialect, stock))


def test_an_ids_text_is_made_once_for_a_live_workflow(engine):
    """A dump takes an id's text from the workflow's load or dump before (UUID.__str__ is Python code, ~7 k
    instructions): only the ids of tasks made since are made text. The text is the same."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    step = engine.start(model, {"applicant_name": "Đinh G"})
    spec, subprocess_specs = _specs(model)
    text_code = UUID.__str__.__code__
    loaded = serial.load_workflow(model.dialect, spec, subprocess_specs, step.state)
    again, seen = _calls(lambda: serial.dump_workflow(model.dialect, loaded), {text_code})
    assert again == step.state
    assert seen[text_code] == 0  # the load kept the ids' text as it read them (before: one per task)
    again, seen = _calls(lambda: serial.dump_workflow(model.dialect, loaded), {text_code})
    assert again == step.state
    assert seen[text_code] == 0  # before: one per task, at every dump
    _, seen = _calls(lambda: serial.dump_workflow(model.dialect, step.workflow), {text_code})
    assert seen[text_code] == 0  # the live workflow's: its start's dump made them
    known = vars(loaded)[serial._ID_TEXTS]
    del known[next(iter(known))]  # as if its task had been made since
    text, seen = _calls(lambda: serial.dump_workflow(model.dialect, loaded), {text_code})
    assert seen[text_code] == 1
    assert text == step.state
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, loaded)) == text


def test_a_step_from_a_stored_state_makes_no_text_nor_id_its_load_read(engine):
    """The ids the load read (their text in UUID.__str__'s form) serve the step's scans, its dump and the look-up
    of the task to complete: UUID() and UUID.__str__ (Python code, ~10 k and ~7 k instructions) run only for tasks
    the step made. The answer and the state are what they were."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    first = engine.start(model, {"applicant_name": "Đinh G"})
    codes = {UUID.__str__.__code__, UUID.__init__.__code__}
    step, seen = _calls(lambda: engine.complete_task(model, first.state, first.ready[0].id,
                                                     {"documents_complete": True}), codes)
    before, after = set(json.loads(first.state)["tasks"]), set(json.loads(step.state)["tasks"])
    made = after - before
    assert step.finished and first.ready[0].id in {f.task_id for f in step.finished}
    assert {f.task_id for f in step.finished} <= after | before
    assert {t.id for t in step.ready} <= after
    # UUID(): each stored id once (the load), each new task's (uuid4); UUID.__str__: each new task's id, once
    # (before: the last task's id parsed again as SpiffWorkflow's converter restores it, the task to complete
    # parsed again from its text, and every id of the state made text again by the scans and the dump).
    assert seen[UUID.__init__.__code__] == len(before) + len(made)
    assert seen[UUID.__str__.__code__] == len(made)
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, step.workflow)) == step.state


@pytest.mark.parametrize("how", ["upper ids", "upper parents"])
def test_a_step_from_ids_written_otherwise_answers_with_their_own_text(engine, how):
    """Ids not in UUID.__str__'s form (upper case) are not taken as their own text: the step's answer names each
    task by str(UUID), as from the state written as usual, and its task is found by either text."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    first = engine.start(model, {"applicant_name": "Đinh G"})
    odd = _odd_ids(first.state, how)
    task_id = first.ready[0].id
    for asked in (task_id, task_id.upper()):
        usual = engine.complete_task(model, first.state, task_id, {"documents_complete": True})
        step = engine.complete_task(model, odd, asked, {"documents_complete": True})
        assert [f.task_id for f in step.finished] == [f.task_id for f in usual.finished]
        assert [(f.task_id, f.element_id) for f in step.finished] == [(f.task_id, f.element_id) for f in usual.finished]
        assert all(f.task_id == str(UUID(f.task_id)) for f in step.finished)
        assert [t.element_id for t in step.ready] == [t.element_id for t in usual.ready]
        assert all(t.id == str(UUID(t.id)) and t.id in step.state for t in step.ready)
        assert step.state.count(task_id) == usual.state.count(task_id) and task_id.upper() not in step.state


def test_a_workflows_data_at_its_end_is_looked_at_once_for_the_steps_data_and_its_state(engine, monkeypatch):
    """At the workflow's end the step's data is the workflow's data, which the state holds whole: found plain for
    the step's data (json_safe), it is not walked again for the state's text (jsontext.plain, ~10 k instructions for
    a few dozen fields). The state is SpiffWorkflow's converter's text."""
    model = _model(engine, ("review.bpmn", "receive-schema.json"))
    data = {"applicant_name": "Đinh G", "documents_complete": True, "approved": True, "documents": ["CCCD", "ảnh"]}
    step = engine.start(model, data)
    for _ in range(8):
        state, task = step.state, step.ready[0].id
        step = engine.complete_task(model, state, task, data)
        if step.status == "completed":
            break
    assert step.status == "completed"
    looked = []
    real = jsontext.plain
    monkeypatch.setattr(jsontext, "plain", lambda value: looked.append(value) or real(value))
    end = engine.complete_task(model, state, task, {**data, "note": "đã trả kết quả"})  # (data of its own)
    monkeypatch.undo()
    assert end.status == "completed" and end.data == end.workflow.data

    def holds(value):
        return value == end.data or (type(value) in (list, tuple) and any(holds(v) for v in value))

    assert sum(1 for value in looked if holds(value)) == 1  # before: 2 (the step's data, then the state's)
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, end.workflow)) == end.state
    end.workflow.data["when"] = datetime(2026, 12, 6, 7, 0)  # not plain: the next dump looks at it again
    assert _stock(model, lambda: serial.dump_workflow(model.dialect, end.workflow)) == \
        serial.dump_workflow(model.dialect, end.workflow)
