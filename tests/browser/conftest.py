"""The browser tests' shared Chromium: launched once per test process (per xdist worker), not once per
file. Each file still gets its own `browser` (tests/browser/test_journey.py), which closes every page
and context the file opened when the file is done, so no file sees another's pages or cookies."""

import pytest


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright, for the whole run of this process."""
    from playwright import sync_api

    from tests.browser.test_journey import CHROMIUM

    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
