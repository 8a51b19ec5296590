"""Pruning the finished past from a workflow's task tree, so a step costs the same at loop 50 as at loop 1.

SpiffWorkflow keeps every task it ever created: each supplement loop adds tasks, and loading,
running and storing a workflow walk all of them, so a long-lived dossier gets slower with every
step. What happened is already recorded in onestop's own history table; the engine only needs
the tasks that can still matter. `compact` re-roots the tree at the nearest finished common
ancestor of every unfinished task and drops everything outside it (the root keeps the full data
the dropped ancestors had handed down).

It declines whenever a rule of the engine might look further back: processes with event or
conditional start paths, a join as the new root (joins inspect their parents), or a root that
would not be an ancestor of every unfinished task.
"""

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState


def _chain(task):
    """Task ids from the root down to task."""
    ids = []
    while task is not None:
        ids.append(task.id)
        task = task.parent
    ids.reverse()
    return ids


def _common_chain(tasks) -> list:
    """The ids from the root down to the deepest common ancestor of `tasks` (each task is its own
    ancestor). From the second task on, each walks up only until it meets the chain found so far:
    the unfinished tasks of a step sit a level or two below one another (a ready task and the
    tasks SpiffWorkflow predicts after it), so a step looks up a few parents instead of every
    task's whole line back to the root."""
    common = _chain(tasks[0])
    depth = {task_id: n for n, task_id in enumerate(common)}
    for task in tasks[1:]:
        while task is not None and task.id not in depth:
            task = task.parent
        if task is None:  # not under the same root
            return []
        # Met the chain at depth n: the common part ends there, or stays shorter if it already was.
        n = depth[task.id] + 1
        if n < len(common):
            for task_id in common[n:]:
                del depth[task_id]
            del common[n:]
    return common


def _safe_root(task):
    spec = task.task_spec
    return task.state == TaskState.COMPLETED and not isinstance(spec, Join | UnstructuredJoin)


def prunable(workflow) -> bool:
    """False for processes whose event or conditional start paths may look at any past task."""
    spec = workflow.spec
    return not (getattr(spec.start, "trigger_specs", None) or getattr(spec, "conditional_paths", None))


def compact(workflow, min_tasks: int = 64) -> int:
    """Drop finished tasks no unfinished task descends from; returns how many were dropped."""
    tasks = workflow.tasks
    if len(tasks) < min_tasks:
        return 0
    if not prunable(workflow):
        return 0
    live = [t for t in tasks.values() if t.state & TaskState.NOT_FINISHED_MASK]
    if not live:
        return 0
    common = _common_chain(live)
    if len(common) <= 1:
        return 0
    # The deepest common ancestor that is finished and may stand as a root.
    root = None
    for task_id in reversed(common):
        candidate = tasks[task_id]
        if _safe_root(candidate):
            root = candidate
            break
    if root is None or root is workflow.task_tree:
        return 0

    keep = set()
    stack = [root]
    while stack:
        task = stack.pop()
        keep.add(task.id)
        stack.extend(task.children)
    dropped = [task_id for task_id in tasks if task_id not in keep]
    # In memory every task holds its full data; stored, the root keeps it whole (it has no parent
    # to take a delta from), so nothing the dropped ancestors handed down is lost.
    for task_id in dropped:
        del tasks[task_id]
    root._parent = None
    workflow.task_tree = root
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = root
    _drop_orphaned_subprocesses(workflow)
    return len(dropped)


def _drop_orphaned_subprocesses(workflow):
    while True:
        alive = set(workflow.tasks)
        for subprocess in workflow.subprocesses.values():
            alive.update(subprocess.tasks)
        orphans = [task_id for task_id, sp in workflow.subprocesses.items() if sp.parent_task_id not in alive]
        if not orphans:
            return
        for task_id in orphans:
            del workflow.subprocesses[task_id]
