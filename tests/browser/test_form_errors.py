"""Form errors in a real browser (Chromium): a file too large is caught before it is sent, the
error summary takes the focus when a page with errors opens, its links lead to the fields, and on
the officer's task page the summary is where the page opens, not below the dossier's data."""

import pytest

from tests.browser.test_journey import CHROMIUM, ONESTOP, PDF, browser, shots  # noqa: F401  (skips the file without Chromium)
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
SUMMARY_FOCUSED = "document.activeElement && document.activeElement.hasAttribute('data-error-summary')"


@pytest.fixture(scope="module")
def server(shared_server):
    # The process's shared server (tests/browser/conftest.py): an officer of this file's own; the
    # officer opens the task of this file's dossier, found by its code.
    return shared_server(user("canbo.loi", "officer", password="Mật-khẩu-2026"))




def _fill_birth_application(page):
    page.get_by_label("Họ, chữ đệm, tên người yêu cầu").fill("Nguyễn Văn Hùng")
    page.get_by_label("Số định danh cá nhân của người yêu cầu").fill("001 085 012 345")
    page.get_by_label("Quan hệ với trẻ").select_option(label="Cha")
    page.get_by_label("Họ, chữ đệm, tên của trẻ").fill("Nguyễn Minh Anh")
    page.get_by_label("Nữ").check()
    page.get_by_label("Nơi sinh").fill("Bệnh viện Sản Nhi Quảng Ninh")
    page.get_by_label("Họ, chữ đệm, tên người mẹ").fill("Trần Thị Lan")


def test_a_file_too_large_is_caught_before_sending_and_server_errors_are_summed_up_and_focused(  # noqa: F811
        server, browser, shots, tmp_path):  # noqa: F811 (test_journey's fixtures)
    page = browser.new_page(viewport={"width": 420, "height": 800}, locale="vi-VN")
    page.goto(server + "/procedures/1.001193/submit")
    _fill_birth_application(page)
    file_input = page.get_by_label("Bản chụp giấy tờ chứng minh việc sinh")
    # Chosen from the disk, as a citizen does: Chromium reads the file itself (an 11 MB buffer would
    # cross the driver's pipe base64-encoded, ~0.2 s of CPU per MB on both sides).
    too_large = tmp_path / "ảnh-quá-lớn.pdf"
    too_large.write_bytes(PDF + b"0" * (11 * 1024 * 1024))
    file_input.set_input_files(str(too_large))
    sync_api.expect(page.locator(".error-text", has_text="ảnh-quá-lớn.pdf")).to_be_visible()  # at once, on change
    address = page.url
    page.get_by_role("button", name="Nộp hồ sơ").click()
    page.wait_for_function(SUMMARY_FOCUSED)
    assert page.url == address  # nothing was sent: the form and what was typed are as they were
    assert page.get_by_label("Họ, chữ đệm, tên người mẹ").input_value() == "Trần Thị Lan"

    file_input.set_input_files(files=[{"name": "gcs.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_label("Ngày, tháng, năm sinh").fill("2030-01-01")  # a birth in the future: the server refuses it
    page.get_by_role("button", name="Nộp hồ sơ").click()
    page.wait_for_load_state()
    page.wait_for_function(SUMMARY_FOCUSED)
    summary = page.locator("[data-error-summary]")
    assert summary.get_attribute("role") == "alert"
    box = summary.bounding_box()
    assert box is not None and -2 <= box["y"] < 800  # in view (scrolled to its top)
    shots.page(page, "portal-error-summary.png", full_page=False)
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "child_date_of_birth"
    assert page.get_by_label("Họ, chữ đệm, tên người mẹ").input_value() == "Trần Thị Lan"  # kept


def test_on_the_task_page_the_error_summary_is_where_the_page_opens(server, browser, shots):  # noqa: F811 (test_journey's fixtures)
    citizen = browser.new_page(locale="vi-VN")
    citizen.goto(server + "/procedures/1.001193/submit")
    _fill_birth_application(citizen)
    citizen.get_by_label("Ngày, tháng, năm sinh").fill("2026-11-20")
    citizen.get_by_label("Bản chụp giấy tờ chứng minh việc sinh").set_input_files(
        files=[{"name": "gcs.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    citizen.get_by_role("button", name="Nộp hồ sơ").click()
    sync_api.expect(citizen.locator("#lookup-key")).to_be_visible()
    code = citizen.locator("dd.big-code").nth(1).inner_text().strip()

    officer = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer.goto(server + "/desk/")
    officer.get_by_label("Tên đăng nhập").fill("canbo.loi")
    officer.get_by_label("Mật khẩu").fill("Mật-khẩu-2026")
    officer.get_by_role("button", name="Đăng nhập").click()
    officer.get_by_role("row").filter(has_text=code).get_by_role("link", name="Tiếp nhận, kiểm tra hồ sơ").click()
    officer.get_by_role("button", name="Hoàn thành công việc").click()  # the channel left unchosen
    officer.wait_for_load_state()
    officer.wait_for_function(SUMMARY_FOCUSED)
    top = officer.evaluate("document.querySelector('[data-error-summary]').getBoundingClientRect().top + scrollY")
    assert top < 400, f"the error summary starts {top:.0f} px below the top of the page"
    shots.page(officer, "desk-task-error-summary.png", full_page=False)
