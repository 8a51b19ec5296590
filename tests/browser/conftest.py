"""The browser tests' shared Chromium: launched once per test process (per xdist worker), not once per
file. Each file still gets its own `browser` (tests/browser/test_journey.py), which closes every page
and context the file opened when the file is done, so no file sees another's pages or cookies."""

import pytest

LEAN_FLAGS = ["--disable-gpu-compositing", "--in-process-gpu"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium under Playwright, for the whole run of this process."""
    from playwright import sync_api

    from tests.browser.test_journey import CHROMIUM

    with sync_api.sync_playwright() as playwright:
        # Compositing in software in the browser process itself: no GPU process, whose frames for a
        # headless browser on a machine without a GPU cost more CPU than they save (measured on the
        # accessibility walk: Chromium's whole process tree ~4 s less of ~80 s; docs/walk.md).
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", *LEAN_FLAGS])
        yield launched
        launched.close()
