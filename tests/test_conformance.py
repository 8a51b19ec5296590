"""Every entry of the shared conformance corpus, run through the REST API as its scenario says.

Beyond what the outside runner can see, these tests also check task states (from the dossier's
history), the failing element of an error, and the data a task saw when it completed.
"""

import itertools
import json
import time

import pytest
from SpiffWorkflow.util.task import TaskState

from onestop.engine import Budgets
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.corpus

MANIFEST = json.loads((CONFORMANCE / "MANIFEST.json").read_text()) if CONFORMANCE.exists() else {"entries": []}
ENTRIES = MANIFEST["entries"]
BY_FILE = {e["file"]: e for e in ENTRIES}


def _files(entry):
    return [CONFORMANCE / f for f in [entry["file"]] + list(entry.get("load_together_with", []))]


def _runs():
    for e in ENTRIES:
        if e.get("hostile") or e.get("role"):
            continue
        for run in (e.get("scenario") or {}).get("runs", []):
            yield pytest.param(e, run, id=f"{e['file']}:{run['name']}")


def _import_only():
    for e in ENTRIES:
        if not e.get("hostile") and not e.get("role") and not (e.get("scenario") or {}).get("runs"):
            yield pytest.param(e, id=e["file"])


def _hostile():
    for e in ENTRIES:
        if e.get("hostile"):
            yield pytest.param(e, id=e["file"])


def _subset(small, big):
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _subset(v, big[k]) for k, v in small.items())
    return small == big


def _start(run):
    start = run.get("start")
    return start["collaboration"] if isinstance(start, dict) else start


def _wait_for_timer(api, clock, code, seconds, before, next_action):
    # The scenario's wait passes on the app's clock instead of the wall clock's, and so does the
    # engine's floor for a timer (it is looked at no sooner than the budgets' timer_retry_seconds after
    # the step that set it, 1 s by default): a real sleep cost the scenario's seconds plus about one more.
    clock.advance(seconds + Budgets().timer_retry_seconds)
    deadline = time.time() + 10
    while True:
        dossier = api.get(f"/dossiers/{code}").json
        moved = (dossier["state"], dossier["tasks"], dossier["waiting"]) != (before["state"], before["tasks"], before["waiting"])
        possible = not (next_action and "complete" in next_action) or any(
            t["element_id"] == next_action["complete"] for t in dossier["tasks"])
        if (moved and possible) or time.time() > deadline:
            return dossier
        time.sleep(0.1)


_WORKERS = itertools.count()


def _serve_external_tasks(app, api, dossier):
    """Play the workers of the dossier's pending external tasks, through the external-task API: the
    corpus's scenarios read a Camunda external task (an e-mail sent by a send task) as done at once,
    where onestop waits for a worker of its topic. The dossier as it stands afterwards."""
    from onestop.models import Dossier, ServiceCall
    from onestop.services import external_tasks
    from tests.conftest import Api, make_user

    with app.app_context():
        dossier_id = Dossier.get(Dossier.code == dossier["code"]).id
        topics = sorted({c.topic for c in ServiceCall.select().where(
            (ServiceCall.dossier == dossier_id) & (ServiceCall.kind == "external"))})
        if not topics:
            return dossier
        robot, _ = make_user(f"corpus.worker.{next(_WORKERS)}", ("integration",))
        worker = Api(api.client, external_tasks.issue_worker_token(robot, topics))
    locked = worker.post("/external-task/fetchAndLock", {"workerId": "corpus", "maxTasks": 100, "topics": [
        {"topicName": t, "lockDuration": 60000, "businessKey": dossier["code"]} for t in topics]}).json
    for task in locked:
        assert worker.post(f"/external-task/{task['id']}/complete", {"workerId": "corpus"}).status_code == 204
    return api.get(f"/dossiers/{dossier['code']}").json


def _task_data(app, code, element_id):
    """The data of the completed task with that BPMN id, read from the stored workflow."""
    from onestop.models import Dossier
    from onestop.services.procedures import model_for
    from onestop.services.runtime import engine

    with app.app_context():
        dossier = Dossier.get(Dossier.code == code)
        workflow = engine().load(model_for(dossier.version), dossier.workflow)
    found = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == element_id]
    return found[-1].data if found else None


@pytest.mark.parametrize(("entry", "run"), list(_runs()))
def test_every_runnable_corpus_model_behaves_as_its_scenario_says(request, app, admin_api, clock, entry, run):
    api = admin_api
    if any("wait_seconds" in action for action in run.get("actions", [])):
        # The timer worker (and its connector and portal threads, polling the database ten times a
        # second) runs beside the scenarios that wait for a timer. In the others no timer comes due
        # (the two whose models have one answer before it: a message at once, an e-mail worker) and
        # no connector call is made (external tasks are played here, _serve_external_tasks): the
        # worker's rounds found nothing, at ~16 % of the file's CPU.
        request.getfixturevalue("timer_thread")
    response = api.upload(_files(entry), process_id=_start(run))
    assert response.status_code in (200, 201), response.json
    code = response.json["code"]
    response = api.post("/dossiers", {"procedure": code, "data": run.get("start_data", {})})
    assert response.status_code == 201, response.json
    dossier = _serve_external_tasks(app, api, response.json)
    actions = run.get("actions", [])
    for index, action in enumerate(actions):
        dossier = _serve_external_tasks(app, api, dossier)
        if "complete" in action:
            ready = [t for t in dossier["tasks"] if t["element_id"] == action["complete"]]
            assert ready, f"{action['complete']} not ready; ready={[t['element_id'] for t in dossier['tasks']]}"
            data = dict(action.get("data", {}))
            if "data_per_instance" in action:
                seen = api.get(f"/tasks/{ready[0]['id']}").json["data"]
                data.update(eval(action["data_per_instance"], {"__builtins__": {}}, dict(seen)))  # the manifest's own expression
            response = api.post(f"/tasks/{ready[0]['id']}/complete", {"data": data})
            assert response.status_code == 200, response.json
            dossier = response.json
        elif "message" in action:
            body = {"name": action["message"], "payload": action.get("payload", {})}
            if action.get("to"):
                body["to"] = action["to"]
            response = api.post(f"/dossiers/{dossier['code']}/messages", body)
            assert response.status_code == 200, response.json
            dossier = response.json
        elif "wait_seconds" in action:
            following = actions[index + 1] if index + 1 < len(actions) else None
            dossier = _wait_for_timer(api, clock, dossier["code"], action["wait_seconds"], dossier, following)

    dossier = _serve_external_tasks(app, api, api.get(f"/dossiers/{dossier['code']}").json)
    expect = run["expect"]
    want = {"waiting": "active"}.get(expect.get("end_state"), expect.get("end_state"))
    if want:
        assert dossier["state"] == want, dossier.get("error")
    if "data" in expect:
        assert dossier["data"] == expect["data"]
    if "data_subset" in expect:
        assert _subset(expect["data_subset"], dossier["data"]), dossier["data"]
    for key in expect.get("data_excludes", []):
        assert key not in dossier["data"]
    if "ready_at_end" in expect:
        assert sorted(t["element_id"] for t in dossier["tasks"]) == sorted(expect["ready_at_end"])
    if "waiting_at_end" in expect:
        assert sorted(w["element_id"] for w in dossier["waiting"]) == sorted(expect["waiting_at_end"])
    if "error_at" in expect:
        assert dossier["error"]["element_id"] == expect["error_at"]
    if "error_contains" in expect:
        assert expect["error_contains"] in dossier["error"]["message"]
    completed = {h["element_id"] for h in dossier["history"] if h["state"] == "completed"}
    for element, state in expect.get("task_states", {}).items():
        if state == "COMPLETED":
            assert element in completed, f"{element} did not complete"
        else:
            assert element not in completed, f"{element} completed but must not"
    for element, subset in expect.get("task_data_subset", {}).items():
        seen = _task_data(app, dossier["code"], element)
        assert seen is not None, f"{element} never completed"
        assert {k: seen.get(k) for k in subset} == subset


@pytest.mark.parametrize("entry", list(_import_only()))
def test_descriptive_models_are_refused_or_cannot_start_with_a_clear_message(sqlite_app, sqlite_admin_api, entry):
    response = sqlite_admin_api.upload(_files(entry))
    if response.status_code in (200, 201):
        started = sqlite_admin_api.post("/dossiers", {"procedure": response.json["code"]})
        assert started.status_code in (400, 404, 409, 422) and started.json["message"]
    else:
        assert response.status_code == 422, response.json
        assert response.json["message"] and response.json["details"]
        assert all(d["message"] for d in response.json["details"])
        assert "Traceback" not in json.dumps(response.json)


@pytest.mark.parametrize("entry", list(_hostile()))
def test_hostile_files_are_refused_with_a_message_naming_the_problem(sqlite_app, sqlite_admin_api, entry):
    response = sqlite_admin_api.upload(_files(entry))
    assert response.status_code == 422, response.json
    text = json.dumps(response.json)
    assert "root:" not in text and "/bin/" not in text  # nothing of /etc/passwd, ever
    words = {
        "hostile_malformed_xml": "not well-formed",
        "hostile_dangling_reference": "has no target",
        "hostile_xxe": "DOCTYPE",
        "hostile_entity_expansion": "DOCTYPE",
        "hostile_script_sandbox_escape": "import",
    }
    expected = [w for tag, w in words.items() if tag in entry["features"]]
    assert expected and all(w in text for w in expected), text
