"""What an officer sees: the worklist of their centre's tasks with counts, and one task with all
it needs (the dossier, its data, files, history, the model's instructions, the form)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from peewee import JOIN, fn

from .. import formdefs, sql
from ..engine import TaskNotReady
from ..formdefs import FormDefinition
from ..models import Dossier, Procedure, User, WorkItem, utcnow
from ..workdays import to_utc
from . import attachments, deadlines, payments, search
from .dossiers import get_work_item, stored_state, task_was_done
from .errors import Conflict, Invalid
from .lifecycle import supplement_request_of
from .procedures import field_labels, model_for, task_form
from .runtime import engine

VIEWS = ("all", "mine", "unclaimed")
MAX_PAGE = 200


@dataclass
class Row:
    id: str
    name: str
    element_id: str
    lane: str | None
    created_at: object
    due_at: object
    urgency: str | None  # "overdue", "soon" (within a working day) or None
    dossier_code: str
    procedure_name: str
    applicant: str
    claimed_by: str | None
    mine: bool


@dataclass
class Worklist:
    rows: list
    counts: dict  # all, unclaimed, mine, overdue, soon
    page: int
    more: bool


@dataclass
class TaskPage:
    item: WorkItem
    dossier: Dossier
    data: dict
    form: FormDefinition | None
    instructions: str
    files: list
    history: list
    tasks: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # field name -> (title, {value: title})
    supplement_request: str | None = None  # while the dossier waits on the applicant: what was asked
    payments: list = field(default_factory=list)  # the fees asked online (services.payments), oldest first


def _scoped(actor, view):
    query = WorkItem.for_actor(actor)
    if view == "mine":
        query = query.where(WorkItem.claimed_by == actor.id)
    elif view == "unclaimed":
        query = query.where(WorkItem.claimed_by.is_null())
    return query


def worklist(actor, view="all", limit=50, page=1, now=None, words="") -> Worklist:
    """A page of the centre's ready tasks the actor may do: overdue first, then by deadline (tasks
    without one last), then longest waiting; with the count of each view, of overdue and of due soon.
    With words, only the tasks of dossiers whose applicant (name, citizen ID, phone, email) or code
    they find (services.search: diacritics ignored); the counts stay the whole view's."""
    if view not in VIEWS:
        raise Invalid(f"view must be one of: {', '.join(VIEWS)}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be a whole number from 1 to {MAX_PAGE}")
    if not isinstance(page, int) or not 1 <= page <= 10_000:
        raise Invalid("page must be a whole number from 1 to 10000")
    now = now or utcnow()
    soon = deadlines.soon(actor.centre_id, now)
    holder = User.alias()
    query = (_scoped(actor, view)
             .select(WorkItem.id, WorkItem.name, WorkItem.element_id, WorkItem.lane, WorkItem.created_at,
                     WorkItem.due_at, WorkItem.claimed_by, Dossier.code, Dossier.applicant,
                     Procedure.name.alias("procedure_name"), holder.display_name.alias("holder"))
             .join(Dossier).join(Procedure).switch(WorkItem)
             .join(holder, JOIN.LEFT_OUTER, on=(WorkItem.claimed_by == holder.id)))
    matching = search.applicant_filter(words, [actor.centre_id])
    if matching is not None:
        query = query.where(matching)
    found = list(query.order_by(WorkItem.due_at.is_null(), WorkItem.due_at, WorkItem.created_at, WorkItem.id)
                 .limit(limit + 1).offset((page - 1) * limit).objects())
    more = len(found) > limit
    rows = [Row(w.id, w.name, w.element_id, w.lane, w.created_at, w.due_at, _urgency(w.due_at, now, soon), w.code,
                w.procedure_name, _applicant_name(w.applicant), w.holder, w.claimed_by_id == actor.id)
            for w in found[:limit]]
    counts = {v: _scoped(actor, v).select(fn.COUNT(WorkItem.id)).scalar() for v in VIEWS}
    counts["overdue"] = _scoped(actor, "all").where(WorkItem.due_at < now).select(fn.COUNT(WorkItem.id)).scalar()
    counts["soon"] = _scoped(actor, "all").where((WorkItem.due_at >= now) & (WorkItem.due_at < soon)).select(
        fn.COUNT(WorkItem.id)).scalar()
    return Worklist(rows, counts, page, more)


def _urgency(due_at, now, soon):
    if due_at is None:
        return None
    return "overdue" if due_at < now else "soon" if due_at < soon else None


def _applicant_name(applicant) -> str:
    if isinstance(applicant, dict):
        return str(applicant.get("name") or applicant.get("full_name") or "")
    return ""


def was_task_of(actor, task_id) -> bool:
    """Whether the id is of a task of the actor's centre that is no longer waiting (done or
    cancelled meanwhile): the desk then says so; any other id gets the same answer as no task."""
    return task_was_done(actor, task_id)


def task_page(actor, task_id) -> TaskPage:
    """Everything the desk's task page shows, for a ready task of the actor's centre."""
    item = get_work_item(actor, task_id)
    dossier = item.dossier
    model = model_for(dossier.version)
    try:
        data = engine().task_data(model, stored_state(dossier), item.id)
    except TaskNotReady as exc:
        raise Conflict(str(exc)) from None
    rows = sql.dossier_rows(dossier.id)
    dossier.procedure = Procedure.get_by_id(dossier.procedure.id)
    instructions = formdefs.render_instructions(model.instructions.get(item.element_id, ""), data)
    return TaskPage(item, dossier, data, task_form(dossier.version, item.form, data), instructions,
                    attachments.of_dossier(dossier), rows["history"], rows["tasks"], field_labels(dossier.version),
                    supplement_request_of(dossier), payments.of_dossier(dossier))


LEDGER_DAYS = 92


def ledger(actor, first, last, words="") -> list:
    """The centre's ledger (sổ theo dõi hồ sơ): dossiers received from `first` to `last` (local dates,
    at most three months), oldest first: (code, procedure, applicant, received, due, status). With
    words, only the dossiers whose applicant (name, citizen ID, phone, email) or code they find."""
    if last < first or (last - first).days > LEDGER_DAYS:
        raise Invalid(f"the period runs from the first date to the last, at most {LEDGER_DAYS} days")
    start = to_utc(datetime.combine(first, time()))
    end = to_utc(datetime.combine(last + timedelta(days=1), time()))
    rows = (Dossier.select(Dossier.code, Dossier.applicant, Dossier.created_at, Dossier.due_at, Dossier.status,
                           Procedure.name.alias("procedure_name"))
            .join(Procedure)
            .where((Dossier.centre == actor.centre_id) & (Dossier.created_at >= start) & (Dossier.created_at < end)))
    matching = search.applicant_filter(words, [actor.centre_id])
    if matching is not None:
        rows = rows.where(matching)
    rows = rows.order_by(Dossier.created_at, Dossier.id).limit(5000).objects()
    return [(d.code, d.procedure_name, _applicant_name(d.applicant), d.created_at, d.due_at, d.status) for d in rows]
