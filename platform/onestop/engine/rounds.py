"""SpiffWorkflow's automatic steps, with the task tree walked less.

`BpmnWorkflow.do_engine_steps` runs in rounds: each round lists the READY tasks with
`get_tasks(state=READY)` and runs the automatic ones among them, and the rounds go on until one runs
nothing. That listing is a walk of the whole task tree through SpiffWorkflow's task iterator, a few
Python calls for every task it visits, and a step pays one per round plus the last one that finds
nothing: at the permit's last task, four walks and 0.41 M instructions of the engine's 2.5 M
(callgrind, docs/perfcompletion.md). `do_engine_steps` here runs the same rounds but finds a
round's automatic READY tasks from the workflow's task table (a dictionary of every task) and puts
them in the walk's order from their places in the tree.

It is exact, not a likeness: `automatic_ready` answers only when it can tell that the walk would
find the same tasks in the same order, and otherwise asks SpiffWorkflow's own walk; a workflow with
subprocesses (whose tasks SpiffWorkflow's BPMN iterator walks into, and whose rounds it runs first)
is handed to SpiffWorkflow's `do_engine_steps` from that round on. The test suite holds every answer
to SpiffWorkflow's iterator (tests/conftest.py), over the conformance corpus and the bundled
procedures among the rest.
"""

from SpiffWorkflow.util.task import TaskState

_READY = TaskState.READY
# For state=READY, SpiffWorkflow's iterator does not walk below a task in a predicted state (its
# `min_state`), nor below a task `max_depth` (1000) levels down.
_MIN_STATE = TaskState.FUTURE
_MAX_DEPTH = 1000


def automatic_ready(workflow) -> list:
    """The automatic (not manual) tasks among ``workflow.get_tasks(state=TaskState.READY)``, in that
    order, for a workflow without subprocesses. Tasks READY in the task table are placed in the tree
    by their line of parents (each one's index among its parent's children, from the root down: the
    depth-first walk's order is that of these lines); any task the walk would not reach (under a
    predicted task, too deep, not under the root) sends the question to the walk itself."""
    found = [task for task in workflow.tasks.values()
             if task.state & _READY and not task.task_spec.manual and task.last_state_change >= 0]
    if not found:
        return found
    root = workflow.task_tree
    lines = []
    for task in found:
        line = []
        node, parent = task, task.parent
        while parent is not None:
            if parent.state < _MIN_STATE or parent.task_spec.name is None:
                return _walked(workflow)
            try:
                line.append(parent.children.index(node))
            except ValueError:  # a parent that does not list it: the walk never meets it
                return _walked(workflow)
            node, parent = parent, parent.parent
        if node is not root or len(line) > _MAX_DEPTH:
            return _walked(workflow)
        line.reverse()
        lines.append((line, task))
    if len(lines) == 1:
        return found
    lines.sort(key=lambda pair: pair[0])
    return [task for _line, task in lines]


def _walked(workflow) -> list:
    return [task for task in workflow.get_tasks(state=_READY) if not task.task_spec.manual]


def do_engine_steps(workflow, did_complete_task=None) -> None:
    """``workflow.do_engine_steps(did_complete_task=...)``: the same rounds, the same tasks run in the
    same order, the same timers refreshed at the end. While the workflow has no subprocess, a
    round is SpiffWorkflow's `_do_engine_steps` with `automatic_ready` listing its tasks; once it
    has one, SpiffWorkflow's own `do_engine_steps` runs the rounds that are left."""
    while not workflow.subprocesses:
        count = 0
        for task in automatic_ready(workflow):
            task.run()
            count += 1
            if did_complete_task is not None:
                did_complete_task(task)
        # SpiffWorkflow goes on while a round ran a task or started a subprocess.
        if count == 0 and not workflow.get_active_subprocesses():
            workflow.refresh_timers()
            return
    workflow.do_engine_steps(did_complete_task=did_complete_task)
