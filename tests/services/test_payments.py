"""Fees paid online through the payment gateway (VNPay's protocol), against the gateway simulator
served over real HTTP: the fee a DMN table computes is asked at submission or before the result,
the clock waits, the notification is checked (signature, order, amount, replay) and audited, the
reconciliation repairs a lost notification, a gateway that fails becomes an incident retried later,
a refused dossier's fee is refunded, and Decision 766's online-payment group is computed."""

import io
import json
import re
import zipfile
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3

from onestop.config import SIMULATOR_MERCHANT, SIMULATOR_SECRET
from onestop.services import payment_gateway
from onestop.simulators import payment as simulator
from tests.conftest import MODELS, Api, _close_pool, _make_app, make_user
from tests.support.simulators import serving
from tests.web.pages import GOOD_APPLICATION, PDF, csrf

PAID = MODELS / "forms" / "paid"
CODE = "household_business_paid"
HTTP = urllib3.PoolManager(retries=False)


@pytest.fixture
def gateway(tmp_path):
    """The gateway simulator on a free port of 127.0.0.1: its base URL."""
    with serving(simulator.create_app(tmp_path / "gateway")) as base:
        yield base


def _paid_app(url, tmp_path, engine, clock, gateway):
    return _make_app(url, tmp_path, engine, clock=clock, payment_url=gateway, payment_merchant=SIMULATOR_MERCHANT,
                     payment_secret=SIMULATOR_SECRET, payment_timeout_seconds=1.0)


@pytest.fixture
def paid_app(sqlite_url, tmp_path, engine, clock, gateway):
    yield _paid_app(sqlite_url, tmp_path, engine, clock, gateway)
    _close_pool()


@pytest.fixture
def both_paid_app(database_url, tmp_path, engine, cold_engine, clock, gateway):
    yield _paid_app(database_url, tmp_path, cold_engine if database_url.startswith("postgres") else engine, clock,
                    gateway)
    _close_pool()


def _api(app):
    with app.app_context():
        _, token = make_user("admin1", ("admin",))
    return Api(app.test_client(), token)


def _upload(api, **payment):
    """The paid household-business procedure, its payment terms changed by `payment`."""
    meta = json.loads((PAID / "procedure.json").read_text())
    meta["payment"] |= payment
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        for path in sorted(PAID.iterdir()):
            content = json.dumps(meta).encode() if path.name == "procedure.json" else path.read_bytes()
            archive.writestr(f"paid/{path.name}", content)
    reply = api.upload([("paid.zip", blob.getvalue())])
    assert reply.status_code == 201, reply.json


def _submit(client, ownership="family"):
    """An online submission through the portal: (code, lookup key)."""
    form = client.get(f"/procedures/{CODE}/submit")
    data = {"csrf_token": csrf(form), **GOOD_APPLICATION, "ownership": ownership, "email": "binh@example.vn",
            "documents": (io.BytesIO(PDF), "giay-chung-nhan.pdf")}
    sent = client.post(f"/procedures/{CODE}/submit", data=data, content_type="multipart/form-data")
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    return re.search(r'class="big-code">([^<]+)<', page).group(1), re.search(r'id="lookup-key">([^<]+)<', page).group(1)


def _status_page(client, code, key):
    return client.get(f"/track/{code}", query_string={"k": key})


def _to_gateway(client, code, key):
    """The applicant's "pay the fee": the gateway's address the browser is sent to."""
    page = _status_page(client, code, key)
    assert page.status_code == 200 and 'id="pay-fee"' in page.get_data(as_text=True)
    sent = client.post(f"/track/{code}/pay", data={"csrf_token": csrf(page), "key": key})
    assert sent.status_code == 303
    return sent.headers["Location"]


def _control(gateway, **switches):
    HTTP.request("POST", f"{gateway}/_control", body=json.dumps(switches), headers={"Content-Type": "application/json"})


def _pay_at_gateway(gateway, address, choice="pay"):
    """The applicant on the gateway's page (real HTTP): pays or cancels; (order, signed result)."""
    page = HTTP.request("GET", address)
    assert page.status == 200, page.data[:200]
    order = dict(parse_qsl(urlsplit(address).query))["vnp_TxnRef"]
    decided = HTTP.request("POST", f"{gateway}/paymentv2/decide", fields={"ref": order, "choice": choice},
                           encode_multipart=False, redirect=False)
    assert decided.status == 302
    return order, dict(parse_qsl(urlsplit(decided.headers["Location"]).query))


def _notify(client, params):
    reply = client.get("/payment/vnpay/ipn", query_string=params)
    assert reply.status_code == 200
    return reply.json["RspCode"]


def _rows(app, code):
    with app.app_context():
        from onestop.models import AuditEvent, Dossier, Payment

        dossier = Dossier.get(Dossier.code == code)
        payments = list(Payment.select().where(Payment.dossier == dossier.id).order_by(Payment.id))
        events = [e.action for e in AuditEvent.select().where(AuditEvent.dossier == dossier.id).order_by(AuditEvent.id)]
        return dossier, payments, events


def _paid_through_the_gateway(app, gateway, ownership="family"):
    """A dossier submitted and paid at the gateway, its notification withheld: (client, code, key, order, result)."""
    _control(gateway, send_ipn=False)
    client = app.test_client()
    code, key = _submit(client, ownership)
    order, result = _pay_at_gateway(gateway, _to_gateway(client, code, key))
    return client, code, key, order, result


def test_the_fee_a_dmn_table_computes_is_asked_at_submission_and_the_clock_waits_until_it_is_paid(
        both_paid_app, gateway):
    _upload(_api(both_paid_app))
    client = both_paid_app.test_client()
    individual, _ = _submit(client, "individual")
    assert _rows(both_paid_app, individual)[1][0].amount == 100_000  # the DMN table's rule, not fee_vnd
    client, code, key, order, result = _paid_through_the_gateway(both_paid_app, gateway, "family")
    before, (payment,), _ = _rows(both_paid_app, code)
    assert payment.amount == 150_000 and payment.state == "pending" and payment.order_ref == order
    assert before.status == "awaiting_financial_obligation" and before.paused_at is not None

    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    after, (payment,), events = _rows(both_paid_app, code)
    assert after.status == "new" and after.paused_at is None and after.due_at >= before.due_at
    assert payment.state == "paid" and payment.receipt_no and payment.transaction_no == result["vnp_TransactionNo"]
    assert events.count("payment.paid") == 1 and "dossier.financial_obligation_met" in events
    page = _status_page(client, code, key).get_data(as_text=True)
    assert payment.receipt_no in page and 'id="pay-fee"' not in page


def test_the_browser_coming_back_paid_sees_the_payment_recorded(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    back = client.get("/payment/vnpay/return", query_string=result)  # the notification was lost: asked at once
    assert back.status_code == 303 and f"/track/{code}" in back.headers["Location"]
    assert _rows(paid_app, code)[1][0].state == "paid"


def test_a_forged_notification_changes_nothing_and_is_audited(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    forged = result | {"vnp_SecureHash": payment_gateway.sign(result, "not-the-merchant-secret")}
    assert _notify(client, forged) == payment_gateway.IPN_BAD_SIGNATURE
    tampered = result | {"vnp_TransactionNo": "99999999"}  # signed for another transaction
    assert _notify(client, tampered) == payment_gateway.IPN_BAD_SIGNATURE
    dossier, (payment,), events = _rows(paid_app, code)
    assert payment.state == "pending" and dossier.status == "awaiting_financial_obligation"
    with paid_app.app_context():
        from onestop.models import AuditEvent

        refused = [e.detail for e in AuditEvent.select().where(AuditEvent.action == "payment.notification_refused")]
    assert [d["reason"] for d in refused] == ["signature", "signature"]


def test_a_replayed_notification_changes_nothing_and_is_audited(both_paid_app, gateway):
    _upload(_api(both_paid_app))
    client, code, key, order, result = _paid_through_the_gateway(both_paid_app, gateway)
    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    _, (first,), _ = _rows(both_paid_app, code)
    assert _notify(client, result) == payment_gateway.IPN_ALREADY_CONFIRMED
    _, (again,), events = _rows(both_paid_app, code)
    assert (again.paid_at, again.receipt_no, again.state) == (first.paid_at, first.receipt_no, "paid")
    assert events.count("payment.paid") == 1 and events.count("payment.notification_replayed") == 1


def test_a_notification_with_the_wrong_amount_is_refused(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    short = {k: v for k, v in result.items() if k != "vnp_SecureHash"} | {"vnp_Amount": "100000"}
    short["vnp_SecureHash"] = payment_gateway.sign(short, SIMULATOR_SECRET)  # well signed, wrong amount
    assert _notify(client, short) == payment_gateway.IPN_WRONG_AMOUNT
    _, (payment,), events = _rows(paid_app, code)
    assert payment.state == "pending" and "payment.notification_refused" in events


def test_a_notification_for_an_unknown_order_is_refused(both_paid_app, gateway):
    _upload(_api(both_paid_app))
    client, code, key, order, result = _paid_through_the_gateway(both_paid_app, gateway)
    stranger = {k: v for k, v in result.items() if k != "vnp_SecureHash"} | {"vnp_TxnRef": "NOT-OURS-1"}
    stranger["vnp_SecureHash"] = payment_gateway.sign(stranger, SIMULATOR_SECRET)
    assert _notify(client, stranger) == payment_gateway.IPN_UNKNOWN_ORDER
    assert _rows(both_paid_app, code)[1][0].state == "pending"
    with both_paid_app.app_context():
        from onestop.models import AuditEvent

        assert AuditEvent.select().where(AuditEvent.action == "payment.notification_refused").count() == 1


def test_an_applicant_who_cancels_at_the_gateway_is_told_so_and_can_pay_again(paid_app, gateway):
    _upload(_api(paid_app))
    client = paid_app.test_client()
    client.set_cookie("lang", "en")  # the visitor's choice of language (web/i18n.py)
    code, key = _submit(client)
    address = _to_gateway(client, code, key)
    _control(gateway, send_ipn=False)
    order, cancelled = _pay_at_gateway(gateway, address, "cancel")
    assert cancelled["vnp_ResponseCode"] == "24"
    assert _notify(client, cancelled) == payment_gateway.IPN_CONFIRMED  # received, nothing paid
    back = client.get("/payment/vnpay/return", query_string=cancelled)
    assert back.status_code == 303
    page = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "The payment was not made" in page and 'id="pay-fee"' in page
    dossier, (payment,), events = _rows(paid_app, code)
    assert payment.state == "pending" and dossier.status == "awaiting_financial_obligation"
    assert "payment.not_paid" in events
    order, paid = _pay_at_gateway(gateway, _to_gateway(client, code, key))
    assert _notify(client, paid) == payment_gateway.IPN_CONFIRMED and _rows(paid_app, code)[1][0].state == "paid"


def test_the_reconciliation_repairs_a_missed_notification(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    with paid_app.app_context():
        from onestop.models import utcnow
        from onestop.services import payments

        assert payments.reconcile_due() == 0  # not yet due: the notification may still come
        assert payments.reconcile_due(now=utcnow() + payments.CHECK_AFTER) == 1
    dossier, (payment,), events = _rows(paid_app, code)
    assert payment.state == "paid" and dossier.status == "new" and "payment.paid" in events
    assert _notify(client, result) == payment_gateway.IPN_ALREADY_CONFIRMED  # the late notification changes nothing


@pytest.mark.parametrize("mode", ["down", "slow", "malformed"])
def test_a_failing_gateway_becomes_a_visible_incident_retried_later_never_a_500(paid_app, gateway, mode):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    _control(gateway, mode=mode, slow_seconds=3)
    back = client.get("/payment/vnpay/return", query_string=result)
    assert back.status_code == 303  # the applicant is told it is being confirmed
    dossier, (payment,), events = _rows(paid_app, code)
    assert payment.state == "pending" and payment.incident.startswith(f"{mode}:") and payment.attempts == 1
    assert "payment.gateway_failed" in events
    officer = paid_app.test_client()
    officer.set_cookie("lang", "en")
    with paid_app.app_context():
        from onestop.models import WorkItem

        make_user("canbo", ("officer",), password="Mật-khẩu-2026")
        task = WorkItem.get(WorkItem.dossier == dossier.id)
    from tests.web.pages import sign_in

    sign_in(officer, "canbo", "Mật-khẩu-2026")
    desk = officer.get(f"/desk/tasks/{task.id}").get_data(as_text=True)
    assert f'id="payment-{payment.id}"' in desk and "the payment gateway failed" in desk

    _control(gateway, mode="normal")
    with paid_app.app_context():
        from onestop.services import payments

        assert payments.reconcile_due(now=payment.updated_at + timedelta(seconds=1)) == 0  # backing off
        assert payments.reconcile_due(now=payment.next_check_at) == 1
    _, (payment,), _ = _rows(paid_app, code)
    assert payment.state == "paid" and payment.incident is None


def test_a_fee_paid_for_a_dossier_refused_at_reception_is_refunded(paid_app, gateway):
    api = _api(paid_app)
    _upload(api)
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    refused = api.post(f"/dossiers/{code}/end", {"how": "not_accepted", "reason": "Hồ sơ không thuộc thẩm quyền"})
    assert refused.status_code == 200, refused.json
    assert _rows(paid_app, code)[1][0].state == "refund_due"
    with paid_app.app_context():
        from onestop.models import utcnow
        from onestop.services import payments

        assert payments.reconcile_due(now=utcnow()) == 1
    _, (payment,), events = _rows(paid_app, code)
    assert payment.state == "refunded" and payment.refunded_at and "payment.refunded" in events
    assert json.loads(HTTP.request("GET", f"{gateway}/_orders/{order}").data)["status"] == "refunded"


def test_a_fee_the_procedure_keeps_on_refusal_is_not_refunded(paid_app, gateway):
    api = _api(paid_app)
    _upload(api, refund_on_refusal=False)
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    assert api.post(f"/dossiers/{code}/end", {"how": "not_accepted", "reason": "Không đủ điều kiện"}).status_code == 200
    assert _rows(paid_app, code)[1][0].state == "paid"


def test_a_fee_asked_before_the_result_holds_the_result_until_it_is_paid(paid_app, gateway):
    api = _api(paid_app)
    _upload(api, when="before_result")
    client = paid_app.test_client()
    code, key = _submit(client)
    assert _rows(paid_app, code)[1] == []  # nothing asked at submission
    review = api.get(f"/dossiers/{code}").json["tasks"][0]["id"]
    done = api.post(f"/tasks/{review}/complete", {"data": {"approved": True}})
    assert done.status_code == 200 and done.json["status"] == "awaiting_financial_obligation"
    dossier, (payment,), _ = _rows(paid_app, code)
    assert payment.stage == "before_result" and dossier.resolved_at is not None  # the result is ready, on time
    hand_over = api.get(f"/dossiers/{code}").json["tasks"][0]["id"]
    assert api.post(f"/tasks/{hand_over}/complete", {"data": {}}).status_code == 409  # not before it is paid
    _control(gateway, send_ipn=False)
    order, result = _pay_at_gateway(gateway, _to_gateway(client, code, key))
    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    assert _rows(paid_app, code)[0].status == "resolved"
    with paid_app.app_context():
        from onestop.models import Notification

        told = [n.event for n in Notification.select().where(Notification.dossier == dossier.id)]
    assert told.count("resolved") == 1  # told of the result once it is paid for, not before
    assert api.post(f"/tasks/{hand_over}/complete", {"data": {}}).json["status"] == "returned"


def test_the_receipt_slip_carries_the_payments_receipt_number(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    assert "chưa thanh toán" in client.get(f"/submitted/{code}/receipt").get_data(as_text=True)
    _notify(client, result)
    _, (payment,), _ = _rows(paid_app, code)
    assert f"biên lai số <strong>{payment.receipt_no}</strong>" in client.get(f"/submitted/{code}/receipt").get_data(
        as_text=True)


def test_decision_766s_online_payment_group_is_computed_from_the_payments(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    _notify(client, result)
    _submit(paid_app.test_client())  # asked, never paid
    with paid_app.app_context():
        from onestop.models import Dossier, local_today
        from onestop.services.stats import decision766

        centre = Dossier.get(Dossier.code == code).centre_id
        today = local_today()
        groups = {g["key"]: g for g in decision766.index([centre], today, today + timedelta(days=1))}
    group = groups["online_payment"]
    assert group["counts"] == {"dossiers_with_fee": 2, "dossiers_paid_online": 1}
    assert group["score"] == 5.0 and group["formula"].startswith("10 × tỷ lệ")


def test_the_bundled_household_business_registration_asks_its_catalogue_fee_online_only(paid_app):
    from tests.process_models import upload_bundled
    from tests.process_models.test_household_business_registration import APPLICATION, CODE

    api = _api(paid_app)
    upload_bundled(api, "household_business_registration")
    with paid_app.app_context():
        from onestop.services import dossiers
        from onestop.services.users import portal_user

        online, _key = dossiers.submit_online(portal_user(), CODE, dict(APPLICATION))
    dossier, (payment,), _ = _rows(paid_app, online.code)
    assert (payment.amount, payment.refund_on_refusal) == (150_000, False)  # fee_vnd; "không hoàn trả"
    assert dossier.status == "awaiting_financial_obligation"
    at_counter = api.post("/dossiers", {"procedure": CODE, "data": APPLICATION}).json
    assert at_counter["status"] == "received" and _rows(paid_app, at_counter["code"])[1] == []  # paid there


def test_without_a_gateway_nothing_is_asked_online_and_the_notification_address_still_answers(sqlite_app):
    _upload(_api(sqlite_app))
    client = sqlite_app.test_client()
    code, key = _submit(client)
    dossier, payments, _ = _rows(sqlite_app, code)
    assert dossier.status == "new" and payments == []  # the fee is paid at the counter, as before
    assert 'id="pay-fee"' not in _status_page(client, code, key).get_data(as_text=True)
    answer = client.get("/payment/vnpay/ipn", query_string={"vnp_TxnRef": f"{code}-P1", "vnp_SecureHash": "00"})
    assert answer.status_code == 200 and answer.json == {"RspCode": "99", "Message": "Unknown error"}


def test_a_fee_paid_for_a_dossier_the_national_portal_pushed_is_told_to_the_portal(paid_app, gateway):
    """The fee settled moves the dossier out of "awaiting payment": the portal hears of that move
    like any other (its outbox row is written with the payment's settling)."""
    from onestop.models import Dossier, PortalDossier, PortalPush, utcnow
    from onestop.services.national_portal import outbox

    _upload(_api(paid_app))
    _control(gateway, send_ipn=False)
    client = paid_app.test_client()
    code, key = _submit(client)
    with paid_app.app_context():
        dossier = Dossier.get(Dossier.code == code)
        link = outbox.link_new_dossier(dossier, "DVC-PAID-1", CODE, "000.00.00.H00", utcnow())  # as a push does
    order, result = _pay_at_gateway(gateway, _to_gateway(client, code, key))
    assert _notify(client, result) == payment_gateway.IPN_CONFIRMED
    with paid_app.app_context():
        told = [(p.seq, p.status) for p in PortalPush.select().where(PortalPush.link == link.id).order_by(PortalPush.seq)]
        assert told == [(1, "awaiting_financial_obligation"), (2, Dossier.get(Dossier.code == code).status)]
        assert told[1][1] != "awaiting_financial_obligation"
        assert PortalDossier.get_by_id(link.id).last_seq == 2
