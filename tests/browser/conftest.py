"""The browser tests' shared Chromium: launched once per test process (per xdist worker), not once per
file. Each file still gets its own `browser` (tests/browser/test_journey.py), which closes every page
and context the file opened when the file is done, so no file sees another's pages or cookies. Files
that only add what is theirs to a server share one per process too (`shared_server`)."""

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


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory):
    """One `onestop serve` (the embedded default: SQLite under its home, one web worker) for this
    process's files that only add to it what is theirs: the back office's authoring files (the
    modeller, its panel, the form builder, the tests page, the version diff, the authoring journey)
    and the everyday journey. Each signs in as users of its own, works on drafts it uploads, codes
    and dossiers of its own (found by their code), so they share a server instead of each paying a
    start (~2.5 s of CPU) and a stop. A file's `server` calls it with the CLI commands it needs run
    first (its users) and gets the base URL. Files that change what all see (the calendar, the
    queue's numbers, province 22's units, a citizen's store) keep a server of their own."""
    from tests.support.servers import onestop_serve, run_commands

    with onestop_serve(tmp_path_factory.mktemp("shared-server"), ONESTOP_WEB_WORKERS="1",
                       ONESTOP_DATABASE_URL="") as (base, _home, env, _log):
        def after(*commands):
            done = run_commands(env, *commands)
            assert done.returncode == 0, done.stderr
            return base

        yield after
