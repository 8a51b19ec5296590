"""Pruning the finished past keeps a long-lived dossier's state small and never changes what happens."""

from pathlib import Path

from onestop.engine import Engine
from onestop.engine.parsing import SourceFile

PERMIT = Path(__file__).resolve().parents[2] / "bench" / "models"


def _permit(engine):
    return engine.parse([SourceFile(p.name, p.read_bytes()) for p in sorted(PERMIT.iterdir()) if p.suffix in (".bpmn", ".json")])


def _steps(loops):
    steps = [("Task_Receive", {})]
    for n in range(loops):
        steps += [("Task_Appraise", {"complete": False, "round": n}), ("Task_Supplement", {"supplemented": n})]
    steps += [("Task_Appraise", {"complete": True}), ("Task_ReviewUrban", {"urban_agree": True}),
              ("Task_ReviewEnvironment", {"environment_agree": True}), ("Task_Approve", {"approved": True}),
              ("Task_ReturnResult", {"result_delivered": True})]
    return steps


def _walk(engine, loops):
    model = _permit(engine)
    step = engine.start(model, {"applicant": "Bùi H"})
    seen, sizes = [], []
    for element_id, data in _steps(loops):
        [task] = [t for t in step.ready if t.element_id == element_id]
        step = engine.complete_task(model, step.state, task.id, data)
        seen.append((step.status, step.data, sorted(t.element_id for t in step.ready),
                     [(f.element_id, f.state) for f in step.finished]))
        sizes.append(len(step.state))
    return seen, sizes


def test_pruning_changes_nothing_a_dossier_does():
    pruning, whole = Engine(compact_at=1), Engine(compact_at=0)
    try:
        assert _walk(pruning, 6)[0] == _walk(whole, 6)[0]
    finally:
        pruning.close()
        whole.close()


def test_the_stored_state_stays_flat_across_supplement_loops():
    pruning, whole = Engine(compact_at=1), Engine(compact_at=0)
    try:
        _, flat = _walk(pruning, 20)
        _, growing = _walk(whole, 20)
    finally:
        pruning.close()
        whole.close()
    # the state after the 2nd and the 20th supplement (step index 2 + 2n), with and without pruning
    assert flat[40] < 1.3 * flat[4]
    assert growing[40] > 3 * growing[4]


def test_pruning_walks_each_line_back_to_the_root_once(monkeypatch):
    from SpiffWorkflow.task import Task
    from SpiffWorkflow.util.task import TaskState

    from onestop.engine import compact as compacting

    whole = Engine(compact_at=0)
    try:
        model = _permit(whole)
        step = whole.start(model, {"applicant": "Bùi H"})
        for element_id, data in _steps(8)[:-4]:  # 8 supplement loops, then the two reviews under way
            [task] = [t for t in step.ready if t.element_id == element_id]
            step = whole.complete_task(model, step.state, task.id, data)
        workflow, kept = whole.load(model, step.state), whole.load(model, step.state)
    finally:
        whole.close()
    live = [t for t in workflow.tasks.values() if t.state & TaskState.NOT_FINISHED_MASK]
    deepest = max(len(compacting._chain(t)) for t in live)
    assert len(live) >= 4 and deepest > 40  # a long past: each unfinished task's line to the root is long
    looked_up = []
    parent = Task.parent
    monkeypatch.setattr(Task, "parent", property(lambda task: looked_up.append(task) or parent.fget(task), parent.fset))
    dropped = compacting.compact(workflow, 0)
    # The first task's line once, then each other task up to where it meets it (not back to the root each).
    assert len(looked_up) < deepest + 4 * len(live)
    monkeypatch.undo()
    assert dropped > 30 and len(workflow.tasks) == len(kept.tasks) - dropped
    # The same tree as the walk of every line gives: the same root, the same tasks kept.
    common = compacting._chain(live[0])
    for task in live[1:]:
        line = compacting._chain(task)
        n = 0
        while n < min(len(common), len(line)) and common[n] == line[n]:
            n += 1
        common = common[:n]
    assert workflow.task_tree.id == next(i for i in reversed(common) if compacting._safe_root(kept.tasks[i]))
    assert set(workflow.tasks) == {t.id for t in kept.tasks.values() if workflow.task_tree.id in compacting._chain(t)}
