"""A supplement stops the clock and its arrival starts it again, by the procedure's policy; through
the API, the desk and the portal."""

import json
import re
from datetime import timedelta

import pytest

from onestop.services import deadlines
from onestop.workdays import to_local, to_utc
from tests.conftest import MODELS, make_user
from tests.web.pages import PDF, csrf, sign_in


def _upload(api, policy):
    meta = {"code": "review", "name": "Xét duyệt", "lanes": {},
            "deadline": {"working_days": 5, "on_supplement": policy}}
    reply = api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json",
                        ("procedure.json", json.dumps(meta, ensure_ascii=False).encode())])
    assert reply.status_code == 201, reply.json


def _back_date_pause(app, code, days):
    """Pretend the supplement was asked for `days` calendar days ago."""
    with app.app_context():
        from onestop.models import Dossier

        dossier = Dossier.get(Dossier.code == code)
        Dossier.update(paused_at=dossier.paused_at - timedelta(days=days)).where(Dossier.id == dossier.id).execute()
        return Dossier.get_by_id(dossier.id)


@pytest.mark.parametrize("policy", ["pause", "restart"])
def test_the_clock_stops_while_the_applicant_supplements_and_resumes_by_the_policy(app, admin_api, policy):
    _upload(admin_api, policy)
    dossier = admin_api.post("/dossiers", {"procedure": "review"}).json
    code, task_id = dossier["code"], dossier["tasks"][0]["id"]
    asked = admin_api.post(f"/dossiers/{code}/supplement-request", {"reason": "Thiếu bản sao sổ hộ khẩu"})
    assert asked.status_code == 200 and asked.json["status"] == "supplement_requested"
    assert admin_api.post(f"/dossiers/{code}/supplement-request", {"reason": "lần nữa"}).status_code == 409
    blocked = admin_api.post(f"/tasks/{task_id}/complete", {"data": {"applicant_name": "Lê An", "documents_complete": True}})
    assert blocked.status_code == 409 and "supplement" in blocked.json["message"]

    before = _back_date_pause(app, code, 3)
    files = ["data:application/pdf;name=so-ho-khau.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="]
    resumed = admin_api.post(f"/dossiers/{code}/supplement", {"note": "Đã nộp bản sao", "files": files})
    assert resumed.status_code == 200 and resumed.json["status"] == "processing"
    assert [a["field"] for a in resumed.json["attachments"]] == ["supplement"]
    with app.app_context():
        from onestop.models import Dossier

        after = Dossier.get(Dossier.code == code)
        calendar = deadlines.calendar_for(after.centre_id)
        if policy == "pause":
            waited = calendar.office_time(to_local(before.paused_at), to_local(after.updated_at))
            assert to_local(after.due_at) == calendar.add(to_local(before.due_at), waited)
            assert waited > timedelta(0)
        else:
            assert after.due_at == deadlines.dossier_due(after.centre_id, deadlines.plan(after.version.metadata),
                                                         after.updated_at)
    assert admin_api.post(f"/tasks/{task_id}/complete",
                          {"data": {"applicant_name": "Lê An", "documents_complete": True}}).status_code == 200
    assert to_utc(to_local(after.due_at)) == after.due_at


def test_asking_without_saying_what_is_missing_is_refused(sqlite_admin_api):
    _upload(sqlite_admin_api, "pause")
    code = sqlite_admin_api.post("/dossiers", {"procedure": "review"}).json["code"]
    refused = sqlite_admin_api.post(f"/dossiers/{code}/supplement-request", {"reason": "  "})
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "reason"


def test_an_officer_asks_on_the_desk_and_the_applicant_supplies_on_the_portal(sqlite_admin_api, sqlite_app):
    from tests.web.pages import FORMS, folder_zip, submitted_code_and_key

    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    citizen = sqlite_app.test_client()
    code, key = submitted_code_and_key(citizen)
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    link = re.search(r'href="(/desk/tasks/[0-9a-f-]{36})"', officer.get("/desk/").get_data(as_text=True)).group(1)
    page = officer.get(link)
    officer.post(f"/desk/dossiers/{code}/supplement-request",
                 data={"csrf_token": csrf(page), "reason": "Bổ sung hợp đồng thuê địa điểm kinh doanh", "back": link})
    text = officer.get(link).get_data(as_text=True)
    assert "Đang chờ người nộp bổ sung hồ sơ" in text and "hợp đồng thuê địa điểm" in text

    status = citizen.get(f"/track/{code}?k={key}")
    text = status.get_data(as_text=True)
    assert "Trung tâm đề nghị bạn bổ sung hồ sơ" in text and "hợp đồng thuê địa điểm" in text
    sent = citizen.post(f"/track/{code}/supplement", content_type="multipart/form-data", data={
        "csrf_token": csrf(status), "key": key, "note": "Hợp đồng thuê nhà",
        "files": [(__import__("io").BytesIO(PDF), "hop-dong.pdf")]})
    assert sent.status_code == 200 and "giấy tờ bổ sung đã được tiếp nhận" in sent.get_data(as_text=True)
    text = officer.get(link).get_data(as_text=True)
    assert "Đang chờ người nộp bổ sung" not in text and "hop-dong.pdf" in text


def test_a_stopped_dossier_ends_where_it_stood_and_says_why(app, admin_api):
    _upload(admin_api, "pause")
    dossier = admin_api.post("/dossiers", {"procedure": "review"}).json
    code, task_id = dossier["code"], dossier["tasks"][0]["id"]
    stopped = admin_api.post(f"/dossiers/{code}/end", {"how": "stopped", "reason": "Người nộp đã qua đời"})
    assert stopped.status_code == 200, stopped.json
    body = stopped.json
    assert (body["state"], body["status"], body["tasks"], body["waiting"]) == ("cancelled", "stopped", [], [])
    assert [(h["element_id"], h["state"]) for h in body["history"] if h["state"] == "cancelled"] == \
        [("Task_Receive", "cancelled")]  # what was under way, not every step that never came
    # Its task is no longer waiting: whoever still completes it lost a race (409), as for a task done.
    assert admin_api.post(f"/tasks/{task_id}/complete", {"data": {}}).status_code == 409
    assert admin_api.post(f"/dossiers/{code}/end", {"how": "withdrawn", "reason": "x"}).status_code == 409


def test_refusing_at_reception_is_only_for_a_dossier_not_yet_processed(sqlite_admin_api):
    _upload(sqlite_admin_api, "pause")
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": "review"}).json
    sqlite_admin_api.post(f"/tasks/{dossier['tasks'][0]['id']}/complete",
                          {"data": {"applicant_name": "Lê An", "documents_complete": True}})
    refused = sqlite_admin_api.post(f"/dossiers/{dossier['code']}/end", {"how": "not_accepted", "reason": "Thiếu"})
    assert refused.status_code == 409
    assert "processing and cannot become not accepted" in refused.json["message"]  # the state machine's refusal
    assert sqlite_admin_api.get(f"/dossiers/{dossier['code']}").json["status"] == "processing"  # nothing moved
    assert sqlite_admin_api.post(f"/dossiers/{dossier['code']}/end", {"how": "vanish", "reason": "x"}).status_code == 422


def test_an_apology_moves_the_promised_date_only_forward_and_only_before_it_passes(sqlite_admin_api, sqlite_app):
    from datetime import date

    _upload(sqlite_admin_api, "pause")
    code = sqlite_admin_api.post("/dossiers", {"procedure": "review"}).json["code"]
    due = date.fromisoformat(sqlite_admin_api.get(f"/dossiers/{code}").json["due_at"][:10])
    later = due + timedelta(days=14)
    while later.weekday() >= 5:
        later += timedelta(days=1)
    assert sqlite_admin_api.post(f"/dossiers/{code}/apology", {"new_due": due.isoformat(), "reason": "x"}).status_code == 422
    moved = sqlite_admin_api.post(f"/dossiers/{code}/apology", {"new_due": later.isoformat(),
                                                                "reason": "Chờ ý kiến Sở Tài nguyên"})
    assert moved.status_code == 200 and moved.json["due_at"].startswith(later.isoformat())
    assert "dossier.apology" in [e["action"] for e in moved.json["events"]]
    with sqlite_app.app_context():
        from onestop.models import Dossier

        row = Dossier.get(Dossier.code == code)
        Dossier.update(due_at=row.due_at - timedelta(days=60)).where(Dossier.id == row.id).execute()
    late = sqlite_admin_api.post(f"/dossiers/{code}/apology", {"new_due": (later + timedelta(days=7)).isoformat(),
                                                               "reason": "x"})
    assert late.status_code == 409 and "passed" in late.json["message"]


def test_the_applicant_withdraws_on_the_portal(sqlite_admin_api, sqlite_app):
    from tests.web.pages import FORMS, folder_zip, submitted_code_and_key

    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    citizen = sqlite_app.test_client()
    code, key = submitted_code_and_key(citizen)
    status = citizen.get(f"/track/{code}?k={key}")
    unconfirmed = citizen.post(f"/track/{code}/withdraw", data={"csrf_token": csrf(status), "key": key})
    assert "Hãy đánh dấu ô xác nhận" in unconfirmed.get_data(as_text=True)
    done = citizen.post(f"/track/{code}/withdraw", data={"csrf_token": csrf(status), "key": key, "confirm": "y",
                                                         "reason": "Đã nộp ở nơi khác"})
    text = done.get_data(as_text=True)
    assert "Hồ sơ của bạn đã được rút" in text and "Đã nộp ở nơi khác" in text and "Đã rút" in text
    assert sqlite_admin_api.get(f"/dossiers/{code}").json["status"] == "withdrawn"


def test_a_dossier_held_up_by_a_failed_step_is_retried_or_skipped_and_each_is_audited(sqlite_app, sqlite_admin_api):
    from onestop.services.errors import Conflict as NotHeldUp
    from tests.conftest import script_model

    assert sqlite_admin_api.upload([script_model("fee = 100 / divisor")]).status_code == 201
    code = sqlite_admin_api.post("/dossiers", {"procedure": "scripted", "data": {"divisor": 0}}).json["code"]
    with sqlite_app.app_context():
        from onestop.services import lifecycle

        admin = make_user("incident.admin", ("admin",))[0]
        [held] = lifecycle.failed(admin)
        assert held.code == code and held.error_element == "Script_1" and "division" in held.error_message
        again = lifecycle.recover(admin, code, "retry")
        assert again.state == "error"  # the same data fails the same way
        skipped = lifecycle.recover(admin, code, "skip")
        assert skipped.state == "active" and lifecycle.failed(admin) == []
        with pytest.raises(NotHeldUp):
            lifecycle.recover(admin, code, "skip")
    dossier = sqlite_admin_api.get(f"/dossiers/{code}").json
    assert [t["element_id"] for t in dossier["tasks"]] == ["Task_After"]
    actions = [e["action"] for e in dossier["events"]]
    assert "dossier.retried" in actions and "dossier.step_skipped" in actions
