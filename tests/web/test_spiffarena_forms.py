"""A SpiffArena model with the form conventions of the field, through the API and the desk:
cosmetic UI keys onestop does not know are warnings, choices come from the task's data, and the
task's Jinja instructions are filled from that data (a hostile part shown as written)."""

import re

import pytest

from tests.conftest import MODELS, make_user
from tests.web.pages import csrf, sign_in

FOLDER = MODELS / "forms" / "spiffarena_dynamic"


@pytest.fixture
def fruit(sqlite_admin_api):
    reply = sqlite_admin_api.upload(sorted(FOLDER.iterdir()))
    assert reply.status_code == 201, reply.json
    return sqlite_admin_api, reply.json


def _start(api):
    dossier = api.post("/dossiers", {"procedure": "fruit_order", "data": {}})
    assert dossier.status_code == 201, dossier.json
    [task] = dossier.json["tasks"]
    return task["id"]


def test_a_ui_key_onestop_does_not_know_is_a_warning_at_upload_naming_the_task(fruit):
    _api, version = fruit
    [warning] = [w for w in version["warnings"] if "ui:autoFocus" in w["message"]]
    assert warning["element_id"] == "Task_Pick" and "pick-uischema.json" in warning["message"]


def test_the_api_shows_the_choices_the_task_data_offers_and_checks_the_answer_against_them(fruit):
    api, _version = fruit
    task_id = _start(api)
    detail = api.get(f"/tasks/{task_id}").json
    assert detail["form"]["properties"]["fruit"]["anyOf"] == [{"const": "apples", "title": "Táo"},
                                                              {"const": "pears", "title": "Lê"}]
    refused = api.post(f"/tasks/{task_id}/complete", {"data": {"fruit": "plums"}})
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "fruit"
    done = api.post(f"/tasks/{task_id}/complete", {"data": {"fruit": "pears"}})
    assert done.status_code == 200 and done.json["state"] == "completed"


@pytest.fixture
def officer(fruit, sqlite_app):
    api, _version = fruit
    _start(api)
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    client = sqlite_app.test_client()
    assert sign_in(client, "canbo1", "mật-khẩu-1").status_code == 303
    text = client.get("/desk/").get_data(as_text=True)
    return client, re.search(r'href="(/desk/tasks/[0-9a-f-]{36})"', text).group(1)


def test_the_desk_draws_the_choices_and_fills_the_instructions_from_the_task_data(officer):
    client, link = officer
    page = client.get(link, headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "Khách hàng <strong>Trần Thị Bình</strong>, phí 150,000 đồng." in text
    assert "{{ customer.name }}" not in text
    assert 'value="apples"' in text and ">Táo<" in text and 'value="pears"' in text and ">Lê<" in text
    assert 'placeholder="ví dụ: giao buổi sáng"' in text
    assert "Nhập <strong>rõ ràng</strong>" in text  # ui:enableMarkdownInDescription


def test_the_desk_completes_the_task_with_a_choice_from_the_task_data(officer):
    client, link = officer
    page = client.get(link)
    refused = client.post(link, data={"csrf_token": csrf(page), "fruit": "plums"})
    assert refused.status_code == 422
    done = client.post(link, data={"csrf_token": csrf(page), "fruit": "pears"})
    assert done.status_code == 303


def test_a_hostile_instruction_is_shown_as_written_never_as_an_error(sqlite_admin_api, sqlite_app):
    bpmn = (FOLDER / "fruit_order.bpmn").read_text().replace(
        "Khách hàng **{{ customer.name }}**, phí {{ '{:,}'.format(fee_vnd) }} đồng.",
        "{% for i in range(10**9) %}x{% endfor %}{{ ''.__class__.__mro__ }}")
    files = [("fruit_order.bpmn", bpmn.encode())] + [p for p in sorted(FOLDER.iterdir()) if p.suffix == ".json"]
    assert sqlite_admin_api.upload(files).status_code == 201
    _start(sqlite_admin_api)
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    client = sqlite_app.test_client()
    sign_in(client, "canbo1", "mật-khẩu-1")
    link = re.search(r'href="(/desk/tasks/[0-9a-f-]{36})"', client.get("/desk/").get_data(as_text=True)).group(1)
    page = client.get(link)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "{% for i in range(10" in text and "mro" in text and "&lt;class" not in text and "xxxx" not in text
