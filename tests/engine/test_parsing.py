"""From uploaded files to a checked model, or a report that names each element at fault."""

import gc
import sys
import uuid
from datetime import timedelta

import pytest

from onestop.engine import Budgets, ModelError
from onestop.engine.parsing import ParsedModel, SourceFile, parse_model
from tests.conftest import CONFORMANCE, MODELS
from tests.security.budget_models import waiting_timer


def _files(*paths):
    return [SourceFile(p.name, p.read_bytes()) for p in paths]


def _problems(files, **kw):
    with pytest.raises(ModelError) as caught:
        parse_model(files, **kw)
    return caught.value.problems


@pytest.mark.corpus
def test_the_dialect_follows_the_extensions_a_model_uses():
    assert parse_model(_files(MODELS / "review.bpmn", MODELS / "receive-schema.json")).dialect == "spiff"
    assert parse_model(_files(MODELS / "timer.bpmn")).dialect == "bpmn"
    camunda = CONFORMANCE / "spiffworkflow" / "camunda"
    parsed = parse_model(_files(camunda / "ExclusiveGatewayIfElseAndDecision.bpmn", camunda / "dmn" / "test_integer_decision.dmn"))
    assert parsed.dialect == "camunda"


def test_a_collaboration_id_starts_its_executable_participants():
    parsed = parse_model(_files(MODELS / "review.bpmn", MODELS / "receive-schema.json"), process_id="Collaboration_review")
    assert (parsed.start_kind, parsed.start_id) == ("collaboration", "Collaboration_review")


def test_an_unknown_process_id_is_refused_with_the_ids_there_are():
    [problem] = _problems(_files(MODELS / "timer.bpmn"), process_id="nope")
    assert "no process or collaboration with id 'nope'" in problem.message and "reminder" in problem.message


@pytest.mark.corpus
def test_a_model_with_only_descriptive_processes_is_refused():
    [problem] = _problems(_files(CONFORMANCE / "bpmn-miwg" / "reference" / "A.1.0.bpmn"))
    assert "no executable process" in problem.message


def test_a_model_whose_processes_are_all_descriptive_is_refused_naming_them():
    # As bpmn-js and the Camunda Modeler save a new diagram (tests/field_corpus holds fifteen such models).
    bpmn = (b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            b'<process id="Process_1" isExecutable="false"><startEvent id="s"/></process>'
            b'<process id="Process_2" isExecutable="false"><startEvent id="t"/></process></definitions>')
    [problem] = _problems([SourceFile("newDiagram.bpmn", bpmn)])
    assert problem.element_id == "Process_1"
    assert "no executable process" in problem.message
    assert "Process_1" in problem.message and "Process_2" in problem.message and 'isExecutable="true"' in problem.message


def test_a_model_with_no_process_at_all_is_refused_naming_its_file():
    bpmn = b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"></definitions>'
    [problem] = _problems([SourceFile("illegal-whitespace.bpmn", bpmn)])
    assert problem.file == "illegal-whitespace.bpmn" and "illegal-whitespace.bpmn" in problem.message


@pytest.mark.corpus
def test_an_implicit_split_is_refused_naming_the_task():
    [problem] = _problems(_files(CONFORMANCE / "bpmn-miwg" / "aris-10" / "A.4.0-export.bpmn"))
    assert problem.element_id and problem.element_id in problem.message
    assert "Multiple outgoing flows" in problem.message


def test_reserved_ids_are_refused():
    text = (MODELS / "timer.bpmn").read_text().replace('"StartEvent_1"', '"Start"')
    problems = _problems([SourceFile("timer.bpmn", text.encode())])
    assert any(p.element_id == "Start" and "reserved" in p.message for p in problems)


def test_every_problem_is_reported_at_once():
    text = (MODELS / "review.bpmn").read_text()
    text = text.replace('targetRef="Task_Approve"', 'targetRef="Nowhere"').replace("approved == True", "import os")
    problems = _problems([SourceFile("review.bpmn", text.encode())])
    assert {p.element_id for p in problems} == {"Flow_2", "Flow_Yes", "Task_Receive"}


def test_unsupported_files_and_bad_json_are_named():
    problems = _problems([SourceFile("a.txt", b"x"), SourceFile("f.json", b"{"), *_files(MODELS / "timer.bpmn")])
    assert [p.file for p in problems] == ["a.txt", "f.json"]


def test_the_content_hash_ignores_upload_order():
    a = parse_model(_files(MODELS / "review.bpmn", MODELS / "receive-schema.json"))
    b = parse_model(_files(MODELS / "receive-schema.json", MODELS / "review.bpmn"))
    assert a.content_hash == b.content_hash


def test_a_schema_slip_is_a_warning_not_a_refusal():
    text = (MODELS / "timer.bpmn").read_text().replace("<bpmn:incoming>Flow_2</bpmn:incoming>",
                                                       "<bpmn:incomming>Flow_2</bpmn:incomming>", 1)
    parsed = parse_model([SourceFile("timer.bpmn", text.encode())])
    assert any("BPMN schema" in w["message"] for w in parsed.warnings)


def test_a_task_outside_every_lane_of_a_laned_process_is_warned_about():
    text = (MODELS / "review.bpmn").read_text().replace("<bpmn:flowNodeRef>Task_Approve</bpmn:flowNodeRef>", "")
    parsed = parse_model([SourceFile("review.bpmn", text.encode()), *_files(MODELS / "receive-schema.json")])
    assert [w["element_id"] for w in parsed.warnings] == ["Task_Approve"]
    assert "in no lane" in parsed.warnings[0]["message"]


def test_the_diagram_is_read_from_the_models_di(engine):
    from tests.process_models import bundled_files

    files = [SourceFile(p.name, p.read_bytes()) for p in bundled_files("birth_registration")]
    drawn = engine.parse(files).diagram
    shapes = {s["id"]: s for s in drawn["shapes"]}
    assert shapes["Task_Receive"]["kind"] == "task" and shapes["Task_Receive"]["name"] == "Tiếp nhận, kiểm tra hồ sơ"
    assert shapes["Lane_OneStop"]["kind"] == "lane" and any(s["kind"] == "gateway" for s in drawn["shapes"])
    assert all(len(e["points"]) >= 2 for e in drawn["edges"]) and drawn["width"] > 0 and drawn["height"] > 0


def test_a_model_without_di_has_no_diagram(engine):
    files = [SourceFile(name, (MODELS / name).read_bytes()) for name in ("review.bpmn", "receive-schema.json")]
    assert engine.parse(files).diagram is None


DESCRIPTIVE_POOL_CALLING = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="Pool" isExecutable="false">
    <startEvent id="S"/><sequenceFlow id="f1" sourceRef="S" targetRef="Call"/>
    <callActivity id="Call" calledElement="Called"/><sequenceFlow id="f2" sourceRef="Call" targetRef="E"/>
    <endEvent id="E"/>
  </process>
  <process id="Called">
    <startEvent id="S2"/><sequenceFlow id="g1" sourceRef="S2" targetRef="T"/>
    <task id="T"/><sequenceFlow id="g2" sourceRef="T" targetRef="E2"/><endEvent id="E2"/>
  </process>
</definitions>"""


def test_a_descriptive_pool_whose_only_executable_process_is_its_call_target_is_refused_naming_it():
    """MIWG's descriptive B.1.0 (ADONIS): the processes its call activities call carry no isExecutable
    (true by default); they are no process of the model's own to start."""
    with pytest.raises(ModelError) as refused:
        parse_model([SourceFile("descriptive.bpmn", DESCRIPTIVE_POOL_CALLING)])
    assert "no executable process of its own: Called is only called from processes with isExecutable" in str(
        refused.value)


def test_an_executable_process_calling_another_still_starts_at_the_caller():
    model = parse_model([SourceFile("caller.bpmn", DESCRIPTIVE_POOL_CALLING.replace(
        b'isExecutable="false"', b'isExecutable="true"'))])
    assert model.start_id == "Pool"


def _held_bytes(model) -> int:
    """What the model's own data holds (every object reachable from its attributes but the spec objects,
    which packing leaves alone), in bytes."""
    seen, total = set(), 0
    stack = [value for name, value in vars(model).items() if name not in ("spec", "subprocess_specs")]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _birth_registration(engine):
    from tests.process_models import bundled_files

    return engine.parse([SourceFile(p.name, p.read_bytes()) for p in bundled_files("birth_registration")])


def test_a_packed_model_reads_and_stores_exactly_what_it_did_before(engine):
    model = _birth_registration(engine)
    text, drawn, spec_json, forms = model.dumps(), model.diagram, model.spec_json, dict(model.forms)
    assert drawn and forms and spec_json
    assert model.pack() is model
    assert (model.dumps(), model.diagram, model.spec_json, dict(model.forms)) == (text, drawn, spec_json, forms)
    assert sorted(model.forms) == sorted(forms) and len(model.forms) == len(forms) and "nothing.json" not in model.forms
    assert model.forms.get("nothing.json") is None
    reloaded = ParsedModel.loads(text).pack()
    assert (reloaded.dumps(), reloaded.diagram, reloaded.spec_json) == (text, drawn, spec_json)


def test_a_packed_model_gives_a_step_the_same_form_object_every_time(engine):
    """The form validators are cached by the schema object's identity (formdefs.schema)."""
    model = _birth_registration(engine).pack()
    name = next(iter(model.forms))
    assert model.forms[name] is model.forms[name] is model.forms.get(name)


def test_a_packed_model_holds_its_diagram_forms_and_spec_text_in_a_third_of_the_memory(engine):
    text = _birth_registration(engine).dumps()
    plain, packed = ParsedModel.loads(text), ParsedModel.loads(text).pack()
    assert _held_bytes(packed) * 3 < _held_bytes(plain), (_held_bytes(packed), _held_bytes(plain))


def test_a_camunda_model_keeps_its_spec_text_as_text_since_each_step_restores_from_it(engine):
    model = engine.parse(_files(MODELS / "tax-notice-camunda.bpmn")).pack()
    assert model.dialect == "camunda" and isinstance(vars(model)["_spec_json"], str)


def _counting_builds(monkeypatch):
    """How often SpiffWorkflow's parser is built (the real one runs: a spy, not a stand-in)."""
    from onestop.engine import parsing

    builds, build = [], parsing._build
    monkeypatch.setattr(parsing, "_build", lambda *args: builds.append(args[0]) or build(*args))
    return builds


def test_the_same_files_parse_once_and_each_caller_gets_a_model_of_its_own(monkeypatch):
    builds = _counting_builds(monkeypatch)
    content = (MODELS / "timer.bpmn").read_bytes() + f"<!-- {uuid.uuid4()} -->".encode()  # new to this process
    first = parse_model([SourceFile("timer.bpmn", content)])
    assert len(builds) == 1
    again = parse_model([SourceFile("timer.bpmn", content)])
    assert len(builds) == 1, "the same files were parsed again"
    assert again.dumps() == first.dumps()
    assert again.spec is not first.spec and again.spec.task_specs.keys() == first.spec.task_specs.keys()
    first.warnings.append({"message": "changed by its caller"})  # compile_model changes what it is given
    first.forms["extra.json"] = {}
    third = parse_model([SourceFile("timer.bpmn", content)])
    assert third.dumps() == again.dumps() and "extra.json" not in third.forms
    renamed = parse_model([SourceFile("other.bpmn", content)])  # a name is part of what decides a parse
    assert len(builds) == 2 and renamed.content_hash != first.content_hash
    parse_model([SourceFile("timer.bpmn", content)], process_id="reminder")  # and so is every option
    assert len(builds) == 3


def test_a_refused_model_is_refused_every_time(monkeypatch):
    builds = _counting_builds(monkeypatch)
    content = (MODELS / "timer.bpmn").read_bytes() + f"<!-- {uuid.uuid4()} -->".encode()
    tried = []
    for _ in range(2):
        [problem] = _problems([SourceFile("timer.bpmn", content)], process_id="nope")
        assert "no process or collaboration with id 'nope'" in problem.message
        tried.append(len(builds))
    assert tried[1] == 2 * tried[0] > 0  # every dialect's parser tried again


def test_a_written_timer_date_is_judged_against_the_time_of_each_parse(engine, clock):
    # 99 years and 11 months ago is within the 100 years a timer may lie away; a year on, it is not.
    when = (clock.now() - timedelta(days=365 * 99 + 330)).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = [SourceFile("dated.bpmn", waiting_timer("timeDate", when))]
    on_clock = engine.on_clock(clock)
    assert on_clock.parse(files).start_id == "hostile"
    clock.advance(366 * 24 * 3600)
    with pytest.raises(ModelError) as caught:
        on_clock.parse(files)
    assert "more than 100 years away" in caught.value.problems[0].message


def test_a_model_accepted_within_one_budget_is_judged_again_within_another():
    files = [SourceFile("long.bpmn", waiting_timer("timeDuration", "P20Y") + f"<!-- {uuid.uuid4()} -->".encode())]
    assert parse_model(files).start_id == "hostile"  # kept: a duration is judged without the time now
    with pytest.raises(ModelError) as caught:
        parse_model(files, budgets=Budgets(max_timer_years=10))
    assert "longer than 10 years" in caught.value.problems[0].message
