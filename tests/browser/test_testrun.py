"""Trying a draft in a real browser (Debian's Chromium, Playwright) against `onestop serve`: an
administrator uploads a SpiffArena folder, starts a practice dossier from the draft's test page,
completes its task through the real form and sees the coverage marked on the bpmn-js viewer."""

import io
import zipfile
from pathlib import Path

import pytest

from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"
FOLDER = Path(__file__).resolve().parents[1] / "models" / "spiffarena_branch"


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("thu.quantri", "admin", password=PASSWORD))


def _folder_without_tests() -> dict:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(FOLDER.iterdir()):
            if not path.name.startswith("test_"):
                archive.writestr(f"choose-branch/{path.name}", path.read_bytes())
    return {"name": "choose-branch.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}


def test_a_practice_dossier_is_started_its_task_completed_through_the_form_and_coverage_marked(server, browser, shots):  # noqa: F811
    expect = sync_api.expect
    admin = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    refused = []
    admin.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    admin.goto(server + "/admin/onboard/")
    admin.get_by_label("Tên đăng nhập").fill("thu.quantri")
    admin.get_by_label("Mật khẩu").fill(PASSWORD)
    admin.get_by_role("button", name="Đăng nhập").click()
    admin.locator("#files").set_input_files(files=[_folder_without_tests()])
    admin.get_by_role("button", name="Kiểm tra").click()
    admin.locator("#tests-page").click()
    expect(admin.locator("#coverage-summary")).to_contain_text("0/6")

    admin.get_by_role("button", name="Bắt đầu hồ sơ thử").click()
    task = admin.locator('section.task[data-element="Task_Choose"]')
    expect(task).to_contain_text("Hạn của bước")
    task.get_by_label("Branch").select_option("a")
    task.get_by_role("button", name="Hoàn thành bước (thử)").click()
    expect(admin.locator("#practice-state")).to_contain_text("Đã kết thúc")
    shots.page(admin, "admin-practice.png")

    admin.get_by_role("link", name="Về trang thử nghiệm").click()
    expect(admin.locator("#coverage-summary")).to_contain_text("5/6")
    expect(admin.locator("#never-reached")).to_contain_text("Script_B")
    viewer = admin.locator("#coverage-viewer")
    expect(viewer).to_have_attribute("data-ready", "true")
    expect(viewer.locator('.djs-element.covered[data-element-id="Script_A"]')).to_have_count(1)
    expect(viewer.locator('.djs-element.never[data-element-id="Script_B"]')).to_have_count(1)
    expect(viewer.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark (its licence)
    shots.page(admin, "admin-coverage.png")
    assert refused == [], refused[:3]
