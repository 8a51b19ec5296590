"""The connector calls dossiers wait for, as rows: a step that leaves a SpiffArena service task waiting
(`Step.service_calls`, kind "connector") writes its call in the step's own transaction (`record`), and
once that has committed the worker is told (`wake`). The worker makes the call (services.connector_runs)
outside any request and any transaction; a web request never waits for another system."""

import logging

from ..models import ConnectorCall, utcnow
from . import runtime

log = logging.getLogger("onestop.connectors")


def connector_calls(step) -> list:
    return [c for c in getattr(step, "service_calls", None) or () if c.kind == "connector"]


def record(dossier, step) -> None:
    """Write the connector calls the step made pending (call inside the step's transaction). A call made
    pending again (an administrator's retry) replaces the task's earlier row."""
    calls = connector_calls(step)
    if not calls:
        return
    ConnectorCall.delete().where((ConnectorCall.dossier == dossier.id)
                                 & (ConnectorCall.task_id.in_([c.task_id for c in calls]))).execute()
    now = utcnow()
    ConnectorCall.insert_many([
        {"centre": dossier.centre_id, "dossier": dossier.id, "task_id": c.task_id, "element_id": c.element_id,
         "operator": c.operator, "params": c.params, "status": "pending", "created_at": now} for c in calls]).execute()


def wake(step) -> None:
    """After the step's commit: put a job on the queue for its connector calls (production). Without a
    queue the worker's loop finds them within a second; a failure to enqueue is left to its sweep."""
    if not connector_calls(step):
        return
    queue = runtime.current().queue
    job = getattr(queue, "onestop_connector_calls", None)
    if job is None:
        return
    try:
        job()
    except Exception:
        log.warning("could not put the connector calls on the queue; the worker's sweep will make them",
                    exc_info=True)
