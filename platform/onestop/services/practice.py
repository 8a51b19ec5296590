"""Practice dossiers: an administrator tries a draft before publishing it, stepping through its tasks
with the real forms and seeing the due dates the centre's calendar gives.

Design: a practice dossier is a row of its own table, `practicedossier`, holding the draft's model
as compiled when it started (`ParsedModel.dumps`) and its serialized workflow. It is never a
`dossier` row, and its steps are run with the engine directly, not through the services that
store a dossier's steps (`services.steps`). So, by construction and not by a filter someone could
forget: no statutory code is taken (`codes`), no figure is counted (`stats.counters`), no
notification is queued (`notify`), no event joins a centre's audit chain, no work item reaches a
worklist, no timer is scheduled, no attached file is kept (files are checked as on the desk, then
dropped). A flag on `dossier` was the other choice; every query over dossiers (figures, codes,
worklists, the public dashboard, lookups, timers, exports) would then need to leave practice rows
out, and one that forgot would put practice into real figures. Keeping it in memory only would
lose it between requests served by different worker processes, and its reach for coverage.

The workflow runs in the engine's sandbox and budgets, on the practice's own clock: real time
plus `clock_shift`, which jumps forward when the administrator skips a wait (a timer), so a
practice never waits for days. Due dates are `services.deadlines`' on the centre's calendar, at
the practice's time. A practice keeps running on the model it started with when the draft is
edited meanwhile; a new practice takes the new model.
"""

import json
from datetime import UTC, datetime, timedelta

from .. import formdefs
from ..clock import ShiftedClock
from ..db import write_transaction
from ..engine import ParsedModel, TaskNotReady
from ..formdefs import FormDefinition
from ..models import PracticeDossier, utcnow
from . import attachments, deadlines, drafts
from .errors import Conflict, Forbidden, Invalid, NotFound
from .procedures import checked_model
from .runtime import engine, on_behalf_of

STATES = ("active", "completed", "error", "abandoned")


def _authorise(actor):
    if not actor.has_role(*drafts.DRAFT_ROLES):
        raise Forbidden("only an administrator tries drafts")


def get(actor, practice_id) -> PracticeDossier:
    """A practice dossier of the actor's centre."""
    _authorise(actor)
    row = PracticeDossier.get_or_none((PracticeDossier.id == practice_id) & (PracticeDossier.centre == actor.centre_id))
    if row is None:
        raise NotFound("no such practice dossier")
    return row


def of_draft(actor, draft_id) -> list:
    """The practice dossiers of a draft, newest first (without their workflow and model)."""
    drafts.state(actor, draft_id)  # the draft is the actor's centre's
    return list(PracticeDossier.select(
        PracticeDossier.id, PracticeDossier.draft, PracticeDossier.created_at, PracticeDossier.updated_at,
        PracticeDossier.revision, PracticeDossier.state, PracticeDossier.ready, PracticeDossier.reached,
        PracticeDossier.due_at, PracticeDossier.error, PracticeDossier.journal)
        .where((PracticeDossier.draft == draft_id) & (PracticeDossier.centre == actor.centre_id))
        .order_by(PracticeDossier.id.desc()))


def model_of(row) -> ParsedModel:
    """The model a practice dossier runs on (cached by content, as a version's is)."""
    compiled = row.compiled if row.compiled is not None else PracticeDossier.get_by_id(row.id).compiled
    model = ParsedModel.loads(compiled)
    if model is None:  # stored by an older onestop: the practice cannot go on
        raise Conflict("this practice dossier was started by an older onestop; start a new one")
    return engine().model(f"practice:{model.content_hash}:{model.start_id}", lambda: model)


def draft_model(actor, draft_id, max_bytes=5 * 1024 * 1024) -> tuple:
    """(the draft's state, its compiled model); Invalid when the model is refused."""
    state = drafts.state(actor, draft_id)
    return state, checked_model(list(state.files), max_bytes=max_bytes)


def start_form(model) -> FormDefinition | None:
    """The form the applicant fills in to submit, if the model has one (choices taken from task
    data are empty: a start has none)."""
    for element_id, name in model.element_forms.items():
        if model.form_refs.get(element_id, {}).get("element") == "startEvent":
            return formdefs.with_task_options(FormDefinition.from_dict(model.forms[name]), {})
    return None


def task_form(model, task: dict, data: dict | None = None) -> FormDefinition | None:
    """The form of an offered task ({"form": name, ...}), if it has one, with the choices it takes
    from the task's data filled in from `data`."""
    form = model.forms.get(task.get("form") or "")
    return formdefs.with_task_options(FormDefinition.from_dict(form), data or {}) if form else None


def start_element(model) -> str | None:
    """The start event the applicant's data comes in at."""
    return next((e for e, ref in model.form_refs.items() if ref.get("element") == "startEvent"), None) or next(
        (e for e, element in model.elements().items() if element["type"] == "StartEvent"), None)


def _checked(form, data, uploads=None) -> dict:
    """The data as the desk would take it: normalised, files checked (and not kept), fitting the form."""
    if not isinstance(data, dict) or any(not k or len(k) > 200 or k.startswith("_") for k in data):
        raise Invalid("the data must be an object whose keys are variable names")
    data = formdefs.normalise(data)
    if form is not None:
        formdefs.tidy(form.schema, data)
    data, _files = attachments.take(form.schema if form is not None else None, data, uploads)
    if form is not None:
        errors = formdefs.validate(form.schema, data)
        if errors:
            raise Invalid("the data does not fit the form", field_errors=errors)
    return data


def _clock(row) -> ShiftedClock:
    return ShiftedClock(timedelta(seconds=row.clock_shift or 0))


def start(actor, draft_id, data=None, uploads=None, max_bytes=5 * 1024 * 1024) -> PracticeDossier:
    """A practice dossier of the draft's current model, started with the applicant's data."""
    _authorise(actor)
    state, model = draft_model(actor, draft_id, max_bytes)
    data = _checked(start_form(model), data or {}, uploads)
    row = PracticeDossier(draft=draft_id, centre=actor.centre_id, created_by=actor.id, revision=state.revision,
                          compiled=model.dumps(), state="active", workflow="", journal=[], reached=[], ready=[])
    clock = _clock(row)
    with on_behalf_of(actor.centre_id, model):  # reads the centre's lookup tables; a practice never writes them
        step = engine().on_clock(clock).start(model, data)
    now = clock.now()
    plan = _plan(model)
    row.due_at = deadlines.dossier_due(actor.centre_id, plan, now) if plan else None
    row.journal = [{"element_id": start_element(model), "lane": None, "data": step_data(data)}]
    _apply(row, step, model, now)
    with write_transaction():
        row.created_at = row.updated_at = utcnow()
        row.save(force_insert=True)
    return row


def step_data(data) -> dict:
    """Submitted data as JSON (what a test case gives back)."""
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


def _plan(model):
    try:
        return deadlines.plan(model.metadata or {})
    except ValueError:
        return None


def complete(actor, practice_id, task_id, data=None, uploads=None) -> PracticeDossier:
    """Complete an offered task of a practice dossier with the data of its form."""
    row = get(actor, practice_id)
    task = _offered(row, task_id)
    model = model_of(row)
    form = task_form(model, task)
    if form is not None and form.dynamic:
        form = task_form(model, task, task_data(actor, practice_id, task_id))
    data = _checked(form, data or {}, uploads)
    clock = _clock(row)
    try:
        with on_behalf_of(actor.centre_id, model):
            step = engine().on_clock(clock).complete_task(model, row.workflow, task_id, data)
    except TaskNotReady:
        raise Conflict("that task is no longer waiting in this practice dossier") from None
    row.journal = [*row.journal, {"element_id": task["element_id"], "lane": task.get("lane"),
                                  "data": step_data(data)}]
    _apply(row, step, model, clock.now())
    _store(row)
    return row


def _offered(row, task_id) -> dict:
    if row.state != "active":
        raise Conflict(f"this practice dossier is {row.state}")
    task = next((t for t in row.ready if t["id"] == task_id), None)
    if task is None:
        raise Conflict("that task is no longer waiting in this practice dossier")
    return task


def task_data(actor, practice_id, task_id) -> dict:
    """The values an offered task's form shows (what the dossier holds for it)."""
    row = get(actor, practice_id)
    _offered(row, task_id)
    try:
        return engine().task_data(model_of(row), row.workflow, task_id)
    except TaskNotReady:
        raise Conflict("that task is no longer waiting in this practice dossier") from None


def skip_wait(actor, practice_id) -> PracticeDossier:
    """Move the practice's clock to its earliest timer and fire it: the wait is over at once."""
    row = get(actor, practice_id)
    if row.state != "active":
        raise Conflict(f"this practice dossier is {row.state}")
    dues = [datetime.fromisoformat(w["due_at"]) for w in row.waiting if w.get("type") == "timer" and w.get("due_at")]
    if not dues:
        raise Conflict("this practice dossier waits for no timer")
    clock = _clock(row)
    row.clock_shift = (row.clock_shift or 0) + max((min(dues) - clock.now()).total_seconds(), 0) + 1
    clock = _clock(row)
    model = model_of(row)
    with on_behalf_of(actor.centre_id, model):
        step = engine().on_clock(clock).fire_timers(model, row.workflow)
    _apply(row, step, model, clock.now())
    _store(row)
    return row


def abandon(actor, practice_id) -> PracticeDossier:
    """Stop a practice dossier where it stands (what it reached still counts for coverage)."""
    row = get(actor, practice_id)
    if row.state != "active":
        raise Conflict(f"this practice dossier is {row.state}")
    row.state, row.ready, row.waiting = "abandoned", [], []
    _store(row)
    return row


def _store(row):
    with write_transaction():
        updated = (PracticeDossier.update(
            state=row.state, workflow=row.workflow, data=row.data, ready=row.ready, waiting=row.waiting,
            journal=row.journal, reached=row.reached, error=row.error, clock_shift=row.clock_shift,
            serial=PracticeDossier.serial + 1, updated_at=utcnow())
            .where((PracticeDossier.id == row.id) & (PracticeDossier.serial == row.serial)).execute())
        if not updated:
            raise Conflict("this practice dossier was stepped meanwhile (another tab?); reload it")
        row.serial += 1


def _apply(row, step, model, now):
    """Put an engine step on the practice row: offered tasks with their due dates, waits, reach."""
    plan = _plan(model)
    known = {t["id"]: t.get("due_at") for t in row.ready}
    row.ready = [{"id": t.id, "element_id": t.element_id, "name": t.name, "lane": t.lane, "form": t.form,
                  "due_at": known[t.id] if t.id in known else _iso(deadlines.task_due(
                      row.centre_id, plan, t.element_id, t.lane, now, row.due_at))} for t in step.ready]
    row.waiting = [{"element_id": w.element_id, "type": w.type, "name": w.name, "due_at": _iso(w.due_at)}
                   for w in step.waiting]
    reached = list(row.reached or [])
    for element_id in [f.element_id for f in step.finished if f.state == "completed"] + [
            t.element_id for t in step.ready] + [w.element_id for w in step.waiting] + [
            (step.error or {}).get("element_id")]:
        if element_id and element_id not in reached:
            reached.append(element_id)
    row.reached, row.state, row.workflow = reached, step.status, step.state
    row.data, row.error = step.data, step.error


def _iso(when) -> str | None:
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat(timespec="seconds")


def end_event(row, model) -> str | None:
    """The end event a finished practice dossier reached."""
    elements = model.elements()
    ends = [e for e in row.reached if elements.get(e, {}).get("type") == "EndEvent"]
    return ends[-1] if ends else None

