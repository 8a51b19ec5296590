"""Two officers at once: of many simultaneous completions of one task exactly one wins."""

import threading

from tests.conftest import MODELS


def test_thirty_two_threads_completing_one_task_give_one_success_and_31_conflicts(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    dossier = admin_api.post("/dossiers", {"procedure": "review"}).json
    task_id = dossier["tasks"][0]["id"]
    barrier = threading.Barrier(32)
    results = []

    def officer(n):
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/tasks/{task_id}/complete",
                               json={"data": {"applicant_name": f"Cán bộ {n}", "documents_complete": True}},
                               headers={"Authorization": f"Bearer {admin_api.token}"})
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=officer, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    codes = sorted(code for code, _ in results)
    assert len(codes) == 32
    assert codes.count(200) == 1, codes
    assert all(code in (404, 409) for code in codes if code != 200), codes
    assert all(body.get("message") for code, body in results if code != 200)

    after = admin_api.get(f"/dossiers/{dossier['code']}").json
    winner = next(body for code, body in results if code == 200)
    assert after["data"]["applicant_name"] == winner["data"]["applicant_name"]
    assert [t["element_id"] for t in after["tasks"]] == ["Task_Approve"]
    assert [h["element_id"] for h in after["history"]].count("Task_Receive") == 1
    assert [e["action"] for e in after["events"]].count("task.completed") == 1
