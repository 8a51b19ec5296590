"""The back office's webhooks page: an administrator subscribes an outside system (its URL on the
centre's allowed hosts, else refused with the reason), is shown the secret once, reads the delivery
log, replays a delivery and rotates the secret; nobody else, and no other centre, sees any of it."""

import html
import re

from standardwebhooks import Webhook

from onestop.models import Centre, WebhookDelivery, WebhookSecret
from onestop.services import webhooks
from tests.conftest import MODELS, make_user
from tests.services.test_webhooks import Receiver
from tests.support.simulators import serving
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _admin(app):
    with app.app_context():
        _, token = make_user("quan.tri", ("admin",), password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, "quan.tri", PASSWORD).status_code == 303
    return client, token


def _allow(client, hosts="127.0.0.1"):
    page = client.get("/admin/connectors/")
    client.post("/admin/connectors/settings", data={"csrf_token": csrf(page), "allowed_hosts": hosts, "proxy_url": ""})


def _subscribe(client, url, events=tuple(webhooks.EVENTS)):
    page = client.get("/admin/webhooks/")
    return client.post("/admin/webhooks/subscribe", data={"csrf_token": csrf(page), "url": url, "description": "Sở",
                                                          "events": list(events), "active": "y"})


def _secret(page) -> str:
    return html.unescape(re.search(r'<pre id="secret"[^>]*>([^<]+)</pre>', page.get_data(as_text=True))[1])


def _send(app):
    with app.app_context():
        return webhooks.send_due()


def _start(app, token):
    from tests.conftest import Api

    api = Api(app.test_client(), token)
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    return api


def test_an_administrator_subscribes_is_shown_the_secret_once_and_the_receiver_verifies_it(sqlite_app):
    client, token = _admin(sqlite_app)
    _allow(client)
    receiver = Receiver()
    with serving(receiver) as url:
        done = _subscribe(client, url + "/onestop", ["dossier.received"])
        assert done.status_code == 200
        secret = _secret(done)
        assert secret.startswith("whsec_") and webhooks.fingerprint(secret) in done.get_data(as_text=True)
        api = _start(sqlite_app, token)
        api.post("/dossiers", {"procedure": "review"})
        assert _send(sqlite_app) == 1
    headers, body = receiver.got[0]
    assert Webhook(secret).verify(body, headers)["type"] == "dossier.received"
    listing = client.get("/admin/webhooks/").get_data(as_text=True)
    assert f"{url}/onestop" in listing and "Hồ sơ được tiếp nhận" in listing and secret not in listing
    with sqlite_app.app_context():
        sid = WebhookSecret.get().subscription_id
        assert secret not in WebhookSecret.get().ciphertext
    assert secret not in client.get(f"/admin/webhooks/{sid}").get_data(as_text=True)
    assert secret not in client.get("/admin/audit/").get_data(as_text=True)


def test_a_url_off_the_allowed_hosts_is_refused_with_the_reason_and_kept_in_the_form(sqlite_app):
    client, _ = _admin(sqlite_app)
    _allow(client, "thue.gov.vn")
    refused = _subscribe(client, "http://127.0.0.1:8080/hook")
    text = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 422 and "not on this centre's list of allowed hosts" in text
    assert 'value="http://127.0.0.1:8080/hook"' in text
    internal = _subscribe(client, "http://169.254.169.254/latest/meta-data/")
    assert internal.status_code == 422 and "not on this centre's list" in html.unescape(internal.get_data(as_text=True))
    none = _subscribe(client, "http://thue.gov.vn/hook", events=())
    assert none.status_code == 422 and "choose at least one event" in none.get_data(as_text=True)
    with sqlite_app.app_context():
        assert WebhookSecret.select().count() == 0


def test_the_delivery_log_shows_each_try_and_a_delivery_is_replayed_from_it(sqlite_app):
    client, token = _admin(sqlite_app)
    _allow(client)
    receiver = Receiver(statuses=[503])
    with serving(receiver) as url:
        secret = _secret(_subscribe(client, url, ["dossier.received"]))
        api = _start(sqlite_app, token)
        api.post("/dossiers", {"procedure": "review"})
        assert _send(sqlite_app) == 0
        with sqlite_app.app_context():
            delivery = WebhookDelivery.get()
        page = client.get(f"/admin/webhooks/{delivery.subscription_id}")
        assert page.status_code == 200 and "the receiver answered HTTP 503" in page.get_data(as_text=True)
        log = client.get(f"/admin/webhooks/deliveries/{delivery.id}")
        text = log.get_data(as_text=True)
        assert log.status_code == 200 and "<td>503</td>" in text and delivery.message_id in text
        replayed = client.post(f"/admin/webhooks/deliveries/{delivery.id}/replay", data={"csrf_token": csrf(log)},
                               follow_redirects=True)
        assert replayed.status_code == 200 and "Đã xếp lần gửi lại" in replayed.get_data(as_text=True)
        assert _send(sqlite_app) == 1
    assert [Webhook(secret).verify(body, headers)["type"] for headers, body in receiver.got] == [
        "dossier.received", "dossier.received"]
    text = client.get(f"/admin/webhooks/deliveries/{delivery.id}").get_data(as_text=True)
    assert "<td>204</td>" in text and "đã nhận" in text


def test_a_secret_is_rotated_without_a_gap_from_the_page(sqlite_app):
    client, token = _admin(sqlite_app)
    _allow(client)
    receiver = Receiver()
    with serving(receiver) as url:
        old = _secret(_subscribe(client, url, ["dossier.received"]))
        with sqlite_app.app_context():
            sid = WebhookSecret.get().subscription_id
        page = client.get(f"/admin/webhooks/{sid}")
        new = _secret(client.post(f"/admin/webhooks/{sid}/secrets", data={"csrf_token": csrf(page)}))
        api = _start(sqlite_app, token)
        api.post("/dossiers", {"procedure": "review"})
        _send(sqlite_app)
        headers, body = receiver.got[-1]
        Webhook(old).verify(body, headers)
        Webhook(new).verify(body, headers)
        with sqlite_app.app_context():
            first = WebhookSecret.select().order_by(WebhookSecret.id).first()
        retired = client.post(f"/admin/webhooks/{sid}/secrets/{first.id}/retire", data={"csrf_token": csrf(page)},
                              follow_redirects=True)
        assert "Đã bỏ khóa cũ" in retired.get_data(as_text=True)
        assert webhooks.fingerprint(old) not in retired.get_data(as_text=True)
        api.post("/dossiers", {"procedure": "review"})
        _send(sqlite_app)
    headers, body = receiver.got[-1]
    assert headers["webhook-signature"].count("v1,") == 1
    Webhook(new).verify(body, headers)


def test_an_officer_cannot_open_the_page_and_another_centres_subscription_is_not_found(sqlite_app):
    with sqlite_app.app_context():
        make_user("can.bo", ("officer",), password=PASSWORD)
        other = Centre.create(code="tinh-khac", name="Trung tâm khác")
        outsider, _ = make_user("quan.tri.khac", ("admin",), centre=other)
        from onestop.services import connectors

        connectors.save_settings(outsider, "127.0.0.1", "")
        subscription, _secret_value = webhooks.subscribe(outsider, "http://127.0.0.1:9/hook", ["dossier.received"])
    officer = sqlite_app.test_client()
    sign_in(officer, "can.bo", PASSWORD)
    assert officer.get("/admin/webhooks/").status_code == 403
    client, _ = _admin(sqlite_app)
    assert client.get(f"/admin/webhooks/{subscription.id}").status_code == 404
    page = client.get("/admin/webhooks/")
    assert "127.0.0.1:9" not in page.get_data(as_text=True)
    assert client.post(f"/admin/webhooks/{subscription.id}/delete", data={"csrf_token": csrf(page)}).status_code == 404
