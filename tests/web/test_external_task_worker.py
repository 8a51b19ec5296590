"""A real external-task worker, built with the published Camunda 7 client library from PyPI
(camunda-external-task-client-python3), serves a running onestop by changing only its base URL."""

import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from onestop.models import Centre
from tests.conftest import _close_pool, _make_app, make_user
from tests.services.test_external_tasks import tax_model
from tests.support.province_server import province_server

ONESTOP = Path(sys.executable).parent / "onestop"


def _client_library():
    # The library's bearer-token helper uses pydantic 1's validators: pydantic 2 warns about them on import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound
    return ExternalTaskWorker, NoExternalTaskFound


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory, database_templates, engine):
    """One server per database kind for the module (a start costs ~3 s of CPU): each test works in a
    commune of its own (`served`), so none sees another's tasks, users or procedures."""
    with province_server(request.param, tmp_path_factory.mktemp("served"), database_templates, engine) as served:
        yield served


@pytest.fixture
def served(server, tmp_path, engine):
    """The server and the test's commune: its administrator (a password and an API token) made
    through the services, as `onestop serve` makes the first one."""
    url, base, env, log, communes = server
    code, password = next(communes), "mật khẩu của xã"
    with _make_app(url, tmp_path, engine).app_context():
        _user, token = make_user(f"admin.{code}", ("admin",), centre=Centre.get(Centre.code == code),
                                 password=password)
    _close_pool()
    yield base, Administrator(f"admin.{code}", password, token, code), env, log


class Administrator(NamedTuple):
    """The administrator of a test's commune."""

    username: str
    password: str
    token: str
    centre: str


def _worker_token(env, admin) -> str:
    """A worker account of the administrator's centre with a token for the topic, made with the CLI."""
    made = subprocess.run([str(ONESTOP), "user", "create", f"tax.robot.{admin.centre}", "--role", "integration",
                           "--topic", "tax-check", "--centre", admin.centre], env=env, capture_output=True, text=True,
                          timeout=120)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def _admin_session(base, admin) -> requests.Session:
    """The administrator signed in to the back office, as a browser would be."""
    session = requests.Session()
    page = session.get(f"{base}/desk/login", timeout=30)
    signed = session.post(f"{base}/desk/login", timeout=30, allow_redirects=False, data={
        "csrf_token": _csrf(page.text), "username": admin.username, "password": admin.password})
    assert signed.status_code == 303, signed.text[:500]
    return session


def _csrf(html) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_a_worker_built_with_the_camunda_client_completes_a_dossiers_task_and_a_failure_becomes_an_incident_retried_from_the_back_office(  # noqa: E501
        served):
    base, administrator, env, log = served
    ExternalTaskWorker, NoExternalTaskFound = _client_library()
    admin = {"Authorization": f"Bearer {administrator.token}"}
    uploaded = requests.post(f"{base}/api/v1/procedures", headers=admin, timeout=60,
                             files=[("files", ("tax_check.bpmn", tax_model()))])
    assert uploaded.status_code == 201, uploaded.text

    def start(tax_code):
        started = requests.post(f"{base}/api/v1/dossiers", headers=admin, timeout=60,
                                json={"procedure": "tax_check", "data": {"tax_code": tax_code}})
        assert started.status_code == 201, started.text
        return started.json()["code"]

    def dossier(code):
        return requests.get(f"{base}/api/v1/dossiers/{code}", headers=admin, timeout=60).json()

    worker = ExternalTaskWorker(worker_id="tax-worker-1", base_url=f"{base}/api/v1", config={
        "auth_bearer": {"access_token": _worker_token(env, administrator)}, "maxTasks": 1, "lockDuration": 30000,
        # A long poll of one look, a 0.5 s wait and a last look (two of them come back empty: 2 s each made 8 s).
        "asyncResponseTimeout": 500, "retries": 0, "retryTimeout": 0, "sleepSeconds": 0})
    seen = []

    def tax_office(task):
        seen.append((task.get_business_key(), task.get_variable("tax_code")))
        if task.get_variable("tax_code") == "unknown" and len(seen) < 3:
            return task.failure("the tax office does not know this code", "HTTP 404 from the tax office",
                                max_retries=0, retry_timeout=0)
        if task.get_variable("tax_code") == "refused":
            return task.bpmn_error("TAX_UNKNOWN", "no such tax code", {"tax_reason": "unknown"})
        return task.complete({"tax_ok": True, "checked_code": task.get_variable("tax_code")})

    # The happy path: the worker completes the dossier's service task, the dossier goes on.
    first = start("0101234567")
    worker.fetch_and_execute("tax-check", tax_office)
    after = dossier(first)
    assert after["data"]["tax_ok"] is True and after["data"]["checked_code"] == "0101234567"
    assert [t["element_id"] for t in after["tasks"]] == ["Review"] and after["state"] == "active"
    with pytest.raises(NoExternalTaskFound):
        worker.fetch_and_execute("tax-check", tax_office)  # nothing left: an empty answer after the long poll

    # A failure with no retry left: an incident in the back office.
    second = start("unknown")
    worker.fetch_and_execute("tax-check", tax_office)
    assert dossier(second)["state"] == "error"
    session = _admin_session(base, administrator)
    incidents = session.get(f"{base}/admin/incidents/", timeout=30)
    assert second in incidents.text and "the tax office does not know this code" in incidents.text
    with pytest.raises(NoExternalTaskFound):
        worker.fetch_and_execute("tax-check", tax_office)  # nothing is handed out while the dossier is in error
    retried = session.post(f"{base}/admin/incidents/{second}/retry", data={"csrf_token": _csrf(incidents.text)},
                           timeout=30, allow_redirects=False)
    assert retried.status_code == 302, retried.text[:500]
    assert dossier(second)["state"] == "active"

    # Retried: the task is fetchable again, the worker completes it and the dossier continues.
    worker.fetch_and_execute("tax-check", tax_office)
    after = dossier(second)
    assert after["data"]["tax_ok"] is True and [t["element_id"] for t in after["tasks"]] == ["Review"]
    # A business error the model catches: its error boundary event's path.
    third = start("refused")
    worker.fetch_and_execute("tax-check", tax_office)
    after = dossier(third)
    assert after["data"]["tax_reason"] == "unknown" and [t["element_id"] for t in after["tasks"]] == ["CallApplicant"]
    assert [key for key, _code in seen] == [first, second, second, third]
    server_log = log.read_text()
    assert "Traceback" not in server_log and "unexpected error" not in server_log, server_log[-3000:]


def test_workers_fetching_at_once_from_two_server_processes_never_lock_the_same_task(served):
    import threading

    base, administrator, env, _log = served
    admin = {"Authorization": f"Bearer {administrator.token}"}
    assert requests.post(f"{base}/api/v1/procedures", headers=admin, timeout=60,
                         files=[("files", ("tax_check.bpmn", tax_model()))]).status_code == 201
    for n in range(10):
        assert requests.post(f"{base}/api/v1/dossiers", headers=admin, timeout=60, json={
            "procedure": "tax_check", "data": {"tax_code": str(n)}}).status_code == 201
    worker = {"Authorization": f"Bearer {_worker_token(env, administrator)}"}
    got, failures = {}, []
    barrier = threading.Barrier(4)

    def fetch(name):
        got[name] = []
        barrier.wait()
        for _ in range(5):
            answer = requests.post(f"{base}/api/v1/external-task/fetchAndLock", headers=worker, timeout=60, json={
                "workerId": name, "maxTasks": 2, "topics": [{"topicName": "tax-check", "lockDuration": 60000}]})
            if answer.status_code != 200:
                failures.append(answer.text)
                return
            got[name] += [t["id"] for t in answer.json()]

    threads = [threading.Thread(target=fetch, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    every = [task for ids in got.values() for task in ids]
    assert failures == [] and len(every) == len(set(every)) == 10, got
