"""A citizen signs in with their electronic identity in a real browser (Chromium) against the real
server (`onestop serve`, its identity provider simulator mounted under /simulators/identity and
talked to over HTTP by the server itself): the applicant block comes filled and locked, the first
dossier's upload is kept, and the second dossier reuses it instead of a new upload; both are in
"my dossiers". The page language is chosen with the `lang` cookie."""

import re

import pytest

from tests.browser.test_journey import PDF, browser, shots  # noqa: F401 (the file's fixtures)
from tests.support.servers import onestop_serve

sync_api = pytest.importorskip("playwright.sync_api")
BIRTH = "1.001193"  # bundled birth registration (its declarant block and a file field)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("identity")
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="", ONESTOP_SIMULATORS="1",
                       ONESTOP_OIDC_ISSUER="") as (base, _home, _env, _log):
        yield base


def fill_the_childs_part(page):
    page.get_by_label("Quan hệ với trẻ").select_option(label="Cha")
    page.get_by_label("Họ, chữ đệm, tên của trẻ").fill("Nguyễn Minh Anh")
    page.get_by_label("Nữ").check()
    page.get_by_label("Ngày, tháng, năm sinh").fill("2026-11-20")
    page.get_by_label("Nơi sinh").fill("Bệnh viện Sản Nhi Quảng Ninh, phường Hồng Hải")
    page.get_by_label("Họ, chữ đệm, tên người mẹ").fill("Trần Thị Lan")


def test_a_citizen_signs_in_finds_the_applicant_block_filled_and_reuses_a_kept_document(server, browser, shots):  # noqa: F811
    context = browser.new_context(viewport={"width": 900, "height": 1100}, locale="en-GB")
    context.add_cookies([{"name": "lang", "value": "en", "url": server}])
    page = context.new_page()
    page.goto(f"{server}/procedures/{BIRTH}/submit")
    page.get_by_role("link", name="Sign in with VNeID").first.click()

    sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("VNeID")  # the provider's page
    page.get_by_label("Công dân thử nghiệm").select_option(value="001085012345")
    shots.page(page, "identity-provider.png")
    page.get_by_role("button", name="Đăng nhập").click()

    sync_api.expect(page.get_by_role("status").first).to_contain_text("Nguyễn Văn Hùng")
    name = page.get_by_label("Họ, chữ đệm, tên người yêu cầu")
    citizen_id = page.get_by_label("Số định danh cá nhân của người yêu cầu")
    sync_api.expect(name).to_have_value("Nguyễn Văn Hùng")
    sync_api.expect(citizen_id).to_have_value("001085012345")
    sync_api.expect(name).not_to_be_editable()
    sync_api.expect(citizen_id).not_to_be_editable()
    sync_api.expect(page.get_by_label("Số điện thoại")).to_have_value("0912345678")
    sync_api.expect(page.get_by_label("Số điện thoại")).to_be_editable()
    fill_the_childs_part(page)
    page.get_by_label("Bản chụp giấy tờ chứng minh việc sinh").set_input_files(
        files=[{"name": "giấy chứng sinh.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    shots.page(page, "identity-filled.png")
    page.get_by_role("button", name="Submit the dossier").click()
    sync_api.expect(page.get_by_role("status").first).to_contain_text("Your dossier has been received")
    first = page.locator("dd.big-code").nth(1).inner_text().strip()

    page.goto(f"{server}/procedures/{BIRTH}/submit")
    fill_the_childs_part(page)
    kept = page.get_by_label("Or use a document you already have")
    sync_api.expect(kept.locator("option", has_text="giấy chứng sinh.pdf")).to_have_count(1)
    kept.select_option(index=1)
    shots.page(page, "identity-reuse.png")
    page.get_by_role("button", name="Submit the dossier").click()
    sync_api.expect(page.get_by_role("status").first).to_contain_text("Your dossier has been received")
    second = page.locator("dd.big-code").nth(1).inner_text().strip()
    assert re.fullmatch(r"\S+-\d{6}-\d{4}", second) and second != first

    page.get_by_role("link", name="My dossiers").click()
    rows = page.get_by_role("row")
    sync_api.expect(rows.filter(has_text=second)).to_have_count(1)
    sync_api.expect(rows.filter(has_text=first)).to_have_count(1)
    shots.page(page, "identity-my-dossiers.png")
    context.close()
