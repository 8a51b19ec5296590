"""The shared Chromium's launch (tests/browser/conftest.py): its own switches keep the features
Playwright disables, and no browser context opens the omnibox's WebUI popups in a renderer of their own."""

from tests.browser.conftest import LEAN_DISABLED_FEATURES, playwright_disabled_features
from tests.browser.test_journey import CHROMIUM  # noqa: F401 (skips the file without Chromium)


def test_the_shared_chromium_disables_playwrights_features_and_the_omnibox_popups(chromium):
    kept = playwright_disabled_features()
    assert "PaintHolding" in kept  # one Playwright disables; [] would mean its driver no longer says where
    context = chromium.new_context()
    page = context.new_page()
    page.goto("chrome://version")
    command_line = page.locator("#command_line").inner_text()
    disabled = command_line.split("--disable-features=")[-1].split()[0].split(",")  # the last one counts
    assert set(kept) | set(LEAN_DISABLED_FEATURES) <= set(disabled)
    session = chromium.new_browser_cdp_session()
    urls = [target["url"] for target in session.send("Target.getTargets", {"filter": [{}]})["targetInfos"]]
    session.detach()
    context.close()
    assert "chrome://version/" in urls  # the listing sees this context's page
    assert [url for url in urls if ".top-chrome/" in url] == []
