"""The form builder in a real browser (Debian's Chromium, Playwright) against `onestop serve`: an
administrator uploads a procedure as a draft, opens one of its forms in the bpmn.io form editor,
adds a required text field with its label, sees onestop's own preview draw it, saves, is told of a
pattern RE2 cannot run next to the field, and inserts the shared identity block. Nothing the page does is
refused by the Content-Security-Policy."""

import re

import pytest

from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.process_models import bundled_files
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("quantri.bieumau", "admin", password=PASSWORD))


def _open_general(page):
    """The properties panel's "General" group (label, key), folded until first opened."""
    if not page.locator("#bio-properties-panel-key").is_visible():
        page.locator(".bio-properties-panel-group-header", has_text="General").click()


def test_an_administrator_adds_a_required_field_previews_saves_and_inserts_the_identity_block(
        server, browser, shots):  # noqa: F811
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="vi-VN")
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server + "/admin/onboard/")
    page.get_by_label("Tên đăng nhập").fill("quantri.bieumau")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.locator("#files").set_input_files(files=[
        {"name": p.name, "mimeType": "application/octet-stream", "buffer": p.read_bytes()}
        for p in bundled_files("copy_certification")])
    page.get_by_role("button", name="Kiểm tra").click()
    page.wait_for_url(re.compile(r".*/admin/onboard/\d+$"))
    draft_id = page.url.rsplit("/", 1)[1]

    page.goto(f"{server}/admin/modeller/{draft_id}/forms")
    page.get_by_role("link", name="receive").click()
    preview = page.locator("#form-preview")
    expect(preview.locator("form")).to_be_visible()
    expect(page.locator(".fjs-editor-container")).to_be_visible()

    page.locator('[data-palette="text"]').click()  # selected at once: its properties are shown
    _open_general(page)
    page.locator("#bio-properties-panel-key").fill("receive_note")
    page.locator("#bio-properties-panel-label").fill("Ghi chú khi tiếp nhận")
    required = page.locator("#bio-properties-panel-required")
    if not required.is_visible():
        page.locator(".bio-properties-panel-group-header", has_text="Validation").click()
    required.check()
    expect(page.locator("#bio-properties-panel-required")).to_be_checked()
    field = preview.locator("#receive_note")
    expect(field).to_be_visible()
    expect(field).to_have_attribute("aria-required", "true")
    expect(preview.locator('label[for="receive_note"]')).to_contain_text("Ghi chú khi tiếp nhận")
    page.locator("#form-save").click()
    expect(page.locator("#form-status")).to_contain_text("Đã lưu biểu mẫu")

    # The editor itself refuses a key already in use; a pattern RE2 cannot run is onestop's to say.
    page.locator('[data-palette="text"]').click()
    _open_general(page)
    page.locator("#bio-properties-panel-key").fill("receive_code")
    page.locator("#bio-properties-panel-pattern").fill("^(?=[0-9])[0-9]{3}$")
    problem = page.locator(".fjs-element.onestop-has-problem .onestop-field-problem")
    expect(problem).to_contain_text("Mẫu kiểm tra (biểu thức chính quy) của trường không dùng được")
    expect(page.locator("#form-problems")).to_contain_text("receive_code")
    shots.page(page, "form-builder-bad-pattern.png")
    page.locator("#bio-properties-panel-pattern").fill("^[0-9]{3}$")
    expect(problem).to_have_count(0)
    expect(preview.locator("#receive_code")).to_be_visible()

    page.locator('[data-palette="block_identity"]').click()
    expect(preview.locator("#applicant_citizen_id")).to_be_visible()
    expect(preview.locator('label[for="applicant_citizen_id"]')).to_contain_text("Số định danh cá nhân (CCCD)")
    page.locator("#form-save").click()
    expect(page.locator("#form-status")).to_contain_text("Đã lưu biểu mẫu")
    shots.page(page, "form-builder.png")
    assert page.locator(".fjs-powered-by").count() == 1  # the bpmn.io watermark stays (licence)
    assert refused == [], refused
