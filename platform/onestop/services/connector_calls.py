"""Telling the worker that a step left connector calls pending. The calls themselves are stored with
the step, in its own transaction, as `servicecall` rows (services.service_calls); once the step has
committed, `wake` puts a job on the queue (production) so that the worker makes them at once
(services.connector_runs). Without a queue, the worker's loop finds them within a second. A web
request never waits for another system."""

import logging

from . import runtime

log = logging.getLogger("onestop.connectors")


def wake(step) -> None:
    """After the step's commit: put a `connector_calls` job on the queue if the step made a connector
    call pending; a failure to enqueue is left to the worker's sweep."""
    if not any(c.kind == "connector" for c in getattr(step, "service_calls", None) or ()):
        return
    job = getattr(runtime.current().queue, "onestop_connector_calls", None)
    if job is None:
        return
    try:
        job()
    except Exception:
        log.warning("could not put the connector calls on the queue; the worker's sweep will make them",
                    exc_info=True)
