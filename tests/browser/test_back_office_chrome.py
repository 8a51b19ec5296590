"""The redesigned back office in Chromium against `onestop serve`: an administrator lands on the
overview, follows the incidents figure to exactly the held-up dossier, reads the audit trail by
event names in Vietnam time, and signs out with the header's button back to the sign-in page; the
Content-Security-Policy refuses nothing and axe-core finds nothing serious on these pages. Screenshots (desktop and phone) are taken
when $ONESTOP_SCREENSHOTS names a folder to keep them in; docs/back-office.md shows them."""

import json
import urllib.request

import pytest

# The walk's check (axe-core's serious and critical WCAG 2.1 AA violations, the vendored copy as the CSP allows):
# only the violations, no selector made unless one is found, the media preloaded but not the style sheets.
# The default run this file made before also fetched and parsed every style sheet again and described every
# rule that passed, for the same answer (docs/browser-tests.md).
from tests.browser.test_accessibility import serious_violations
from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.conftest import script_model
from tests.support.servers import admin_token, onestop_serve, run_commands, user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("back-office-chrome")
    name, bpmn = script_model("fee = 100 / divisor")
    (folder / name).write_bytes(bpmn)
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="") as (base, home, env, _log):
        done = run_commands(env, ["import", str(folder / name)], user("quantri", "admin", password=PASSWORD))
        assert done.returncode == 0, done.stderr
        codes = []
        for divisor in (0, 4):  # one held up by a failed script step, one waiting for an officer
            request = urllib.request.Request(
                base + "/api/v1/dossiers", method="POST",
                data=json.dumps({"procedure": "scripted", "data": {"divisor": divisor}}).encode(),
                headers={"Authorization": f"Bearer {admin_token(home)}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request) as answer:
                codes.append(json.load(answer)["code"])
        yield base, codes


def test_an_administrator_goes_from_the_overview_to_an_incident_reads_the_trail_and_signs_out(server, browser, shots):  # noqa: F811
    base, (failed, waiting) = server
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    refused = []
    page.on("console", lambda m: refused.append((page.url, m.text)) if "Content Security Policy" in m.text else None)
    page.goto(base + "/admin/")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("#incidents .figure")).to_have_text("1")
    expect(page.get_by_role("navigation").get_by_role("link", name="Tổng quan")).to_have_attribute("aria-current", "page")
    shots.page(page, "admin-home.png")
    assert serious_violations(page) == []

    page.get_by_role("link", name="Hồ sơ gặp sự cố").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hồ sơ gặp sự cố")
    expect(page.locator("table.model-list")).to_contain_text(failed)
    expect(page.locator("table.model-list")).not_to_contain_text(waiting)
    shots.page(page, "admin-incidents.png")
    assert serious_violations(page) == []

    page.get_by_role("navigation").get_by_role("link", name="Nhật ký").click()
    expect(page.locator("table.model-list")).to_contain_text("Hồ sơ gặp sự cố")
    expect(page.locator("table.model-list")).not_to_contain_text("dossier.error")
    shots.page(page, "admin-audit.png", full_page=False)
    assert serious_violations(page) == []

    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
    phone.context.add_cookies(page.context.cookies())
    phone.goto(base + "/admin/")
    shots.page(phone, "admin-home-phone.png")
    assert serious_violations(phone) == []
    phone.close()

    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    assert "/desk/login" in page.url
    page.goto(base + "/admin/")
    expect(page.get_by_label("Tên đăng nhập")).to_be_visible()  # signed out: the sign-in page again
    assert refused == []
