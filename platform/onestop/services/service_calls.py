"""A dossier's pending service calls, kept beside its workflow state.

The engine leaves a service task STARTED and reports its call (`Step.service_calls`); the step's
unit of work (steps.write_step_rows) stores each new call as a `servicecall` row and removes the
rows of calls no longer pending (answered, failed for good, cancelled with their dossier). What
serves the rows: services.external_tasks (workers fetch them by topic) and, for connector calls,
the connectors.
"""

import uuid

from .. import sql
from ..models import utcnow

COLUMNS = ("id", "dossier_id", "centre_id", "task_id", "element_id", "name", "kind", "topic", "operator", "params",
           "variables", "result_variable", "priority", "created_at")


def record(dossier, step) -> None:
    """Store the step's new calls and drop the rows of calls that are no longer pending (inside the
    step's unit of work). Nothing to do for a step of a dossier that has had no call pending."""
    if not step.services_changed:
        return
    again = {c.task_id for c in step.service_calls}  # a retried call: its old row goes, a new one comes
    still = [t for t in step.pending_services if t not in again]
    if still:
        marks = ",".join("?" * len(still))
        sql.run(f'DELETE FROM "servicecall" WHERE "dossier_id" = ? AND "task_id" NOT IN ({marks})',
                [dossier.id, *still])
    else:
        sql.run('DELETE FROM "servicecall" WHERE "dossier_id" = ?', (dossier.id,))
    now = utcnow()
    sql.insert_rows("servicecall", COLUMNS, [
        (str(uuid.uuid4()), dossier.id, dossier.centre_id, c.task_id, c.element_id, (c.name or "")[:500] or None,
         c.kind, c.topic, c.operator, sql.to_json(c.params), sql.to_json(c.variables), c.result_variable, 0, now)
        for c in step.service_calls])
