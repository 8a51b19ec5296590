"""What an administrator looks at first: the dossiers that need someone (incidents, overdue), how far
procedures have reached the communes, and whether the background work keeps up (timers firing,
messages to applicants going out). Everything is scoped like the back office's lists: the
administrator's centre, a province administrator's province, or the whole country.

Each figure has a named selection (`DOSSIER_LISTS`, `CENTRE_LISTS`) that the back office's lists
show, so a count and the list behind its link are the same query.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import Centre, Dossier, Notification, Procedure
from . import centres

# A timer this late has not fired: the worker (or the embedded timer thread) is not keeping up.
TIMER_GRACE = timedelta(minutes=5)
# A message to an applicant still unsent this long after it was due: the mail or SMS gateway is not answering.
NOTIFICATION_GRACE = timedelta(minutes=15)


def _dossier_conditions(now: datetime) -> dict:
    return {
        "incidents": Dossier.state == "error",
        "overdue": (Dossier.state == "active") & (Dossier.due_at < now) & Dossier.paused_at.is_null()
        & Dossier.resolved_at.is_null(),
        "active": Dossier.state == "active",
        "late_timers": (Dossier.state == "active") & (Dossier.next_timer_at < now - TIMER_GRACE),
        "unsent": Dossier.id.in_(Notification.select(Notification.dossier).where(
            (Notification.status == "failed") | ((Notification.status.in_(("pending", "sending")))
                                                 & (Notification.next_attempt_at < now - NOTIFICATION_GRACE)))),
    }


# The named selections of dossiers, in the order the landing page shows them.
DOSSIER_LISTS = ("incidents", "overdue", "active", "late_timers", "unsent")
CENTRE_LISTS = ("without_procedures",)


def _in_scope(query, column, actor):
    ids = centres.scope_ids(actor)
    return query if ids is None else query.where(column.in_(list(ids)))


def dossiers(actor, which: str, now: datetime):
    """The dossiers of one named selection (DOSSIER_LISTS) within the actor's scope, as a query."""
    return _in_scope(Dossier.select(), Dossier.centre, actor).where(_dossier_conditions(now)[which])


def _communes(actor):
    query = Centre.select().where((Centre.level == "commune") & Centre.closed_on.is_null())
    return _in_scope(query, Centre.id, actor)


def _with_procedures():
    return Procedure.select(Procedure.centre).where(Procedure.latest_version > 0)


def centre_list(actor, which: str):
    """The centres of one named selection (CENTRE_LISTS) within the actor's scope, as a query:
    `without_procedures`, the open communes that have not published or adopted any procedure yet."""
    if which != "without_procedures":
        raise KeyError(which)
    return _communes(actor).where(Centre.id.not_in(_with_procedures()))


@dataclass
class Overview:
    centres: int  # centres in scope
    procedures: int  # published procedures in scope
    communes: int  # open communes in scope
    communes_adopting: int  # of them, those with at least one published procedure
    dossiers: dict  # count per named selection of DOSSIER_LISTS
    notifications_failed: int  # messages to applicants given up on
    notifications_waiting: int  # messages overdue for sending (the gateway is slow or down)


def overview(actor, now: datetime) -> Overview:
    """The landing page's figures for this administrator's scope, read in one go."""
    communes = _communes(actor)
    unsent = _in_scope(Notification.select(), Notification.centre, actor)
    return Overview(
        centres=_in_scope(Centre.select(), Centre.id, actor).count(),
        procedures=_in_scope(Procedure.select(), Procedure.centre, actor).where(Procedure.latest_version > 0).count(),
        communes=communes.count(),
        communes_adopting=communes.where(Centre.id.in_(_with_procedures())).count(),
        dossiers={which: dossiers(actor, which, now).count() for which in DOSSIER_LISTS},
        notifications_failed=unsent.where(Notification.status == "failed").count(),
        notifications_waiting=unsent.where(Notification.status.in_(("pending", "sending"))
                                           & (Notification.next_attempt_at < now - NOTIFICATION_GRACE)).count(),
    )
