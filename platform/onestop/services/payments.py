"""Fees paid online: the catalogue's fee of a procedure becomes a payment request on the dossier,
paid through the payment gateway (services.payment_gateway), confirmed by the gateway's server
notification (IPN) or, when that is lost, by the reconciliation's query, and refunded when the
dossier is refused.

A procedure asks for it in procedure.json:

    "payment": {"when": "submission" | "before_result", "amount_variable": "fee_total",
                "refund_on_refusal": true}

The amount is the workflow's variable `amount_variable` (a business rule task, i.e. a DMN table,
computes it from the form's data as the engine runs) or else the record's `fee_vnd` when it is a
whole number. Nothing is asked where no gateway is configured (the fee is paid at the counter,
as before). "submission": an online dossier waits in "awaiting payment" from its submission,
its clock stopped, until paid (then it is "new" again, its due time moved by the time waited).
"before_result": when the work leads the dossier to "resolved", it waits in "awaiting payment"
instead, and its result cannot be handed over until paid.

Notifications are checked before anything changes: the signature (HMAC-SHA512 under the
merchant's secret), the order (ours), the amount (the one asked); the same one sent again changes
nothing. Every refusal and replay is an audit event. A failure to reach the gateway (down, slow,
malformed answer) is kept on the payment as an incident that the worker retries with backoff.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from ..db import run_write
from ..models import Dossier, Payment, utcnow
from ..status import ENDED, Status, transition
from . import audit, clockstops, notify, runtime
from .errors import Conflict, NotFound
from .lookup import track
from .national_portal import outbox as portal_outbox

log = logging.getLogger("onestop.payments")
WHEN = ("submission", "before_result")
CHECK_AFTER = timedelta(minutes=5)  # a payment still pending this long is asked of the gateway
BACKOFF = timedelta(minutes=1)  # after a failed call, doubled each time, at most MAX_BACKOFF
MAX_BACKOFF = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=3)  # a pending payment the gateway never heard of stops being asked


class GatewayUnavailable(Conflict):
    """No gateway is configured, or it cannot be reached now: the applicant is told to try later."""


def terms(metadata: dict | None) -> dict | None:
    """The procedure's payment terms (procedure.json "payment"), or None when it takes no online payment."""
    found = (metadata or {}).get("payment")
    if not isinstance(found, dict) or found.get("when") not in WHEN:
        return None
    return found


def amount_owed(metadata: dict | None, data: dict | None) -> int:
    """The fee (VND) owed by the terms: the workflow's `amount_variable`, else the record's whole
    `fee_vnd`; 0 when none can be read (a fee the council sets, stated only in words)."""
    found = terms(metadata)
    if found is None:
        return 0
    name = found.get("amount_variable")
    value = (data or {}).get(name) if isinstance(name, str) else (metadata or {}).get("fee_vnd")
    if isinstance(value, bool):
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= 10**12 else 0


def request_at_submission(dossier, model, data, now) -> Payment | None:
    """In the new online dossier's unit of work: the payment request if the procedure asks to be
    paid at submission; the dossier then awaits payment, its clock stopped."""
    found = terms(model.metadata)
    if found is None or found["when"] != "submission" or dossier.status != Status.NEW or not _online():
        return None
    amount = amount_owed(model.metadata, data)
    if not amount:
        return None
    payment = _new(dossier, amount, "submission", Status.NEW, found, now)
    Dossier.update(status=Status.AWAITING_FINANCIAL_OBLIGATION, paused_at=now).where(Dossier.id == dossier.id).execute()
    clockstops.stopped(dossier, None, clockstops.FINANCIAL_OBLIGATION)
    dossier.status, dossier.paused_at = Status.AWAITING_FINANCIAL_OBLIGATION, now
    return payment


def owed_before_result(dossier, model, after, data) -> int:
    """The fee the step must stop for: the work leads the dossier to "resolved" and the procedure
    asks to be paid before the result, and it has not been paid yet; else 0."""
    found = terms(model.metadata if model is not None else None)
    if found is None or found["when"] != "before_result" or after != Status.RESOLVED or not _online():
        return 0
    if dossier.status == Status.RESOLVED or Payment.select().where(
            (Payment.dossier == dossier.id) & (Payment.stage == "before_result")).exists():
        return 0
    return amount_owed(model.metadata, data)


def _online() -> bool:
    """Whether fees can be paid online here: without a gateway nothing is asked (paid at the counter)."""
    return runtime.current().payments is not None


def request_before_result(dossier, model, amount, now) -> Payment:
    """In the step's unit of work: the result is ready but waits for the fee (the caller stopped the clock)."""
    return _new(dossier, amount, "before_result", Status.RESOLVED, terms(model.metadata), now)


def _new(dossier, amount, stage, resumes, found, now) -> Payment:
    number = Payment.select().where(Payment.dossier == dossier.id).count() + 1
    payment = Payment.create(centre=dossier.centre_id, dossier=dossier.id, order_ref=f"{dossier.code}-P{number}",
                             amount=amount, stage=stage, resumes=resumes,
                             refund_on_refusal=bool(found.get("refund_on_refusal")),
                             next_check_at=now + CHECK_AFTER, created_at=now, updated_at=now)
    audit.record("payment.requested", None, dossier=dossier,
                 detail={"order": payment.order_ref, "amount": amount, "stage": stage})
    return payment


def of_dossier(dossier) -> list[Payment]:
    """The dossier's payment requests, oldest first."""
    return list(Payment.select().where(Payment.dossier == dossier.id).order_by(Payment.id))


def pending_of(dossier) -> Payment | None:
    """The request the applicant can pay now, if any."""
    return (Payment.select().where((Payment.dossier == dossier.id) & (Payment.state == "pending"))
            .order_by(Payment.id).first())


def gateway():
    """The configured payment gateway; GatewayUnavailable when there is none."""
    found = runtime.current().payments
    if found is None:
        raise GatewayUnavailable("online payment is not available at this centre")
    return found


def checkout(code, key, return_url, ip, locale="vn") -> str:
    """The gateway's address to send the applicant to, to pay their dossier's pending fee (its code
    and lookup key); Conflict when there is nothing to pay."""
    return checkout_dossier(track(code, key), return_url, ip, locale)


def checkout_dossier(dossier, return_url, ip, locale="vn") -> str:
    """The gateway's address to pay a dossier's pending fee, the caller having said whose dossier
    it is (its lookup key, or the signed-in citizen's identity); Conflict when there is nothing to pay."""
    from .payment_gateway import payment_url

    payment = pending_of(dossier)
    if payment is None:
        raise Conflict("this dossier has no fee to pay")
    info = f"Thanh toan le phi ho so {dossier.code}"
    return payment_url(gateway(), payment.order_ref, payment.amount, info, return_url, ip, utcnow(), locale)


def notification(params: dict) -> tuple[str, str]:
    """The gateway's server notification (IPN) of an order's payment: (RspCode, Message) to answer
    it. Checked in this order, nothing changed on a refusal, each refusal audited: the signature
    (97), the order (01), the amount (04); an order already settled changes nothing (02)."""
    from . import payment_gateway as pg

    params = {str(k): str(v)[:500] for k, v in (params or {}).items()}
    ref = params.get("vnp_TxnRef", "")
    if not pg.verify(params, gateway().secret):
        return _refused(pg.IPN_BAD_SIGNATURE, ref, "signature")
    payment = Payment.get_or_none(Payment.order_ref == ref)
    if payment is None:
        return _refused(pg.IPN_UNKNOWN_ORDER, ref, "unknown order")
    if params.get("vnp_Amount") != str(payment.amount * 100):
        return _refused(pg.IPN_WRONG_AMOUNT, ref, "amount", payment, given=params.get("vnp_Amount"))
    if payment.state not in ("pending", "cancelled"):
        _audit(payment, "payment.notification_replayed", {"order": ref, "state": payment.state})
        return pg.IPN_ALREADY_CONFIRMED, pg.IPN_MESSAGES[pg.IPN_ALREADY_CONFIRMED]
    if params.get("vnp_ResponseCode") == pg.PAID and params.get("vnp_TransactionStatus") == pg.PAID:
        if not settle(payment, params.get("vnp_TransactionNo", ""), params.get("vnp_BankCode", ""), "notification"):
            _audit(payment, "payment.notification_replayed", {"order": ref, "state": "paid"})
            return pg.IPN_ALREADY_CONFIRMED, pg.IPN_MESSAGES[pg.IPN_ALREADY_CONFIRMED]
    else:
        _audit(payment, "payment.not_paid", {"order": ref, "code": params.get("vnp_ResponseCode")})
    return pg.IPN_CONFIRMED, pg.IPN_MESSAGES[pg.IPN_CONFIRMED]


def _refused(code, ref, why, payment=None, **detail) -> tuple[str, str]:
    from .payment_gateway import IPN_MESSAGES

    log.warning("payment notification refused (%s) for order %r", why, ref[:64])
    detail = {"order": ref[:64], "reason": why, **detail}
    if payment is not None:
        _audit(payment, "payment.notification_refused", detail)
    else:
        run_write(lambda: audit.record("payment.notification_refused", None, detail=detail))
    return code, IPN_MESSAGES[code]


def _audit(payment, action, detail) -> None:
    dossier = Dossier.get_by_id(payment.dossier_id)
    run_write(lambda: audit.record(action, None, dossier=dossier, detail=detail))


def settle(payment, transaction_no, bank_code, how) -> bool:
    """Record the payment as paid (once: False if it was already), give it its receipt number and
    let the dossier go on: its clock runs again and it takes the status it waited in. A payment
    for a dossier that has ended meanwhile is due back to the applicant."""
    now = utcnow()

    def write():
        # The dossier's row first (docs/architecture.md, "Lock order"): a step ending it meanwhile
        # takes it before its payments too.
        Dossier.update(updated_at=now).where(Dossier.id == payment.dossier_id).execute()
        updated = (Payment.update(state="paid", paid_at=now, transaction_no=transaction_no[:64] or None,
                                  bank_code=bank_code[:32] or None, receipt_no=receipt_number(payment.id, now),
                                  incident=None, attempts=0, next_check_at=None, updated_at=now)
                   .where((Payment.id == payment.id) & Payment.state.in_(("pending", "cancelled"))).execute())
        if not updated:
            return False
        dossier = Dossier.get_by_id(payment.dossier_id)
        audit.record("payment.paid", None, dossier=dossier, detail={
            "order": payment.order_ref, "amount": payment.amount, "transaction": transaction_no, "how": how,
            "receipt": receipt_number(payment.id, now)})
        if dossier.status in ENDED:
            _refund_due(payment.id, now)
        elif dossier.status == Status.AWAITING_FINANCIAL_OBLIGATION and dossier.paused_at is not None:
            _resume(dossier, Status(payment.resumes or Status.PROCESSING), now)
        return True

    return run_write(write)


def receipt_number(payment_id: int, paid_at: datetime) -> str:
    """The receipt's number the applicant's slip shows: BL-<date paid>-<the payment's number>."""
    return f"BL-{paid_at:%Y%m%d}-{payment_id:06d}"


def _resume(dossier, status, now) -> None:
    from .procedures import model_for
    from .steps import deadline_plan

    status = transition(dossier.status, status)
    Dossier.update(status=status, updated_at=now).where(Dossier.id == dossier.id).execute()
    portal_outbox.status_changed(dossier.id, status, now)  # the portal hears of every move, this one too
    clockstops.resume(dossier, None, deadline_plan(model_for(dossier.version)), now, clockstops.FINANCIAL_OBLIGATION)
    if status == Status.RESOLVED:  # the result waited for its fee: the applicant hears of it now
        notify.queue(dossier, "resolved", dossier.procedure.name)


def browser_return(params: dict) -> tuple[Dossier | None, str]:
    """Where the gateway sent the applicant back: (their dossier, "paid" | "pending" | "not_paid" |
    "invalid"). It changes nothing by itself (the notification does); a paid result not yet
    notified is asked of the gateway at once, so that the applicant sees it settled."""
    from . import payment_gateway as pg

    params = {str(k): str(v)[:500] for k, v in (params or {}).items()}
    found = runtime.current().payments
    payment = Payment.get_or_none(Payment.order_ref == params.get("vnp_TxnRef", ""))
    if found is None or payment is None or not pg.verify(params, found.secret):
        return None, "invalid"
    dossier = Dossier.get_by_id(payment.dossier_id)
    if params.get("vnp_ResponseCode") != pg.PAID:
        return dossier, "paid" if payment.state != "pending" else "not_paid"
    if payment.state == "pending":
        check(payment)
        payment = Payment.get_by_id(payment.id)
    return Dossier.get_by_id(payment.dossier_id), "pending" if payment.state == "pending" else "paid"


def check(payment, now=None) -> str:
    """Ask the gateway what became of a pending order (reconciliation) and settle it if it was paid;
    a refund that is due is made. The payment's state after; a failure to reach the gateway is
    kept as its incident, retried later."""
    from . import payment_gateway as pg

    now = now or utcnow()
    info = f"Thanh toan le phi ho so {payment.order_ref}"
    try:
        if payment.state == "refund_due":
            answer = pg.refund(gateway(), payment.order_ref, payment.amount, payment.transaction_no or "", info,
                               payment.paid_at or now, now, "onestop")
            return _refunded(payment, answer, now)
        answer = pg.query(gateway(), payment.order_ref, info, payment.created_at, now)
    except pg.GatewayError as exc:
        return _incident(payment, exc.kind, str(exc), now)
    except GatewayUnavailable as exc:
        return _incident(payment, "none", str(exc), now)
    paid = answer.get("vnp_ResponseCode") == pg.PAID and answer.get("vnp_TransactionStatus") == pg.PAID
    if paid and answer.get("vnp_Amount") == str(payment.amount * 100):
        settle(payment, str(answer.get("vnp_TransactionNo") or ""), str(answer.get("vnp_BankCode") or ""),
               "reconciliation")
        return "paid"
    late = now - payment.created_at > GIVE_UP_AFTER
    Payment.update(incident=None, attempts=0, updated_at=now,
                   next_check_at=None if late else now + CHECK_AFTER).where(Payment.id == payment.id).execute()
    return payment.state


def _refunded(payment, answer, now) -> str:
    if answer.get("vnp_ResponseCode") not in ("00", "94"):  # 94: refunded already (a retry after a lost answer)
        return _incident(payment, "refused", f"the gateway refused the refund (code {answer.get('vnp_ResponseCode')})",
                         now)

    def write():
        if Payment.update(state="refunded", refunded_at=now, incident=None, attempts=0, next_check_at=None,
                          updated_at=now).where((Payment.id == payment.id)
                                                & (Payment.state == "refund_due")).execute():
            audit.record("payment.refunded", None, dossier=Dossier.get_by_id(payment.dossier_id),
                         detail={"order": payment.order_ref, "amount": payment.amount})

    run_write(write)
    return "refunded"


def _incident(payment, kind, message, now) -> str:
    """Keep the failure on the payment (the officers see it), retry later with backoff, audit it."""
    attempts = payment.attempts + 1
    wait = min(BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)

    def write():
        Payment.update(incident=f"{kind}: {message}"[:1000], attempts=attempts, next_check_at=now + wait,
                       updated_at=now).where(Payment.id == payment.id).execute()
        audit.record("payment.gateway_failed", None, dossier=Dossier.get_by_id(payment.dossier_id),
                     detail={"order": payment.order_ref, "kind": kind, "message": message[:300],
                             "attempt": attempts})

    run_write(write)
    log.warning("payment gateway failed for order %s (%s): %s", payment.order_ref, kind, message)
    return payment.state


def reconcile_due(limit=200, now=None) -> int:
    """The reconciliation job: every pending payment whose check is due is asked of the gateway,
    every refund due is made. How many were looked at."""
    now = now or utcnow()
    due = list(Payment.select().where(Payment.state.in_(("pending", "refund_due"))
                                      & (Payment.next_check_at <= now)).order_by(Payment.next_check_at).limit(limit))
    for payment in due:
        check(payment, now)
    return len(due)


_last_check = [float("-inf")]
CHECK_SECONDS = 30.0


def reconcile_due_now_and_then() -> int:
    """reconcile_due at most once a CHECK_SECONDS (the embedded worker polls far more often)."""
    if time.monotonic() - _last_check[0] < CHECK_SECONDS:
        return 0
    _last_check[0] = time.monotonic()
    return reconcile_due()


def on_ending(dossier, status, now) -> None:
    """In the unit of work that ends the dossier: a paid fee the procedure refunds on refusal is due
    back (made by the worker); a request still unpaid can no longer be paid."""
    if Status(status) not in (Status.NOT_ACCEPTED, Status.STOPPED):
        Payment.update(state="cancelled", next_check_at=None, updated_at=now).where(
            (Payment.dossier == dossier.id) & (Payment.state == "pending")).execute()
        return
    for payment in Payment.select().where((Payment.dossier == dossier.id) & (Payment.state == "paid")
                                          & Payment.refund_on_refusal):
        _refund_due(payment.id, now)
    Payment.update(state="cancelled", next_check_at=None, updated_at=now).where(
        (Payment.dossier == dossier.id) & (Payment.state == "pending")).execute()


def _refund_due(payment_id, now) -> None:
    Payment.update(state="refund_due", next_check_at=now, updated_at=now).where(Payment.id == payment_id).execute()
    payment = Payment.get_by_id(payment_id)
    audit.record("payment.refund_due", None, dossier=Dossier.get_by_id(payment.dossier_id),
                 detail={"order": payment.order_ref, "amount": payment.amount})


def retry(actor, payment_id) -> Payment:
    """An officer asks for the gateway to be tried again now (the incident's retry)."""
    payment = Payment.get_or_none((Payment.id == payment_id) & (Payment.centre == actor.centre_id))
    if payment is None:
        raise NotFound("no such payment")
    check(payment)
    return Payment.get_by_id(payment.id)


def incidents(actor, limit=200) -> list[Payment]:
    """The centre's payments the gateway failed on, most recent first."""
    return list(Payment.select().where((Payment.centre == actor.centre_id) & Payment.incident.is_null(False))
                .order_by(Payment.updated_at.desc()).limit(limit))

