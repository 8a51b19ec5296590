"""The everyday journey in a real browser (Debian's Chromium driven by Playwright) against the real
server (`onestop serve` on the embedded database with the bundled procedures):

a citizen finds a procedure without typing diacritics, fills the form in Vietnamese with an
attachment and submits; an officer signs in, sees the task, completes it; the citizen's status page
shows the step done. Screenshots are taken when $ONESTOP_SCREENSHOTS names a folder to keep them in."""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.servers import user

ONESTOP = Path(sys.executable).parent / "onestop"
# Debian's headless build of the same Chromium (same Blink and V8, without the browser's own windows and
# interface: the accessibility walk costs ~40 % less wall time and CPU in it) when installed, else Chromium.
CHROMIUM = (shutil.which("chromium-headless-shell") or shutil.which("chromium") or shutil.which("chromium-browser")
            or "/usr/bin/chromium")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

if not Path(CHROMIUM).exists():
    if os.environ.get("ONESTOP_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"ONESTOP_REQUIRE_BROWSER=1 but Chromium is not installed ({CHROMIUM})")
    pytest.skip("Chromium is not installed (apt-get install chromium-headless-shell)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(shared_server):
    # The embedded default (tests/browser/conftest.py): SQLite under ONESTOP_HOME, whatever the test run was given.
    return shared_server(user("canbo.motcua", "officer", password="Mật-khẩu-2026"),
                         user("lanhdao.ubnd", "leader", "officer", password="Mật-khẩu-lãnh-đạo-2026"))


@pytest.fixture(scope="module")
def browser(chromium):
    """The process's Chromium (tests/browser/conftest.py) for this file; what the file opened in it
    (every context, so every page and cookie) is closed when the file is done."""
    yield chromium
    for context in chromium.contexts:
        context.close()


class Screenshots:
    """Where a journey's screenshots go. `shots.page(page, name)` takes a whole page's screenshot only
    when $ONESTOP_SCREENSHOTS names a folder to keep them in: in an ordinary run nobody looks at them
    and each costs Chromium ~0.2 s of CPU (render the full page, encode the PNG). `shots / name` is a
    path in that folder, else in the test's temp dir (for screenshots taken always)."""

    def __init__(self, scratch: Path):
        kept = os.environ.get("ONESTOP_SCREENSHOTS")
        self.kept = Path(kept) if kept else None
        self.folder = self.kept or scratch
        self.folder.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name) -> Path:
        return self.folder / name

    def page(self, page, name, full_page=True):
        if self.kept:
            page.screenshot(path=str(self.kept / name), full_page=full_page)


@pytest.fixture
def shots(tmp_path):
    return Screenshots(tmp_path / "screenshots")


def test_a_citizen_submits_online_an_officer_completes_the_step_and_the_citizen_sees_it(server, browser, shots,
                                                                                       tmp_path):
    citizen = browser.new_page(viewport={"width": 420, "height": 900}, locale="vi-VN")  # a phone
    citizen.goto(server + "/")
    citizen.get_by_role("searchbox").fill("dang ky khai sinh")
    citizen.get_by_role("button", name="Tìm kiếm").click()
    citizen.get_by_role("link", name=re.compile("đăng ký khai sinh", re.I)).first.click()
    sync_api.expect(citizen.get_by_role("heading", level=1)).to_contain_text(re.compile("đăng ký khai sinh", re.I))
    citizen.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()

    citizen.get_by_label("Họ, chữ đệm, tên người yêu cầu").fill("Nguyễn Văn Hùng")
    citizen.get_by_label("Số định danh cá nhân của người yêu cầu").fill("001085012345")
    citizen.get_by_label("Số điện thoại").fill("0912345678")
    citizen.get_by_label("Quan hệ với trẻ").select_option(label="Cha")
    citizen.get_by_label("Họ, chữ đệm, tên của trẻ").fill("Nguyễn Minh Anh")
    citizen.get_by_label("Nữ").check()
    citizen.get_by_label("Ngày, tháng, năm sinh").fill("2026-11-20")
    citizen.get_by_label("Nơi sinh").fill("Bệnh viện Sản Nhi Quảng Ninh, phường Hồng Hải")
    citizen.get_by_label("Họ, chữ đệm, tên người mẹ").fill("Trần Thị Lan")
    citizen.get_by_label("Số định danh cá nhân của người mẹ").fill("022190023456")
    citizen.get_by_label("Bản chụp giấy tờ chứng minh việc sinh").set_input_files(
        files=[{"name": "giấy chứng sinh.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    shots.page(citizen, "portal-application.png")
    citizen.get_by_role("button", name="Nộp hồ sơ").click()

    sync_api.expect(citizen.get_by_role("status").first).to_contain_text("Hồ sơ của bạn đã được tiếp nhận")
    code = citizen.locator("dd.big-code").nth(1).inner_text().strip()
    key = citizen.locator("#lookup-key").inner_text().strip()
    assert re.fullmatch(r"000\.00\.00\.H00-\d{6}-\d{4}", code) and len(key) == 23
    sync_api.expect(citizen.get_by_text("Ngày hẹn trả kết quả")).to_be_visible()  # the promised date, at once
    shots.page(citizen, "portal-received.png")
    citizen.get_by_role("link", name="Giấy tiếp nhận hồ sơ và hẹn trả kết quả").click()
    sync_api.expect(citizen.get_by_role("heading", level=1)).to_have_text("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
    sync_api.expect(citizen.locator("svg.segno")).to_be_visible()
    citizen.set_viewport_size({"width": 900, "height": 1200})
    shots.page(citizen, "portal-receipt.png")
    citizen.set_viewport_size({"width": 420, "height": 900})

    officer = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer.goto(server + "/desk/")
    officer.get_by_label("Tên đăng nhập").fill("canbo.motcua")
    officer.get_by_label("Mật khẩu").fill("Mật-khẩu-2026")
    officer.get_by_role("button", name="Đăng nhập").click()
    row = officer.get_by_role("row").filter(has_text=code)
    sync_api.expect(row).to_contain_text("Tiếp nhận, kiểm tra hồ sơ")
    shots.page(officer, "desk-worklist.png")
    row.get_by_role("link", name="Tiếp nhận, kiểm tra hồ sơ").click()
    sync_api.expect(officer.get_by_role("link", name="giấy chứng sinh.pdf").first).to_be_visible()
    sync_api.expect(officer.locator("dl.facts").nth(1)).to_contain_text("20/11/2026")  # dates as dd/mm/yyyy
    assert officer.get_by_label("Họ, chữ đệm, tên người đi đăng ký khai sinh").input_value() == "Nguyễn Văn Hùng"
    officer.get_by_label("Hình thức nộp hồ sơ").select_option(label="Trực tuyến (Cổng Dịch vụ công quốc gia, VNeID)")
    officer.get_by_label("Hồ sơ đầy đủ, hợp lệ").check()
    shots.page(officer, "desk-task.png")
    officer.get_by_role("button", name="Hoàn thành công việc").click()
    sync_api.expect(officer.get_by_role("status").first).to_contain_text("Đã xong")

    citizen.goto(server + "/track")
    citizen.get_by_label("Mã hồ sơ").fill(code)
    citizen.get_by_label("Mã tra cứu").fill(key)
    citizen.get_by_role("button", name="Tra cứu").click()
    done = citizen.locator("ol.steps li.done")
    sync_api.expect(done.filter(has_text="Tiếp nhận, kiểm tra hồ sơ")).to_have_count(1)
    sync_api.expect(citizen.locator("ol.steps li.now").first).to_be_visible()
    # The diagram, drawn by the server: the step done in green, the one under way highlighted.
    sync_api.expect(citizen.locator("svg.diagram")).to_be_visible()
    sync_api.expect(citizen.locator('svg.diagram [data-element="Task_Receive"]')).to_have_attribute("data-state", "done")
    sync_api.expect(citizen.locator('svg.diagram [data-element="Task_Appraise"]')).to_have_attribute("stroke", "#9a6700")
    shots.page(citizen, "portal-status.png")
    citizen.set_viewport_size({"width": 1280, "height": 900})
    citizen.locator("svg.diagram").screenshot(path=str(shots / "portal-diagram.png"))


def test_the_public_dashboard_draws_its_charts_and_shows_the_numbers_of_its_open_data(server, browser, shots):
    import json
    import urllib.request

    page = browser.new_page(viewport={"width": 1024, "height": 900}, locale="vi-VN")
    page.goto(server + "/")
    page.get_by_role("link", name=re.compile("Kết quả phục vụ")).click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Kết quả giải quyết thủ tục hành chính")
    charts = page.locator("svg.chart")
    sync_api.expect(charts).to_have_count(2)
    assert charts.first.bounding_box()["height"] > 100
    with urllib.request.urlopen(server + "/stats.json") as reply:
        data = json.load(reply)
    shown = page.locator("#this-year [data-figure=received]").inner_text()
    assert int(shown) == data["this_year"]["received"] >= 1  # the citizen's dossier of the journey above
    shots.page(page, "public-dashboard.png")


def test_a_leader_reads_the_periodic_report_whose_rows_add_up(server, browser, shots):
    from onestop.models import utcnow
    from onestop.workdays import to_local

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page.goto(server + "/desk/login")
    page.get_by_label("Tên đăng nhập").fill("lanhdao.ubnd")
    page.get_by_label("Mật khẩu").fill("Mật-khẩu-lãnh-đạo-2026")
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Báo cáo định kỳ").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo định kỳ")
    today = to_local(utcnow()).date()  # the centre's calendar day, as the report counts
    page.get_by_label("Từ ngày").fill(today.replace(day=1).isoformat())
    page.get_by_label("Đến ngày").fill(today.isoformat())
    page.get_by_role("button", name="Xem").click()
    sync_api.expect(page.locator("#report tbody tr.total")).to_be_visible()
    rows = page.locator("#report tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        value = {c: int(rows.nth(i).locator(f"td[data-column={c}]").inner_text()) for c in (
            "carried_over", "received_online", "received_other", "resolved", "ended", "pending")}
        assert value["carried_over"] + value["received_online"] + value["received_other"] - value["resolved"] \
            - value["ended"] == value["pending"]
    total = page.locator("#report tbody tr.total td[data-column=received_online]").inner_text()
    assert int(total) >= 1  # the citizen's online dossier of the journey above
    shots.page(page, "desk-report.png")
