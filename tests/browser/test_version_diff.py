"""Versions side by side in a real browser (Debian's Chromium, Playwright) against `onestop serve`: an
administrator starts a procedure from a template, publishes it, uploads a version with a step renamed
and a site inspection added, and sees the differences coloured and badged on both diagrams (on the
review page and on the comparison of the two published versions), with no accessibility violation
in them. Screenshots are taken when $ONESTOP_SCREENSHOTS names a folder to keep them in."""

import re

import pytest

from onestop.services import templates
from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"
CODE = "1.004567"
NAME = "Cấp giấy chứng nhận đủ điều kiện (thử)"
GREEN, AMBER = "rgb(30, 123, 52)", "rgb(154, 103, 0)"


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("quantri", "admin", password=PASSWORD))


def _second_version():
    files = templates.renamed(templates.files("site_inspection"), CODE, NAME)
    out = []
    for f in files:
        content = f.content.replace('name="Thẩm định hồ sơ"'.encode(), 'name="Thẩm định, xác minh hồ sơ"'.encode())
        out.append({"name": f.name, "mimeType": "application/octet-stream", "buffer": content})
    return out


def _stroke(page, selector):
    return page.locator(selector).first.evaluate("e => getComputedStyle(e).stroke")


def _no_violations(page, where):
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")  # the vendored copy, as the page's CSP allows
    found = page.evaluate("""async (where) => (await axe.run(where)).violations
                             .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))""", where)
    assert found == [], found


def test_the_diff_is_coloured_and_badged_on_both_diagrams(server, browser, shots):  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
    page = context.new_page()
    refused = []  # what the Content-Security-Policy stopped: nothing
    page.on("console", lambda m: refused.append((page.url, m.text)) if "Content Security Policy" in m.text else None)
    page.goto(server + "/admin/modeller/new/")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    # The click returns once the sign-in is posted, not once its redirect has loaded the page: axe's script
    # added before then found no document head (seen once on a fresh clone).
    expect(page.locator("#new-procedure")).to_be_visible()
    shots.page(page, "admin-new-procedure.png")
    _no_violations(page, "#new-procedure, #upload")
    page.locator("#template-appraise_sign_return").check()
    page.get_by_label("Mã thủ tục").fill(CODE)
    page.get_by_label("Tên thủ tục").fill(NAME)
    page.get_by_role("button", name="Tạo bản nháp và mở trình vẽ").click()
    page.wait_for_url(re.compile(r".*/admin/modeller/\d+$"))
    draft_id = page.url.rsplit("/", 1)[1]
    page.goto(f"{server}/admin/onboard/{draft_id}")
    page.locator("#publish").click()
    expect(page.get_by_text(f"Đã công bố {CODE} phiên bản 1")).to_be_visible()

    page.goto(server + "/admin/modeller/new/")
    page.locator("#files").set_input_files(files=_second_version())
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    expect(page.locator("#diff-legend")).to_be_visible()
    expect(page.locator('#diff-new [data-element="Task_Inspect"][data-diff="added"]')).to_be_visible()
    expect(page.locator('#diff-old [data-element="Task_Appraise"][data-diff="changed"]')).to_be_visible()
    expect(page.locator('#diff-new [data-element="Task_Appraise"][data-diff="changed"]')).to_be_visible()
    assert _stroke(page, '#diff-new [data-element="Task_Inspect"]') == GREEN
    assert _stroke(page, '#diff-old [data-element="Task_Appraise"]') == AMBER
    expect(page.locator("#diff-new .diff-badge").first).to_be_visible()
    expect(page.locator("#diff")).to_contain_text("Thẩm định, xác minh hồ sơ")
    shots.page(page, "admin-review-diff.png")
    page.locator("#publish").click()
    expect(page.get_by_text(f"Đã công bố {CODE} phiên bản 2")).to_be_visible()

    page.goto(f"{server}/admin/modeller/diff/{CODE}?from=2&to=1")
    expect(page.locator('#diff-old [data-element="Task_Inspect"][data-diff="removed"]')).to_be_visible()
    assert page.locator('#diff-old [data-element="Task_Inspect"]').get_attribute("stroke-dasharray")
    page.locator("#from").select_option("1")
    page.locator("#to").select_option("2")
    page.get_by_role("button", name="So sánh").click()
    expect(page.locator('#diff-new [data-element="Task_Inspect"][data-diff="added"]')).to_be_visible()
    assert page.locator("#diff-old [data-diff]").count() > 0 and page.locator("#diff-new [data-diff]").count() > 0
    shots.page(page, "admin-version-diff.png")
    _no_violations(page, ".diff-pair, #diff, #diff-legend")
    assert refused == [], refused
    context.close()
