"""Caches of rows shared by several web processes: a change made through one process is seen by
every other within a second (the version stamp in `cacheversion`), not after a restart."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from onestop.services import runtime
from tests.conftest import MODELS
from tests.support.servers import admin_token, onestop_serve


def _start_dossiers(base, headers, count):
    """Dossier codes of `count` intakes sent four at a time, so both web processes take some."""
    def start(_):
        reply = requests.post(f"{base}/api/v1/dossiers", json={"procedure": "review"}, headers=headers, timeout=60)
        assert reply.status_code == 201, reply.text
        return reply.json()["code"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(start, range(count)))


def test_a_new_agency_code_is_used_by_every_web_process_within_a_second(database_url, tmp_path):
    with onestop_serve(tmp_path, ONESTOP_DATABASE_URL=database_url, ONESTOP_WEB_WORKERS="2") as (base, home, _env, log):
        headers = {"Authorization": f"Bearer {admin_token(home)}"}
        files = [("files", (p.name, p.read_bytes())) for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")]
        assert requests.post(f"{base}/api/v1/procedures", files=files, headers=headers, timeout=60).status_code == 201
        before = _start_dossiers(base, headers, 12)  # both processes now hold the old code in their cache
        assert all(code.startswith("000.00.00.H00-") for code in before), before

        changed = requests.patch(f"{base}/api/v1/centres/default", json={"agency_code": "H15.50.05.13"},
                                 headers=headers, timeout=60)
        assert changed.status_code == 200, changed.text
        time.sleep(runtime.STAMP_CHECK_SECONDS + 0.2)

        after = _start_dossiers(base, headers, 12)
        assert all(code.startswith("H15.50.05.13-") for code in after), after
        assert "Traceback" not in log.read_text()
