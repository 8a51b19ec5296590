"""Two officers at once: of many simultaneous completions of one task exactly one wins; and the
production setup (gunicorn workers on PostgreSQL) under mixed starts and completions answers no 5xx."""

import os
import threading

import pytest

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
        results.append((response.status_code, response.get_json() | {"officer": n}))

    threads = [threading.Thread(target=officer, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    codes = sorted(code for code, _ in results)
    assert len(codes) == 32
    assert codes.count(200) == 1, codes
    assert all(code == 409 for code in codes if code != 200), codes  # a lost race, never "no such task"
    assert all(body.get("message") for code, body in results if code != 200)

    after = admin_api.get(f"/dossiers/{dossier['code']}").json
    winner = next(body for code, body in results if code == 200)
    assert after["data"]["applicant_name"] == f"Cán bộ {winner['officer']}"
    assert [t["element_id"] for t in after["tasks"]] == ["Task_Approve"]
    assert [h["element_id"] for h in after["history"]].count("Task_Receive") == 1
    assert [e["action"] for e in after["events"]].count("task.completed") == 1


def test_fifty_simultaneous_intakes_get_fifty_consecutive_codes_of_the_agency(app, admin_api):
    import re

    from onestop.services import codes
    from onestop.workdays import to_local

    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        from onestop.models import Centre

        Centre.update(agency_code="H22.01.05.13").where(Centre.code == "default").execute()
        codes.changed()
    barrier = threading.Barrier(50)
    results = []

    def intake():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/dossiers", json={"procedure": "review"},
                               headers={"Authorization": f"Bearer {admin_api.token}"})
        results.append((response.status_code, (response.get_json() or {}).get("code")))

    threads = [threading.Thread(target=intake) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(status for status, _ in results) == [201] * 50
    found = [re.fullmatch(r"H22\.01\.05\.13-(\d{6})-(\d{4})", code) for _, code in results]
    assert all(found), results
    from onestop.models import utcnow

    assert {m[1] for m in found} == {f"{to_local(utcnow()):%y%m%d}"}
    assert sorted(int(m[2]) for m in found) == list(range(1, 51))  # distinct, consecutive, no gap
    with app.app_context():
        from onestop.services import audit

        checked = audit.verify()  # fifty writers at once left one unbroken chain
        assert checked.broken is None and checked.events >= 50


def test_a_failed_intake_gives_its_number_back(sqlite_app, sqlite_admin_api):
    from onestop.db import run_write
    from onestop.services import codes

    with sqlite_app.app_context():
        from onestop.models import utcnow

        first = run_write(lambda: codes.next_code(1, utcnow()))

        def failing():
            codes.next_code(1, utcnow())
            raise RuntimeError("the intake failed after taking a number")

        with pytest.raises(RuntimeError):
            run_write(failing)
        second = run_write(lambda: codes.next_code(1, utcnow()))
    assert int(second[-4:]) == int(first[-4:]) + 1


# Two gunicorn workers, PostgreSQL and eight clients for seconds. Not `alone`: it asserts no time (no
# 5xx, one winner per race, an unbroken audit chain hold under any load; a rival that misses the
# barrier still meets a completed task and gets its 409), and a test beside it only makes the load
# harsher; the ordinary tests beside it assert no time either.
def test_two_gunicorn_workers_on_postgresql_under_eight_clients_answer_no_5xx_and_one_winner_per_race(tmp_path):
    """Starts, completions and completions raced by three clients at once, through real HTTP for
    ONESTOP_CONCURRENCY_SECONDS (6 by default; the issue's acceptance run is 60): every answer is
    the expected one, each raced task has exactly one winner and the audit chain is unbroken."""
    from bench import concurrency
    from tests.support.postgres import admin_url_or_skip

    admin_url_or_skip()
    seconds = float(os.environ.get("ONESTOP_CONCURRENCY_SECONDS", "6"))
    report, log = concurrency.run("postgresql", workers=2, threads=4, clients=8, seconds=seconds, rivals=2,
                                  folder=tmp_path)
    figures = report.as_dict()
    assert report.server_errors() == 0, (figures, log[-4000:])
    assert report.unexpected == [], figures  # 201 for starts, 200 for completions, 200 or 409 in a race
    assert report.requests("start") >= 8 and report.requests("contest") >= 8, figures
    assert report.contests and report.wrong_winners() == [], figures
    assert any(409 in c.statuses for c in report.contests), figures  # the races did meet
    assert report.audit[0], report.audit
    assert "Traceback" not in log, log[-4000:]
