"""The modeller side panel's checks through real HTTP: a condition or a timer is judged by the engine's own
rules before anything runs, in the administrator's language, and only on a draft of their own centre."""

import pytest

from onestop.engine import SourceFile
from onestop.models import Centre
from onestop.services import drafts, units
from tests.conftest import make_user
from tests.process_models import bundled_files
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"


@pytest.fixture
def desk(sqlite_app):
    """An administrator signed in, with a draft of the bundled birth registration and a CSRF token."""
    with sqlite_app.app_context():
        admin, _ = make_user("quantri", ("admin",), password=PASSWORD)
        units.create_unit(admin, "TP", "Công chức Tư pháp - Hộ tịch")
        draft_id = drafts.create(admin, [SourceFile(p.name, p.read_bytes()) for p in bundled_files("birth_registration")],
                                 "test")
    client = sqlite_app.test_client()
    assert sign_in(client, "quantri", PASSWORD).status_code == 303
    token = csrf(client.get("/admin/onboard/"))
    return client, draft_id, token


def _post(client, path, body, token, language="en"):
    client.set_cookie("lang", language)  # the visitor's choice of language (web/i18n.py)
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def test_a_condition_with_a_syntax_error_is_refused_at_once_in_the_administrators_words(desk):
    client, draft_id, token = desk
    answer = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "ho_so_day_du =="}, token)
    assert answer.status_code == 200
    assert answer.json["ok"] is False and answer.json["level"] == "error" and answer.json["code"] == "syntax"
    assert answer.json["message"] == "The condition has a syntax error."
    assert "syntax error" in answer.json["detail"]


def test_a_condition_the_sandbox_would_refuse_is_refused_before_it_runs(desk):
    client, draft_id, token = desk
    answer = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "__import__('os')"}, token)
    assert answer.json["ok"] is False and answer.json["code"] == "refused"


def test_a_condition_reading_what_no_form_fills_in_is_a_warning_naming_it(desk):
    client, draft_id, token = desk
    known = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "documents_complete == True"}, token)
    assert known.json == known.json | {"ok": True, "level": "ok", "code": None, "unknown_names": []}
    typo = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "documents_complet == True"}, token)
    assert typo.json["ok"] is True and typo.json["level"] == "warning" and typo.json["unknown_names"] == ["documents_complet"]


def test_a_camunda_condition_is_checked_as_the_python_the_engine_will_run(desk):
    client, draft_id, token = desk
    answer = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "${documents_complete && !refused}"},
                   token)
    assert answer.json["ok"] is True and answer.json["python"] == "documents_complete and not refused"


def test_an_absurd_timer_is_refused_by_the_engines_budgets(desk):
    client, draft_id, token = desk
    far = _post(client, f"/admin/modeller/check/{draft_id}/timer", {"kind": "duration", "value": "P500Y"}, token)
    assert far.json["ok"] is False and far.json["code"] == "too_far"
    often = _post(client, f"/admin/modeller/check/{draft_id}/timer", {"kind": "cycle", "value": "R/PT1S"}, token)
    assert often.json["code"] == "too_often"
    garbled = _post(client, f"/admin/modeller/check/{draft_id}/timer", {"kind": "duration", "value": "3 ngày"}, token)
    assert garbled.json["code"] == "format"
    mixed = _post(client, f"/admin/modeller/check/{draft_id}/timer", {"kind": "date", "value": "P3D"}, token)
    assert mixed.json["code"] == "wrong_kind"
    fine = _post(client, f"/admin/modeller/check/{draft_id}/timer", {"kind": "duration", "value": "P3D"}, token)
    assert fine.json == fine.json | {"ok": True, "code": None, "value": "P3D"}


def test_a_lane_may_map_to_the_roles_and_to_the_units_of_the_centre(desk):
    client, draft_id, _token = desk
    answer = client.get(f"/admin/modeller/check/{draft_id}/lanes")
    assert [r["value"] for r in answer.json["roles"]] == ["officer", "leader", "admin"]
    assert answer.json["units"] == [{"code": "TP", "name": "Công chức Tư pháp - Hộ tịch"}]


def test_the_drafts_forms_are_listed_with_the_ui_schema_paired_with_them(desk):
    client, draft_id, _token = desk
    forms = client.get(f"/admin/modeller/check/{draft_id}/forms").json["forms"]
    assert {"name": "application-schema.json", "ui": "application-uischema.json"} in forms
    assert {"name": "receive-schema.json", "ui": None} in forms
    assert not any(f["name"].endswith("-uischema.json") for f in forms)


def test_another_centres_draft_is_not_found_and_nothing_is_checked_without_the_pages_token(sqlite_app, desk):
    client, draft_id, token = desk
    with sqlite_app.app_context():
        other = Centre.create(code="xa-khac", name="Xã Khác", level="commune")
        make_user("ke.la", ("admin",), centre=other, password=PASSWORD)
    stranger = sqlite_app.test_client()
    assert sign_in(stranger, "ke.la", PASSWORD).status_code == 303
    theirs = csrf(stranger.get("/admin/onboard/"))
    for answer in (_post(stranger, f"/admin/modeller/check/{draft_id}/expression", {"expression": "a"}, theirs),
                   _post(stranger, f"/admin/modeller/check/{draft_id}/timer", {"kind": "duration", "value": "P1D"}, theirs),
                   stranger.get(f"/admin/modeller/check/{draft_id}/lanes"),
                   stranger.get(f"/admin/modeller/check/{draft_id}/forms")):
        assert answer.status_code == 404 and answer.json["code"] == "not_found"
    forged = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "a"}, "forged")
    assert forged.status_code == 400 and forged.json["code"] == "csrf"


def test_an_officer_gets_no_answer(sqlite_app, desk):
    _client, draft_id, _token = desk
    with sqlite_app.app_context():
        make_user("canbo", ("officer",), password=PASSWORD)
    officer = sqlite_app.test_client()
    assert sign_in(officer, "canbo", PASSWORD).status_code == 303
    assert officer.get(f"/admin/modeller/check/{draft_id}/lanes").status_code == 403


def test_an_answer_asked_for_in_vietnamese_carries_its_code_and_words(desk):
    client, draft_id, token = desk
    answer = _post(client, f"/admin/modeller/check/{draft_id}/expression", {"expression": "a =="}, token, language="vi")
    assert answer.json["code"] == "syntax" and answer.json["message"]


def test_instructions_are_previewed_as_the_task_page_shows_them_rendered_and_sanitised(desk):
    client, draft_id, token = desk
    answer = _post(client, f"/admin/modeller/check/{draft_id}/markdown",
                   {"text": "**Đối chiếu** bản chính\n\n- CCCD\n\n<script>alert(1)</script>[x](javascript:alert(1))"}, token)
    html = answer.json["html"]
    assert "<strong>Đối chiếu</strong>" in html and "<li>CCCD</li>" in html
    assert "<script" not in html and "javascript:" not in html
