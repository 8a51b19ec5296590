"""The engine moves workflows between stored states; the live cache never changes the outcome."""

from onestop.engine import Engine, Stored, TaskNotReady
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
