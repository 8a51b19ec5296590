"""The browser tests' shared Chromium: launched once per test process (per xdist worker), not once per
file. Each file still gets its own `browser` (tests/browser/test_journey.py), which closes every page
and context the file opened when the file is done, so no file sees another's pages or cookies. Files
that only add what is theirs to a server share one per process too (`shared_server`)."""

import re
from pathlib import Path

import pytest

LEAN_FLAGS = ["--disable-gpu-compositing", "--in-process-gpu"]
# Features of Chromium's own that a headless test browser does not need, each a cost per browser
# context (every `new_context` or `browser.new_page` opens a window of its own): the omnibox's popups,
# two WebUI pages made ready in a renderer of their own for an address bar nobody types in (~0.5 s of
# CPU per context between that renderer and the browser process), and the spare renderer started
# beside each page's in case another tab opens (idle, then closed with the context).
LEAN_DISABLED_FEATURES = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "SpareRendererForSitePerProcess"]


def playwright_disabled_features() -> list:
    """The features Playwright's own launch switches disable (its `--disable-features`), read from the
    installed driver. Chromium keeps the last `--disable-features` of a command line only, so ours must
    repeat them; [] if the driver's bundle does not say (then ours is not added at all)."""
    import playwright

    for bundle in sorted((Path(playwright.__file__).parent / "driver" / "package" / "lib").glob("*.js")):
        found = re.search(r"\bdisabledFeatures = \[(.*?)\]", bundle.read_text(encoding="utf-8"), re.S)
        if found:
            return re.findall(r'^\s*"([^"]+)"', found.group(1), re.M)
    return []


def lean_switches() -> list:
    """Chromium's switches for the tests, besides Playwright's: LEAN_FLAGS, and LEAN_DISABLED_FEATURES
    added to the features Playwright disables (when those can be read)."""
    kept = playwright_disabled_features()
    return [*LEAN_FLAGS, *([f"--disable-features={','.join(kept + LEAN_DISABLED_FEATURES)}"] if kept else [])]


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
                                              args=["--no-sandbox", *lean_switches()])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """One `onestop serve` (the embedded default: SQLite under its home, one web worker) for this
    process's files that only add to it what is theirs: the back office's authoring files (the
    modeller, its panel, the form builder, the tests page, the version diff, the authoring journey),
    the everyday journey, the form errors and the online payment. Each signs in as users of its own, works on drafts it uploads, codes
    and dossiers of its own (found by their code), so they share a server instead of each paying a
    start (~2.5 s of CPU) and a stop. A file's `server` calls it with the CLI commands it needs run
    first (its users) and gets the base URL. Files that change what all see (the calendar, the
    queue's numbers, province 22's units, a citizen's store) keep a server of their own."""
    from tests.support.servers import onestop_serve, run_commands

    with onestop_serve(tmp_path_factory.mktemp("shared-server"), ONESTOP_WEB_WORKERS="1",
                       ONESTOP_DATABASE_URL="") as (base, home, env, _log):
        def after(*commands):
            if commands:
                done = run_commands(env, *commands)
                assert done.returncode == 0, done.stderr
            return base

        after.home = home  # its first administrator's password and API token: home / "admin-token.txt"
        yield after
