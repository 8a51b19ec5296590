"""Telling the worker when a dossier's next timer is due.

In the embedded setup nothing is bound: the timer thread polls the database. In production the
app factory binds a scheduler that puts a job on the queue (huey on Redis) for the due time.
A failure to schedule never fails the step that was already stored: the worker's periodic sweep
of the database still finds the timer.
"""

import logging

log = logging.getLogger("onestop.schedule")
_scheduler = None


def bind_scheduler(scheduler):
    """scheduler(dossier_id, due_at) or None to unbind."""
    global _scheduler
    _scheduler = scheduler


def timer_due(dossier_id, due_at):
    if _scheduler is None or due_at is None:
        return
    try:
        _scheduler(dossier_id, due_at)
    except Exception:
        log.warning("could not schedule the timer of dossier %s for %s; the periodic sweep will fire it",
                    dossier_id, due_at, exc_info=True)
