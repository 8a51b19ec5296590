"""Telling the worker when a dossier's next timer is due.

In the embedded setup the runtime has no scheduler: the timer thread polls the database. In
production the runtime's scheduler (assemble.build_runtime) puts a job on the queue (huey on Redis) for
the due time.
A failure to schedule never fails the step that was already stored: the worker's periodic sweep
of the database still finds the timer.
"""

import logging

from . import runtime

log = logging.getLogger("onestop.schedule")


def timer_due(dossier_id, due_at):
    scheduler = runtime.current().scheduler
    if scheduler is None or due_at is None:
        return
    try:
        scheduler(dossier_id, due_at)
    except Exception:
        log.warning("could not schedule the timer of dossier %s for %s; the periodic sweep will fire it",
                    dossier_id, due_at, exc_info=True)
