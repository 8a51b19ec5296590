"""Scripts in uploaded models are untrusted: refused at upload when detectable, contained at run time."""

import pytest

from onestop.engine import Engine
from onestop.engine.parsing import SourceFile
from onestop.engine.sandbox import Sandbox
from tests.conftest import MODELS, script_model


def _run(api, script, process_id):
    response = api.upload([script_model(script, process_id)])
    assert response.status_code == 201, response.json
    response = api.post("/dossiers", {"procedure": process_id})
    assert response.status_code == 201, response.json
    return api.get(f"/dossiers/{response.json['code']}").json  # the whole dossier: the answer is lean


@pytest.mark.parametrize(("script", "words"), [
    ("import os\nos.system('true')", "import"),
    ("x = open('/etc/passwd').read()", "open"),
    ("x = ().__class__.__base__.__subclasses__()", "_"),
    ("x = __import__('os')", "_"),
    ("x = getattr(1, 'real')", "getattr"),
])
def test_a_script_that_reaches_for_the_host_is_refused_at_upload(sqlite_admin_api, script, words):
    response = sqlite_admin_api.upload([script_model(script, "hostile")])
    assert response.status_code == 422
    [problem] = response.json["details"]
    assert problem["element_id"] == "Script_1" and words in problem["message"]


def test_a_script_that_loops_forever_stops_only_its_dossier(sqlite_admin_api):
    dossier = _run(sqlite_admin_api, "n = 0\nwhile True:\n    n = n + 1", "looping")
    assert dossier["state"] == "error"
    assert dossier["error"]["element_id"] == "Script_1" and "time limit" in dossier["error"]["message"]
    assert dossier["tasks"] == []
    healthy = _run(sqlite_admin_api, "fee = 50000 * 2", "healthy")
    assert healthy["state"] == "active" and healthy["data"]["fee"] == 100000


def test_a_script_that_allocates_without_bound_stops_with_a_memory_message(sqlite_admin_api):
    dossier = _run(sqlite_admin_api, "blocks = []\nwhile True:\n    blocks.append('x' * 1000000)", "greedy")
    assert dossier["state"] == "error"
    assert "memory" in dossier["error"]["message"] or "time limit" in dossier["error"]["message"]
    assert _run(sqlite_admin_api, "ok = True", "after_greedy")["state"] == "active"


def test_the_error_message_shows_nothing_of_the_host(sqlite_admin_api):
    dossier = _run(sqlite_admin_api, "x = undefined_name + 1", "undefined")
    assert dossier["state"] == "error"
    assert "undefined_name" in dossier["error"]["message"]
    assert "/" not in dossier["error"]["message"].replace("/api", "")


def test_a_procedure_without_scripts_never_starts_a_script_worker():
    sandbox = Sandbox()
    engine = Engine(sandbox)
    try:
        model = engine.parse([SourceFile("review.bpmn", (MODELS / "review.bpmn").read_bytes()),
                              SourceFile("receive-schema.json", (MODELS / "receive-schema.json").read_bytes())])
        step = engine.start(model)
        step = engine.complete_task(model, step.state, step.ready[0].id,
                                    {"applicant_name": "Ngô E", "documents_complete": True})
        step = engine.complete_task(model, step.state, step.ready[0].id, {"approved": False})
        assert step.status == "completed"
        assert not model.has_scripts
        assert sandbox._idle == []
    finally:
        engine.close()
