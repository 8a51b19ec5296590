"""Which dossier events outside systems hear of (webhooks), and their outbox rows.

`audit.record` calls `observe` for every event of a dossier, inside the event's transaction; at the
end of that unit of work (when the dossier's row holds its new status) a delivery row is written
for each active subscription of the dossier's centre that asked for the event: the row holds the
exact body the worker will post (services.webhooks sends it). An event that rolls back writes
nothing; an event that commits cannot lose its deliveries.

The events: an audit action names some outright (a dossier received, a step done, a supplement
requested, a dossier stopped, withdrawn or not accepted); the others are a change of the national
status the unit of work made (the result ready, the result handed over), told once per unit of
work however many audit events the unit wrote.
"""

from __future__ import annotations

import json
import threading
import uuid

from .. import sql
from ..db import LOCK_AUDIT, current_unit, defer
from ..models import WebhookSubscription, utcnow
from ..status import Status
from . import runtime

# event type -> what the back office calls it
EVENTS = {
    "dossier.received": "Hồ sơ được tiếp nhận",
    "dossier.step_done": "Một bước xử lý hoàn thành",
    "dossier.supplement_requested": "Yêu cầu bổ sung hồ sơ",
    "dossier.result_ready": "Đã có kết quả",
    "dossier.returned": "Đã trả kết quả",
    "dossier.stopped": "Dừng xử lý",
    "dossier.withdrawn": "Công dân rút hồ sơ",
    "dossier.not_accepted": "Không được tiếp nhận",
}
_BY_ACTION = {
    "dossier.started": "dossier.received",
    "task.completed": "dossier.step_done",  # an officer's step
    "service_call.completed": "dossier.step_done",  # a step an external-task worker did
    "dossier.supplement_requested": "dossier.supplement_requested",
    "dossier.stopped": "dossier.stopped",
    "dossier.withdrawn": "dossier.withdrawn",
    "dossier.not_accepted": "dossier.not_accepted",
}
_BY_STATUS = {Status.RESOLVED: "dossier.result_ready", Status.RETURNED: "dossier.returned"}

_DOSSIER = ('SELECT d."code", d."status", p."code", p."name", c."code", c."name", c."agency_code" '
            'FROM "dossier" d JOIN "procedure" p ON p."id" = d."procedure_id" JOIN "centre" c ON c."id" = d."centre_id" '
            'WHERE d."id" = ?')
_COLUMNS = ("subscription_id", "centre_id", "dossier_id", "event", "message_id", "payload", "status", "attempts",
            "next_attempt_at", "created_at")
# Which events a centre's active subscriptions want, per process: a dossier event of a centre with
# none costs no query. A write to the subscriptions bumps it (services.webhooks); other processes see
# the change within runtime.STAMP_CHECK_SECONDS.
SUBSCRIBED = runtime.SharedCache("webhook_subscriptions", seconds=300)
_UNKNOWN = object()
_told = threading.local()  # (the unit of work, the dossiers whose status change it has told of)


def observe(action: str, dossier, element_id=None, detail=None) -> None:
    """Note an audit event of a dossier; called by audit.record inside the event's transaction."""
    # The status before the event: none for a new dossier; unknown for a stand-in that carries none
    # (the trail's own migrations), which then announces no change of status.
    before = None if action == "dossier.started" else getattr(dossier, "status", _UNKNOWN)
    centre_id, dossier_id = dossier.centre_id, dossier.id
    defer((LOCK_AUDIT, centre_id or 0), lambda: _write(action, centre_id, dossier_id, before, element_id, detail))


def _status_unseen(dossier_id) -> bool:
    """Whether this unit of work has not yet told of the status change of this dossier (and now has)."""
    unit = current_unit()
    told = getattr(_told, "state", None)
    if told is None or told[0] is not unit:
        told = _told.state = (unit, set())
    if dossier_id in told[1]:
        return False
    told[1].add(dossier_id)
    return True


def wanted_by(centre_id) -> frozenset:
    """The events some active subscription of the centre wants (cached, see SUBSCRIBED)."""
    def load():
        rows = WebhookSubscription.select(WebhookSubscription.events).where(
            (WebhookSubscription.centre == centre_id) & WebhookSubscription.active).tuples()
        return frozenset(e for (text,) in rows for e in subscribed_events(text))
    return SUBSCRIBED.get(centre_id, load)


def _write(action, centre_id, dossier_id, before, element_id, detail) -> None:
    wanted = wanted_by(centre_id)
    if not wanted or (_BY_ACTION.get(action) not in wanted and wanted.isdisjoint(_BY_STATUS.values())):
        return  # the usual case: nobody listens (no query)
    subscriptions = list(WebhookSubscription.select(WebhookSubscription.id, WebhookSubscription.events)
                         .where((WebhookSubscription.centre == centre_id) & WebhookSubscription.active).tuples())
    if not subscriptions:
        return
    row = sql.run(_DOSSIER, (dossier_id,)).fetchone()
    if row is None:
        return
    code, status, procedure_code, procedure_name, centre_code, centre_name, agency_code = row
    events = [_BY_ACTION[action]] if action in _BY_ACTION else []
    status = Status(status)
    if status in _BY_STATUS and before is not _UNKNOWN and status != before and _status_unseen(dossier_id):
        events.append(_BY_STATUS[status])
    if not events:
        return
    now = utcnow()
    data = {"dossier": code, "procedure": {"code": procedure_code, "name": procedure_name},
            "status": {"code": status.value, "national_code": status.national_code, "name": status.national_name},
            "centre": {"code": centre_code, "name": centre_name, "agency_code": agency_code}}
    if _BY_ACTION.get(action) == "dossier.step_done":
        data["step"] = {"id": element_id, "name": (detail or {}).get("name")}
    rows = []
    for event in events:
        body = payload(event, now, data)
        for subscription_id, wanted in subscriptions:
            if event in subscribed_events(wanted):
                rows.append((subscription_id, centre_id, dossier_id, event, new_message_id(), body, "pending", 0,
                             now, now))
    sql.insert_rows("webhookdelivery", _COLUMNS, rows)


def payload(event: str, at, data: dict) -> str:
    """The body of a delivery, as posted (described in docs/integrations.md, webhooks)."""
    return json.dumps({"type": event, "timestamp": at.replace(microsecond=0).isoformat() + "Z", "data": data},
                      ensure_ascii=False, separators=(",", ":"))


def subscribed_events(text: str) -> set[str]:
    return {e for e in (text or "").split(",") if e}


def new_message_id() -> str:
    """A delivery's webhook-id: unique, and the same on every try so receivers can drop duplicates."""
    return f"msg_{uuid.uuid4().hex}"
