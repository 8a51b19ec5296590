"""Walking a new workflow to a named person's task (Engine.position): which task specs lead there,
and exclusive gateways that take a branch leading there for that walk."""

from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice
from SpiffWorkflow.util.task import TaskState


def leading_to(spec, subprocess_specs, element_id):
    """ids of the task specs (of the process and its subprocesses) from which a path leads to the
    person's task `element_id`, or to a subprocess holding it; None if no such task exists."""
    specs = [spec, *subprocess_specs.values()]
    goals = {}  # spec name -> the task specs in it that are, or hold, the target
    for s in specs:
        for t in s.task_specs.values():
            if getattr(t, "bpmn_id", None) == element_id and t.manual:
                goals.setdefault(s.name, []).append(t)
    if not goals:
        return None
    grown = True
    while grown:  # the subprocess tasks of the specs holding the target hold it too
        grown = False
        for s in specs:
            for t in s.task_specs.values():
                if getattr(t, "spec", None) in goals and t not in goals.get(s.name, []):
                    goals.setdefault(s.name, []).append(t)
                    grown = True
    onward = set()
    for s in specs:
        leads, frontier = set(), list(goals.get(s.name, []))
        while frontier:
            t = frontier.pop()
            if id(t) in leads:
                continue
            leads.add(id(t))
            frontier.extend(i for i in t.inputs if id(i) not in leads)
        onward |= leads
    return onward


def steer_gateways(specs, onward: set) -> None:
    """Make each exclusive gateway of these specs (the walk's own copies, never a model's shared
    specs) on a path to the target take a branch that leads on to it: the first whose condition
    holds, else the first leading there. A gateway none of whose branches leads there decides as usual."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, ExclusiveChoice) and id(task_spec) in onward:
                task_spec._run_hook = _steered(task_spec, onward, task_spec._run_hook)


def _steered(gateway, onward, decide):
    def run_hook(my_task):
        by_name = {output.name: output for output in gateway.outputs}
        leading = [o for o in gateway.outputs if id(o) in onward]
        if not leading:
            return decide(my_task)
        chosen = leading[0]
        for condition, name in gateway.cond_task_specs:
            if id(by_name.get(name)) in onward and condition is not None and _holds(condition, my_task):
                chosen = by_name[name]
                break
        my_task._sync_children([chosen], TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True

    return run_hook


def _holds(condition, my_task) -> bool:
    try:
        return bool(condition._matches(my_task))
    except Exception:  # a condition on data the dossier does not carry: not the one to follow
        return False
