"""Completing a task reads what it needs in as few queries as it can, whichever worker ran the last step."""

from onestop import sql
from onestop.models import Dossier
from tests.conftest import MODELS

RECEIVED = {"applicant_name": "Nguyễn Văn A", "documents_complete": True}


def _started(api):
    assert api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    started = api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}})
    assert started.status_code == 201, started.json
    return started.json


def test_a_task_whose_workflow_is_not_live_here_is_completed_with_its_state_read_in_the_same_query(
        app, admin_api, monkeypatch):
    started = _started(admin_api)
    engine = app.extensions["onestop.engine"]
    with app.app_context():
        engine.forget([Dossier.get(Dossier.code == started["code"]).id])  # as if another worker ran the start
    reads = []
    real = sql.workflow_text
    monkeypatch.setattr(sql, "workflow_text", lambda *args: reads.append(args) or real(*args))
    done = admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    assert [t["element_id"] for t in done.json["tasks"]] == ["Task_Approve"]
    assert reads == []  # no second query for the workflow state


def test_a_task_whose_workflow_is_live_here_is_completed_without_reading_its_state(sqlite_app, sqlite_admin_api,
                                                                                    monkeypatch):
    started = _started(sqlite_admin_api)
    assert sqlite_app.extensions["onestop.engine"].offers(started["tasks"][0]["id"])
    real = sql.work_item_in_centre
    asked = []
    monkeypatch.setattr(sql, "work_item_in_centre",
                        lambda *args, **kwargs: asked.append(kwargs.get("with_state")) or real(*args, **kwargs))
    done = sqlite_admin_api.post(f"/tasks/{started['tasks'][0]['id']}/complete", {"data": RECEIVED})
    assert done.status_code == 200, done.json
    assert asked == [False]
