"""One sitting at the counter in a real browser (Chromium under Playwright, the real server): an
officer takes in a certification of copies with a paper of two photographed pages, a leader sees
the decision appear on their own page (another browser context) and gives it, the officer hands
the result over, and the public statistics count the dossier decided on the spot and its minutes."""

import io
import time

import pytest
from PIL import Image

from onestop.clock import Clock  # the centres' calendar day (Vietnam), as the server reads it
from tests.browser.test_journey import CHROMIUM, ONESTOP, Screenshots, browser  # noqa: F401 (skips the module without Chromium; browser closes its pages)
from tests.support.servers import onestop_serve, run_commands, user

sync_api = pytest.importorskip("playwright.sync_api")
OFFICER, LEADER = ("canbo.quay", "Mật-khẩu-quầy-2026"), ("lanhdao.xa", "Mật-khẩu-lãnh-đạo-2026")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("counter")
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="") as (base, _home, env, _log):
        create_officer_and_leader(env)
        yield base


def create_officer_and_leader(env):
    """OFFICER and LEADER, made with the command line of the served installation."""
    made = run_commands(env, *(user(name, role, password=password)
                               for (name, password), role in ((OFFICER, "officer"), (LEADER, "leader"))))
    assert made.returncode == 0, made.stderr


@pytest.fixture
def shots(tmp_path):
    return Screenshots(tmp_path / "screenshots")


def signed_in(browser, base, who, *, clock=False):  # noqa: F811 (the file's browser fixture)
    """A desk page of its own browser context, signed in as `who`; with clock, the context's timers run on
    Playwright's clock (time flows as usual until `polled` moves it on)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    if clock:
        context.clock.install()
    page = context.new_page()
    page.goto(base + "/desk/login")
    page.get_by_label("Tên đăng nhập").fill(who[0])
    page.get_by_label("Mật khẩu").fill(who[1])
    page.get_by_role("button", name="Đăng nhập").click()
    return page


def polled(page, every_ms, check):
    """Wait until check(timeout_ms) passes on a page that asks its server every `every_ms` whether
    something changed (poll.js, queue.js): the page's clock (`signed_in(..., clock=True)`) is moved on by
    one period at a time instead of waiting for the real one; the page still asks over HTTP and reloads
    or redraws itself. Gives up after 15 s, as a plain wait would."""
    deadline = time.monotonic() + 15
    while True:
        page.clock.fast_forward(every_ms)
        try:
            return check(2_000)
        except (AssertionError, sync_api.TimeoutError):  # expect's failure; wait_for_selector's
            if time.monotonic() > deadline:
                raise


def photo(folder, name, colour):
    path = folder / name
    buffer = io.BytesIO()
    Image.new("RGB", (60, 90), colour).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def complete(page, fields, checks=()):
    for name, value in fields.items():
        page.locator(f'[name="{name}"]').fill(value)
    for name in checks:
        page.locator(f'[name="{name}"]').check()
    page.get_by_role("button", name="Hoàn thành công việc").click()


def test_a_paper_of_two_pages_is_taken_in_a_leader_decides_from_their_own_page_and_the_result_is_returned(
        server, browser, tmp_path, shots):  # noqa: F811 (the file's browser fixture)
    officer, leader = signed_in(browser, server, OFFICER, clock=True), signed_in(browser, server, LEADER, clock=True)
    leader.goto(server + "/desk/approvals")
    sync_api.expect(leader.locator("#none")).to_be_visible()

    officer.goto(server + "/desk/intake/2.000815")
    # The procedure's form asks the requester's name and ID: the counter does not ask them twice.
    complete_form = {"requester_full_name": "Lê Văn Tâm", "requester_citizen_id": "001203009999",
                     "papers-0-paper_name": "Bằng tốt nghiệp", "papers-0-pages": "2", "papers-0-copies": "1"}
    for name, value in complete_form.items():
        officer.locator(f'[name="{name}"]').fill(value)
    officer.locator('[name="paper-0-pages"]').set_input_files(
        [photo(tmp_path, "trang-1.png", "white"), photo(tmp_path, "trang-2.png", "lightgrey")])
    for name in ("paper-0-seen", "paper-0-matches", "paper-1-paper"):
        officer.locator(f'[name="{name}"]').check()
    officer.locator("#papers").screenshot(path=str(shots / "desk-intake-papers.png"))
    officer.locator("form[enctype] button[type=submit]:not([name])").click()
    sync_api.expect(officer.locator("#papers")).to_contain_text("2")
    code = officer.locator(".big-code").inner_text()

    officer.locator("#ready a").first.click()
    complete(officer, {"total_pages": "2"}, ("original_presented", "certifiable"))
    officer.locator("#ready a").first.click()
    complete(officer, {"register_book": "01/2026", "register_entry_number": "15"}, ("copies_match",))

    row = leader.locator(f'[id="approval-{code}"]')
    polled(leader, 3_000, lambda timeout: sync_api.expect(row).to_be_visible(timeout=timeout))  # the leader's page polls: no reload by hand
    shots.page(leader, "desk-approvals.png")
    row.locator("a").click()
    complete(leader, {"signer_full_name": "Nguyễn Văn Lãnh"}, ("signed",))
    sync_api.expect(leader.locator("#none")).to_be_visible()

    handing = officer.locator("#ready a")
    polled(officer, 3_000, lambda timeout: sync_api.expect(handing).to_have_count(1, timeout=timeout))  # the counter's page follows the decision
    handing.click()
    officer.locator('[name="returned_on"]').fill(Clock().today().isoformat())
    complete(officer, {"receiver_full_name": "Lê Văn Tâm", "fee_vnd": "4000"})
    sync_api.expect(officer.locator("#done")).to_be_visible()
    sync_api.expect(officer.locator("#minutes")).to_be_visible()
    shots.page(officer, "desk-sitting.png")

    officer.goto(server + "/stats")
    sync_api.expect(officer.locator("#spot-count")).to_have_text("1 / 1")
    assert officer.locator("#spot-minutes").inner_text() != "—"
