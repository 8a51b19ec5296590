"""The shared Chromium's launch (tests/browser/conftest.py): its own switches keep the features
Playwright disables, and no browser context opens the omnibox's WebUI popups in a renderer of their own."""

from pathlib import Path

from tests.browser.conftest import LEAN_DISABLED_FEATURES, playwright_disabled_features
from tests.browser.test_journey import CHROMIUM  # noqa: F401 (skips the file without Chromium)


def test_the_shared_chromium_disables_playwrights_features_and_the_omnibox_popups(chromium):
    kept = playwright_disabled_features()
    assert "PaintHolding" in kept  # one Playwright disables; [] would mean its driver no longer says where
    session = chromium.new_browser_cdp_session()
    # The browser process's own command line (the headless shell has no chrome://version page).
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    browser_pid = next(process["id"] for process in processes if process["type"] == "browser")
    arguments = Path(f"/proc/{browser_pid}/cmdline").read_bytes().decode().split("\0")
    disabled = [a for a in arguments if a.startswith("--disable-features=")][-1].split("=", 1)[1].split(",")
    assert set(kept) | set(LEAN_DISABLED_FEATURES) <= set(disabled)  # the last --disable-features counts
    context = chromium.new_context()
    page = context.new_page()
    page.goto("about:blank")
    urls = [target["url"] for target in session.send("Target.getTargets", {"filter": [{}]})["targetInfos"]]
    session.detach()
    context.close()
    assert "about:blank" in urls  # the listing sees this context's page
    assert [url for url in urls if ".top-chrome/" in url] == []
