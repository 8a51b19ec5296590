"""What happens to every dossier without being modelled: the applicant is asked for supplementary
documents (the clock stops), supplies them (the clock resumes by the procedure's policy: the waited
time is added, or the full period runs again), and so on. Each verb updates the dossier's national
status, its deadlines and writes its audit event in one transaction.
"""

from datetime import date

from peewee import IntegrityError, fn

from ..db import run_write
from ..engine import NotWaiting
from ..formdefs import FieldError
from ..models import RATING_LEVELS, AuditEvent, Dossier, Rating, utcnow
from ..status import ENDED, WITH_RESULT, Status
from ..workdays import to_local, to_utc
from . import attachments, audit, clockstops, deadlines, notify, stats
from .dossiers import get_dossier, stored_state, track
from .errors import Conflict, Invalid
from .national_portal import outbox as portal_outbox
from .procedures import model_for
from .runtime import engine, on_behalf_of
from .steps import moved, save_step

REASON_LIMIT = 4000


def request_supplement(actor, code, reason: str) -> Dossier:
    """Ask the applicant for supplementary documents: the dossier's clock stops until they arrive."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LIMIT:
        raise Invalid(f"say what is missing (1-{REASON_LIMIT} characters)",
                      field_errors=[FieldError("reason", "required", "say what is missing")])
    dossier = get_dossier(actor, code)
    if dossier.state != "active":
        raise Conflict(f"dossier {dossier.code} is {dossier.state}")
    if dossier.paused_at is not None:
        raise Conflict(f"dossier {dossier.code} already waits on the applicant ({dossier.status})")
    status = moved(dossier, Status.SUPPLEMENT_REQUESTED)
    now = utcnow()

    def write():
        updated = (Dossier.update(status=status, paused_at=now, updated_at=now)
                   .where((Dossier.id == dossier.id) & Dossier.paused_at.is_null()).execute())
        if not updated:
            raise Conflict(f"dossier {dossier.code} already waits on the applicant ({dossier.status})")
        clockstops.stopped(dossier, actor, clockstops.SUPPLEMENT, reason)
        portal_outbox.status_changed(dossier.id, status, now)

    run_write(write)
    dossier.status, dossier.paused_at = status, now
    return dossier


def supplement_received(actor, code, note="", uploads=None, dossier=None) -> Dossier:
    """The applicant's supplement has arrived (at the counter, or online): the clock resumes."""
    dossier = dossier or get_dossier(actor, code)
    if dossier.status != Status.SUPPLEMENT_REQUESTED or dossier.paused_at is None:
        raise Conflict(f"dossier {dossier.code} is not waiting for a supplement")
    status = moved(dossier, Status.PROCESSING)
    blobs = [attachments.check("supplement", upload) for upload in (uploads or {}).values()]
    attachments.keep(blobs)
    now = utcnow()
    plan = _plan(dossier)

    def write():
        updated = (Dossier.update(status=status, updated_at=now)
                   .where((Dossier.id == dossier.id) & (Dossier.paused_at == dossier.paused_at)).execute())
        if not updated:
            raise Conflict(f"dossier {dossier.code} was changed meanwhile; reload it")
        clockstops.resume(dossier, actor, plan, now, clockstops.SUPPLEMENT,
                          detail={"note": (note or "")[:REASON_LIMIT], "files": [b.name for b in blobs]})
        portal_outbox.status_changed(dossier.id, status, now)
        attachments.record(blobs, dossier, actor)

    run_write(write)
    dossier.status, dossier.paused_at = status, None
    return Dossier.get_by_id(dossier.id)


def supplement_online(code, key, note="", uploads=None) -> Dossier:
    """The applicant supplies the documents through the portal, with the dossier's code and lookup key."""
    from .users import portal_user

    dossier = track(code, key)
    if dossier.status != Status.SUPPLEMENT_REQUESTED:
        raise Conflict("this dossier is not waiting for documents from you")
    if not uploads:
        raise Invalid("attach the documents asked for",
                      field_errors=[FieldError("files", "required", "attach the documents asked for")])
    return supplement_received(portal_user(dossier.centre), code, note, uploads, dossier=dossier)


# The audit event of each way to end a dossier (the statuses that end one: onestop.status.ENDED).
ENDINGS = {status: f"dossier.{status}" for status in ENDED}


def end(actor, code, how: str, reason: str, dossier=None) -> Dossier:
    """End a dossier where it stands: every open step is cancelled, the clock stops for good, and the
    national status says how (withdrawn, stopped, not accepted)."""
    if how not in ENDINGS:
        raise Invalid(f"how must be one of: {', '.join(ENDINGS)}")
    reason = _reason(reason)
    dossier = dossier or get_dossier(actor, code)
    if dossier.state not in ("active", "error"):
        raise Conflict(f"dossier {dossier.code} is already {dossier.status}")
    how = moved(dossier, how)  # e.g. a dossier already being processed is stopped, not refused
    model = model_for(dossier.version)
    with on_behalf_of(dossier.centre_id, model):
        step = engine().cancel(model, stored_state(dossier))
    saved = save_step(dossier, step, actor, ENDINGS[how], None, {"reason": reason}, status=how)
    return saved


def withdraw_online(code, key, reason="") -> Dossier:
    """The applicant withdraws the dossier through the portal, with its code and lookup key."""
    from .users import portal_user

    dossier = track(code, key)
    return end(portal_user(dossier.centre), code, Status.WITHDRAWN, reason or "Người nộp rút hồ sơ", dossier=dossier)


def apologise(actor, code, new_due, reason: str) -> Dossier:
    """Before a deadline is missed: the formal apology and a new return date (a local date)."""
    if not isinstance(new_due, date):
        raise Invalid("new_due must be a date", field_errors=[FieldError("new_due", "required", "give the new date")])
    reason = _reason(reason)
    dossier = get_dossier(actor, code)
    now = utcnow()
    if dossier.state != "active" or dossier.due_at is None:
        raise Conflict(f"dossier {dossier.code} has no running deadline to move")
    if dossier.due_at <= now:
        raise Conflict(f"the deadline of {dossier.code} has passed: the apology had to come before it")
    calendar = deadlines.calendar_for(dossier.centre_id)
    if new_due <= to_local(dossier.due_at).date() or not calendar.is_working_day(new_due):
        raise Invalid("the new date must be a working day after the current one",
                      field_errors=[FieldError("new_due", "minimum", "must be a working day after the current date")])
    due, before = to_utc(calendar.closing(new_due)), dossier.due_at
    dossier.due_at = due  # what the applicant is told; the unit of work below may run twice

    def write():
        Dossier.update(due_at=due, updated_at=now, apologised_at=fn.COALESCE(Dossier.apologised_at, now)).where(
            Dossier.id == dossier.id).execute()
        audit.record("dossier.apology", actor, dossier=dossier, detail={
            "reason": reason, "from": before.isoformat(), "to": due.isoformat()})
        notify.queue(dossier, "apology", reason=reason)

    run_write(write)
    return dossier


def _reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LIMIT:
        raise Invalid(f"give the reason (1-{REASON_LIMIT} characters)",
                      field_errors=[FieldError("reason", "required", "give the reason")])
    return reason


def ending_of(dossier) -> str | None:
    """Why a dossier was ended (withdrawn, stopped, not accepted), as recorded; else None."""
    if dossier.status not in ENDINGS:
        return None
    event = (AuditEvent.select(AuditEvent.detail)
             .where((AuditEvent.dossier == dossier.id) & (AuditEvent.action == ENDINGS[dossier.status]))
             .order_by(AuditEvent.id.desc()).first())
    return (event.detail or {}).get("reason") if event else None


def supplement_request_of(dossier) -> str | None:
    """What the applicant was last asked to supply, while the dossier waits for it."""
    if dossier.status != Status.SUPPLEMENT_REQUESTED:
        return None
    event = (AuditEvent.select(AuditEvent.detail)
             .where((AuditEvent.dossier == dossier.id) & (AuditEvent.action == "dossier.supplement_requested"))
             .order_by(AuditEvent.id.desc()).first())
    return (event.detail or {}).get("reason") if event else None


def _plan(dossier):
    try:
        return deadlines.plan(model_for(dossier.version).metadata)
    except ValueError:
        return None


def failed(actor, limit=200) -> list[Dossier]:
    """The centre's dossiers held up by a failed step, most recent first (the back office's incidents)."""
    return list(Dossier.select().where((Dossier.centre == actor.centre_id) & (Dossier.state == "error"))
                .order_by(Dossier.updated_at.desc()).limit(limit))


def recover(actor, code, how: str) -> Dossier:
    """A dossier in error: run its failed step again (`retry`) or pass it as done (`skip`). Audited."""
    if how not in ("retry", "skip"):
        raise Invalid("how must be retry or skip")
    dossier = get_dossier(actor, code)
    if dossier.state != "error":
        raise Conflict(f"dossier {dossier.code} is not held up by a failed step")
    model = model_for(dossier.version)
    try:
        with on_behalf_of(dossier.centre_id, model):
            step = (engine().retry if how == "retry" else engine().skip)(model, stored_state(dossier))
    except NotWaiting as exc:
        raise Conflict(str(exc)) from None
    return save_step(dossier, step, actor, f"dossier.{'retried' if how == 'retry' else 'step_skipped'}",
                     dossier.error_element, {"error": dossier.error_message})


def rate(code, key, level, comment="", channel="portal") -> Rating:
    """The citizen's rating of a dossier whose result is ready, with its code and lookup key; one
    per dossier. It counts for the units and officials who handled it (services.stats)."""
    dossier = track(code, key)  # first: a wrong code or key is a 404 whatever else is wrong
    if level not in RATING_LEVELS:
        raise Invalid(f"level must be one of: {', '.join(RATING_LEVELS)}",
                      field_errors=[FieldError("level", "enum", "choose how satisfied you are")])
    comment = (comment or "").strip()
    if len(comment) > REASON_LIMIT:
        raise Invalid(f"the comment is longer than {REASON_LIMIT} characters")
    if dossier.status not in WITH_RESULT:
        raise Conflict("a dossier is rated once its result is ready")

    def write():
        try:
            rating = Rating.create(dossier=dossier.id, level=level, comment=comment or None, channel=channel)
        except IntegrityError:
            raise Conflict("this dossier has been rated already") from None
        audit.record("dossier.rated", None, dossier=dossier, detail={"level": level})
        stats.count_rating(dossier, level, rating.at)
        return rating

    return run_write(write)


def rating_of(dossier) -> Rating | None:
    return Rating.get_or_none(Rating.dossier == dossier.id)
