"""The external-task API over HTTP in Camunda 7's shapes: worker tokens, scoping, typed variables,
and never an exception's text in an answer."""

import re

import pytest

from onestop.models import Centre
from onestop.services import centres, external_tasks
from tests.conftest import Api, make_user
from tests.services.test_external_tasks import tax_model

LOCKED_KEYS = {"id", "topicName", "workerId", "lockExpirationTime", "createTime", "activityId", "activityInstanceId",
               "executionId", "processInstanceId", "businessKey", "processDefinitionId", "processDefinitionKey",
               "processDefinitionVersionTag", "tenantId", "retries", "errorMessage", "errorDetails", "suspended",
               "priority", "variables", "extensionProperties"}
# What Python puts in the text of its exceptions (their class names, a traceback's lines): none of it may
# reach a worker. (A JSON body's parse position, "line 1, column 2", is the body reader's plain answer.)
EXCEPTION_TEXT = re.compile(r"Traceback|\w+Error\b|\w*Exception\b|File \"[^\"]*\", line \d+|object has no attribute|"
                            r"NoneType|unsupported operand|not subscriptable|invalid literal")


def _fetch_body(worker_id="w1", topic="tax-check", **extra):
    return {"workerId": worker_id, "maxTasks": 5, "usePriority": False, "asyncResponseTimeout": 0, "sorting": None,
            "topics": [{"topicName": topic, "lockDuration": 60000, "processVariables": {}, "variables": None,
                        "includeExtensionProperties": True, "deserializeValues": True} | extra]}


def setup_external_tasks(app, api):
    """The procedure with an external task, one dossier waiting at it, and a worker token: the worker's Api."""
    assert api.upload([("tax_check.bpmn", tax_model())]).status_code == 201
    started = api.post("/dossiers", {"procedure": "tax_check", "data": {"tax_code": "0101234567", "fee": 1.5}})
    assert started.status_code == 201, started.json
    with app.app_context():
        robot, _ = make_user("tax.robot", ("integration",))
        token = external_tasks.issue_worker_token(robot, ["tax-check"])
    return Api(app.test_client(), token), started.json["code"]


def external_task_scenario(app, api):
    """Every external-task operation once (for the contract test's walk through the API)."""
    worker, _code = setup_external_tasks(app, api)
    api.post("/external-task/fetchAndLock", _fetch_body())  # an ordinary token: 403
    [task] = worker.post("/external-task/fetchAndLock", _fetch_body()).json
    worker.get("/external-task"), worker.get(f"/external-task/{task['id']}")
    worker.post(f"/external-task/{task['id']}/extendLock", {"workerId": "w1", "newDuration": 1000})
    worker.post(f"/external-task/{task['id']}/failure", {"workerId": "w1", "errorMessage": "down", "retries": 1,
                                                         "retryTimeout": 0})
    worker.post(f"/external-task/{task['id']}/unlock")
    [task] = worker.post("/external-task/fetchAndLock", _fetch_body("w2")).json
    worker.post(f"/external-task/{task['id']}/complete", {"workerId": "w1", "variables": {}})  # not its lock: 400
    worker.post(f"/external-task/{task['id']}/complete", {"workerId": "w2", "variables": {"ok": {"value": True}}})


@pytest.fixture
def worker_api(app, admin_api):
    return setup_external_tasks(app, admin_api)


def test_a_worker_fetches_its_task_in_camunda_7s_shape_and_completes_it_with_typed_variables(admin_api, worker_api):
    worker, code = worker_api
    answer = worker.post("/external-task/fetchAndLock", _fetch_body())
    assert answer.status_code == 200
    [task] = answer.json
    assert set(task) == LOCKED_KEYS
    assert (task["topicName"], task["workerId"], task["activityId"], task["businessKey"], task["processDefinitionKey"]) \
        == ("tax-check", "w1", "Call", code, "tax_check")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", task["lockExpirationTime"])
    assert task["variables"]["tax_code"] == {"value": "0101234567", "type": "String", "valueInfo": {}}
    assert task["variables"]["fee"]["type"] == "Double"
    done = worker.post(f"/external-task/{task['id']}/complete",
                       {"workerId": "w1", "variables": {"tax_ok": {"value": True, "type": "Boolean"}}})
    assert done.status_code == 204 and done.data == b""
    dossier = admin_api.get(f"/dossiers/{code}").json
    assert dossier["data"]["tax_ok"] is True and [t["element_id"] for t in dossier["tasks"]] == ["Review"]
    assert worker.get(f"/external-task/{task['id']}").status_code == 404


def test_no_token_is_401_an_ordinary_token_403_and_a_worker_token_is_refused_by_the_rest_of_the_api(
        app, admin_api, worker_api):
    worker, code = worker_api
    assert app.test_client().post("/api/v1/external-task/fetchAndLock", json=_fetch_body()).status_code == 401
    refused = admin_api.post("/external-task/fetchAndLock", _fetch_body())
    assert refused.status_code == 403 and "worker token" in refused.json["message"]
    assert worker.get(f"/dossiers/{code}").status_code == 401
    assert worker.get("/tasks").status_code == 401


def test_a_topic_the_token_does_not_name_gets_nothing(worker_api):
    worker, _code = worker_api
    assert worker.post("/external-task/fetchAndLock", _fetch_body(topic="land-registry")).json == []


def test_another_centres_worker_sees_nothing_of_this_centres_tasks(app, worker_api):
    worker, _code = worker_api
    [task] = worker.post("/external-task/fetchAndLock", _fetch_body(), ).json
    worker.post(f"/external-task/{task['id']}/unlock")
    with app.app_context():
        centres.import_units(make_user("system", ("system_admin",))[0], [22])
        elsewhere = Centre.get(Centre.code == "W07093")
        robot, _ = make_user("b.robot", ("integration",), centre=elsewhere)
        theirs = Api(app.test_client(), external_tasks.issue_worker_token(robot, ["tax-check"]))
    assert theirs.post("/external-task/fetchAndLock", _fetch_body()).json == []
    assert theirs.get("/external-task").json == []
    for path, body in ((f"/external-task/{task['id']}/complete", {"workerId": "w1"}),
                       (f"/external-task/{task['id']}/failure", {"workerId": "w1", "retries": 0}),
                       (f"/external-task/{task['id']}/extendLock", {"workerId": "w1", "newDuration": 5}),
                       (f"/external-task/{task['id']}/unlock", None)):
        assert theirs.post(path, body).status_code == 404
    assert theirs.get(f"/external-task/{task['id']}").status_code == 404
    assert len(worker.post("/external-task/fetchAndLock", _fetch_body()).json) == 1  # untouched


def test_a_failure_with_no_retry_left_is_an_incident_of_the_dossier(admin_api, worker_api):
    worker, code = worker_api
    [task] = worker.post("/external-task/fetchAndLock", _fetch_body()).json
    failed = worker.post(f"/external-task/{task['id']}/failure",
                         {"workerId": "w1", "errorMessage": "no such tax code", "errorDetails": "...", "retries": 0,
                          "retryTimeout": 0})
    assert failed.status_code == 204
    dossier = admin_api.get(f"/dossiers/{code}").json
    assert dossier["state"] == "error"
    assert worker.post("/external-task/fetchAndLock", _fetch_body()).json == []


@pytest.mark.parametrize("body", [
    {"workerId": "w1", "variables": {"x": {"value": "abc", "type": "Long"}}},
    {"workerId": "w1", "variables": {"x": {"value": "[", "type": "Json"}}},
    {"workerId": "w1", "variables": {"__class__": {"value": 1}}},
    {"workerId": "w1", "variables": {"x": {"type": "String"}}},
    {"workerId": "w1", "variables": "x"},
    {"workerId": 7},
    {},
])
def test_bad_completions_are_refused_in_plain_words_without_exception_text(worker_api, body):
    worker, _code = worker_api
    [task] = worker.post("/external-task/fetchAndLock", _fetch_body()).json
    answer = worker.post(f"/external-task/{task['id']}/complete", body)
    assert answer.status_code in (400, 422) and answer.json["message"]
    assert not EXCEPTION_TEXT.search(answer.get_data(as_text=True)), answer.json


@pytest.mark.parametrize(("path", "body"), [
    ("/external-task/fetchAndLock", {"workerId": "w", "topics": [{"topicName": "tax-check"}]}),
    ("/external-task/fetchAndLock", {"workerId": "w", "topics": [{"topicName": "tax-check", "lockDuration": -5}]}),
    ("/external-task/fetchAndLock", {"workerId": "w", "maxTasks": 10 ** 30, "topics": []}),
    ("/external-task/fetchAndLock", {"workerId": "w", "topics": "tax-check"}),
    ("/external-task/fetchAndLock", {"workerId": "", "topics": []}),
    ("/external-task/nope/failure", {"workerId": "w", "retries": -1}),
    ("/external-task/nope/failure", {"workerId": "w", "retries": 0}),
    ("/external-task/nope/extendLock", {"workerId": "w", "newDuration": "soon"}),
    ("/external-task/" + "x" * 5000 + "/unlock", None),
    ("/external-task/nope/complete", {"workerId": "w", "variables": {"a": {"value": 1e400}}}),
])
def test_malformed_requests_get_a_plain_answer_and_no_exception_text(worker_api, path, body):
    worker, _code = worker_api
    answer = worker.post(path, body)
    assert 400 <= answer.status_code < 500
    assert not EXCEPTION_TEXT.search(answer.get_data(as_text=True)), answer.get_data(as_text=True)


def test_a_body_that_is_not_json_gets_a_plain_answer(worker_api):
    worker, _code = worker_api
    answer = worker.client.post("/api/v1/external-task/fetchAndLock", data=b"{not json",
                                headers=worker._headers() | {"Content-Type": "application/json"})
    assert answer.status_code in (400, 422)
    assert not EXCEPTION_TEXT.search(answer.get_data(as_text=True))
