"""A payment the gateway failed on is listed among the back office's incidents, with what failed and
when it is tried again, and an administrator can have it tried again at once."""

from tests.admin.test_back_office import _signed_in
from tests.services.test_payments import (
    _api,
    _control,
    _paid_through_the_gateway,
    _rows,
    _upload,
    gateway,
    paid_app,
)
from tests.web.pages import csrf

__all__ = ["gateway", "paid_app"]  # the fixtures this file takes from the payments' service tests


def test_a_payment_the_gateway_failed_on_is_an_incident_retried_from_the_back_office(paid_app, gateway):
    _upload(_api(paid_app))
    client, code, key, order, result = _paid_through_the_gateway(paid_app, gateway)
    _control(gateway, mode="down")
    assert client.get("/payment/vnpay/return", query_string=result).status_code == 303
    admin = _signed_in(paid_app, "quantri", ("admin",))
    page = admin.get("/admin/incidents/")
    listed = page.get_data(as_text=True)
    assert order in listed and "down: the payment gateway answered HTTP 503" in listed
    payment = _rows(paid_app, code)[1][0]

    _control(gateway, mode="normal")
    retried = admin.post(f"/admin/incidents/payments/{payment.id}/retry", data={"csrf_token": csrf(page)})
    assert retried.status_code == 302
    dossier, (payment,), _ = _rows(paid_app, code)
    assert payment.state == "paid" and payment.incident is None and dossier.status == "new"
    assert 'id="payment-incidents"' not in admin.get("/admin/incidents/").get_data(as_text=True)
