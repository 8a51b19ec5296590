"""Status changes told to the national portal (services.national_portal.outbox and .sync), over real
HTTP to its simulator: each change once, in order, with its sequence number; kept and retried with
growing pauses while the portal is down, slow or answers nonsense, failed into a visible incident
and retried from there; sent again after a worker died holding it; what the portal lost found and
sent again by the reconciliation."""

from unittest import mock

import pytest

from onestop.models import Centre, PortalDossier, PortalPush, PortalReconciliation, utcnow
from onestop.services.national_portal import sync
from tests.conftest import MODELS
from tests.support.national_portal import connected, send_all, worker_round

REVIEW = [MODELS / "review.bpmn", MODELS / "receive-schema.json"]
RECEIVED = {"applicant_name": "Nguyễn Văn An", "documents_complete": True}


def _setup(app, api, tmp_path):
    assert api.upload(REVIEW).status_code == 201
    return connected(app, tmp_path / "portal")


@pytest.fixture
def portal(sqlite_app, sqlite_admin_api, tmp_path):
    with _setup(sqlite_app, sqlite_admin_api, tmp_path) as portal:
        portal.api = sqlite_admin_api
        yield portal


def _push(portal, portal_id):
    status, receipt = portal.push_one("review", portal_id)
    assert status == 201, receipt
    return receipt["dossier_code"]


def _complete(api, code, data):
    [task] = api.get(f"/dossiers/{code}").json["tasks"]
    answer = api.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert answer.status_code == 200, answer.json
    return answer.json


def _walk(api, code):
    """Received at the desk (processing), then approved (resolved)."""
    _complete(api, code, RECEIVED)
    return _complete(api, code, {"approved": True})


def _pushes(app, **where):
    with app.app_context():
        query = PortalPush.select().order_by(PortalPush.link, PortalPush.seq)
        return [p for p in query if all(getattr(p, k) == v for k, v in where.items())]


def _health(app):
    from onestop.models import User

    with app.app_context():
        [row] = sync.health(User.get(User.username == "admin1"))
        return row


def test_every_status_change_reaches_the_portal_once_and_in_order(app, admin_api, tmp_path):
    with _setup(app, admin_api, tmp_path) as portal:
        code = _push(portal, "DVC-1")
        assert send_all(app) == 1
        _walk(admin_api, code)
        assert send_all(app) == 2
        assert send_all(app) == 0
        assert portal.statuses("DVC-1") == [(1, 1), (2, 4), (3, 9)]  # new, processing, resolved
        state = portal.state()
        assert (state["deliveries"], state["duplicates"]) == (3, 0)
        with app.app_context():
            link = PortalDossier.get(PortalDossier.portal_id == "DVC-1")
            assert (link.last_seq, link.acked_seq) == (3, 3)


def test_a_dossier_that_did_not_come_from_the_portal_tells_it_nothing(portal):
    code = portal.api.post("/dossiers", {"procedure": "review"}).json["code"]
    _walk(portal.api, code)
    assert _pushes(portal.app) == [] and worker_round(portal.app) == 0


def test_supplement_requested_and_received_are_told_to_the_portal(portal):
    code = _push(portal, "DVC-2")
    _complete(portal.api, code, RECEIVED)
    assert portal.api.post(f"/dossiers/{code}/supplement-request", {"reason": "Thiếu giấy chứng sinh"}).status_code == 200
    assert portal.api.post(f"/dossiers/{code}/supplement", {"note": "Đã bổ sung"}).status_code == 200
    send_all(portal.app)
    assert [c for _seq, c in portal.statuses("DVC-2")] == [1, 4, 5, 4]


def test_an_ending_is_told_to_the_portal(portal):
    code = _push(portal, "DVC-3")
    assert portal.api.post(f"/dossiers/{code}/end", {"how": "withdrawn", "reason": "Công dân rút"}).status_code == 200
    send_all(portal.app)
    assert [c for _seq, c in portal.statuses("DVC-3")] == [1, 7]


def test_while_the_portal_is_down_changes_wait_are_retried_with_backoff_and_none_is_lost(portal, clock):
    code = _push(portal, "DVC-4")
    portal.mode("down")
    assert worker_round(portal.app) == 0
    [push] = _pushes(portal.app)
    assert (push.state, push.attempts) == ("pending", 1) and "503" in push.last_error
    assert worker_round(portal.app) == 0 and _pushes(portal.app)[0].attempts == 1  # not before its pause
    _walk(portal.api, code)  # the dossier moves on meanwhile: its changes queue behind the first
    assert _health(portal.app)["pending"] == 3
    clock.advance(6)
    assert worker_round(portal.app) == 0 and _pushes(portal.app)[0].attempts == 2
    portal.mode("up")
    clock.advance(11)
    assert send_all(portal.app) == 3
    assert portal.statuses("DVC-4") == [(1, 1), (2, 4), (3, 9)]
    assert portal.state()["duplicates"] == 0


def test_after_its_last_attempt_a_change_fails_visibly_and_is_retried_from_the_back_office(portal, clock):
    _push(portal, "DVC-5")
    portal.mode("malformed")
    options = portal.app.extensions["onestop.runtime"].national_portal
    for _ in range(options.attempts):
        worker_round(portal.app)
        clock.advance(sync.MAX_PAUSE_SECONDS + 1)
    [push] = _pushes(portal.app)
    assert push.state == "failed" and "not JSON" in push.last_error
    health = _health(portal.app)
    assert (health["failed"], health["healthy"]) == (1, False) and "not JSON" in health["last_error"]
    assert worker_round(portal.app) == 0  # failed: left for an administrator
    portal.mode("up")
    with portal.app.app_context():
        from onestop.models import User

        assert sync.retry_failed(User.get(User.username == "admin1"), Centre.default().id) == 1
    assert send_all(portal.app) == 1 and portal.statuses("DVC-5") == [(1, 1)]
    assert _health(portal.app)["healthy"] is True


def test_a_slow_portal_is_given_up_on_after_the_timeout_and_tried_again(portal, clock):
    _push(portal, "DVC-6")
    portal.mode("slow", delay=3)  # the connection's timeout is 2 s
    assert worker_round(portal.app) == 0
    [push] = _pushes(portal.app)
    assert push.state == "pending" and "did not answer" in push.last_error
    portal.mode("up")
    clock.advance(6)
    assert send_all(portal.app) == 1
    # The slow answer may still have landed: the portal keeps one copy and counts the other.
    assert portal.statuses("DVC-6") == [(1, 1)]


class Killed(BaseException):
    """What a SIGKILL in the middle of a send leaves: the round ends there, nothing after the send runs."""


def _die_while_sending(app):
    """A worker's round killed while it sends (its post never returns): the change stays claimed."""
    options = app.extensions["onestop.runtime"].national_portal

    def killed(*args, **kwargs):
        raise Killed

    with mock.patch.object(options, "post", killed), pytest.raises(Killed):
        worker_round(app)


def test_a_change_claimed_by_a_worker_that_died_is_sent_again_once_its_lease_runs_out(portal, clock):
    # The default lease: twice the timeout (2 s here) and 5 s, longer than a live worker's send can take
    # (ONESTOP_NATIONAL_PORTAL_LEASE_SECONDS sets another: tests/test_config.py, the stack test's 1 s).
    claimed_for = 2 * 2 + 5
    assert portal.app.extensions["onestop.runtime"].national_portal.lease_seconds == claimed_for
    _push(portal, "DVC-7")
    _die_while_sending(portal.app)
    [push] = _pushes(portal.app)
    assert (push.state, push.attempts) == ("sending", 1)
    clock.advance(claimed_for - 0.5)
    assert worker_round(portal.app) == 0  # still the dead worker's
    clock.advance(1)
    assert send_all(portal.app) == 1
    assert portal.statuses("DVC-7") == [(1, 1)]


def test_a_change_the_portal_had_already_is_kept_once_there(portal, clock):
    """The worker died after the portal took the change, before marking it sent: sent again, dropped there."""
    _push(portal, "DVC-8")
    assert send_all(portal.app) == 1
    with portal.app.app_context():
        PortalPush.update(state="pending", next_attempt_at=utcnow()).execute()
        PortalDossier.update(acked_seq=0).execute()
    assert send_all(portal.app) == 1
    state = portal.state()
    assert portal.statuses("DVC-8") == [(1, 1)] and (state["deliveries"], state["duplicates"]) == (2, 1)


def test_the_reconciliation_sends_again_what_the_portal_lost(portal):
    code = _push(portal, "DVC-9")
    _walk(portal.api, code)
    send_all(portal.app)
    assert portal.control("/control/forget", {"portal_dossier_id": "DVC-9"})["forgot"] == 3
    centre_id = _health(portal.app)["centre_id"]
    result = worker_round(portal.app, "reconcile", centre_id=centre_id)
    assert (result.checked, result.repaired, result.error) == (1, 1, None)
    assert send_all(portal.app) == 1
    assert portal.statuses("DVC-9") == [(1, 1), (2, 4), (3, 9)]
    again = worker_round(portal.app, "reconcile", centre_id=centre_id)
    assert (again.checked, again.repaired) == (1, 0)
    health = _health(portal.app)
    assert health["last_reconciliation"] is not None and health["last_reconciliation_repaired"] == 0


def test_a_reconciliation_the_portal_cannot_answer_is_recorded_as_failed(portal):
    _push(portal, "DVC-10")
    send_all(portal.app)
    portal.mode("down")
    [result] = worker_round(portal.app, "reconcile_due")
    assert result.error and "503" in result.error
    assert "503" in _health(portal.app)["last_reconciliation_error"] and _health(portal.app)["healthy"] is False
    assert worker_round(portal.app, "reconcile_due") == []  # not due again before the interval
    with portal.app.app_context():
        assert PortalReconciliation.select().count() == 1
