"""Notifications: written with the event, sent once by the worker, retried when the gateway fails.
The senders are replaced here by recorders: SMTP servers and SMS gateways are beyond this machine."""

from datetime import timedelta

import pytest

from onestop.services import notify
from tests.conftest import MODELS


class Recorder:
    def __init__(self, fail=0):
        self.sent, self.fail = [], fail

    def send(self, notification):
        if self.fail:
            self.fail -= 1
            raise OSError("gateway unreachable")
        self.sent.append((notification.recipient, notification.subject, notification.body))


@pytest.fixture
def outbox(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    email, sms = Recorder(), Recorder()
    app.extensions["onestop.runtime"].senders = notify.senders(email, sms)  # this app's, gone with it
    yield app, admin_api, email, sms


APPLICANT = {"name": "Trần Thị Bình", "email": "binh@example.vn", "phone": "0912345678"}


def _send(app, **kw):
    with app.app_context():
        from onestop.db import database

        database.connect(reuse_if_open=True)
        return notify.send_due(**kw)


def test_a_received_dossier_is_announced_once_by_email_and_sms(outbox):
    app, api, email, sms = outbox
    code = api.post("/dossiers", {"procedure": "review", "applicant": APPLICANT}).json["code"]
    assert _send(app) == 2 and _send(app) == 0
    assert email.sent[0][0] == "binh@example.vn" and code in email.sent[0][1]
    assert sms.sent[0][0] == "0912345678" and "đã được tiếp nhận" in sms.sent[0][2]


def test_a_supplement_request_tells_the_applicant_what_is_missing(outbox):
    app, api, email, _sms = outbox
    code = api.post("/dossiers", {"procedure": "review", "applicant": APPLICANT}).json["code"]
    api.post(f"/dossiers/{code}/supplement-request", {"reason": "Thiếu bản sao giấy khai sinh"})
    _send(app)
    assert any("Thiếu bản sao giấy khai sinh" in body for _to, _subject, body in email.sent)


def test_a_failed_send_is_retried_later_and_given_up_after_eight(outbox):
    app, api, email, sms = outbox
    email.fail = 100
    api.post("/dossiers", {"procedure": "review", "applicant": {"name": "An", "email": "an@example.vn"}})
    from onestop.models import Notification, utcnow

    assert _send(app) == 0
    with app.app_context():
        row = Notification.get()
        assert (row.status, row.attempts) == ("pending", 1) and row.next_attempt_at > utcnow()
    for attempt in range(2, 9):
        _send(app, now=utcnow() + timedelta(days=attempt))
    with app.app_context():
        row = Notification.get()
        assert (row.status, row.attempts) == ("failed", 8) and "unreachable" in row.last_error
    assert email.sent == []


def test_a_send_cut_short_is_not_repeated(outbox):
    app, api, email, _sms = outbox
    api.post("/dossiers", {"procedure": "review", "applicant": {"name": "An", "email": "an@example.vn"}})
    from onestop.models import Notification, utcnow

    with app.app_context():
        Notification.update(status="sending", next_attempt_at=utcnow() - timedelta(hours=1)).execute()
    assert _send(app) == 0 and email.sent == []
    with app.app_context():
        assert Notification.get().status == "failed"
