"""The national portal's endpoint, POST /api/v1/national-portal/dossiers: the signature is checked on
the bytes as sent before anything is read, then the body against the contract; a replayed request
answers the first receipt; an installation without a secret refuses every push."""

import json
from datetime import UTC, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from onestop.clock import Clock
from onestop.models import Centre, Dossier, PortalRefusal
from tests.conftest import MODELS
from tests.support.national_portal import AGENCY, signed_push

PUSH = {"portal_dossier_id": "DVC-W1", "procedure_code": "review", "agency_code": AGENCY}


@pytest.fixture
def portal_app(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with sqlite_app.app_context():
        Centre.update(agency_code=AGENCY).where(Centre.code == "default").execute()
    return sqlite_app


def _count(app, model):
    with app.app_context():
        return model.select().count()


def test_a_replayed_request_answers_the_first_receipt_and_makes_nothing_new(portal_app):
    secret = portal_app.extensions["onestop.runtime"].national_portal.secret
    body, now = json.dumps(PUSH).encode(), Clock().now()
    headers = {"webhook-id": "m-1", "webhook-timestamp": str(int(now.replace(tzinfo=UTC).timestamp())),
               "webhook-signature": Webhook(secret).sign("m-1", now, body)}
    client = portal_app.test_client()
    first = client.post("/api/v1/national-portal/dossiers", data=body, headers=headers, content_type="application/json")
    again = client.post("/api/v1/national-portal/dossiers", data=body, headers=headers, content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["dossier_code"] == first.json["dossier_code"] and again.json["duplicate"] is True
    assert _count(portal_app, Dossier) == 1


def test_a_signature_older_than_five_minutes_is_refused(portal_app):
    secret = portal_app.extensions["onestop.runtime"].national_portal.secret
    body, then = json.dumps(PUSH).encode(), Clock().now() - timedelta(minutes=6)
    headers = {"webhook-id": "m-2", "webhook-timestamp": str(int(then.replace(tzinfo=UTC).timestamp())),
               "webhook-signature": Webhook(secret).sign("m-2", then, body)}
    answer = portal_app.test_client().post("/api/v1/national-portal/dossiers", data=body, headers=headers,
                                           content_type="application/json")
    assert answer.status_code == 401 and _count(portal_app, Dossier) == 0
    with portal_app.app_context():
        assert [r.reason for r in PortalRefusal.select()] == ["forged"]


def test_an_altered_body_is_refused(portal_app):
    secret = portal_app.extensions["onestop.runtime"].national_portal.secret
    body, now = json.dumps(PUSH).encode(), Clock().now()
    headers = {"webhook-id": "m-3", "webhook-timestamp": str(int(now.replace(tzinfo=UTC).timestamp())),
               "webhook-signature": Webhook(secret).sign("m-3", now, body)}
    altered = body.replace(b"DVC-W1", b"DVC-W2")
    answer = portal_app.test_client().post("/api/v1/national-portal/dossiers", data=altered, headers=headers,
                                           content_type="application/json")
    assert answer.status_code == 401 and answer.json["error"] == "bad_signature" and _count(portal_app, Dossier) == 0


def test_a_signed_body_that_does_not_fit_the_contract_is_refused_field_by_field(portal_app):
    answer = signed_push(portal_app, portal_app.test_client(), {"portal_dossier_id": "bad id with spaces",
                                                                 "procedure_code": "review"})
    assert answer.status_code == 422
    assert {d["field"] for d in answer.json["details"]} >= {"agency_code", "portal_dossier_id"}
    assert _count(portal_app, Dossier) == 0


def test_without_a_shared_secret_every_push_is_refused(portal_app):
    options = portal_app.extensions["onestop.runtime"].national_portal
    secret, options.secret = options.secret, ""
    answer = signed_push(portal_app, portal_app.test_client(), PUSH, secret=secret)
    assert answer.status_code == 503 and answer.json["error"] == "not_connected" and _count(portal_app, Dossier) == 0


def test_a_refusal_names_the_national_code_it_did_not_find(portal_app):
    answer = signed_push(portal_app, portal_app.test_client(), PUSH | {"procedure_code": "2.000001"})
    assert answer.status_code == 422 and answer.json["error"] == "unknown_procedure"
    assert "no procedure with the national code '2.000001'" in answer.json["message"]
