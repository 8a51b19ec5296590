"""Issue 16's whole journey in a real browser (Debian's Chromium, Playwright) against `onestop serve`,
with no file prepared outside: an administrator starts a new procedure from a template, renames a
step, drags another into a different lane, adds a field to the application form in the form
builder, sets a step's time allowance in the side panel, saves, tries both branches with practice
dossiers until the coverage shows them, and publishes; a citizen then submits the new procedure on
the portal and an officer completes its tasks at the desk until the result. Every step asserts
what the person sees. Screenshots are taken when $ONESTOP_SCREENSHOTS names a folder to keep them in."""

import json
import re
from datetime import UTC, datetime

import pytest

from tests.browser.test_journey import ONESTOP, PDF, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"
CODE = "9.000016"
NAME = "Cấp giấy xác nhận thử nghiệm"
PAPER = [{"name": "don-de-nghi.pdf", "mimeType": "application/pdf", "buffer": PDF}]


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("quantri.thutuc", "admin", password=PASSWORD),
                            user("canbo.xuly", "officer", password=PASSWORD))


def _sign_in(page, username):
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def _shape(page, element_id):
    return page.locator(f'#canvas .djs-element.djs-shape[data-element-id="{element_id}"]')


def _modeller_ready(page):
    page.wait_for_function("() => window.onestopModeller && window.onestopModeller.bpmnFile !== null")
    sync_api.expect(page.locator("#lint-summary")).not_to_be_empty()


def _inside(inner, outer):
    return (outer["y"] <= inner["y"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
            and outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"])


def _fill_application(page, purpose):
    page.get_by_label("Họ, chữ đệm, tên người nộp hồ sơ").fill("Lê Thị Hoa")
    page.get_by_label("Số định danh cá nhân (CCCD)").fill("036190012345")
    page.get_by_label("Số điện thoại").fill("0912345678")
    page.get_by_label("Nội dung đề nghị").fill("Đề nghị cấp giấy xác nhận để bổ túc hồ sơ việc làm.")
    page.get_by_label("Mục đích sử dụng giấy xác nhận").fill(purpose)
    page.get_by_label("Bản chụp thành phần hồ sơ").set_input_files(files=PAPER)


def _vietnam_today() -> str:
    """The centre's calendar day, as the live server's forms check a date against: never the machine's
    own (a server set to a zone ahead of Vietnam would type tomorrow)."""
    from onestop.models import local_today

    return local_today().isoformat()


def _two_working_days(since):
    """How the page may write a step due two working days after a moment between `since` and now
    (the minute may turn meanwhile): the centre's default calendar, dd/mm/yyyy HH:MM local time."""
    from onestop.workdays import Calendar, Deadline, to_local

    calendar, allowance = Calendar(), Deadline(2, "working_days")
    return {calendar.due(to_local(t.replace(tzinfo=None)), allowance).strftime("%d/%m/%Y %H:%M")
            for t in (since.replace(second=0, microsecond=0), datetime.now(UTC))}


def _practice(admin, task, fill):
    """Complete a practice dossier's task through its real form."""
    section = admin.locator(f'section.task[data-element="{task}"]')
    sync_api.expect(section).to_be_visible()
    fill(section)
    section.get_by_role("button", name="Hoàn thành bước (thử)").click()
    sync_api.expect(admin.locator(f'section.task[data-element="{task}"]')).to_have_count(0)


def test_an_administrator_authors_tries_and_publishes_a_procedure_a_citizen_submits_it_an_officer_completes_it(
        server, browser, shots):  # noqa: F811
    expect = sync_api.expect
    admin = browser.new_page(viewport={"width": 1500, "height": 950}, locale="vi-VN")
    refused, errors = [], []
    admin.on("console", lambda m: refused.append((admin.url, m.text)) if "Content Security Policy" in m.text else None)
    admin.on("pageerror", lambda e: errors.append((admin.url, str(e))))

    # "Thủ tục mới": a template, a code and a name; the draft opens in the modeller.
    admin.goto(server + "/admin/")
    _sign_in(admin, "quantri.thutuc")
    admin.get_by_role("link", name="Thủ tục mới").first.click()
    admin.get_by_role("radio", name=re.compile("Tiếp nhận - thẩm định - ký")).check()
    admin.get_by_label("Mã thủ tục").fill(CODE)
    admin.get_by_label("Tên thủ tục").fill(NAME)
    shots.page(admin, "authoring-new.png")
    admin.get_by_role("button", name="Tạo bản nháp và mở trình vẽ").click()
    admin.wait_for_url(re.compile(r"/admin/modeller/\d+$"))
    draft_id = int(admin.url.rsplit("/", 1)[1])
    _modeller_ready(admin)
    expect(admin.locator("#draft-code")).to_have_text(CODE)
    expect(admin.locator("#lint .finding-error")).to_have_count(0)

    # Rename a step on the canvas.
    _shape(admin, "Task_Appraise").dblclick()
    expect(admin.locator(".djs-direct-editing-parent")).to_be_visible()
    admin.keyboard.press("Control+A")
    admin.keyboard.type("Thẩm định, đề xuất")
    admin.locator("#canvas").click(position={"x": 15, "y": 15})
    expect(_shape(admin, "Task_Appraise")).to_contain_text("Thẩm định, đề xuất")

    # Move the signing step to the specialists' lane: dragged with the mouse on the canvas.
    sign, lane = _shape(admin, "Task_Sign").bounding_box(), _shape(admin, "Lane_Specialist").bounding_box()
    assert not _inside(sign, lane)
    admin.mouse.move(sign["x"] + sign["width"] / 2, sign["y"] + sign["height"] / 2)
    admin.mouse.down()
    target_y = lane["y"] + lane["height"] / 2
    admin.mouse.move(sign["x"] + sign["width"] / 2, (sign["y"] + target_y) / 2, steps=5)
    admin.mouse.move(sign["x"] + sign["width"] / 2, target_y, steps=5)
    admin.mouse.up()
    admin.locator("#canvas").click(position={"x": 15, "y": 15})  # diagram-js swallows the click after a drop
    expect(admin.locator("#dirty")).to_be_visible()
    assert _inside(_shape(admin, "Task_Sign").bounding_box(), _shape(admin, "Lane_Specialist").bounding_box())

    # The side panel: the renamed step's time allowance, 2 working days.
    _shape(admin, "Task_Appraise").click()
    expect(admin.locator("#onestop-panel .panel-id")).to_have_text("Mã: Task_Appraise")
    allowance = admin.locator("#panel-allowance")
    expect(allowance).to_be_visible()
    allowance.fill("2")
    admin.locator("#panel-allowance-unit").select_option("working_days")
    allowance.dispatch_event("change")
    shots.page(admin, "authoring-modeller.png")

    # Nothing selected: the procedure's own description, which the template left to adjust.
    expect(admin.locator("#lint")).to_contain_text("vẫn còn chữ của mẫu")
    admin.locator("#canvas").click(position={"x": 15, "y": 15})
    for control, value in (("#panel-proc-field", "Chứng thực"), ("#panel-proc-agency", "Ủy ban nhân dân cấp xã"),
                           ("#panel-proc-fee", "0"), ("#panel-proc-result", "Giấy xác nhận"),
                           ("#panel-proc-legal", "Nghị định 118/2025/NĐ-CP\nQuyết định thử nghiệm số 16")):
        admin.locator(control).fill(value)
        admin.locator(control).dispatch_event("change")
    papers = admin.locator("#panel-proc-documents")
    papers.fill(papers.input_value() + "\nGiấy xác nhận cũ (nếu có)")
    papers.dispatch_event("change")
    expect(admin.locator("#lint")).not_to_contain_text("vẫn còn chữ của mẫu")
    expect(admin.locator("#lint-summary")).to_have_text("(không có vấn đề)")
    shots.page(admin, "authoring-procedure.png")
    admin.locator("#save").click()
    expect(admin.locator("#status")).to_contain_text("Đã lưu")
    expect(admin.locator("#lint .finding-error")).to_have_count(0)
    saved = json.loads(admin.request.get(f"{server}/admin/modeller/{draft_id}/draft").json()["files"]["procedure.json"])
    assert (saved["fee_vnd"], saved["agency"], saved["legal_basis"][1]) == (0, "Ủy ban nhân dân cấp xã",
                                                                           "Quyết định thử nghiệm số 16")
    assert saved["documents"][0]["originals"] == 1  # a paper kept keeps its counts
    assert saved["documents"][-1] == {"name": "Giấy xác nhận cũ (nếu có)"}
    assert saved["deadline"]["steps"]["Task_Appraise"] == {"working_days": 2}

    # The form builder, from the start event's form in the panel: a required field on the application.
    canvas = admin.locator("#canvas").bounding_box()
    admin.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
    admin.mouse.wheel(-200, 0)  # the canvas scrolls right: the start event comes out from under the palette
    _shape(admin, "StartEvent_Submitted").click()
    expect(admin.locator("#onestop-panel .panel-id")).to_have_text("Mã: StartEvent_Submitted")
    admin.get_by_role("link", name="Sửa biểu mẫu này").click()
    assert admin.url == f"{server}/admin/modeller/{draft_id}/forms/application"
    expect(admin.locator(".fjs-editor-container")).to_be_visible()
    preview = admin.locator("#form-preview")
    expect(preview.locator("form")).to_be_visible()
    admin.locator('[data-palette="text"]').click()
    if not admin.locator("#bio-properties-panel-key").is_visible():
        admin.locator(".bio-properties-panel-group-header", has_text="General").click()
    admin.locator("#bio-properties-panel-key").fill("purpose")
    admin.locator("#bio-properties-panel-label").fill("Mục đích sử dụng giấy xác nhận")
    required = admin.locator("#bio-properties-panel-required")
    if not required.is_visible():
        admin.locator(".bio-properties-panel-group-header", has_text="Validation").click()
    required.check()
    expect(preview.locator('label[for="purpose"]')).to_contain_text("Mục đích sử dụng giấy xác nhận")
    admin.locator("#form-save").click()
    expect(admin.locator("#form-status")).to_contain_text("Đã lưu biểu mẫu")
    shots.page(admin, "authoring-form.png")

    # Back to the modeller, then its tests page: one practice dossier down each branch.
    admin.get_by_role("link", name="Về trình vẽ quy trình").click()
    _modeller_ready(admin)
    expect(_shape(admin, "Task_Appraise")).to_contain_text("Thẩm định, đề xuất")
    admin.get_by_role("link", name="Chạy thử").click()
    expect(admin.locator("#coverage-summary")).to_be_visible()

    def receive(complete):
        def fill(section):
            section.get_by_label("Hình thức nộp hồ sơ").select_option("truc_tuyen")
            if complete:
                section.get_by_label("Hồ sơ đầy đủ, hợp lệ").check()
        return fill

    for branch in ("approved", "refused"):
        _fill_application(admin, "Bổ túc hồ sơ xin việc")
        admin.get_by_role("button", name=re.compile("Bắt đầu hồ sơ thử|Làm thử")).click()
        expect(admin.locator("#practice-state")).to_contain_text("Đang xử lý")
        if branch == "approved":
            started = datetime.now(UTC)
            _practice(admin, "Task_Receive", receive(True))
            appraise = admin.locator('section.task[data-element="Task_Appraise"]')
            expect(appraise).to_contain_text("Thẩm định, đề xuất")
            due = appraise.locator("p.due strong").inner_text().strip()
            assert due in _two_working_days(started), due  # the allowance set in the panel
            _practice(admin, "Task_Appraise", lambda s: s.get_by_label("Kết quả thẩm định").select_option("approve"))
            sign = admin.locator('section.task[data-element="Task_Sign"]')
            expect(sign).to_contain_text("Công chức chuyên môn")  # the lane it was dragged to
            _practice(admin, "Task_Sign", lambda s: s.get_by_label("Ý kiến của lãnh đạo").first.select_option("sign"))
            shots.page(admin, "authoring-practice.png")

            def returned(section):
                section.get_by_label("Ngày trả kết quả").fill(_vietnam_today())
                section.get_by_label("Người nhận kết quả").fill("Lê Thị Hoa")
            _practice(admin, "Task_Return", returned)
            expect(admin.locator("#practice-state")).to_contain_text("End_Done")
        else:
            _practice(admin, "Task_Receive", receive(False))
            _practice(admin, "Task_Supplement", lambda s: None)

            def refusal(section):
                section.get_by_label("Lý do không giải quyết").fill("Không bổ sung giấy tờ.")
                section.get_by_label("Ngày thông báo").fill(_vietnam_today())
            _practice(admin, "Task_NotifyRefusal", refusal)
            expect(admin.locator("#practice-state")).to_contain_text("End_Refused")
        admin.locator("#case-name").fill(f"Hồ sơ {branch}")  # the practice, kept as a test case of the draft
        admin.locator("#save-case").click()
        expect(admin.locator("body")).to_contain_text(f"Đã lưu ca kiểm thử «Hồ sơ {branch}»")

    admin.get_by_role("button", name="Chạy kiểm thử").click()
    expect(admin.locator("#test-summary")).to_contain_text("2 ca đạt, 0 ca không đạt")
    expect(admin.locator("#never-reached")).not_to_contain_text("End_Done")
    expect(admin.locator("#never-reached")).not_to_contain_text("End_Refused")
    viewer = admin.locator("#coverage-viewer")
    expect(viewer).to_have_attribute("data-ready", "true")
    for reached in ("Task_Sign", "End_Done", "Task_NotifyRefusal", "End_Refused"):
        expect(viewer.locator(f'.djs-element.covered[data-element-id="{reached}"]')).to_have_count(1)
    shots.page(admin, "authoring-coverage.png")

    # The review page (the whole check, the diagram), then publish from the modeller.
    admin.get_by_role("link", name="Trang rà soát và công bố").click()
    expect(admin.locator("#findings .finding-error")).to_have_count(0)
    expect(admin.locator("svg.diagram")).to_be_visible()
    shots.page(admin, "authoring-review.png")
    admin.get_by_role("link", name="Mở trong trang thiết kế").click()
    _modeller_ready(admin)
    assert admin.url == f"{server}/admin/modeller/{draft_id}"
    admin.locator("#publish").click()
    expect(admin.locator("#status")).to_contain_text(f"Đã công bố {CODE} phiên bản 1")
    expect(admin.locator("#publish")).to_be_disabled()  # a published draft is frozen
    expect(admin.locator("#after-publish")).to_have_attribute("href", f"/admin/onboard/{draft_id}")
    shots.page(admin, "authoring-published.png")
    assert refused == [], refused
    assert errors == [], errors

    # A citizen submits it on the portal; the field added in the builder is asked.
    citizen = browser.new_page(viewport={"width": 420, "height": 900}, locale="vi-VN")
    citizen.goto(f"{server}/procedures/{CODE}")
    expect(citizen.get_by_role("heading", level=1)).to_contain_text(NAME)
    expect(citizen.locator("body")).to_contain_text("Ủy ban nhân dân cấp xã")  # written in the panel
    expect(citizen.locator("body")).to_contain_text("Giấy xác nhận cũ (nếu có)")
    citizen.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    assert citizen.url == f"{server}/procedures/{CODE}/submit"
    _fill_application(citizen, "Nộp cho nhà tuyển dụng")
    citizen.get_by_role("button", name="Nộp hồ sơ").click()
    expect(citizen.get_by_role("status").first).to_contain_text("Hồ sơ của bạn đã được tiếp nhận")
    code = citizen.locator("dd.big-code").nth(1).inner_text().strip()
    shots.page(citizen, "authoring-citizen.png")

    # An officer completes its tasks at the desk, the dragged step included, until the result.
    officer = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer.goto(server + "/desk/")
    _sign_in(officer, "canbo.xuly")

    def desk(step, fill):
        row = officer.get_by_role("row").filter(has_text=code)
        expect(row).to_contain_text(step)
        row.get_by_role("link", name=step).click()
        fill()
        officer.get_by_role("button", name="Hoàn thành công việc").click()
        expect(officer.get_by_role("status").first).to_contain_text("Đã xong")
        officer.goto(server + "/desk/")

    def desk_receive():
        expect(officer.locator("body")).to_contain_text("Nộp cho nhà tuyển dụng")
        officer.get_by_label("Hình thức nộp hồ sơ").select_option("truc_tuyen")
        officer.get_by_label("Hồ sơ đầy đủ, hợp lệ").check()

    desk("Tiếp nhận, kiểm tra hồ sơ", desk_receive)
    offered = datetime.now(UTC)

    def desk_appraise():
        due = officer.locator('dl.facts dt:text-is("Hạn xử lý bước này") + dd').inner_text().strip()
        assert due in _two_working_days(offered), due  # the allowance set in the panel, counted by the calendar
        shots.page(officer, "authoring-desk.png")
        officer.get_by_label("Kết quả thẩm định").select_option("approve")

    desk("Thẩm định, đề xuất", desk_appraise)
    desk("Phê duyệt, ký kết quả", lambda: officer.get_by_label("Ý kiến của lãnh đạo").first.select_option("sign"))

    def desk_return():
        officer.get_by_label("Ngày trả kết quả").fill(_vietnam_today())
        officer.get_by_label("Người nhận kết quả").fill("Lê Thị Hoa")

    desk("Trả kết quả", desk_return)
    expect(officer.get_by_role("row").filter(has_text=code)).to_have_count(0)  # nothing left to do
