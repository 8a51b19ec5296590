"""The worker's side of connector calls: claim a pending call, make it outside any transaction
(services.connectors: allow list, secrets, timeout, tries with growing pauses), then store the outcome
as the dossier's next step — its result completes the service task and the dossier runs on
(`Engine.complete_service`), a failure puts the dossier in error at that task (`Engine.fail_service`):
an incident an administrator retries from the back office, which makes the call pending again.

A call is claimed before it is made, so two workers never make it twice. A call left `running` by a
worker that stopped in the middle is not made again on its own (the other system may have acted on
it): its dossier becomes an incident saying so, for an administrator to retry or skip.
"""

import logging
from datetime import timedelta

from .. import sql
from ..db import run_write
from ..engine import TaskNotReady
from ..models import ConnectorCall, Dossier, ProcedureVersion, utcnow
from . import connectors
from .dossiers import stored_state
from .errors import Conflict
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import save_step

log = logging.getLogger("onestop.connectors")
STUCK = timedelta(minutes=15)  # a call running this long belongs to a worker that stopped
INTERRUPTED = ("the worker stopped while this connector call was being made; it is not repeated on its own, "
               "because the other system may have acted on it: retry if the call is safe to repeat")
SAVE_TRIES = 3


def run_due(limit: int = 20) -> int:
    """Make the pending connector calls (oldest first, at most `limit`); returns how many were made."""
    _give_up_stuck()
    due = [row.id for row in ConnectorCall.select(ConnectorCall.id).where(ConnectorCall.status == "pending")
           .order_by(ConnectorCall.id).limit(limit)]
    return sum(run_call(call_id) for call_id in due)


def run_call(call_id) -> bool:
    """Claim one pending call and make it; False if another worker has it or its task no longer waits."""
    claimed = run_write(lambda: ConnectorCall.update(
        status="running", claimed_at=utcnow(), attempts=ConnectorCall.attempts + 1).where(
        (ConnectorCall.id == call_id) & (ConnectorCall.status == "pending")).execute())
    if not claimed:
        return False
    row = ConnectorCall.get_by_id(call_id)
    dossier = _dossier(row.dossier_id)
    if dossier is None or dossier.state != "active":
        _finish(row, "gone")
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
    """The call's outcome as the dossier's next step; stored again on a fresh read if someone moved the
    dossier meanwhile (the call itself is not made again unless the dossier keeps moving)."""
    for _ in range(SAVE_TRIES):
        model = model_for(dossier.version)
        try:
            with on_behalf_of(dossier.centre_id):
                if failure is None:
                    step = engine().complete_service(model, stored_state(dossier), row.task_id, result)
                else:
                    step = engine().fail_service(model, stored_state(dossier), row.task_id, failure)
        except TaskNotReady:
            _finish(row, "gone")
            return False
        detail = {"operator": row.operator} | ({"message": failure} if failure else {})
        try:
            save_step(dossier, step, None, "connector.called" if failure is None else "connector.failed",
                      row.element_id, detail)
        except Conflict:
            dossier = _dossier(row.dossier_id)
            if dossier is None or dossier.state != "active":
                _finish(row, "gone")
                return False
            continue
        _finish(row, "done" if failure is None else "failed", failure)
        return True
    log.warning("connector %s for dossier %s: the dossier kept moving; the call is made again by the next round",
                row.operator, dossier.code)
    run_write(lambda: ConnectorCall.update(status="pending").where(ConnectorCall.id == row.id).execute())
    return False


def _finish(row, status, error=None):
    run_write(lambda: ConnectorCall.update(status=status, last_error=error, finished_at=utcnow())
              .where(ConnectorCall.id == row.id).execute())


def _give_up_stuck():
    """Calls a stopped worker left running: their dossiers become incidents (see the module's note)."""
    stuck = list(ConnectorCall.select().where((ConnectorCall.status == "running")
                                              & (ConnectorCall.claimed_at < utcnow() - STUCK)).limit(100))
    for row in stuck:
        dossier = _dossier(row.dossier_id)
        if dossier is None or dossier.state != "active":
            _finish(row, "gone")
        else:
            _store_outcome(row, dossier, None, INTERRUPTED)
