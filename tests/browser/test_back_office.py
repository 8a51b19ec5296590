"""The back office in a real browser (Debian's Chromium, Playwright) against `onestop serve`: a
province's administrator uploads a procedure with a deliberate error, reads the report, fixes it,
publishes it, rolls it out to two communes; an officer of one of them then receives a dossier of it
at the counter. Screenshots are taken when $ONESTOP_SCREENSHOTS names a folder to keep them in."""


import pytest

from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.process_models import bundled_files
from tests.support.servers import embedded_server, user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with embedded_server(tmp_path_factory.mktemp("back-office"), ("centres", "import", "--province", "22"),
                         user("qn.quantri", "province_admin", "admin", password=PASSWORD, centre="P22"),
                         user("canbo.hatu", "officer", password=PASSWORD, centre="W06652")) as base:
        yield base


def _files(broken=False):
    out = []
    for path in bundled_files("copy_certification"):
        content = path.read_bytes()
        if broken and path.suffix == ".bpmn":
            content = content.replace(b'targetRef="Task_Sign"', b'targetRef="Task_Nowhere"')
        out.append({"name": path.name, "mimeType": "application/octet-stream", "buffer": content})
    return out


def _sign_in(page, username):
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def test_a_procedure_goes_from_files_to_two_communes_in_the_browser(server, browser, shots):  # noqa: F811
    expect = sync_api.expect
    admin = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    refused = []  # what the Content-Security-Policy stopped: nothing, on any back-office page
    admin.on("console", lambda m: refused.append((admin.url, m.text)) if "Content Security Policy" in m.text else None)
    admin.goto(server + "/admin/onboard/")
    _sign_in(admin, "qn.quantri")
    admin.locator("#files").set_input_files(files=_files(broken=True))
    admin.get_by_role("button", name="Kiểm tra").click()
    expect(admin.locator("#report")).to_contain_text("Mô hình chưa dùng được")
    expect(admin.locator("#report")).to_contain_text("Flow_Attested")
    shots.page(admin, "admin-report.png")

    admin.get_by_role("link", name="Tải lên lại").click()
    admin.locator("#files").set_input_files(files=_files())
    admin.get_by_role("button", name="Kiểm tra").click()
    expect(admin.locator("#findings")).to_contain_text("chưa được thử lần nào")  # a warning only: no test ran yet
    expect(admin.locator("#findings .finding-error")).to_have_count(0)
    expect(admin.locator("svg.diagram")).to_be_visible()
    shots.page(admin, "admin-review.png")
    admin.locator("#publish").click()
    expect(admin.get_by_text("Đã công bố 2.000815 phiên bản 1")).to_be_visible()

    admin.locator("#to").fill("W06652,W06658")
    admin.locator("#roll-out").click()
    expect(admin.locator("#summary")).to_contain_text("2 đã áp dụng")
    shots.page(admin, "admin-rollout.png")
    for path in ("/admin/", "/admin/user/", "/admin/user/new/", "/admin/audit/", "/admin/incidents/", "/admin/calendar/",
                 "/admin/catalogue/"):
        admin.goto(server + path)
    assert admin.evaluate("typeof window.jQuery + ' ' + typeof window.faHelpers") == "function object"  # its scripts ran
    assert refused == [], refused

    officer = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer.goto(server + "/desk/intake/2.000815")
    _sign_in(officer, "canbo.hatu")
    officer.get_by_label("Họ, chữ đệm, tên người yêu cầu").fill("Đỗ Thị Mai")
    officer.locator("#requester_citizen_id").fill("022190054321")  # the applicant block has a field of that name too
    officer.get_by_label("Tên giấy tờ").fill("Bằng tốt nghiệp đại học")
    officer.get_by_label("Số trang của bản chính").fill("1")
    officer.get_by_label("Số bản sao cần chứng thực").fill("3")
    # Copy certification is decided on the spot: the intake opens its sitting, which links the receipt.
    officer.get_by_role("button", name="Tiếp nhận và giải quyết ngay").click()
    officer.wait_for_url("**/desk/sittings/**")
    code = officer.url.rstrip("/").rsplit("/", 1)[-1]
    officer.goto(f"{server}/desk/intake/{code}/receipt")
    expect(officer.locator("body")).to_contain_text("Đỗ Thị Mai")
    shots.page(officer, "commune-receipt.png")
    officer.goto(server + "/desk/")
    expect(officer.locator("body")).to_contain_text("Tiếp nhận, kiểm tra bản chính")
