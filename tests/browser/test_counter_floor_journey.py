"""Issue 20's whole sitting in one real browser session against `onestop serve`: the administrator
sets up a service group and a counter in the back office; a citizen takes a number on a phone-sized
page; the hall screen shows the call within a second of the officer calling it (and the phone shows
the counter); the officer serves the ticket into the counter intake of a procedure decided on the spot
(the ticket attached) and takes in a paper of two scanned pages, a leader approves from another
browser, the result is handed over; the statistics then show the ticket's wait and the dossier
decided on the spot.

The counter floor's own test (the group and counter set up, the ticket taken, called and served into
intake) was a file of its own with a server of its own doing the same first steps; its checks are here,
at the same steps (docs/browser-tests.md)."""

import json
import re
import time
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from onestop.clock import Clock  # the centres' calendar day (Vietnam), as the server reads it
from tests.browser.test_counter_floor import (
    LEADER,
    OFFICER,
    complete,
    create_officer_and_leader,
    photo,
    polled,
    signed_in,
)
from tests.browser.test_journey import CHROMIUM, ONESTOP, browser  # noqa: F401 (skips the module without Chromium; browser closes its pages)
from tests.support.servers import onestop_serve

sync_api = pytest.importorskip("playwright.sync_api")
COPY = "2.000815"  # certification of copies: decided on the spot (bundled)


def _api(base, token, method, path, body):
    request = urllib.request.Request(base + "/api/v1" + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def _sign_in(page, base, username, password, target):
    """Signed in from the desk's sign-in page, which then opens `target` (its `next`)."""
    page.goto(f"{base}/desk/login?next={target}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


@pytest.fixture(scope="module")
def floor(tmp_path_factory):
    """The server, open all day today, with an officer and a leader; (base, the administrator's password)."""
    folder = tmp_path_factory.mktemp("sitting")
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="") as (base, home, env, _log):
        create_officer_and_leader(env)
        first = dict(line.split(": ", 1) for line in (home / "admin-token.txt").read_text().splitlines())
        today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
        _api(base, first["api token"], "PUT", "/calendar/hours", {"office_hours": [["00:00", "23:59"]], "cutoff": None})
        _api(base, first["api token"], "PUT", f"/calendar/days/{today}", {"working": True, "note": "test"})
        yield base, first["password"]


def test_a_ticket_becomes_a_dossier_decided_on_the_spot_in_one_sitting_and_the_statistics_show_both(
        floor, browser, tmp_path):  # noqa: F811 (the file's browser fixture)
    base, admin_password = floor
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN").new_page()
    _sign_in(admin, base, "admin", admin_password, "/admin/queue/")
    admin.fill("#group-letter", "A")
    admin.fill("#group-name", "Chứng thực")
    admin.click("text=Lưu nhóm")
    admin.fill("#counter-number", "3")
    admin.select_option("#counter-groups", label="A — Chứng thực")
    admin.click("text=Lưu quầy")
    assert "3\t\tA\tkhông" in admin.inner_text("#queue-counters")

    phone_context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    phone_context.clock.install()  # the ticket page polls every 4 s: `polled` moves its clock on
    phone = phone_context.new_page()
    phone.goto(f"{base}/queue/default/take")
    phone.click("button.group-button:has-text('Chứng thực')")
    assert phone.inner_text("#ticket-number") == "A001"
    assert phone.inner_text("#ticket-ahead") == "0"
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    hall = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    hall.goto(f"{base}/queue/default/screen")
    assert "A001" not in hall.inner_text("#calls")

    officer, leader = signed_in(browser, base, OFFICER, clock=True), signed_in(browser, base, LEADER, clock=True)
    leader.goto(base + "/desk/approvals")  # the leader's own page, open on their desk or phone
    officer.goto(base + "/desk/counter/")
    officer.click("form.inline button")  # open counter 3
    officer.click("#call-next")
    called = time.monotonic()
    hall.wait_for_selector("#calls tr.latest td.number:text-is('A001')", timeout=3000)
    assert time.monotonic() - called < 1.0  # the screen polls every 0.5 s; bench/ticket_queue.py measures it from the commit
    assert hall.inner_text("#calls tr.latest td.counter") == "3"
    polled(phone, 4_000, lambda timeout: phone.wait_for_selector("#ticket-counter", timeout=timeout))
    assert phone.inner_text("#ticket-counter") == "3"

    officer.click("#serve")
    assert re.search(r"/desk/intake\?ticket=\d+$", officer.url)
    assert "A001" in officer.inner_text("#intake-ticket")
    officer.click(f"ul.list a[href*='{COPY}']")
    assert "ticket=" in officer.url and "A001" in officer.inner_text("#intake-ticket")
    for name, value in {"requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001203009999",
                        "papers-0-paper_name": "Bằng tốt nghiệp", "papers-0-pages": "2",
                        "papers-0-copies": "1"}.items():
        officer.locator(f'[name="{name}"]').fill(value)
    officer.locator('[name="paper-0-pages"]').set_input_files(
        [photo(tmp_path, "trang-1.png", "white"), photo(tmp_path, "trang-2.png", "lightgrey")])
    for name in ("paper-0-seen", "paper-0-matches", "paper-1-paper"):
        officer.locator(f'[name="{name}"]').check()
    officer.locator("form[enctype] button[type=submit]:not([name])").click()
    sync_api.expect(officer.locator("#papers")).to_contain_text("2")  # two scanned pages, one paper
    code = officer.locator(".big-code").inner_text()

    officer.locator("#ready a").first.click()
    complete(officer, {"total_pages": "2"}, ("original_presented", "certifiable"))
    officer.locator("#ready a").first.click()
    complete(officer, {"register_book": "01/2026", "register_entry_number": "15"}, ("copies_match",))
    row = leader.locator(f'[id="approval-{code}"]')
    polled(leader, 3_000, lambda timeout: sync_api.expect(row).to_be_visible(timeout=timeout))  # the leader's own page
    row.locator("a").click()
    complete(leader, {"signer_full_name": "Nguyễn Văn Lãnh"}, ("signed",))
    handing = officer.locator("#ready a")
    polled(officer, 3_000, lambda timeout: sync_api.expect(handing).to_have_count(1, timeout=timeout))
    handing.click()
    officer.locator('[name="returned_on"]').fill(Clock().today().isoformat())
    complete(officer, {"receiver_full_name": "Lê Văn Tâm", "fee_vnd": "4000"})
    sync_api.expect(officer.locator("#done")).to_be_visible()

    officer.goto(base + "/stats")
    sync_api.expect(officer.locator("#spot-count")).to_have_text("1 / 1")
    officer.goto(base + "/desk/counter/report")
    total = officer.locator("#queue-figures tr.total")
    assert total.locator('[data-column="tickets"]').inner_text() == "1"
    assert total.locator('[data-column="average_wait_minutes"]').inner_text() != "—"
