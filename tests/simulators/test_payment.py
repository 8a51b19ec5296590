"""The payment gateway simulator speaks VNPay's protocol to the adapter (services.payment_gateway)
over real HTTP: it refuses a redirect not signed with the merchant's secret, answers the merchant
API signed, and fails as its switches tell it to (down, slow, malformed)."""

import json
from datetime import datetime

import pytest
import urllib3

from onestop.config import SIMULATOR_MERCHANT, SIMULATOR_SECRET
from onestop.services import payment_gateway as pg
from onestop.simulators import payment as simulator
from tests.support.simulators import serving

HTTP = urllib3.PoolManager(retries=False)
NOW = datetime(2026, 12, 5, 8, 0)


@pytest.fixture
def gateway(tmp_path):
    with serving(simulator.create_app(tmp_path / "gateway")) as base:
        yield pg.Gateway(base, SIMULATOR_MERCHANT, SIMULATOR_SECRET, timeout_seconds=1.0)


def _open(gateway, ref="ORDER-1", amount=135_000, secret=None):
    address = pg.payment_url(pg.Gateway(gateway.url, gateway.merchant, secret or gateway.secret), ref, amount,
                             "Le phi", "http://127.0.0.1:9/payment/vnpay/return", "127.0.0.1", NOW)
    return HTTP.request("GET", address)


def _control(gateway, **switches):
    HTTP.request("POST", f"{gateway.url}/_control", body=json.dumps(switches),
                 headers={"Content-Type": "application/json"})


def test_the_payment_page_shows_a_signed_order_and_refuses_one_signed_with_another_secret(gateway):
    page = _open(gateway)
    assert page.status == 200 and "135.000 VND" in page.data.decode()
    assert _open(gateway, ref="ORDER-2", secret="a-forger's-secret").status == 400


def test_the_query_says_what_became_of_an_order_and_its_answer_is_signed(gateway):
    _open(gateway)
    _control(gateway, send_ipn=False)
    HTTP.request("POST", f"{gateway.url}/paymentv2/decide", fields={"ref": "ORDER-1", "choice": "pay"},
                 encode_multipart=False, redirect=False)
    answer = pg.query(gateway, "ORDER-1", "Le phi", NOW, NOW)
    assert (answer["vnp_ResponseCode"], answer["vnp_TransactionStatus"], answer["vnp_Amount"]) == ("00", "00", "13500000")
    assert pg.query(gateway, "NO-SUCH-ORDER", "Le phi", NOW, NOW)["vnp_ResponseCode"] == "91"
    refunded = pg.refund(gateway, "ORDER-1", 135_000, answer["vnp_TransactionNo"], "Hoan tien", NOW, NOW, "test")
    assert refunded["vnp_ResponseCode"] == "00"
    assert pg.refund(gateway, "ORDER-1", 135_000, answer["vnp_TransactionNo"], "Hoan tien", NOW, NOW,
                     "test")["vnp_ResponseCode"] == "94"  # refunded already


def test_an_answer_signed_with_another_secret_is_taken_as_malformed(gateway):
    other = pg.Gateway(gateway.url, gateway.merchant, "not-the-secret", timeout_seconds=1.0)
    with pytest.raises(pg.GatewayError) as failed:
        pg.query(other, "ORDER-1", "Le phi", NOW, NOW)  # the simulator answers 97 unsigned
    assert failed.value.kind == "malformed"


@pytest.mark.parametrize("mode", ["down", "slow", "malformed"])
def test_the_switches_make_the_gateway_fail_as_told(gateway, mode):
    _control(gateway, mode=mode, slow_seconds=2)
    with pytest.raises(pg.GatewayError) as failed:
        pg.query(gateway, "ORDER-1", "Le phi", NOW, NOW)
    assert failed.value.kind == mode


def test_an_unreachable_gateway_is_down():
    closed = pg.Gateway("http://127.0.0.1:9", SIMULATOR_MERCHANT, SIMULATOR_SECRET, timeout_seconds=1.0)
    with pytest.raises(pg.GatewayError) as failed:
        pg.query(closed, "ORDER-1", "Le phi", NOW, NOW)
    assert failed.value.kind == "down"


def test_the_gateways_dates_are_vietnams_local_time():
    assert pg.gateway_time(NOW) == "20261205150000"
