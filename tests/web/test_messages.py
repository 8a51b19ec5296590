"""POST /api/v1/messages over real HTTP against `onestop serve` (two worker processes): a message
starts a dossier or reaches the one waiting for it, by key or correlation, never across centres;
two messages at once for one dossier: one wins, the other is told (409), nothing is lost."""

import threading

import pytest
import requests

from onestop.models import AuditEvent, Centre, Dossier
from tests.conftest import MODELS, _close_pool, _make_app, make_user
from tests.support.province_server import province_server

EN = {"Accept-Language": "en"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory, database_templates, engine):
    """One server per database kind for the module (a start costs ~3 s of CPU): each test works in
    two communes of its own (`served`), so none sees another's dossiers, users or procedures."""
    with province_server(request.param, tmp_path_factory.mktemp("served"), database_templates, engine) as served:
        yield served


@pytest.fixture
def app(server, tmp_path, engine, cold_engine, clock):
    """The test's app on the module server's database (as conftest's `app`, on its own database)."""
    url = server.url
    yield _make_app(url, tmp_path, cold_engine if url.startswith("postgres") else engine, clock=clock)
    _close_pool()


@pytest.fixture
def communes(server):
    """Two communes (A, B) of province 22 no other test of the module uses."""
    return next(server.communes), next(server.communes)


@pytest.fixture
def served(app, server, communes):
    """The server, with the two communes' administrators (A, B) and B's procedure."""
    base, log = server.base, server.log
    with app.app_context():
        from onestop.services import procedures

        a, b = (Centre.get(Centre.code == code) for code in communes)
        officer_a, token_a = make_user(f"canbo.a.{a.code}", ("officer", "admin"), centre=a)
        officer_b, token_b = make_user(f"canbo.b.{b.code}", ("officer", "admin"), centre=b)
        for officer in (officer_a, officer_b):
            procedures.upload_procedure(officer, [procedures.Upload(
                "tax-notice-camunda.bpmn", (MODELS / "tax-notice-camunda.bpmn").read_bytes())])
    yield base, token_a, token_b, log


def _send(base, token, body):
    return requests.post(f"{base}/api/v1/messages", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}"} | EN)


def _review(base, token, dossier):
    [task] = dossier["tasks"]
    done = requests.post(f"{base}/api/v1/tasks/{task['id']}/complete", json={"data": {}}, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})
    assert done.status_code == 200, done.text
    return done.json()


def test_a_camunda_message_start_and_catch_take_their_payload_over_http(served):
    base, token, _other, log = served
    started = _send(base, token, {"name": "tax_assessed", "payload": {"tax_vnd": 1200000}, "business_key": "TB-1"})
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["result"] == "started" and body["dossier"]["data"] == {"tax_vnd": 1200000}
    assert started.headers["Location"].endswith(f"/dossiers/{body['dossier']['code']}")
    assert [t["element_id"] for t in body["dossier"]["tasks"]] == ["Review"]
    waiting = _review(base, token, body["dossier"])
    assert [(w["element_id"], w["message"]) for w in waiting["waiting"]] == [("Paid", "fee_paid")]

    paid = _send(base, token, {"name": "fee_paid", "payload": {"receipt": "BL-7"}, "business_key": "TB-1"})
    assert paid.status_code == 200, paid.text
    after = paid.json()["dossier"]
    assert paid.json()["result"] == "delivered" and after["code"] == body["dossier"]["code"]
    assert after["data"] == {"tax_vnd": 1200000, "receipt": "BL-7"} and after["state"] == "active"
    assert [t["element_id"] for t in after["tasks"]] == ["Issue"]
    assert "Traceback" not in log.read_text()


def test_unknown_ambiguous_and_malformed_messages_get_a_clear_4xx_without_exception_text(served):
    base, token, _other, log = served
    unknown = _send(base, token, {"name": "no_such_message", "payload": {}})
    assert unknown.status_code == 404 and "no_such_message" in unknown.json()["message"]
    for n in range(2):
        dossier = _send(base, token, {"name": "tax_assessed", "payload": {"n": n}}).json()["dossier"]
        _review(base, token, dossier)
    ambiguous = _send(base, token, {"name": "fee_paid", "payload": {}})
    assert ambiguous.status_code == 409 and "fee_paid" in ambiguous.json()["message"]
    assert "2 waiting dossiers" in ambiguous.json()["message"]
    chosen = _send(base, token, {"name": "fee_paid", "payload": {}, "correlation": {"n": 1}})
    assert chosen.status_code == 200 and chosen.json()["dossier"]["data"] == {"n": 1}
    for bad in ({}, {"name": ""}, {"name": "x", "payload": [1]}, {"name": "x", "business_key": 5},
                {"name": "x", "correlation": {"a": {"b": 1}}}, {"name": "x", "payload": {"_x": 1}}):
        refused = _send(base, token, bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert "Error" not in refused.json()["message"] and "Traceback" not in refused.text
    assert "Traceback" not in log.read_text()


def test_a_message_from_one_centre_never_reaches_another_centres_dossier(served, app, communes):
    base, token_a, token_b, _log = served
    theirs = _send(base, token_b, {"name": "tax_assessed", "payload": {"secret": "B"}, "business_key": "K-B"})
    assert theirs.status_code == 201
    _review(base, token_b, theirs.json()["dossier"])
    code = theirs.json()["dossier"]["code"]
    for key in ("K-B", code):
        sent = _send(base, token_a, {"name": "fee_paid", "payload": {"stolen": True}, "business_key": key})
        # A has no dossier with that key: its own procedure starts nothing with fee_paid either.
        assert sent.status_code == 404, sent.text
        assert "secret" not in sent.text and code not in sent.text
    elsewhere = _send(base, token_a, {"name": "fee_paid", "payload": {}, "business_key": "K-B", "centre": communes[1]})
    assert elsewhere.status_code == 404
    with app.app_context():
        assert Dossier.get(Dossier.code == code).data == {"secret": "B"}
        assert not AuditEvent.select().where((AuditEvent.dossier == Dossier.get(Dossier.code == code).id)
                                             & (AuditEvent.action == "message.delivered")).exists()


def _at_once(base, token, bodies):
    barrier, results = threading.Barrier(len(bodies)), []

    def send(body):
        barrier.wait()
        response = _send(base, token, body)
        results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_messages_at_once_for_one_dossier_one_wins_and_the_others_are_told(served, app):
    base, token, _other, log = served
    dossier = _send(base, token, {"name": "tax_assessed", "payload": {}, "business_key": "TB-9"}).json()["dossier"]
    _review(base, token, dossier)
    results = _at_once(base, token, [{"name": "fee_paid", "payload": {"receipt": f"BL-{n}"}, "business_key": "TB-9"}
                                     for n in range(6)])
    codes = sorted(code for code, _ in results)
    assert codes.count(200) == 1 and all(code == 409 for code in codes if code != 200), results
    assert all(body["message"] for code, body in results if code == 409)
    winner = next(body for code, body in results if code == 200)
    with app.app_context():
        stored = Dossier.get(Dossier.code == dossier["code"])
        assert stored.data == {"receipt": winner["dossier"]["data"]["receipt"]}
        assert AuditEvent.select().where((AuditEvent.dossier == stored.id)
                                         & (AuditEvent.action == "message.delivered")).count() == 1
    assert "Traceback" not in log.read_text()


def test_starting_messages_at_once_with_one_business_key_start_one_dossier(served, app):
    base, token, _other, _log = served
    results = _at_once(base, token, [{"name": "tax_assessed", "payload": {"n": n}, "business_key": "TB-once"}
                                     for n in range(6)])
    codes = sorted(code for code, _ in results)
    assert codes.count(201) == 1 and all(code == 409 for code in codes if code != 201), results
    with app.app_context():
        assert Dossier.select().where(Dossier.business_key == "TB-once").count() == 1
