"""Webhooks (issue 21): outside systems a centre's administrator subscribes to its dossiers' events.

A subscription is a URL (on the centre's allowed hosts, as connectors: an internal address only if
listed), the events it wants, an on/off switch and its secrets. Deliveries follow Standard Webhooks
(https://www.standardwebhooks.com): headers webhook-id (the same on every try), webhook-timestamp and
webhook-signature, `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, space-separated,
signed with the `standardwebhooks` library. A secret (`whsec_` + base64) is made here, shown once,
and kept encrypted with the connector key. Rotation without downtime: add a secret (both sign every
delivery meanwhile), give it to the receiver, then retire the old one.

The outbox rows are written in the event's transaction (services.webhook_events). `send_due`, run by
the worker, claims each due row before posting it (two workers never post it twice), records every
try in the delivery log (status code, duration, error) and, when the receiver fails, tries again
after a pause that doubles each time, up to MAX_ATTEMPTS. A try cut short by a crash is tried again
later with the same webhook-id, which receivers use to drop a duplicate. The back office can replay
any delivery.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets as random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from .. import clock
from ..db import write_transaction
from ..models import WebhookAttempt, WebhookDelivery, WebhookSecret, WebhookSubscription, utcnow
from . import audit
from .connectors import ConnectorFailure, current, hosts
from .connectors import http as connector_http
from .errors import Conflict, Forbidden, Invalid, NotFound
from .webhook_events import EVENTS, SUBSCRIBED, subscribed_events

log = logging.getLogger("onestop.webhooks")

MANAGERS = ("admin", "province_admin", "system_admin")
MAX_ATTEMPTS = 10
FIRST_PAUSE = timedelta(seconds=30)  # before the second try; doubled before each next one
LONGEST_PAUSE = timedelta(hours=6)
STUCK = timedelta(minutes=5)  # a claimed delivery not finished by then was cut short (its worker died)
MAX_SECRETS = 3
MAX_SUBSCRIPTIONS = 50
_USER_AGENT = "onestop-webhooks"


def _manager(actor):
    if not actor.has_role(*MANAGERS):
        raise Forbidden("webhooks are managed by the centre's administrator")


def _checked(actor, url: str, events) -> tuple[str, str]:
    """The URL and the comma-separated events, or Invalid saying what is wrong."""
    url = (url or "").strip()
    if not url or len(url) > 500:
        raise Invalid("give the URL the events are posted to (at most 500 characters)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.username or parts.password or parts.fragment:
        raise Invalid("the URL is http(s)://host[:port]/path, with no user or password in it")
    try:
        hosts.check(actor.centre_id, url)
    except ConnectorFailure as failure:
        if not failure.retryable:  # a name that does not resolve now is checked again before each post
            raise Invalid(f"this URL is not allowed: {failure.message}") from None
    events = [e for e in (events or []) if e]
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Invalid(f"unknown events: {', '.join(unknown[:5])}; the events are {', '.join(EVENTS)}")
    if not events:
        raise Invalid("choose at least one event")
    return url, ",".join(e for e in EVENTS if e in events)


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def fingerprint(secret: str) -> str:
    """What the back office shows of a secret: a short hash of it (the receiver can compare)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def _keep_secret(actor, subscription_id) -> str:
    secret = new_secret()
    try:
        ciphertext = current().cipher.encrypt(secret.encode()).decode()
    except ConnectorFailure as failure:
        raise Invalid(failure.message) from None
    WebhookSecret.create(subscription=subscription_id, ciphertext=ciphertext, fingerprint=fingerprint(secret),
                         created_by=actor.id)
    return secret


def subscribe(actor, url: str, events, description: str = "", active: bool = True) -> tuple[WebhookSubscription, str]:
    """Subscribe an outside system of the actor's centre; returns it and its secret (shown once)."""
    _manager(actor)
    url, events = _checked(actor, url, events)
    with write_transaction():
        if WebhookSubscription.select().where(WebhookSubscription.centre == actor.centre_id).count() \
                >= MAX_SUBSCRIPTIONS:
            raise Invalid(f"a centre has at most {MAX_SUBSCRIPTIONS} webhook subscriptions")
        subscription = WebhookSubscription.create(centre=actor.centre_id, url=url, events=events, active=bool(active),
                                                  description=(description or "").strip()[:255], created_by=actor.id)
        secret = _keep_secret(actor, subscription.id)
        SUBSCRIBED.changed()
        audit.record("webhook.subscribed", actor, detail={"subscription": subscription.id, "url": url,
                                                          "events": events.split(",")})
    return subscription, secret


def subscription_of(actor, subscription_id) -> WebhookSubscription:
    """A subscription of the actor's centre (NotFound for another centre's)."""
    _manager(actor)
    found = WebhookSubscription.get_or_none((WebhookSubscription.id == subscription_id)
                                            & (WebhookSubscription.centre == actor.centre_id))
    if found is None:
        raise NotFound(f"no webhook subscription {subscription_id} in this centre")
    return found


def subscriptions_of(actor) -> list[WebhookSubscription]:
    _manager(actor)
    return list(WebhookSubscription.select().where(WebhookSubscription.centre == actor.centre_id)
                .order_by(WebhookSubscription.id))


def update(actor, subscription_id, url: str, events, description: str = "", active: bool = True):
    """Change a subscription's URL, events, description or switch."""
    subscription = subscription_of(actor, subscription_id)
    url, events = _checked(actor, url, events)
    with write_transaction():
        WebhookSubscription.update(url=url, events=events, description=(description or "").strip()[:255],
                                   active=bool(active), updated_at=utcnow()).where(
            WebhookSubscription.id == subscription.id).execute()
        SUBSCRIBED.changed()
        audit.record("webhook.updated", actor, detail={"subscription": subscription.id, "url": url,
                                                       "events": events.split(","), "active": bool(active)})
    return subscription_of(actor, subscription_id)


def unsubscribe(actor, subscription_id) -> None:
    """Delete a subscription with its secrets and its delivery log."""
    subscription = subscription_of(actor, subscription_id)
    with write_transaction():
        WebhookSubscription.delete().where(WebhookSubscription.id == subscription.id).execute()
        SUBSCRIBED.changed()
        audit.record("webhook.unsubscribed", actor, detail={"subscription": subscription.id, "url": subscription.url})


def secrets_of(subscription) -> list[WebhookSecret]:
    """A subscription's secrets, oldest first (fingerprints and dates; never their values)."""
    return list(WebhookSecret.select(WebhookSecret.id, WebhookSecret.fingerprint, WebhookSecret.created_at)
                .where(WebhookSecret.subscription == subscription.id).order_by(WebhookSecret.id))


def add_secret(actor, subscription_id) -> str:
    """Start a rotation: a new secret (returned, shown once) signs every delivery beside the old ones."""
    subscription = subscription_of(actor, subscription_id)
    with write_transaction():
        if WebhookSecret.select().where(WebhookSecret.subscription == subscription.id).count() >= MAX_SECRETS:
            raise Conflict(f"a subscription has at most {MAX_SECRETS} secrets: retire an old one first")
        secret = _keep_secret(actor, subscription.id)
        audit.record("webhook.secret_added", actor, detail={"subscription": subscription.id,
                                                            "fingerprint": fingerprint(secret)})
    return secret


def retire_secret(actor, subscription_id, secret_id) -> None:
    """End a rotation: the old secret signs nothing more. The last secret cannot be retired."""
    subscription = subscription_of(actor, subscription_id)
    with write_transaction():
        secret = WebhookSecret.get_or_none((WebhookSecret.id == secret_id)
                                           & (WebhookSecret.subscription == subscription.id))
        if secret is None:
            raise NotFound(f"no secret {secret_id} in this subscription")
        if WebhookSecret.select().where(WebhookSecret.subscription == subscription.id).count() <= 1:
            raise Conflict("this is the subscription's only secret: add a new one before retiring it")
        secret.delete_instance()
        audit.record("webhook.secret_retired", actor, detail={"subscription": subscription.id,
                                                              "fingerprint": secret.fingerprint})


def deliveries_of(actor, subscription_id, limit=100) -> list[WebhookDelivery]:
    """The subscription's latest deliveries, newest first (the delivery log)."""
    subscription = subscription_of(actor, subscription_id)
    return list(WebhookDelivery.select().where(WebhookDelivery.subscription == subscription.id)
                .order_by(WebhookDelivery.id.desc()).limit(limit))


def delivery_of(actor, delivery_id) -> WebhookDelivery:
    _manager(actor)
    found = WebhookDelivery.get_or_none((WebhookDelivery.id == delivery_id)
                                        & (WebhookDelivery.centre == actor.centre_id))
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id} in this centre")
    return found


def attempts_of(actor, delivery_id) -> list[WebhookAttempt]:
    """Every try of a delivery, first first."""
    delivery = delivery_of(actor, delivery_id)
    return list(WebhookAttempt.select().where(WebhookAttempt.delivery == delivery.id).order_by(WebhookAttempt.id))


def replay(actor, delivery_id) -> WebhookDelivery:
    """Post a delivery again (delivered or failed): due now, with the same webhook-id and body."""
    delivery = delivery_of(actor, delivery_id)
    with write_transaction():
        moved = WebhookDelivery.update(status="pending", next_attempt_at=utcnow(), replayed_by=actor.id)
        if not moved.where((WebhookDelivery.id == delivery.id) & (WebhookDelivery.status != "sending")).execute():
            raise Conflict("this delivery is being sent right now; look again in a moment")
        audit.record("webhook.replayed", actor, detail={"delivery": delivery.id, "event": delivery.event,
                                                        "message_id": delivery.message_id})
    return delivery_of(actor, delivery_id)


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def signature_headers(message_id: str, body: bytes, secrets: list[str], at: float | None = None) -> dict:
    """The Standard Webhooks headers of a body, signed with every one of `secrets`."""
    timestamp = datetime.fromtimestamp(int(at if at is not None else clock.wall_seconds()), UTC)
    signatures = " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signatures, "Content-Type": "application/json", "User-Agent": _USER_AGENT}


def _secrets(subscription_id) -> list[str]:
    cipher = current().cipher
    return [cipher.decrypt(row.ciphertext.encode()).decode() for row in
            WebhookSecret.select(WebhookSecret.ciphertext).where(WebhookSecret.subscription == subscription_id)
            .order_by(WebhookSecret.id)]


def post(centre_id, url: str, message_id: str, body: bytes, secrets: list[str]) -> Outcome:
    """One try: the URL checked against the centre's allowed hosts again (its name may resolve
    elsewhere now), then posted to the checked address. Never raises for the receiver's failures."""
    options = current()
    started = time.monotonic()
    status = None
    try:
        target = hosts.check(centre_id, url)
        status, _mimetype, _raw = connector_http._send(target, "POST", signature_headers(message_id, body, secrets),
                                                       body, options)
    except ConnectorFailure as failure:
        error = failure.message
    else:
        error = None if 200 <= status < 300 else f"the receiver answered HTTP {status}"
    return Outcome(status, int((time.monotonic() - started) * 1000), error)


def pause_after(attempt: int) -> timedelta:
    """How long before the next try after the `attempt`-th failed: 30 s, 1 min, 2 min... at most 6 h."""
    return min(FIRST_PAUSE * 2 ** (attempt - 1), LONGEST_PAUSE)


def send_due(limit=100, now=None) -> int:
    """Post the deliveries that are due, of active subscriptions; returns how many were delivered.
    Once a receiver fails, its other due deliveries wait for the next round (a receiver that is down
    or slow costs a round one timeout, not one per delivery, and holds up nobody else's for long)."""
    now = now or utcnow()
    # A try cut short (its worker killed): tried again, with the same webhook-id.
    WebhookDelivery.update(status="pending", next_attempt_at=now).where(
        (WebhookDelivery.status == "sending") & (WebhookDelivery.claimed_at < now - STUCK)).execute()
    due = list(WebhookDelivery.select(WebhookDelivery, WebhookSubscription)
               .join(WebhookSubscription)
               .where((WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now)
                      & WebhookSubscription.active)
               .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    delivered, failing = 0, set()
    for row in due:
        if row.subscription.id in failing:
            continue  # its receiver just failed: its other rows wait for the next round, untried
        claimed = (WebhookDelivery.update(status="sending", claimed_at=now, attempts=WebhookDelivery.attempts + 1)
                   .where((WebhookDelivery.id == row.id) & (WebhookDelivery.status == "pending")).execute())
        if not claimed:
            continue  # another worker has it
        attempt = row.attempts + 1
        try:
            outcome = post(row.centre_id, row.subscription.url, row.message_id, row.payload.encode(),
                           _secrets(row.subscription.id))
        except Exception as exc:  # a fault of ours (no key, a damaged secret): logged, kept, tried again
            log.error("webhook delivery %s could not be signed: %r", row.id, exc)
            outcome = Outcome(None, 0, "the delivery could not be signed (see the server's log)")
        _record(row, attempt, outcome, now)
        delivered += outcome.delivered
        if not outcome.delivered:
            failing.add(row.subscription.id)
    return delivered


def _record(row, attempt: int, outcome: Outcome, now) -> None:
    failed = not outcome.delivered and attempt >= MAX_ATTEMPTS
    status = "delivered" if outcome.delivered else "failed" if failed else "pending"
    with write_transaction():
        WebhookAttempt.create(delivery=row.id, attempt=attempt, at=utcnow(), status_code=outcome.status_code,
                              duration_ms=outcome.duration_ms, error=outcome.error, replayed_by=row.replayed_by_id)
        WebhookDelivery.update(
            status=status, replayed_by=None, last_status_code=outcome.status_code, last_error=outcome.error,
            delivered_at=utcnow() if outcome.delivered else WebhookDelivery.delivered_at,
            next_attempt_at=now + pause_after(attempt) if status == "pending" else WebhookDelivery.next_attempt_at,
        ).where((WebhookDelivery.id == row.id) & (WebhookDelivery.status == "sending")).execute()
    if not outcome.delivered:
        log.warning("webhook delivery %s (%s) to %s failed (try %d): %s", row.id, row.event, row.subscription.url,
                    attempt, outcome.error)


__all__ = ["EVENTS", "MAX_ATTEMPTS", "Outcome", "add_secret", "attempts_of", "deliveries_of", "delivery_of",
           "fingerprint", "new_secret", "pause_after", "post", "replay", "retire_secret", "send_due",
           "signature_headers", "subscribe", "subscribed_events", "subscription_of", "subscriptions_of",
           "unsubscribe", "update"]
