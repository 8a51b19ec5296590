"""Webhooks: a dossier's events are posted to the subscribed systems in the Standard Webhooks format,
signed (verified here with the standardwebhooks library, as a receiver would), retried with growing
pauses while the receiver fails, never posted twice by two workers, replayed on demand, and signed
with both secrets while one is rotated to the other. The receivers are real HTTP servers."""

import contextlib
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from onestop.models import User, WebhookAttempt, WebhookDelivery, utcnow
from onestop.services import connectors, runtime, webhooks
from onestop.services.errors import Conflict, Invalid
from tests.conftest import MODELS
from tests.support.simulators import serving


class Receiver:
    """A WSGI receiver of webhooks: records what it got; answers `statuses` in turn (then 204);
    `delay` seconds before answering; `garbage` answers bytes that are not HTTP."""

    def __init__(self, statuses=(), delay=0.0):
        self.got, self.statuses, self.delay, self.lock = [], list(statuses), delay, threading.Lock()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self.lock:
            self.got.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else 204
        if self.delay:
            time.sleep(self.delay)
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [b"" if status == 204 else b"ok"]

    def events(self):
        return [json.loads(body)["type"] for _headers, body in self.got]


@pytest.fixture
def centre(app, admin_api):
    """The review procedure, 127.0.0.1 on the centre's allowed hosts, and its administrator."""
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        admin = User.get(User.username == "admin1")
        connectors.save_settings(admin, "127.0.0.1", "")
    return app, admin_api, admin


def _in(app, work):
    with app.app_context():
        from onestop.db import database

        database.connect(reuse_if_open=True)
        return work()


def _send(app, **kw):
    return _in(app, lambda: webhooks.send_due(**kw))


def _subscribe(app, admin, url, events=tuple(webhooks.EVENTS)):
    return _in(app, lambda: webhooks.subscribe(admin, url, list(events)))


def _walk(api, approved=True):
    """A dossier received, its two steps done: returns its code."""
    dossier = api.post("/dossiers", {"procedure": "review", "applicant": {"name": "Lê Văn Cường",
                                                                           "email": "cuong@example.vn"}}).json
    task = dossier["tasks"][0]
    dossier = api.post(f"/tasks/{task['id']}/complete", {"data": {"applicant_name": "Lê Văn Cường",
                                                                  "documents_complete": True}}).json
    api.post(f"/tasks/{dossier['tasks'][0]['id']}/complete", {"data": {"approved": approved}})
    return dossier["code"]


def test_a_dossiers_events_reach_the_receiver_signed_and_verified_by_the_standard_library(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscription, secret = _subscribe(app, admin, url + "/hooks")
        code = _walk(api)
        assert _send(app) == 4 and _send(app) == 0
    assert receiver.events() == ["dossier.received", "dossier.step_done", "dossier.step_done",
                                 "dossier.result_ready"]
    for headers, body in receiver.got:
        assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("msg_")
        event = Webhook(secret).verify(body, headers)
        assert event["data"]["dossier"] == code and event["data"]["procedure"]["code"] == "review"
    result = json.loads(receiver.got[-1][1])
    assert result["data"]["status"] == {"code": "resolved", "national_code": 9, "name": "Đã xử lý xong"}
    assert json.loads(receiver.got[1][1])["data"]["step"] == {"id": "Task_Receive", "name": "Tiếp nhận hồ sơ"}
    assert not any(b"cuong" in body.lower() or "Cường".encode() in body for _h, body in receiver.got)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(receiver.got[0][1], receiver.got[0][0])


def test_a_procedure_with_a_return_step_announces_the_result_ready_then_handed_over(app, admin_api):
    import io
    import zipfile

    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("handover/review.bpmn", (MODELS / "review.bpmn").read_bytes())
        archive.writestr("handover/receive-schema.json", (MODELS / "receive-schema.json").read_bytes())
        archive.writestr("handover/procedure.json", '{"code": "1.001193", "name": "Cấp phép xét duyệt", '
                                                    '"return_step": "Task_Approve"}')
    assert admin_api.upload([("handover.zip", blob.getvalue())]).status_code == 201
    with app.app_context():
        admin = User.get(User.username == "admin1")
        connectors.save_settings(admin, "127.0.0.1", "")
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url)
        dossier = admin_api.post("/dossiers", {"procedure": "1.001193"}).json
        dossier = admin_api.post(f"/tasks/{dossier['tasks'][0]['id']}/complete", {"data": {
            "applicant_name": "Lê Văn Cường", "documents_complete": True}}).json
        admin_api.post(f"/tasks/{dossier['tasks'][0]['id']}/complete", {"data": {"approved": True}})
        _send(app)
    sent = [json.loads(body) for _headers, body in receiver.got]
    assert [(m["type"], m["data"]["status"]["national_code"]) for m in sent] == [
        ("dossier.received", 2), ("dossier.step_done", 9), ("dossier.result_ready", 9), ("dossier.step_done", 10),
        ("dossier.returned", 10)]


def test_a_step_an_external_task_worker_did_is_a_step_done(app):
    from onestop.services import dossiers, external_tasks
    from tests.conftest import make_user
    from tests.services.test_external_tasks import _fetch, _upload

    receiver = Receiver()
    with serving(receiver) as url:
        with app.app_context():
            admin, _ = make_user("admin1", ("admin", "officer"))
            _upload(admin)
            robot, _ = make_user("tax.robot", ("integration",))
            worker = external_tasks.worker_for_token(
                external_tasks.issue_worker_token(robot, ["tax-check"], label="tax office", actor=admin))
            connectors.save_settings(admin, "127.0.0.1", "")
            webhooks.subscribe(admin, url, ["dossier.step_done"])
            code = dossiers.start_dossier(admin, "tax_check", {"tax_code": "0101234567"}).code
            [locked] = _fetch(worker)
            external_tasks.complete(worker, locked.call.id, "w1", {"tax_ok": {"value": True, "type": "Boolean"}})
            assert webhooks.send_due() == 1
    [message] = [json.loads(body) for _headers, body in receiver.got]
    assert (message["type"], message["data"]["dossier"], message["data"]["step"]["id"]) == (
        "dossier.step_done", code, "Call")


def test_only_the_events_asked_for_are_delivered(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.result_ready", "dossier.supplement_requested"])
        code = _walk(api)
        other = api.post("/dossiers", {"procedure": "review"}).json["code"]
        api.post(f"/dossiers/{other}/supplement-request", {"reason": "Thiếu bản sao giấy khai sinh"})
        _send(app)
    assert receiver.events() == ["dossier.result_ready", "dossier.supplement_requested"]
    assert json.loads(receiver.got[0][1])["data"]["dossier"] == code
    assert "Thiếu".encode() not in receiver.got[1][1]  # the officer's words stay in the centre


def test_a_dossier_stopped_withdrawn_or_refused_is_announced_with_its_national_status(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.stopped", "dossier.withdrawn", "dossier.not_accepted"])
        for how in ("stopped", "withdrawn", "not_accepted"):
            code = api.post("/dossiers", {"procedure": "review"}).json["code"]
            assert api.post(f"/dossiers/{code}/end", {"how": how, "reason": "Lý do riêng"}).status_code == 200
        _send(app)
    sent = [json.loads(body) for _headers, body in receiver.got]
    assert [(m["type"], m["data"]["status"]["national_code"]) for m in sent] == [
        ("dossier.stopped", 8), ("dossier.withdrawn", 7), ("dossier.not_accepted", 3)]
    assert not any("Lý do".encode() in body for _headers, body in receiver.got)


def test_a_try_cut_short_by_a_dead_worker_is_made_again_with_the_same_id(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.received"])
        api.post("/dossiers", {"procedure": "review"})
        # a worker claimed it and was killed before it could say how the post went
        _in(app, lambda: WebhookDelivery.update(status="sending", attempts=1, claimed_at=utcnow()).execute())
        assert _send(app) == 0 and receiver.got == []  # it may still be under way
        assert _send(app, now=utcnow() + webhooks.STUCK + timedelta(seconds=1)) == 1
    delivery = _in(app, WebhookDelivery.get)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert receiver.got[0][0]["webhook-id"] == delivery.message_id


def test_an_event_whose_transaction_rolls_back_delivers_nothing(centre):
    app, api, admin = centre
    with serving(Receiver()) as url:
        _subscribe(app, admin, url, ["dossier.stopped", "dossier.received"])
        code = api.post("/dossiers", {"procedure": "review"}).json["code"]

        def stopped_then_failed():
            from onestop.db import run_write
            from onestop.models import Dossier
            from onestop.services import audit

            dossier = Dossier.get(Dossier.code == code)

            def work():
                audit.record("dossier.stopped", admin, dossier=dossier, detail={"reason": "thử"})
                raise Conflict("the unit of work fails after its event")

            with pytest.raises(Conflict):
                run_write(work)

        _in(app, stopped_then_failed)
        assert _in(app, lambda: [d.event for d in WebhookDelivery.select()]) == ["dossier.received"]


def test_a_failing_receiver_is_tried_again_after_pauses_that_double_and_each_try_is_logged(centre):
    app, api, admin = centre
    receiver = Receiver(statuses=[500, 503])
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.received"])
        api.post("/dossiers", {"procedure": "review"})
        assert _send(app) == 0
        delivery = _in(app, WebhookDelivery.get)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        first_pause = delivery.next_attempt_at - _in(app, utcnow)
        assert timedelta(seconds=25) < first_pause <= timedelta(seconds=30)
        assert _send(app) == 0  # not due yet
        assert _send(app, now=utcnow() + timedelta(seconds=31)) == 0
        second = _in(app, WebhookDelivery.get)
        assert second.next_attempt_at - utcnow() > timedelta(seconds=31 + 55)  # twice as long
        assert _send(app, now=utcnow() + timedelta(minutes=5)) == 1
    tries = _in(app, lambda: list(WebhookAttempt.select().order_by(WebhookAttempt.id)))
    assert [(t.attempt, t.status_code) for t in tries] == [(1, 500), (2, 503), (3, 204)]
    assert "HTTP 500" in tries[0].error and tries[2].error is None and all(t.duration_ms >= 0 for t in tries)
    assert len({h["webhook-id"] for h, _b in receiver.got}) == 1  # the same message, tried three times
    assert [webhooks.pause_after(n).total_seconds() for n in (1, 2, 3, 20)] == [30, 60, 120, 6 * 3600]


@contextlib.contextmanager
def garbage_server():
    """A server that answers every connection with bytes that are not HTTP, then hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"\x00\x01 not http at all\r\n\r\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_receiver_down_slow_or_answering_garbage_is_logged_and_kept_for_later(centre):
    app, api, admin = centre
    runtime_of = app.extensions["onestop.runtime"]
    runtime_of.connectors = connectors.Options(keys=runtime_of.connectors.keys, timeout_seconds=0.5)
    with serving(Receiver()) as down:
        pass  # the port is free again: nobody listens there
    _subscribe(app, admin, down, ["dossier.received"])
    with serving(Receiver(delay=2)) as slow, garbage_server() as garbage:
        _subscribe(app, admin, slow, ["dossier.received"])
        _subscribe(app, admin, garbage, ["dossier.received"])
        assert api.post("/dossiers", {"procedure": "review"}).status_code == 201
        assert _send(app) == 0
    rows = _in(app, lambda: list(WebhookDelivery.select().order_by(WebhookDelivery.subscription)))
    assert [r.status for r in rows] == ["pending", "pending", "pending"]
    assert _send(app, now=utcnow() + timedelta(minutes=1)) == 0  # and each failed once more, no more
    assert all(r.attempts == 1 and r.last_status_code is None and "127.0.0.1" in r.last_error for r in rows)
    assert "did not answer within 0.5 s" in rows[1].last_error and "could not be reached" in rows[2].last_error
    tries = _in(app, lambda: list(WebhookAttempt.select()))
    assert len(tries) == 6 and all(t.error for t in tries)


def test_a_receiver_that_fails_costs_a_round_one_try_and_the_others_are_still_served(centre):
    app, api, admin = centre
    runtime_of = app.extensions["onestop.runtime"]
    runtime_of.connectors = connectors.Options(keys=runtime_of.connectors.keys, timeout_seconds=0.5)
    healthy = Receiver()
    with serving(Receiver(delay=2)) as slow, serving(healthy) as url:
        _subscribe(app, admin, slow, ["dossier.received"])
        _subscribe(app, admin, url, ["dossier.received"])
        for _ in range(4):
            api.post("/dossiers", {"procedure": "review"})
        started = time.monotonic()
        assert _send(app) == 4
        assert time.monotonic() - started < 2.5  # one timeout, not four
    assert len(healthy.got) == 4
    assert _in(app, lambda: sorted(d.attempts for d in WebhookDelivery.select())) == [0, 0, 0, 1, 1, 1, 1, 1]


def test_two_workers_at_once_post_each_delivery_once(centre):
    app, api, admin = centre
    receiver = Receiver(delay=0.05)
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.received"])
        for _ in range(6):
            api.post("/dossiers", {"procedure": "review"})
        acting = app.extensions["onestop.runtime"]
        counts, start = [], threading.Barrier(2)

        def worker():
            with runtime.active(acting):
                start.wait()
                counts.append(_send(app))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    ids = [h["webhook-id"] for h, _b in receiver.got]
    assert sum(counts) == 6 and len(ids) == 6 and len(set(ids)) == 6


def test_during_a_rotation_a_receiver_with_the_old_secret_and_one_with_the_new_both_verify(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        subscription, old = _subscribe(app, admin, url, ["dossier.received"])
        new = _in(app, lambda: webhooks.add_secret(admin, subscription.id))
        api.post("/dossiers", {"procedure": "review"})
        _send(app)
        headers, body = receiver.got[-1]
        assert len(headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(body, headers)
        Webhook(new).verify(body, headers)
        secrets = _in(app, lambda: webhooks.secrets_of(subscription))
        assert [s.fingerprint for s in secrets] == [webhooks.fingerprint(old), webhooks.fingerprint(new)]
        _in(app, lambda: webhooks.retire_secret(admin, subscription.id, secrets[0].id))
        with pytest.raises(Conflict):
            _in(app, lambda: webhooks.retire_secret(admin, subscription.id, secrets[1].id))
        api.post("/dossiers", {"procedure": "review"})
        _send(app)
    headers, body = receiver.got[-1]
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


def test_a_delivery_is_replayed_with_the_same_id_and_body(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.received"])
        api.post("/dossiers", {"procedure": "review"})
        _send(app)
        delivery = _in(app, WebhookDelivery.get)
        assert delivery.status == "delivered"
        _in(app, lambda: webhooks.replay(admin, delivery.id))
        assert _send(app) == 1
    (first_headers, first), (again_headers, again) = receiver.got
    assert first == again and first_headers["webhook-id"] == again_headers["webhook-id"]
    tries = _in(app, lambda: list(WebhookAttempt.select().order_by(WebhookAttempt.id)))
    assert [t.replayed_by_id for t in tries] == [None, admin.id]


def test_a_url_off_the_allowed_hosts_or_internal_is_refused(centre):
    app, _api, admin = centre
    for url, said in [("http://10.0.0.5/hook", "not on this centre's list"),
                      ("http://169.254.169.254/latest/meta-data", "not on this centre's list"),
                      ("ftp://127.0.0.1/x", "http(s)://"), ("http://u:p@127.0.0.1/x", "no user or password")]:
        with pytest.raises(Invalid, match=said.replace("(", r"\(").replace(")", r"\)")):
            _subscribe(app, admin, url)
    _in(app, lambda: connectors.save_settings(admin, "localhost", ""))
    with pytest.raises(Invalid, match="internal address"):
        _subscribe(app, admin, "http://localhost:9/hook")


def test_a_host_taken_off_the_allowed_list_is_not_posted_to_and_the_log_says_why(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscribe(app, admin, url, ["dossier.received"])
        _in(app, lambda: connectors.save_settings(admin, "thue.gov.vn", ""))
        api.post("/dossiers", {"procedure": "review"})
        assert _send(app) == 0
    delivery = _in(app, WebhookDelivery.get)
    assert receiver.got == [] and delivery.status == "pending" and "not on this centre's list" in delivery.last_error


def test_an_event_of_a_stand_in_without_a_status_announces_no_change_of_status(centre):
    app, api, admin = centre
    from onestop.db import write_transaction
    from onestop.models import Dossier
    from onestop.services import audit
    from onestop.services.audit_migrations import _Dossier

    with serving(Receiver()) as url:
        _walk(api)
        _subscribe(app, admin, url)

        def sealed():
            dossier = Dossier.get()
            assert dossier.status == "resolved"
            with write_transaction():
                audit.record("dossier.history_sealed", None, dossier=_Dossier(dossier.id, dossier.centre_id))

        _in(app, sealed)
    assert _in(app, WebhookDelivery.select().count) == 0


def test_a_switched_off_subscription_hears_nothing_and_hears_again_once_switched_on(centre):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        subscription, _secret = _subscribe(app, admin, url, ["dossier.received"])
        _in(app, lambda: webhooks.update(admin, subscription.id, url, ["dossier.received"], active=False))
        api.post("/dossiers", {"procedure": "review"})
        assert _send(app) == 0 and receiver.got == [] and _in(app, WebhookDelivery.select().count) == 0
        _in(app, lambda: webhooks.update(admin, subscription.id, url, ["dossier.received"], active=True))
        code = api.post("/dossiers", {"procedure": "review"}).json["code"]
        assert _send(app) == 1
    assert json.loads(receiver.got[0][1])["data"]["dossier"] == code


def test_the_embedded_worker_posts_the_deliveries_by_itself(centre, timer_thread):
    app, api, admin = centre
    receiver = Receiver()
    with serving(receiver) as url:
        _subscription, secret = _subscribe(app, admin, url, ["dossier.received"])
        code = api.post("/dossiers", {"procedure": "review"}).json["code"]
        deadline = time.monotonic() + 20
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.05)
    [(headers, body)] = receiver.got
    assert Webhook(secret).verify(body, headers)["data"]["dossier"] == code
