"""Firing the BPMN timers that are due: the timer worker's job, across all centres (in-process
thread, `onestop worker` polling, or one Redis job per dossier). A dossier that cannot be run at
all stops in error rather than holding up every dossier due after it."""

import logging

from .. import sql
from ..db import run_write
from ..models import Dossier, ProcedureVersion, utcnow
from . import audit, schedule
from .dossiers import stored_state
from .errors import Conflict
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import save_step

log = logging.getLogger("onestop.timers")


def fire_due_timers(now=None, limit=100) -> int:
    """Fire the timers that are due, across all centres (the timer worker's job). Returns how many dossiers moved."""
    now = now or utcnow()
    due = [row.id for row in Dossier.timers_due(now).order_by(Dossier.next_timer_at).limit(limit)]
    return sum(fire_timers_of(dossier_id, now) for dossier_id in due)


def fire_timers_of(dossier_id, now=None) -> bool:
    """Fire one dossier's due timers (a scheduled job); False if none was due or someone else moved it."""
    now = now or utcnow()
    dossier = Dossier.select(*sql.DOSSIER_HEAD, ProcedureVersion).join(ProcedureVersion).where(Dossier.id == dossier_id).first()
    if dossier is None or dossier.state != "active" or dossier.next_timer_at is None:
        return False
    if dossier.next_timer_at > now:  # a job that came early: look again when the timer is due
        schedule.timer_due(dossier.id, dossier.next_timer_at)
        return False
    try:
        model = model_for(dossier.version)
        with on_behalf_of(dossier.centre_id, model):
            step = engine().fire_timers(model, stored_state(dossier))
    except Conflict:  # moved since it was read (before the engine read its state): the next round sees it
        return False
    except Exception:  # whatever breaks one dossier must not stop the timers of all
        # The engine reports what a model does wrong as the step's error; reaching here means the
        # stored dossier itself cannot be run. Left active it would come first in every round and
        # hold up every dossier due after it, so it stops in error for an administrator to see.
        log.exception("the timers of dossier %s could not be fired; it is stopped in error", dossier.code)
        _stop_in_error(dossier, TIMERS_BROKEN)
        return False
    try:
        save_step(dossier, step, None, "timers.fired", None, None)
    except Conflict:
        return False  # someone else moved the dossier meanwhile; its timers are looked at again
    return True


TIMERS_BROKEN = "the dossier's timers could not be fired (an internal error, logged on the server)"


def _stop_in_error(dossier, message):
    """Put an active dossier that cannot be run into error, its timer cleared; audited."""
    def write():
        if Dossier.update(state="error", error_element=None, error_message=message, next_timer_at=None,
                          serial=Dossier.serial + 1).where(
                (Dossier.id == dossier.id) & (Dossier.serial == dossier.serial)).execute():
            audit.record("dossier.error", None, dossier=dossier, detail={"message": message})

    run_write(write)
