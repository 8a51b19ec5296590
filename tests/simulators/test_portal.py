"""The national portal's simulator (onestop.simulators.portal): keeps each status change once and
counts the copies, answers the reconciliation's query with the unbroken run it holds, forgets a
status when told, refuses unsigned changes once it has a secret, and misbehaves on demand."""

import json
from datetime import UTC

import pytest
import urllib3
from standardwebhooks.webhooks import Webhook

from onestop.clock import Clock
from onestop.simulators.portal import create_app
from tests.support.national_portal import SECRET, Portal
from tests.support.simulators import serving

_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=10))


@pytest.fixture
def portal(tmp_path):
    with serving(create_app(tmp_path / "portal")) as url:
        portal = Portal(url, "http://127.0.0.1:9")
        portal.control("/control/config", {"secret": SECRET})
        yield portal


def _signed(portal, path, payload, secret=SECRET):
    body = json.dumps(payload).encode()
    now = Clock().now()
    headers = {"Content-Type": "application/json", "webhook-id": "m1",
               "webhook-timestamp": str(int(now.replace(tzinfo=UTC).timestamp())),
               "webhook-signature": Webhook(secret).sign("m1", now, body)}
    return _http.request("POST", portal.url + path, body=body, headers=headers)


def _status(seq, code=4, portal_id="P-1"):
    return {"portal_dossier_id": portal_id, "seq": seq, "status": {"code": code, "value": "processing"}}


def test_a_status_change_is_kept_once_and_its_copies_counted(portal):
    assert json.loads(_signed(portal, "/statuses", _status(1, 1)).data) == {"accepted": True, "duplicate": False}
    assert json.loads(_signed(portal, "/statuses", _status(1, 1)).data)["duplicate"] is True
    state = portal.state()
    assert portal.statuses("P-1") == [(1, 1)] and (state["deliveries"], state["duplicates"]) == (2, 1)


def test_an_unsigned_or_forged_change_is_refused(portal):
    assert _signed(portal, "/statuses", _status(1), secret="whsec_" + "QUJD" * 8).status == 401
    assert _http.request("POST", portal.url + "/statuses", body=json.dumps(_status(1)).encode()).status == 401
    assert portal.statuses("P-1") == []


def test_the_query_answers_the_unbroken_run_held_and_a_forgotten_status_shortens_it(portal):
    for seq in (1, 2, 3):
        _signed(portal, "/statuses", _status(seq))
    _signed(portal, "/statuses", _status(5))  # 4 never came: 5 does not count
    assert portal.control("/control/forget", {"portal_dossier_id": "P-1"})["forgot"] == 5
    assert portal.control("/control/forget", {"portal_dossier_id": "P-1"})["forgot"] == 3
    held = json.loads(_signed(portal, "/statuses/query", {"portal_dossier_ids": ["P-1", "P-none"]}).data)
    assert held == {"dossiers": {"P-1": {"seq": 2, "status_code": 4}, "P-none": {"seq": 0, "status_code": None}}}


def test_it_goes_down_answers_nonsense_and_comes_back(portal):
    portal.mode("down")
    assert _signed(portal, "/statuses", _status(1)).status == 503
    portal.mode("malformed")
    answer = _signed(portal, "/statuses", _status(1))
    assert answer.status == 200 and answer.data.startswith(b"<html>")
    portal.mode("up")
    assert _signed(portal, "/statuses", _status(1)).status == 200 and portal.statuses("P-1") == [(1, 4)]


def test_a_push_to_an_address_nobody_answers_is_reported_not_raised(portal):
    [answer] = portal.push("1.001193", ids=["P-2"])["P-2"]
    assert answer["status"] is None and answer["error"]
