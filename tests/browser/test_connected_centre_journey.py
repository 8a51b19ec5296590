"""Issue 21's connected centre, end to end, in a real browser (Chromium) against the real server
(`onestop serve`, the embedded default, with the identity provider and the payment gateway
simulators mounted and talked to over HTTP by the server itself):

a citizen signs in with their electronic identity to register a household business (the bundled
1.001612, whose fee is paid at online submission) and finds the applicant block filled (what the
population register vouches for locked); for the household members' certified authorisation they
attach the signed result of an earlier dossier of theirs (a certification of copies received at the
counter and returned) from their store instead of uploading it again; they pay the fee on the
gateway's page and follow the dossier on "My dossiers" (its steps, the fee's receipt); the officers
complete it (through the API); the citizen downloads the signed result there, its QR code's page
says "valid", and the same file altered by one byte, uploaded on /verify, is said to be altered.
The page language is chosen with the `lang` cookie."""

import json
import re
import subprocess

import pytest
import urllib3

from tests.browser.test_accessibility import serious_violations
from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the file's fixtures)
from tests.browser.test_verify import text_of, valid_on_its_qr_page_and_altered_by_one_byte
from tests.support.servers import onestop_serve

sync_api = pytest.importorskip("playwright.sync_api")
HOUSEHOLD_BUSINESS = "1.001612"  # bundled: its fee (150,000 đồng) is paid at online submission
COPY = "2.000815"  # bundled: certification of copies (the earlier dossier)
CITIZEN, NAME = "001085012345", "Nguyễn Văn Hùng"  # one of the identity simulator's test citizens


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`onestop serve` with its simulators and an officer who is also the leader (their API token):
    (base URL, token)."""
    folder = tmp_path_factory.mktemp("connected")
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="", ONESTOP_SIMULATORS="1",
                       ONESTOP_OIDC_ISSUER="", ONESTOP_PAYMENT_URL="") as (base, _home, env, _log):
        created = subprocess.run([str(ONESTOP), "user", "create", "canbo.tuphap", "--role", "officer", "--role",
                                  "leader", "--password", "Mật-khẩu-cán-bộ-2026", "--token"],
                                 env=env, capture_output=True, text=True)
        assert created.returncode == 0, created.stderr
        yield base, created.stdout.strip().splitlines()[-1]


# urllib3.request's own timeout is 3 s: a step that signs the result could take longer on a loaded
# machine (seen once in a run at ~99 % CPU pressure, ReadTimeoutError), which says nothing about the server.
ANSWER_TIMEOUT = 30


def api(server, method, path, body=None):
    base, token = server
    answer = urllib3.request(method, f"{base}/api/v1{path}", json=body, timeout=ANSWER_TIMEOUT,
                             headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert answer.status < 300, (path, answer.status, answer.data[:800])
    return json.loads(answer.data)


def raw(server, path) -> bytes:
    base, token = server
    answer = urllib3.request("GET", f"{base}/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                             timeout=ANSWER_TIMEOUT)
    assert answer.status == 200, (path, answer.status)
    return answer.data


def complete_every_step(server, code, steps):
    """The officers complete the dossier's open tasks, in turn, with each step's data (by the task's
    element id), until none is left."""
    for _ in range(10):
        tasks = api(server, "GET", f"/tasks?dossier={code}")["tasks"]
        if not tasks:
            return
        task = tasks[0]
        api(server, "POST", f"/tasks/{task['id']}/complete", {"data": steps[task["element_id"]]})
    raise AssertionError(f"{code} still has open tasks")


def earlier_dossier(server):
    """A certified copy the citizen asked for at the counter earlier, completed and returned: its
    signed result is theirs, kept in their store."""
    dossier = api(server, "POST", "/dossiers", {
        "procedure": COPY, "applicant": {"name": NAME, "citizen_id": CITIZEN},
        "data": {"requester_full_name": NAME, "requester_citizen_id": CITIZEN,
                 "papers": [{"paper_name": "Văn bản ủy quyền của thành viên hộ gia đình", "pages": 1, "copies": 1}]}})
    complete_every_step(server, dossier["code"], {
        "Task_Receive": {"original_presented": True, "certifiable": True, "total_pages": 1},
        "Task_Attest": {"copies_match": True, "register_book": "01/2026/SCT-BS", "register_entry_number": "125"},
        "Task_Sign": {"signer_full_name": "Phạm Thị Thu", "signed": True},
        "Task_Return": {"returned_on": "2026-12-01", "receiver_full_name": NAME, "fee_vnd": 2000}})
    assert api(server, "GET", f"/dossiers/{dossier['code']}")["status"] == "returned"
    return dossier["code"]


def test_a_citizen_signs_in_reuses_an_earlier_result_pays_follows_and_verifies_the_signed_result(  # noqa: F811
        server, browser, shots, tmp_path):  # noqa: F811 (test_journey's fixtures)
    base, _token = server
    earlier = earlier_dossier(server)
    context = browser.new_context(viewport={"width": 900, "height": 1100}, locale="vi-VN", accept_downloads=True)
    context.add_cookies([{"name": "lang", "value": "en", "url": base}])
    page = context.new_page()

    # Signed in through the local identity provider: the applicant block is filled, its authority locked.
    page.goto(f"{base}/procedures/{HOUSEHOLD_BUSINESS}/submit")
    page.get_by_role("link", name="Sign in with VNeID").first.click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("VNeID")  # the provider's page
    page.get_by_label("Công dân thử nghiệm").select_option(value=CITIZEN)
    page.get_by_role("button", name="Đăng nhập").click()
    sync_api.expect(page.get_by_role("status").first).to_contain_text(NAME)
    name, citizen_id = page.locator('[name="owner_full_name"]'), page.locator('[name="owner_citizen_id"]')
    sync_api.expect(name).to_have_value(NAME)
    sync_api.expect(citizen_id).to_have_value(CITIZEN)
    sync_api.expect(name).not_to_be_editable()
    sync_api.expect(citizen_id).not_to_be_editable()
    sync_api.expect(page.locator('[name="owner_phone"]')).to_have_value("0912345678")
    sync_api.expect(page.locator('[name="owner_phone"]')).to_be_editable()

    for field, value in {"business_name": "Hộ kinh doanh Phở Hùng", "address": "Số 12 phố Lê Lợi, phường Hồng Gai",
                         "lines-0-line_name": "Nhà hàng và các dịch vụ ăn uống", "capital_vnd": "50000000",
                         "employees": "2"}.items():
        page.locator(f'[name="{field}"]').fill(value)
    # The earlier dossier's signed result, from the citizen's store: no upload.
    kept = page.get_by_label("Or use a document you already have")
    result_option = kept.locator("option", has_text=f"ket-qua-{earlier}.pdf")
    sync_api.expect(result_option).to_have_count(1)
    kept.select_option(value=result_option.get_attribute("value"))
    shots.page(page, "connected-filled.png")
    assert serious_violations(page) == []  # the locked fields and the kept documents' choice
    page.get_by_role("button", name="Submit the dossier").click()
    sync_api.expect(page.get_by_role("status").first).to_contain_text("Your dossier has been received")
    code = page.locator("dd.big-code").nth(1).inner_text().strip()
    sync_api.expect(page.locator("#lookup-key")).to_be_visible()  # anonymous or not, the key is given
    [attached] = [a for a in api(server, "GET", f"/dossiers/{code}")["attachments"] if a["field"] == "authorisation_copy"]
    assert attached["name"] == f"ket-qua-{earlier}.pdf"  # the earlier result's very file, signed
    assert earlier in text_of(raw(server, f"/dossiers/{code}/attachments/{attached['id']}"))

    # The fee, paid on the gateway simulator's page; the gateway's notification reached the server.
    page.get_by_role("link", name="Pay the fee online").click()
    sync_api.expect(page.locator("#fee-owed")).to_contain_text("150.000")  # the procedure's fee
    page.get_by_role("button", name="Pay the fee online").click()
    sync_api.expect(page.locator("#amount")).to_have_text("150.000 VND")
    assert page.url.startswith(f"{base}/simulators/payment/")
    shots.page(page, "connected-gateway.png")
    page.get_by_role("button", name=re.compile("Pay")).click()
    sync_api.expect(page.get_by_role("status").first).to_contain_text("Your payment is recorded")
    sync_api.expect(page.locator("#payments")).to_contain_text("paid")
    receipt = re.search(r"BL-\d{8}-\d{6}", page.locator("#payments").inner_text()).group(0)

    # Followed on "My dossiers", without the lookup key: its progress, the fee paid and its receipt.
    page.get_by_role("link", name="My dossiers").click()
    row = page.get_by_role("row").filter(has_text=code)
    sync_api.expect(row).to_have_count(1)
    shots.page(page, "connected-my-dossiers.png")
    row.get_by_role("link", name=code).click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Đăng ký thành lập hộ kinh doanh")
    sync_api.expect(page.locator("#payments")).to_contain_text(receipt)
    sync_api.expect(page.locator("#result")).to_have_count(0)  # no result yet

    # The officers review and return it; the citizen's page shows it done.
    complete_every_step(server, code, {
        "Task_Receive": {"fee_paid": True},
        "Task_Review": {"name_unique": True, "lines_allowed": True, "conditions_met": True,
                        "household_business_number": "22A8001234"},
        "Task_Sign": {"signer_full_name": "Đinh Văn Tú", "signed": True},
        "Task_NotifyTax": {"tax_office": "Thuế cơ sở 1 tỉnh Quảng Ninh", "sent_on": "2026-12-03"},
        "Task_Return": {"returned_on": "2026-12-03", "receiver_full_name": NAME}})
    page.reload()
    sync_api.expect(page.locator(".steps")).to_contain_text("Trả Giấy chứng nhận đăng ký hộ kinh doanh")
    shots.page(page, "connected-my-dossier-returned.png")
    assert serious_violations(page) == []  # its fees and the signed result's button

    # The signed result, from "My dossiers": "valid" on its QR code's page, "altered" by one byte.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the signed result (PDF)").click()
    saved = tmp_path / "ket-qua.pdf"
    download.value.save_as(saved)
    content = saved.read_bytes()
    assert content.startswith(b"%PDF")
    valid_on_its_qr_page_and_altered_by_one_byte(page, base, content, code, tmp_path, shots, "connected-verify")

    # This result is kept in the citizen's store in turn, for the next dossier.
    page.goto(f"{base}/procedures/{HOUSEHOLD_BUSINESS}/submit")
    offered = page.get_by_label("Or use a document you already have").locator("option")
    sync_api.expect(offered.filter(has_text=f"ket-qua-{code}.pdf")).to_have_count(1)
    sync_api.expect(offered.filter(has_text=f"ket-qua-{earlier}.pdf")).to_have_count(1)
    context.close()

