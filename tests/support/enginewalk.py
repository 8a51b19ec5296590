"""Every answer of the engine's `rounds.automatic_ready` held to SpiffWorkflow's own walk.

`onestop.engine.rounds` finds a round's automatic READY tasks from the task table instead of
SpiffWorkflow's `get_tasks(state=READY)` walk, and must give the same tasks in the same order. The
suite wraps it (tests/conftest.py) so that every engine round of every test, the conformance corpus
and the bundled procedures among them, asks SpiffWorkflow too; a difference fails the test that
met it. The engine turns any exception of a step into the dossier's error, so a difference is
recorded here and the test's teardown fails, rather than raised inside the step.
"""

import functools

from SpiffWorkflow.util.task import TaskState

from onestop.engine import rounds

# (what automatic_ready answered, what SpiffWorkflow's walk found): task specs' names.
MISMATCHES: list = []
# How many answers were compared in this process (tests/engine/test_rounds.py looks at it).
COMPARED = [0]


def walked(workflow) -> list:
    """SpiffWorkflow's own answer: the automatic tasks of `get_tasks(state=READY)`, in its order."""
    return [task for task in workflow.get_tasks(state=TaskState.READY) if not task.task_spec.manual]


def install() -> None:
    """Wrap `rounds.automatic_ready` (once per process) so that each answer is compared."""
    if hasattr(rounds.automatic_ready, "__wrapped__"):
        return
    answer = rounds.automatic_ready

    @functools.wraps(answer)
    def compared(workflow):
        found = answer(workflow)
        expected = walked(workflow)
        COMPARED[0] += 1
        if [id(t) for t in found] != [id(t) for t in expected]:
            MISMATCHES.append(([t.task_spec.name for t in found], [t.task_spec.name for t in expected]))
        return found

    rounds.automatic_ready = compared


def take_mismatches() -> list:
    """The differences recorded since the last call (and forget them)."""
    taken = list(MISMATCHES)
    MISMATCHES.clear()
    return taken
