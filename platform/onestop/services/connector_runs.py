"""The worker's side of connector calls: claim a pending call, make it outside any transaction
(services.connectors: allow list, secrets, timeout, tries with growing pauses), then store the outcome
as the dossier's next step — its result completes the service task and the dossier runs on
(`Engine.complete_service`), a failure puts the dossier in error at that task (`Engine.fail_service`):
an incident an administrator retries from the back office, which makes the call pending again.

The calls are the `servicecall` rows of kind "connector" (services.service_calls keeps them with each
step: a row goes once its task has its outcome). A call is claimed (locked) before it is made, so two
workers never make it twice. A call whose lock ran out — its worker stopped in the middle — is not
made again on its own (the other system may have acted on it): its dossier becomes an incident
saying so, for an administrator to retry or skip.
"""

import logging
from datetime import timedelta

from .. import sql
from ..db import run_write
from ..engine import TaskNotReady
from ..models import Dossier, ProcedureVersion, ServiceCall, utcnow
from . import connectors
from .dossiers import stored_state
from .errors import Conflict
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import save_step

log = logging.getLogger("onestop.connectors")
STUCK = timedelta(minutes=15)  # a call locked this long belongs to a worker that stopped
WORKER = "onestop-connectors"  # the lock's owner, as the external-task workers' ids are kept
INTERRUPTED = ("the worker stopped while this connector call was being made; it is not repeated on its own, "
               "because the other system may have acted on it: retry if the call is safe to repeat")
SAVE_TRIES = 3


def run_due(limit: int = 20) -> int:
    """Make the pending connector calls (oldest first, at most `limit`); returns how many were made."""
    _give_up_stuck()
    now = utcnow()
    due = [row.id for row in ServiceCall.select(ServiceCall.id).where(
        (ServiceCall.kind == "connector") & ServiceCall.lock_expires_at.is_null()
        & (ServiceCall.available_at.is_null() | (ServiceCall.available_at <= now)))
        .order_by(ServiceCall.created_at).limit(limit)]
    return sum(run_call(call_id) for call_id in due)


def run_call(call_id) -> bool:
    """Claim one pending call and make it; False if another worker has it or its task no longer waits."""
    claimed = run_write(lambda: ServiceCall.update(worker_id=WORKER, lock_expires_at=utcnow() + STUCK).where(
        (ServiceCall.id == call_id) & (ServiceCall.kind == "connector")
        & ServiceCall.lock_expires_at.is_null()).execute())
    if not claimed:
        return False
    row = ServiceCall.get_or_none(ServiceCall.id == call_id)
    dossier = _dossier(row.dossier_id) if row is not None else None
    if dossier is None or dossier.state != "active":
        _drop(call_id)
        return False
    task = {"task_id": row.task_id, "dossier": dossier.code}
    try:  # no transaction is open here: the other system may take its time
        result, failure = connectors.call(dossier.centre_id, row.operator, row.params, task), None
    except connectors.ConnectorFailure as exc:
        result, failure = None, exc.message
    log.info("connector %s for dossier %s (%s): %s", row.operator, dossier.code, row.element_id,
             "done" if failure is None else f"failed: {failure}")
    return _store_outcome(row, dossier, result, failure)


def _dossier(dossier_id):
    return (Dossier.select(*sql.DOSSIER_HEAD, ProcedureVersion).join(ProcedureVersion)
            .where(Dossier.id == dossier_id).first())


def _store_outcome(row, dossier, result, failure) -> bool:
    """The call's outcome as the dossier's next step (which removes the call's row); stored again on a
    fresh read if someone moved the dossier meanwhile (the call itself is not made again unless the
    dossier keeps moving)."""
    detail = {"operator": row.operator} | ({"message": failure} if failure else {})
    for _ in range(SAVE_TRIES):
        model = model_for(dossier.version)
        try:
            with on_behalf_of(dossier.centre_id):
                if failure is None:
                    step = engine().complete_service(model, stored_state(dossier), row.task_id, result)
                else:
                    step = engine().fail_service(model, stored_state(dossier), row.task_id, failure)
            save_step(dossier, step, None, "connector.called" if failure is None else "connector.failed",
                      row.element_id, detail)
        except TaskNotReady:
            _drop(row.id)
            return False
        except Conflict:  # moved since it was read: before the engine read its state, or before the save
            dossier = _dossier(row.dossier_id)
            if dossier is None or dossier.state != "active":
                _drop(row.id)
                return False
            continue
        return True
    log.warning("connector %s for dossier %s: the dossier kept moving; the call is made again by the next round",
                row.operator, dossier.code)
    run_write(lambda: ServiceCall.update(worker_id=None, lock_expires_at=None).where(ServiceCall.id == row.id)
              .execute())
    return False


def _drop(call_id):
    """A call whose task no longer waits (its dossier ended or moved on meanwhile)."""
    run_write(lambda: ServiceCall.delete().where(ServiceCall.id == call_id).execute())


def _give_up_stuck():
    """Calls whose worker stopped while making them: their dossiers become incidents (see the module's note)."""
    stuck = list(ServiceCall.select().where((ServiceCall.kind == "connector")
                                            & (ServiceCall.lock_expires_at < utcnow())).limit(100))
    for row in stuck:
        dossier = _dossier(row.dossier_id)
        if dossier is None or dossier.state != "active":
            _drop(row.id)
        else:
            _store_outcome(row, dossier, None, INTERRUPTED)
