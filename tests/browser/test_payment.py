"""A citizen pays a dossier's fee online in a real browser (Chromium under Playwright) against the
real server (`onestop serve`, the embedded default, which mounts the payment gateway simulator):
the dossier waits for its fee, "Pay the fee online" leads to the gateway's page, paying there
brings the citizen back to the dossier's page with the payment recorded (the gateway's server
notification reached the server), and the receipt slip carries the receipt number."""

import io
import json
import re
import zipfile

import pytest
import urllib3

from tests.browser.test_journey import PDF, Screenshots, sync_api

PAID = __import__("pathlib").Path(__file__).resolve().parents[1] / "models" / "forms" / "paid"


@pytest.fixture(scope="module")
def server(shared_server):
    """The process's shared `onestop serve` (tests/browser/conftest.py; simulators mounted) with the paid
    household-business procedure uploaded (its dossier and payment order are found by their code)."""
    base = shared_server()
    token = re.search(r"api token: (\S+)", (shared_server.home / "admin-token.txt").read_text()).group(1)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        for path in sorted(PAID.iterdir()):
            archive.writestr(f"paid/{path.name}", path.read_bytes())
    uploaded = urllib3.request("POST", f"{base}/api/v1/procedures", headers={"Authorization": f"Bearer {token}"},
                               fields={"files": ("paid.zip", blob.getvalue(), "application/zip")})
    assert uploaded.status == 201, uploaded.data[:500]
    return base


@pytest.fixture(scope="module")
def browser(chromium):
    """The process's Chromium for this file; what the file opened in it is closed when it is done."""
    yield chromium
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def shots(tmp_path):
    return Screenshots(tmp_path / "screenshots")


def test_a_citizen_pays_the_fee_through_the_gateway_and_comes_back_to_see_it_recorded(server, browser, shots):
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="en-GB")
    context.add_cookies([{"name": "lang", "value": "en", "url": server}])
    citizen = context.new_page()
    citizen.goto(server + "/procedures/household_business_paid/submit")
    for name, value in {"full_name": "Trần Thị Bình", "citizen_id": "001203004567", "business_name": "Phở Bình",
                        "capital_vnd": "50000000", "start_date": "2026-12-01", "address-street": "12 Lê Lợi",
                        "address-commune": "Phường Hồng Gai", "members-0-name": "Trần Văn An"}.items():
        citizen.locator(f'[name="{name}"]').fill(value)
    citizen.locator('[name="ownership"][value="individual"]').check()
    citizen.locator('[name="business_lines"][value="5610"]').check()
    citizen.locator('[name="documents"]').set_input_files(
        files=[{"name": "giay-chung-nhan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    citizen.locator("form button[type=submit]").last.click()
    code = citizen.locator("dd.big-code").nth(1).inner_text().strip()
    sync_api.expect(citizen.locator("#lookup-key")).to_be_visible()

    citizen.get_by_role("link", name="Pay the fee online").click()  # from the confirmation
    owed = citizen.locator("#fee-owed")
    sync_api.expect(owed).to_contain_text("100.000")  # the DMN table's fee for an individual
    citizen.get_by_role("button", name="Pay the fee online").click()

    sync_api.expect(citizen.locator("#amount")).to_have_text("100.000 VND")  # the gateway's page
    assert citizen.url.startswith(f"{server}/simulators/payment/paymentv2/vpcpay.html")
    shots.page(citizen, "gateway.png")  # kept when $ONESTOP_SCREENSHOTS names a folder; nothing reads it here
    citizen.get_by_role("button", name=re.compile("Pay")).click()

    sync_api.expect(citizen.get_by_role("status").first).to_contain_text("Your payment is recorded")
    assert f"/track/{code}" in citizen.url
    sync_api.expect(citizen.locator("#payments")).to_contain_text("paid")
    sync_api.expect(citizen.locator("#fee-owed")).to_have_count(0)
    receipt = re.search(r"BL-\d{8}-\d{6}", citizen.locator("#payments").inner_text()).group(0)
    order = json.loads(urllib3.request("GET", f"{server}/simulators/payment/_orders/{code}-P1").data)
    assert order["status"] == "paid" and json.loads(order["ipn_answer"])["RspCode"] == "00"  # notified the server
    citizen.goto(f"{server}/submitted/{code}/receipt")
    sync_api.expect(citizen.locator(".slip-fee")).to_contain_text(receipt)
