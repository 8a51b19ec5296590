"""The real server process (`onestop serve`) over real HTTP, driven by the outside acceptance client."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, SHARED
from tests.support.corpus import passed_count, unexpected_failures
from tests.support.servers import admin_token, onestop_serve

pytestmark = pytest.mark.corpus

ONESTOP = Path(sys.executable).parent / "onestop"
RUNNER = SHARED / "tools" / "corpus_runner.py"


@pytest.fixture
def live_server(database_url, tmp_path):
    # Two web processes: steps of one dossier land on either, and SQLite writers queue across them.
    # The corpus's five timers (0.05-1.2 s) are looked at 0.1 s after the step that set them at the
    # soonest, instead of the default 1 s (the engine's floor against a timer worker spinning: its
    # default is tests/engine/test_clock.py's); each cost 1-1.5 s. A poll of 0.2 s instead of 0.5 s
    # would save ~0.15 s a timer for 0.05 s of CPU every second the server runs: not kept.
    with onestop_serve(tmp_path, ONESTOP_DATABASE_URL=database_url, ONESTOP_TIMER_POLL_SECONDS="0.5",
                       ONESTOP_TIMER_RETRY_SECONDS="0.1", ONESTOP_WEB_WORKERS="2") as (base, home, _env, log):
        token = admin_token(home)
        yield base, token, log


@pytest.mark.skipif(not RUNNER.exists(), reason="the shared corpus runner is not beside the project")
def test_the_outside_corpus_runner_passes_against_the_real_server(live_server):
    base, token, log = live_server
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--base", base, "--token", token,
         "--manifest", str(CONFORMANCE / "MANIFEST.json"), "--files", str(CONFORMANCE)],
        capture_output=True, text=True, timeout=600)
    assert unexpected_failures(result.stdout) == [], result.stdout + "\n" + log.read_text()[-3000:]
    assert passed_count(result.stdout) >= 50, result.stdout
    text = log.read_text()
    assert "Traceback" not in text, text[max(0, text.find("Traceback") - 2000):][:6000]  # the cause, if it fails
