"""Storing a step of a dossier's workflow: what the engine did (its new state, the tasks it offered
and finished, the events it waits for) and what follows from it for the dossier (its national
status, the payment pause and the deadline it shifts, the times of its result, return or ending,
the kept figures, the citizen's notification and the audit events), written in ONE unit of work
guarded by the dossier's `serial` (compare-and-set).

`save_step` reads as its steps: decide the change before the unit of work, then in it, in the lock
order of docs/architecture.md ("Lock order and retries"): the compare-and-set on the dossier's row
first, the payment pause, the step's rows, the audit events and the result's times, with the
figures and the audit chain deferred to the end of the unit; after the commit, the dossier object
is brought up to date and the live workflow cache and the timer queue are told.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import sql
from ..db import on_sqlite, run_write
from ..models import Dossier, utcnow
from ..status import ENDED, WITH_RESULT, IllegalTransition, Status, transition
from . import (
    attachments,
    audit,
    clockstops,
    connector_calls,
    deadlines,
    lookup_tables,
    notify,
    payments,
    rollout,
    schedule,
    service_calls,
    units,
)
from .errors import Conflict
from .national_portal import outbox as portal_outbox
from .procedures import model_for
from .runtime import engine
from .stats import counters
from .stats.definition import resolution


def next_status(current, step, model, completed_task_id=None, completed_element=None) -> Status:
    """The national status the work leads to after a step: "resolved" when the result is ready
    (the procedure's return step is offered, or the process ends without one), "returned" once the
    return step is done (even if work the citizen does not wait for, such as informing the tax
    office, goes on), "processing" once the first step of the work is done. Whether the dossier
    may go there is the state machine's question (onestop.status.transition)."""
    return_step = (model.metadata or {}).get("return_step") if model is not None else None
    if step.status == "completed":
        return Status.RETURNED if return_step else Status.RESOLVED
    if return_step and completed_element == return_step:
        return Status.RETURNED
    if return_step and any(t.element_id == return_step for t in step.ready_added):
        return Status.RESOLVED
    if current in (Status.NEW, Status.RECEIVED) and completed_task_id is not None:
        return Status.PROCESSING
    return Status(current)


def first_status(channel, step, model) -> Status:
    """A new dossier's status: new if submitted online, received otherwise, then where its first
    run of the work led it."""
    first = Status.NEW if channel == "online" else Status.RECEIVED
    return transition(first, next_status(first, step, model))


def moved(dossier, target) -> Status:
    """`target` if the dossier's status may become it (onestop.status.transition); Conflict (409) if
    not. Every service that changes a dossier's status asks here first."""
    try:
        return transition(dossier.status, target)
    except IllegalTransition as exc:
        raise Conflict(f"dossier {dossier.code}: {exc}") from None


@dataclass(frozen=True)
class _Change:
    """A step to store and what it changes in its dossier, decided before the unit of work runs."""

    dossier: Dossier
    step: object  # engine.Stored
    actor: object
    action: str
    element_id: str | None
    detail: dict | None
    completed_task_id: str | None
    blobs: tuple
    version: object  # the ProcedureVersion the dossier is carried onto, or None
    ending: bool  # the national status is set outright (an ending): the clock's pause is cleared
    status: Status  # the national status after the step
    turn: tuple | None  # ("stop" or "resume", clockstops kind) or None (clock_turn)
    now: datetime
    fee: int = 0  # the fee the result waits for (services.payments: paid before the result), VND
    data_text: str | None = None  # the step's data as stored (sql.to_json), made before the writers' lock
    # Or (SQLite, with the state's) its UTF-8 as orjson wrote it, stored as it is (data_text is then None).
    data_utf8: bytes | None = None

    @property
    def error(self) -> dict:
        return self.step.error or {}


def save_step(dossier, step, actor, action, element_id, detail, completed_task_id=None, blobs=(), status=None,
              version=None) -> Dossier:
    """Store a step: compare-and-set on the serial, then the rows beside it, atomically (on SQLite
    in a commit shared with the steps other threads store at the same moment). `status` sets the
    national status outright (an ending); otherwise it follows the work (next_status)."""
    change = _decide(dossier, step, actor, action, element_id, detail, completed_task_id, tuple(blobs), status,
                     version)
    due_at = run_write(lambda: _store(change))
    _bring_up_to_date(change, due_at)
    engine().keep(dossier.id, dossier.serial, step)
    schedule.timer_due(dossier.id, step.next_timer_at)
    connector_calls.wake(step)
    return dossier


def _decide(dossier, step, actor, action, element_id, detail, completed_task_id, blobs, status, version) -> _Change:
    """The dossier's national status after the step, and whether it stops or restarts the clock."""
    model = model_for(dossier.version)
    new_status = status or next_status(dossier.status, step, model, completed_task_id,
                                       element_id if completed_task_id else None)
    turn = clock_turn(dossier, step, model, element_id, completed_task_id) if status is None else None
    fee = payments.owed_before_result(dossier, model, new_status, step.data) if turn is None and not status else 0
    if fee:
        turn = ("stop", clockstops.FINANCIAL_OBLIGATION)
    if turn and turn[0] == "stop":
        new_status = _WAITING_STATUS[turn[1]]
    elif turn and new_status == _WAITING_STATUS[turn[1]]:
        new_status = Status.PROCESSING
    new_status = moved(dossier, new_status)
    # On SQLite the data's UTF-8 is stored as orjson wrote it (with the state's: sql.step_update), not decoded.
    data_utf8 = getattr(step, "data_utf8", None)
    if data_utf8 is None or getattr(step, "state_utf8", None) is None or not on_sqlite():
        data_utf8 = None
        data_text = text if (text := step.data_text) is not None else sql.to_json(step.data)  # (decoded once)
    else:
        data_text = None
    return _Change(dossier, step, actor, action, element_id, detail, completed_task_id, blobs, version,
                   ending=status is not None, status=new_status, turn=turn, now=utcnow(), fee=fee,
                   data_text=data_text, data_utf8=data_utf8)


_WAITING_STATUS = {clockstops.SUPPLEMENT: Status.SUPPLEMENT_REQUESTED,
                   clockstops.FINANCIAL_OBLIGATION: Status.AWAITING_FINANCIAL_OBLIGATION}


def _store(change: _Change):
    """The unit of work (db.run_write may run it twice): it changes no object it was given, and
    returns the dossier's promised instant after the step."""
    # On PostgreSQL, when nothing is to be written between them, the compare-and-set goes in the statement
    # of the step's rows (their guard: nothing of them is written if it fails): one statement fewer.
    guard = _compare_and_set_with_rows(change)
    if guard is None:
        _compare_and_set(change)
    due_at = _pause_or_resume(change)
    history = write_step_rows(change.dossier, change.step, change.actor,
                              completed_task_id=change.completed_task_id, due_at=due_at, guard=guard)
    attachments.record(list(change.blobs), change.dossier, change.actor, change.completed_task_id)
    _audit_step(change, history)
    _record_result(change, due_at)
    if change.fee:
        payments.request_before_result(change.dossier, model_for(change.dossier.version), change.fee, change.now)
    return due_at


def _compare_and_set(change: _Change) -> None:
    """Store the engine's state if the dossier's serial is still the one the step was computed
    from (the dossier's row, locked first); Conflict if someone stored a step meanwhile."""
    dossier, step, error = change.dossier, change.step, change.error
    if not sql.store_step(dossier.id, dossier.serial, state_as_stored(step), step.status, step.data, error.get("element_id"),
                          error.get("message"), step.next_timer_at, change.now, change.status,
                          clear_pause=change.ending, state_at_serial=dossier.state, data_text=change.data_text,
                          workflow_utf8=getattr(step, "state_utf8", None), data_utf8=change.data_utf8):
        _changed_meanwhile(dossier)
    if change.version is not None:  # carried onto another version of its procedure
        Dossier.update(version=change.version.id).where(Dossier.id == dossier.id).execute()


def state_as_stored(step):
    """The step's state as SQLite stores it: the UTF-8 orjson wrote, if the engine made it and nothing has made its
    text since (a dossier given it decodes it only if read: models.Utf8TextField); else its text."""
    utf8 = getattr(step, "state_utf8", None)
    if utf8 is not None and not step.state_is_text() and on_sqlite():
        return utf8
    return step.state


def _changed_meanwhile(dossier):
    raise Conflict(f"dossier {dossier.code} was changed by someone else meanwhile; reload and try again")


def _compare_and_set_with_rows(change: _Change) -> tuple | None:
    """The compare-and-set as the guard of the step's rows (sql.write_step_rows), where it can go with them:
    on PostgreSQL (SQLite's statements cost no round trip), when the unit writes nothing between them (no
    other version, no turn of the clock, no new promise, no data store written; each would come after the
    dossier's row and before its tasks). Else None: `_compare_and_set` runs on its own."""
    dossier, step = change.dossier, change.step
    if (on_sqlite() or change.version is not None or change.turn is not None
            or getattr(step, "table_writes", None)
            or deadlines.due_may_change(dossier, deadline_plan(model_for(dossier.version)), step.data)):
        return None
    error = change.error
    return sql.step_update(dossier.id, dossier.serial, step.state, step.status, step.data, error.get("element_id"),
                           error.get("message"), step.next_timer_at, change.now, change.status,
                           clear_pause=change.ending, state_at_serial=dossier.state, data_text=change.data_text)


def _pause_or_resume(change: _Change):
    """Stop the legal clock while the citizen supplements the dossier (the model's supplement step)
    or pays what the tax office set, or restart it, as services.clockstops does for the supplement
    action too. The promised instant after it."""
    dossier, now = change.dossier, change.now
    if change.turn is None:
        chosen = deadlines.chosen_due(dossier, deadline_plan(model_for(dossier.version)), change.step.data)
        if chosen is not None:  # the step recorded what decides the legal limit (the kind of works)
            Dossier.update(due_at=chosen).where(Dossier.id == dossier.id).execute()
            return chosen
        return dossier.due_at
    how, kind = change.turn
    if how == "stop":
        Dossier.update(paused_at=now).where(Dossier.id == dossier.id).execute()
        ready = [t.name for t in change.step.ready_added if t.element_id in _listed(dossier, kind)]
        clockstops.stopped(dossier, change.actor, kind, reason=_what_is_missing(change.step.data, ready),
                           element_id=change.element_id)
        return dossier.due_at
    return clockstops.resume(dossier, change.actor, deadline_plan(model_for(dossier.version)), now, kind,
                             element_id=change.element_id)


def _what_is_missing(data, steps) -> str:
    """What the applicant is told to supply when the model's own loop asks: the text the officer
    wrote in the usual fields (`supplement_request`, `missing_documents`), else the step's name."""
    for key in ("supplement_request", "missing_documents"):
        value = (data or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:4000]
    return "; ".join(steps)


def _listed(dossier, kind) -> frozenset:
    plan = deadline_plan(model_for(dossier.version))
    return getattr(plan, kind, frozenset()) if plan else frozenset()


def _audit_step(change: _Change, history) -> None:
    """The step's audit event (binding its history rows), then its error or the process's end."""
    dossier, actor, error = change.dossier, change.actor, change.error
    audit.record(change.action, actor, dossier=dossier, element_id=change.element_id, detail=change.detail,
                 history=history)
    if change.step.error:
        audit.record("dossier.error", actor, dossier=dossier, element_id=error["element_id"],
                     detail={"message": error["message"]})
    elif change.step.status == "completed":
        audit.record("dossier.completed", actor, dossier=dossier)


def _record_result(change: _Change, due_at) -> None:
    """What the new national status means for the citizen and the figures: the notification of a
    result, the times of the result, the return and the ending (each set once), and their counts."""
    dossier, now, before, after = change.dossier, change.now, change.dossier.status, change.status
    if after != before:  # (the portal link read with the dossier, if it was: sql.work_item_in_centre)
        portal_outbox.status_changed(dossier.id, after, now, getattr(dossier, "portal_link", portal_outbox.UNREAD))
    if after == Status.RESOLVED and before != Status.RESOLVED:
        notify.queue(dossier, "resolved", dossier.procedure.name)
    if (after in WITH_RESULT or change.fee) and before not in WITH_RESULT:  # a result waiting for its fee is ready
        if sql.run('UPDATE "dossier" SET "resolved_at" = ? WHERE "id" = ? AND "resolved_at" IS NULL',
                   (now, dossier.id)).rowcount:
            counters.count(counters.centre_of(dossier), dossier.procedure_id, now,
                        **resolution(due_at, dossier.apologised_at, now))
    if after == Status.RETURNED and before != Status.RETURNED:
        sql.run('UPDATE "dossier" SET "returned_at" = ? WHERE "id" = ?', (now, dossier.id))
        counters.count(counters.centre_of(dossier), dossier.procedure_id, now, returned=1)
    if after in ENDED and before not in ENDED:
        sql.run('UPDATE "dossier" SET "ended_at" = ? WHERE "id" = ?', (now, dossier.id))
        payments.on_ending(dossier, after, now)  # a fee paid for a refused dossier goes back
    if after == Status.NOT_ACCEPTED and before != Status.NOT_ACCEPTED and dossier.received_at:
        counters.count(counters.centre_of(dossier), dossier.procedure_id, dossier.received_at, not_accepted=1)


def _bring_up_to_date(change: _Change, due_at) -> None:
    """The dossier object as stored, once the unit of work has committed."""
    dossier, step, error, now = change.dossier, change.step, change.error, change.now
    if change.turn and change.turn[0] == "resume":
        dossier.paused_at, dossier.due_at = None, due_at
    dossier.serial += 1
    dossier.status = change.status
    if change.ending:
        dossier.paused_at = None
    elif change.turn and change.turn[0] == "stop":
        dossier.paused_at = now
    dossier.workflow, dossier.state, dossier.data, dossier.updated_at = state_as_stored(step), step.status, step.data, now
    dossier.error_element, dossier.error_message = error.get("element_id"), error.get("message")
    dossier.next_timer_at = step.next_timer_at


_ITEM_COLUMNS = ("id", "dossier_id", "centre_id", "element_id", "name", "lane", "form", "role", "unit_id", "due_at",
                 "created_at")
_WAIT_COLUMNS = ("dossier_id", "task_id", "element_id", "type", "name", "due_at", "message", "correlations")
_HISTORY_COLUMNS = ("dossier_id", "task_id", "element_id", "name", "state", "at", "actor_id", "lane", "started_at",
                    "due_at")


def deadline_plan(model):
    """The procedure version's deadlines (deadlines.plan of its record), or None if it sets none. Read once per
    record and kept on the model (which lives in the engine's cache): a step asks two or three times (the clock's
    turn, the promised date, each new task's due time), and reading the record builds every step's allowance
    again (tens of us each on the bundled procedures). A record given another "deadline" object is read again."""
    metadata = model.metadata or {}
    kept = getattr(model, "_deadline_plan", None)
    if kept is not None and kept[0] is metadata.get("deadline"):
        return kept[1]
    try:
        plan = deadlines.plan(metadata)
    except ValueError:  # checked at upload; a version stored before the check sets no deadline
        plan = None
    try:
        model._deadline_plan = (metadata.get("deadline"), plan)
    except AttributeError:  # an object that takes no attribute: read again next time
        pass
    return plan


def clock_turn(dossier, step, model, element_id, completed_task_id):
    """("stop", kind) when a step of the procedure's supplement or financial_obligation list is
    offered (the citizen's turn: the clock stops), ("resume", kind) when that step is done while
    the clock stands still for it, else None."""
    plan = deadline_plan(model)
    if plan is None or not plan.waiting:
        return None
    for kind in (clockstops.SUPPLEMENT, clockstops.FINANCIAL_OBLIGATION):
        listed = getattr(plan, kind)
        if (completed_task_id is not None and element_id in listed
                and dossier.status == _WAITING_STATUS[kind] and dossier.paused_at is not None):
            return ("resume", kind)
    for kind in (clockstops.SUPPLEMENT, clockstops.FINANCIAL_OBLIGATION):
        if dossier.paused_at is None and any(t.element_id in getattr(plan, kind) for t in step.ready_added):
            return ("stop", kind)
    return None


def lane_roles(model, dossier=None) -> dict:
    """The procedure's lane -> role mapping (procedure.json "lanes", checked at upload), with the
    dossier's centre's local override of it, if any."""
    lanes = model.metadata.get("lanes")
    lanes = lanes if isinstance(lanes, dict) else {}
    if dossier is not None:
        local = rollout.local_values(dossier.centre_id, dossier.procedure_id).get("lanes")
        if local:
            lanes = lanes | local
    return lanes


def task_ahead(task_id) -> sql.Ahead:
    """The read of dossiers.get_work_item(for_step=True), the first of a step of that task, to be made with the
    request's bearer token's user (users.user_for_token's `ahead`)."""
    return sql.work_item_ahead(str(task_id), not engine().offers(task_id))


def intake_ahead(procedure_code: str) -> sql.Ahead:
    """The first read of a new dossier's first step at the actor's own centre (dossiers._intake's), to be made with
    the request's bearer token's user (users.user_for_token's `ahead`)."""
    return sql.intake_ahead(procedure_code)


def write_step_rows(dossier, step, actor, new=None, completed_task_id=None, due_at=None, guard=None):
    """The step's rows beside the dossier's: the tasks it took off the worklist and those it offered
    (with their unit and deadline), the events it waits for, its pending service calls, the counts of the person's tasks
    completed and the history rows, as stored (with their ids) for the step's audit event. `guard`: the
    dossier's compare-and-set to make first, in the same statement (`_compare_and_set_with_rows`); Conflict
    if it fails. `new`: the first step of a new dossier, the parameters of its row's INSERT (sql.new_dossier),
    made first (on PostgreSQL in the same statement as the rows); `dossier` gets its id from it."""
    now = utcnow()
    due_at = due_at or dossier.due_at
    lookup_tables.store_writes(dossier, step)  # what the step's tasks wrote to the centre's data stores
    model = model_for(dossier.version) if step.ready_added else None
    roles, plan = (lane_roles(model, dossier), deadline_plan(model)) if model else ({}, None)
    # Tasks offered by one step keep the engine's order (e.g. multi-instance 0, 1, 2) in the worklist.
    tasks = [(t.id, dossier.id, dossier.centre_id, t.element_id, t.name, t.lane, t.form,
              *units.role_and_unit(dossier.centre_id, roles.get(t.lane)),
              deadlines.task_due(dossier.centre_id, plan, t.element_id, t.lane, now, due_at),
              now + timedelta(microseconds=i))
             for i, t in enumerate(step.ready_added)]
    waits = None
    if step.waiting_changed:
        waits = (None if new is not None else dossier.id, _WAIT_COLUMNS, [
            (dossier.id, w.task_id, w.element_id, w.type, w.name, w.due_at, w.message,
             sql.to_json(w.correlations) if w.correlations else None) for w in step.waiting])
    actor_id = actor.id if actor is not None else None
    # The tasks it took off the worklist (the unit, when it got it, its deadline: kept in the history and the
    # figures), those it offers, its waits, whether its people's steps were done before, and the history rows
    # as stored (with their ids, for the step's audit event, which binds them): one statement on PostgreSQL.
    # (A new dossier's rows carry no id yet, sql.write_step_rows gives them its row's; nor did anyone work on it before.)
    done = [(f.task_id, f.element_id) for f in step.finished if f.state == "completed"] if new is None else []
    # (What the dossier's read already said of its history at this serial, on SQLite: sql.work_item_in_centre. The
    # compare-and-set fails if a step stored meanwhile.)
    known = getattr(dossier, "done_before", None)
    known = known[1] if known is not None and known[0] == dossier.serial else {}
    rows = sql.write_step_rows(step.ready_removed, (_ITEM_COLUMNS, tasks), waits, (_HISTORY_COLUMNS, [
        (dossier.id, f.task_id, f.element_id, f.name, f.state, f.at, actor_id if f.task_id == completed_task_id else None,
         None, None, None)
        for f in step.finished], audit.HISTORY_COLUMNS),
        (done, functools.partial(counters.done_before, dossier.id), known), guard, new=new)
    if new is not None:
        dossier.id = rows.new_id
    if not rows.guarded:
        _changed_meanwhile(dossier)
    service_calls.record(dossier, step)
    leaving = rows.leaving
    counters.count_steps(dossier, [(f.element_id, f.name, *leaving[f.task_id][:2], f.at, leaving[f.task_id][2],
                                 actor_id if f.task_id == completed_task_id else None)
                                for f in step.finished if f.state == "completed" and f.task_id in leaving],
                         before=rows.done_before)
    return rows.history
