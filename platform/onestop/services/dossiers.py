"""Dossiers: start one, complete its tasks, fire its timers (messages: services/messages.py).

The engine runs outside the transaction; the new workflow state, the worklist rows, the waiting
events, the history and the audit event are then written in ONE short transaction guarded by
the dossier's `serial` (compare-and-set): of two officers completing the same task, exactly one
wins and the other gets Conflict (409). Storing a step is services/steps.py's job.
"""

import base64
from datetime import datetime, timedelta

from peewee import IntegrityError, Tuple

from .. import formdefs, sql
from ..db import database, run_write
from ..engine import Stored, TaskNotReady
from ..models import (
    Dossier,
    HistoryEntry,
    Procedure,
    ProcedureVersion,
    User,
    WorkItem,
    local_today,
    utcnow,
)
from ..status import WITH_RESULT, Status
from . import (
    attachments,
    audit,
    business_keys,
    centres,
    codes,
    connector_calls,
    deadlines,
    formdata,
    notify,
    payments,
    rollout,
    schedule,
    search,
    submissions,
)
from .errors import Conflict, Forbidden, Invalid, NotFound, shown
from .lookup import lookup_hash, new_lookup_key
from .lookup import track as track  # where the layers above have looked for it
from .procedures import form_of, model_for, start_form, task_form
from .runtime import engine, on_behalf_of
from .sittings import after_task as follow_sitting
from .stats import counters
from .stats.definition import resolution
from .steps import deadline_plan, first_status, save_step, state_as_stored, write_step_rows


def check_data(data, what="data"):
    """The data (or a message's payload) as an object of variables; Invalid if it cannot be one."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Invalid(f"{what} must be a JSON object")
    # Names starting with "_" are the engine's own; everything else is the model's business.
    bad = [k for k in data if not k or len(k) > 200 or k.startswith("_")]
    if bad:
        raise Invalid(f"{what} has a key that cannot be a variable name: {bad[0]!r}",
                      details=[{"field": k, "message": "must be 1-200 characters and not start with _"} for k in bad])
    return data


def start_dossier(actor, procedure_code, data=None, applicant=None, uploads=None, channel="api",
                  centre=None, submission=None, papers=None, linked=None, detail=None) -> Dossier:
    """Start a dossier of the procedure's latest version and run it to its first wait.

    The data must fit the procedure's start form, if it has one; its files come as data URLs in
    the data or as `uploads` (field path -> attachments.Upload). The new dossier carries its
    `lookup_key` (for the applicant's receipt): it is shown this once and only its hash is kept.
    `centre` (a code) receives it at another centre of the actor's scope (a province's or the
    nation's integration filing at a commune); by default the actor's own centre receives it.
    `submission`: the rendered form's one-time token (services/submissions.py): if that form made a
    dossier already, that dossier is returned (`resubmitted` set) and nothing new is started.
    `papers`: the paper documents received at the counter, as the receipt lists them.
    `linked(dossier, now)`: run inside the unit of work storing it (the national portal's link to it);
    `detail`: more of the start's audit event."""
    first = submissions.first_dossier(submission)
    if first is not None:
        return first
    centre_id = centres.get_centre(actor, centre).id if centre is not None else actor.centre_id
    detail = (detail or {}) | ({"papers": [str(p)[:300] for p in papers][:50]} if papers else {}) or None
    return _start(actor, procedure_code, data, applicant, uploads, channel=channel, centre_id=centre_id,
                  submission=submission, detail=detail, linked=linked)


def submit_online(actor, procedure_code, data=None, uploads=None, submission=None,
                  linked=None) -> tuple[Dossier, str]:
    """A citizen's online submission: (the new dossier, the lookup key to print for them, shown once).
    The same form (`submission` token) sent again returns the first dossier and its key. `linked`
    as for start_dossier (a signed-in citizen's link to it)."""
    dossier = submissions.first_dossier(submission) or _start(actor, procedure_code, data, None, uploads,
                                                               channel="online", submission=submission,
                                                               linked=linked)
    return dossier, dossier.lookup_key


APPLICANT_KEYS = {
    "name": ("applicant_full_name", "declarant_full_name", "investor_full_name", "full_name", "applicant_name"),
    "citizen_id": ("applicant_citizen_id", "declarant_citizen_id", "investor_citizen_id", "citizen_id"),
    "phone": ("applicant_phone", "declarant_phone", "investor_phone", "phone"),
    "email": ("applicant_email", "declarant_email", "investor_email", "email"),
}


def applicant_from(metadata: dict, data: dict) -> dict | None:
    """Who submitted, taken from the application's data: by the procedure's own mapping
    (procedure.json "applicant": {"name": "<field>", ...}), else by the usual field names."""
    mapping = metadata.get("applicant") if isinstance(metadata.get("applicant"), dict) else {}
    found = {}
    for key, candidates in APPLICANT_KEYS.items():
        names = [mapping[key]] if isinstance(mapping.get(key), str) else list(candidates)
        value = next((data[n] for n in names if isinstance(data.get(n), str) and data[n].strip()), None)
        if value is not None:
            found[key] = value.strip()[:200]
    return found or None


def _intake(actor, procedure_code, data, applicant, uploads, centre_id):
    """A start checked before the engine runs: (centre, procedure, version, model, data, files,
    applicant), if the centre is open, the procedure exists there and the data fits its start form."""
    centre_id = centre_id or actor.centre_id
    data = check_data(data)
    if applicant is not None and not isinstance(applicant, dict):
        raise Invalid("applicant must be a JSON object")
    closure, found = sql.intake_version(centre_id, procedure_code)  # one statement for both checks
    centres.open_for_intake(centre_id, local_today(), closure)
    if found is None:
        raise NotFound(f"no procedure {shown(procedure_code)}")
    procedure, version = found
    data, blobs = formdata.accept(start_form(version), data, uploads)
    model = model_for(version)
    if applicant is None:
        applicant = applicant_from(model.metadata, data)
    return centre_id, procedure, version, model, data, blobs, applicant


def check_start(actor, procedure_code, data=None, uploads=None):
    """Invalid (with every field error) if the data would not start a dossier; nothing is stored."""
    _intake(actor, procedure_code, data, None, uploads, None)


def _start(actor, procedure_code, data, applicant, uploads, channel="api", centre_id=None, submission=None,
           detail=None, linked=None) -> Dossier:
    centre_id, procedure, version, model, data, blobs, applicant = _intake(
        actor, procedure_code, data, applicant, uploads, centre_id)
    with on_behalf_of(centre_id, model):
        step = engine().start(model, data)
    try:
        return store_new_dossier(actor, centre_id, procedure, version, model, step, applicant, channel, blobs,
                                 detail=detail, submission=submission, linked=linked)
    except IntegrityError:
        first = submissions.first_dossier(submission)  # the same form, sent twice at once: one dossier
        if first is None:
            raise
        return first


def store_new_dossier(actor, centre_id, procedure, version, model, step, applicant, channel, blobs=(),
                      business_key=None, detail=None, submission=None, linked=None) -> Dossier:
    """Store the first step of a new dossier of the centre (the engine started it): its row, the
    rows beside it, its figures, its audit event and the applicant's notification, in one unit of
    work. Conflict (409) if its business key (given, or declared by the procedure) is already
    another dossier's of the centre."""
    business_key = business_key or business_keys.declared_key(model, step.data)
    business_keys.check_free(centre_id, business_key)
    now = utcnow()
    plan = deadline_plan(model)
    due_at = deadlines.dossier_due(centre_id, plan, now, step.data) if plan else None
    key = new_lookup_key()
    attachments.keep(blobs)

    nested = database.in_transaction()  # inside another unit, whose caller may read the code: taken at once
    # The row but its code (and its model instance), made here, not in the unit of work: on SQLite the unit
    # runs holding the writers' lock.
    row = _new_row(actor, centre_id, procedure, version, model, step, applicant, channel, business_key, now, due_at,
                   lookup_hash(key))
    person = search.applicant_words(applicant)

    def write():
        params, dossier = sql.new_dossier(row, codes.first_code(centre_id, now))
        dossier.procedure, dossier.version = procedure, version
        history = write_step_rows(dossier, step, actor, new=params)  # (its row first, with them: it gets its id)
        codes.assign_at_end(dossier, now, at_once=nested)  # the agency's counter: held for the unit's last writes
        counters.count(centre_id, procedure.id, now, received=1, online=channel == "online")
        if dossier.resolved_at is not None:
            counters.count(centre_id, procedure.id, now, **resolution(due_at, None, now))
        attachments.record(blobs, dossier, actor)
        submissions.record(submission, dossier, key)
        codes.once_coded(dossier, lambda: _name_code(dossier, actor, step, history, model, now, linked, {
            "procedure": procedure.code, "version": version.version, "channel": channel} | (detail or {}), person))
        return dossier

    dossier = business_keys.stored_once(centre_id, business_key, lambda: run_write(write))
    engine().keep(dossier.id, dossier.serial, step)
    schedule.timer_due(dossier.id, step.next_timer_at)
    connector_calls.wake(step)
    dossier.lookup_key = key
    return dossier


def _new_row(actor, centre_id, procedure, version, model, step, applicant, channel, business_key, now, due_at,
             hashed) -> tuple:
    """A new dossier's row but its code, and its model instance (sql.prepared_dossier)."""
    error = step.error or {}
    return sql.prepared_dossier(
        texts={"data": text if (text := step.data_text) is not None else sql.to_json(step.data),
               "applicant": sql.to_json(applicant)}, workflow_utf8=step.state_utf8,
        centre_id=centre_id, procedure_id=procedure.id, version_id=version.id,
        state=step.status, data=step.data, applicant=applicant, workflow=state_as_stored(step), serial=1,
        error_element=error.get("element_id"), error_message=error.get("message"),
        next_timer_at=step.next_timer_at, lookup_hash=hashed,
        status=first_status(channel, step, model),
        received_at=now, due_at=due_at, authority=_authority(centre_id, procedure.id, model), channel=channel,
        resolved_at=now if step.status == "completed" or (model.metadata or {}).get("return_step") in
        {t.element_id for t in step.ready_added} else None,
        created_by_id=actor.id, created_at=now, updated_at=now, business_key=business_key,
    )


def _name_code(dossier, actor, step, history, model, now, linked, detail, person=None):
    """What records a new dossier's code, written once it has it (services.codes): its search row
    (`person`: search.applicant_words of its applicant, if made), the fee to pay first (the clock then
    waits), the caller's link to it, its events and notification."""
    search.put_dossier(dossier.id, dossier.centre_id, dossier.code, dossier.applicant, new=True, person=person)
    payments.request_at_submission(dossier, model, step.data, now)
    if linked is not None:
        linked(dossier, now)
    _announce(dossier, actor, step, history, detail)


def _announce(dossier, actor, step, history, detail):
    """A new dossier's audit events (its start; its failure, if the first step failed) and the
    applicant's notification, in the dossier's own unit of work."""
    audit.record("dossier.started", actor, dossier=dossier, detail=detail, history=history)
    notify.queue(dossier, "resolved" if dossier.status in WITH_RESULT else "received", dossier.procedure.name)
    if step.error:
        audit.record("dossier.error", actor, dossier=dossier, element_id=step.error["element_id"],
                     detail={"message": step.error["message"]})


def _authority(centre_id, procedure_id, model) -> str | None:
    """The competent authority: the centre's local name for it, else the procedure's."""
    name = rollout.local_values(centre_id, procedure_id).get("agency") or model.metadata.get("agency")
    return str(name)[:500] if name else None


def get_dossier(actor, code) -> Dossier:
    """A dossier of the actor's centre with its procedure and version; its (large) workflow state
    is left in the database until a step needs it."""
    dossier = (Dossier.select(*sql.DOSSIER_HEAD, Procedure, ProcedureVersion)
               .join(Procedure).switch(Dossier).join(ProcedureVersion)
               .where((Dossier.centre == actor.centre_id) & (Dossier.code == code)).first())
    if dossier is None:
        raise NotFound(f"no dossier {shown(code)}")
    return dossier


MAX_PAGE = 500


def work_items(actor, dossier_code=None, limit=100, after=None):
    """A page of the caller's worklist (ready human tasks of their centre), oldest first.

    Returns (items, cursor of the next page or None). `after` is the cursor of the page before.
    """
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be a whole number from 1 to {MAX_PAGE}")
    query = WorkItem.for_actor(actor).select(WorkItem, Dossier.code).join(Dossier)
    if dossier_code:
        query = query.where(Dossier.code == dossier_code)
    if after:
        created_at, task_id = read_page_cursor(after)
        # A row-value comparison: both databases walk the (centre, created_at, id) index straight
        # to the cursor, where "a > x OR (a = x AND b > y)" made them read every earlier task.
        query = query.where(Tuple(WorkItem.created_at, WorkItem.id) > Tuple(created_at, task_id))
    items = list(query.order_by(WorkItem.created_at, WorkItem.id).limit(limit + 1))
    more = len(items) > limit
    items = items[:limit]
    return items, (page_cursor(items[-1]) if more else None)


def page_cursor(item) -> str:
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, task_id = raw.split("|", 1)
        return datetime.fromisoformat(created_at), task_id
    except (ValueError, UnicodeDecodeError, TypeError):
        raise Invalid("after is not a cursor this worklist gave out") from None


def get_work_item(actor, task_id, for_step: bool = False) -> WorkItem:
    """A ready task of the actor's centre that their roles let them do, with its dossier, procedure
    and version in one query. `for_step`: the caller is about to run the dossier's workflow; when no
    workflow live in this process offers the task (its last step ran in another worker), the stored
    state comes in the same query instead of a second one."""
    with_state = for_step and not engine().offers(task_id)
    item = sql.work_item_in_centre(str(task_id), actor.centre_id, with_state=with_state)
    if item is None:
        raise NotFound(f"no task {shown(task_id)} waiting to be done")
    if item.role and not actor.has_role(item.role, "admin"):
        raise Forbidden(f"{item.name} is for the lane {item.lane!r}, which needs the role {item.role!r}")
    if item.unit_id and item.unit_id != actor.unit_id and not actor.has_role("admin"):
        raise Forbidden(f"{item.name} is for the lane {item.lane!r}, done by another unit of the centre")
    return item


RACE_WINDOW = timedelta(minutes=15)  # how long after a task was done a late completion is a lost race


def task_was_done(actor, task_id, within: timedelta | None = None) -> bool:
    """Whether the id is of a task of the actor's centre that is no longer waiting (done, or
    cancelled by its dossier's step): a colleague got there first. `within`: done that recently
    (the history is indexed by time, not by task: a bounded look stays cheap on a large table)."""
    task_id = str(task_id)[:64]
    if within is None:
        return (HistoryEntry.select(HistoryEntry.id).join(Dossier, on=(HistoryEntry.dossier == Dossier.id))
                .where((HistoryEntry.task_id == task_id) & (Dossier.centre == actor.centre_id)).exists())
    # Two queries, so that no planner walks the centre's dossiers instead of the recent history.
    done_in = [d for (d,) in HistoryEntry.select(HistoryEntry.dossier).where(
        (HistoryEntry.at >= utcnow() - within) & (HistoryEntry.task_id == task_id)).limit(5).tuples()]
    return bool(done_in) and Dossier.select(Dossier.id).where(
        Dossier.id.in_(done_in) & (Dossier.centre == actor.centre_id)).exists()


def _waiting_task(actor, task_id, for_step: bool = False) -> WorkItem:
    """The ready task the actor is about to act on. A task of the centre done in the last
    RACE_WINDOW is a race lost to a colleague (Conflict, 409); an id of no task of the centre (or
    of one done long ago) is NotFound. `for_step`: as get_work_item's."""
    try:
        return get_work_item(actor, task_id, for_step)
    except NotFound:
        if task_was_done(actor, task_id, within=RACE_WINDOW):
            raise Conflict(f"task {shown(task_id)} is no longer waiting: a colleague completed it or its dossier "
                           "moved on meanwhile; nothing was saved on it") from None
        raise


def stored_state(dossier):
    """The dossier's workflow for the engine: live in the cache at this serial, or read on demand
    (unless it was read with the dossier at this serial: `sql.work_item_in_centre`)."""

    def load_text():
        read = getattr(dossier, "stored_text", None)
        if read is not None and read[0] == dossier.serial:
            return read[1]
        text = sql.workflow_text(dossier.id, dossier.serial)
        if text is None:
            raise Conflict(f"dossier {dossier.code} was changed by someone else meanwhile; reload and try again")
        return text

    return Stored(dossier.id, dossier.serial, load_text)


def task_detail(actor, task_id):
    """(work item, its variables, its form definition or None) for a ready task."""
    item = get_work_item(actor, task_id, for_step=True)
    data = _task_data(item.dossier, item)
    return item, data, task_form(item.dossier.version, item.form, data)


def _ends_the_wait(item, kind) -> bool:
    """Whether the task is the model's own step that records what the applicant was waited for
    (procedure.json "deadline.supplement" or "deadline.financial_obligation")."""
    plan = deadline_plan(model_for(item.dossier.version))
    return plan is not None and item.element_id in getattr(plan, kind)


def complete_task(actor, task_id, data, uploads=None) -> Dossier:
    """Complete a ready task with the submitted data (files as data URLs or `uploads`); Conflict
    (409) if a colleague was first or holds the task."""
    return complete_task_with_rows(actor, task_id, data, uploads)[0]


def complete_task_with_rows(actor, task_id, data, uploads=None) -> tuple[Dossier, dict]:
    """complete_task, and the rows an answer shows beside the dossier after the step (its ready tasks
    and open waits, as `step_rows` reads them): read in the statement that reads the dossier's sitting
    after the commit, so an answer needs no read of its own."""
    data = check_data(data)
    item = _waiting_task(actor, task_id, for_step=True)
    if item.dossier.status == Status.SUPPLEMENT_REQUESTED and not _ends_the_wait(item, "supplement"):
        raise Conflict(f"dossier {item.dossier.code} waits for the applicant's supplement; record it first")
    if item.dossier.status == Status.AWAITING_FINANCIAL_OBLIGATION and not _ends_the_wait(item, "financial_obligation"):
        raise Conflict(f"dossier {item.dossier.code} waits for the applicant's taxes and fees; record them first")
    if item.claimed_by_id and item.claimed_by_id != actor.id:
        raise Conflict(f"{item.name} is being handled by {_username(item.claimed_by_id)}; ask them to release it")
    dossier = item.dossier
    form = form_of(dossier.version, item.form)
    if formdefs.takes_task_options(form):  # checked against the choices the task's data offers now
        form = formdefs.with_task_options(form, _task_data(dossier, item))
    data, blobs = formdata.accept(form, data, uploads, dossier.id, lambda: _task_data(dossier, item))
    try:
        model = model_for(dossier.version)
        with on_behalf_of(dossier.centre_id, model):
            step = engine().complete_task(model, stored_state(dossier), item.id, data)
    except TaskNotReady as exc:
        raise Conflict(str(exc)) from None
    attachments.keep(blobs)
    dossier = save_step(dossier, step, actor, "task.completed", item.element_id, {"task": item.id, "name": item.name},
                        completed_task_id=item.id, blobs=blobs)
    # The answer's rows (step_rows) and the dossier's sitting, read in one statement after the commit.
    rows = sql.open_rows(dossier.id, sitting=True)
    follow_sitting(actor, dossier, item, rows.pop("sitting"))  # decided on the spot: the decision and the return timed
    return dossier, rows  # (what follows the sitting writes no task or wait: the rows stay the answer's)


def _task_data(dossier, item) -> dict:
    try:
        return engine().task_data(model_for(dossier.version), stored_state(dossier), item.id)
    except TaskNotReady as exc:
        raise Conflict(str(exc)) from None


def claim_task(actor, task_id) -> WorkItem:
    """Take a task: colleagues see it is being handled and cannot complete it meanwhile."""
    item = _waiting_task(actor, task_id)

    def write():
        taken = (WorkItem.update(claimed_by=actor.id, claimed_at=utcnow())
                 .where((WorkItem.id == item.id) & (WorkItem.claimed_by.is_null() | (WorkItem.claimed_by == actor.id)))
                 .execute())
        if not taken:
            holder = WorkItem.select(WorkItem.claimed_by).where(WorkItem.id == item.id).scalar()
            if holder is None:
                raise Conflict(f"{item.name} was done or taken by a colleague meanwhile")
            raise Conflict(f"{item.name} is already being handled by {_username(holder)}")
        audit.record("task.claimed", actor, dossier=item.dossier, element_id=item.element_id, detail={"task": item.id})

    run_write(write)
    item.claimed_by_id = actor.id
    return item


def release_task(actor, task_id) -> WorkItem:
    """Give a task back to the shared worklist (its holder, or a leader or administrator)."""
    item = _waiting_task(actor, task_id)
    if item.claimed_by_id is None:
        return item
    if item.claimed_by_id != actor.id and not actor.has_role("leader", "admin"):
        raise Conflict(f"{item.name} is being handled by {_username(item.claimed_by_id)}; only they or a leader can release it")

    def write():
        WorkItem.update(claimed_by=None, claimed_at=None).where(WorkItem.id == item.id).execute()
        audit.record("task.released", actor, dossier=item.dossier, element_id=item.element_id, detail={"task": item.id})

    run_write(write)
    item.claimed_by_id = None
    return item


def _username(user_id) -> str:
    return User.select(User.display_name).where(User.id == user_id).scalar() or "a colleague"


def hand_overs(dossier) -> list:
    """The control sheet's rows: each finished task of a person with its unit, start, deadline and end."""
    return sql.hand_overs(dossier.id)


HISTORY_PAGE = 100  # entries of the history (and of the events) an answer embeds; the rest are paged


def page_rows(dossier, page: int | None = None) -> dict:
    """The rows a dossier page shows beside the dossier: tasks, waits, history, audit events (named
    rows); with page, the first `page` + 1 of the history and of the events (is there a next page?)."""
    return sql.dossier_rows(dossier.id, page)


def step_rows(dossier) -> dict:
    """What the answer to a submission or a step shows beside the dossier: its ready tasks and open
    waits, whatever the dossier's past: its history and events are paged): one indexed read
    (complete_task_with_rows reads them with its step instead)."""
    return sql.open_rows(dossier.id)


def rows_page(actor, code, kind, limit=HISTORY_PAGE, after=None):
    """A page of a dossier's "history" or "events", in time order: (rows, the cursor of the next
    page or None). `after` is the cursor of the page before."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be a whole number from 1 to {MAX_PAGE}")
    if after is not None and not (isinstance(after, str) and after.isascii() and after.isdigit() and len(after) < 19):
        raise Invalid("cursor is the `next` of the page before")
    read = sql.history_page if kind == "history" else sql.events_page
    rows = read(get_dossier(actor, code).id, limit + 1, int(after) if after else None)
    return rows[:limit], (str(rows[limit - 1].id) if len(rows) > limit else None)


# internals ---------------------------------------------------------------------------------
# (storing a step, its rows and its consequences for the dossier: services/steps.py)
