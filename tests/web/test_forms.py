"""Forms through the REST API: SpiffArena and Camunda forms upload, validate, and reach the client."""

import json
import unicodedata

import pytest

from tests.conftest import MODELS
from tests.web.pages import folder_zip

FORMS = MODELS / "forms"
GOOD = {"full_name": "Trần Thị Bình", "citizen_id": "001203004567", "business_name": "Phở Bình",
        "capital_vnd": 50_000_000, "start_date": "2026-12-01", "business_lines": ["5610"],
        "documents": "data:application/pdf;name=gcn.pdf;base64,JVBERi0xLjQK"}


@pytest.fixture
def household(sqlite_admin_api):
    response = sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")])
    assert response.status_code == 201, response.json
    assert response.json["code"] == "household_business"
    return sqlite_admin_api


@pytest.fixture
def event_permit(sqlite_admin_api):
    response = sqlite_admin_api.upload(sorted((FORMS / "camunda").iterdir()))
    assert response.status_code == 201, response.json
    return sqlite_admin_api, response.json


def test_a_spiffarena_process_model_folder_imports_unchanged_and_validates_its_start_form(household):
    refused = household.post("/dossiers", {"procedure": "household_business", "data": GOOD | {"citizen_id": "12"}})
    assert refused.status_code == 422
    assert refused.json["details"] == [{"field": "citizen_id", "code": "pattern", "message": "is not in the expected format"}]
    dossier = household.post("/dossiers", {"procedure": "household_business", "data": GOOD})
    assert dossier.status_code == 201, dossier.json
    [task] = dossier.json["tasks"]
    detail = household.get(f"/tasks/{task['id']}").json
    assert detail["form"]["title"] == "Thẩm định" and detail["ui"] == {}


def test_a_task_form_refuses_wrong_data_with_the_same_shape_of_errors(household):
    dossier = household.post("/dossiers", {"procedure": "household_business", "data": GOOD}).json
    task_id = dossier["tasks"][0]["id"]
    refused = household.post(f"/tasks/{task_id}/complete", {"data": {"approved": "có"}})
    assert refused.status_code == 422
    assert refused.json["details"] == [{"field": "approved", "code": "type", "message": "must be yes or no"}]
    assert household.post(f"/tasks/{task_id}/complete", {"data": {"approved": True}}).json["state"] == "completed"


def test_decomposed_vietnamese_is_stored_composed(household):
    name = unicodedata.normalize("NFD", "Trần Thị Bình")
    dossier = household.post("/dossiers", {"procedure": "household_business", "data": GOOD | {"full_name": name}})
    assert dossier.status_code == 201
    stored = household.get(f"/dossiers/{dossier.json['code']}").json
    assert stored["data"]["full_name"] == unicodedata.normalize("NFC", name)


def test_a_camunda_model_takes_its_start_form_from_a_forms_file_and_its_task_form_from_form_data(event_permit):
    api, version = event_permit
    warnings = {w["element_id"]: w["message"] for w in version["warnings"]}
    assert "names no uploaded form" in warnings["Task_Sign"]
    refused = api.post("/dossiers", {"procedure": "event_permit", "data": {"applicant_name": "A"}})
    assert {d["field"] for d in refused.json["details"]} == {"applicant_name", "purpose", "event_day"}
    data = {"applicant_name": "Lê Văn Cường", "purpose": "Hội chợ xuân", "event_day": "2027-01-20"}
    dossier = api.post("/dossiers", {"procedure": "event_permit", "data": data}).json
    [task] = dossier["tasks"]
    detail = api.get(f"/tasks/{task['id']}").json
    assert detail["form"]["required"] == ["organiser"] and detail["ui"]["ui:order"][0] == "organiser"
    refused = api.post(f"/tasks/{task['id']}/complete", {"data": {"organiser": "UBND xã", "guests": 0}})
    assert refused.json["details"] == [{"field": "guests", "code": "minimum", "message": "must be at least 1"}]
    done = api.post(f"/tasks/{task['id']}/complete", {"data": {"organiser": "UBND xã", "guests": 300}})
    assert done.status_code == 200 and done.json["tasks"][0]["element_id"] == "Task_Sign"


def test_a_form_with_an_unsupported_keyword_is_refused_naming_the_file_pointer_and_task(sqlite_admin_api):
    schema = json.loads((MODELS / "receive-schema.json").read_text())
    schema["properties"]["applicant_name"]["patternProperties"] = {"^x": {"type": "string"}}
    response = sqlite_admin_api.upload([MODELS / "review.bpmn", ("receive-schema.json", json.dumps(schema).encode())])
    assert response.status_code == 422
    [problem] = response.json["details"]
    assert problem["element_id"] == "Task_Receive" and problem["file"] == "receive-schema.json"
    assert problem["pointer"] == "/properties/applicant_name/patternProperties"
    assert "not supported" in problem["message"]


def test_a_form_referenced_by_a_ui_schema_name_that_was_not_uploaded_is_refused(sqlite_admin_api):
    files = [p for p in (FORMS / "spiffarena").iterdir() if p.name != "application-uischema.json"]
    response = sqlite_admin_api.upload(files)
    assert response.status_code == 422
    assert any("application-uischema.json" in d["message"] for d in response.json["details"])


def test_a_file_sent_as_a_data_url_is_stored_once_and_downloaded_by_its_centre_only(household, sqlite_app):
    import base64

    from tests.conftest import Api, make_user
    from tests.web.pages import PDF

    data = GOOD | {"documents": "data:application/pdf;name=gi%E1%BA%A5y.pdf;base64," + base64.b64encode(PDF).decode()}
    code = household.post("/dossiers", {"procedure": "household_business", "data": data}).json["code"]
    dossier = household.get(f"/dossiers/{code}").json
    [attachment] = dossier["attachments"]
    assert (attachment["field"], attachment["name"], attachment["media_type"]) == ("documents", "giấy.pdf",
                                                                                   "application/pdf")
    assert dossier["data"]["documents"] == "attachment:sha256:" + attachment["sha256"]
    reply = household.get(f"/dossiers/{dossier['code']}/attachments/{attachment['id']}")
    assert reply.status_code == 200 and reply.data == PDF
    with sqlite_app.app_context():
        from onestop.models import Centre

        _, token = make_user("other", ("officer",), centre=Centre.create(code="x", name="Xã X", level="commune"))
    foreign = Api(sqlite_app.test_client(), token)
    assert foreign.get(f"/dossiers/{dossier['code']}/attachments/{attachment['id']}").status_code == 404


def test_a_damaged_data_url_is_a_field_error(household):
    data = GOOD | {"documents": "data:application/pdf;base64,@@@"}
    refused = household.post("/dossiers", {"procedure": "household_business", "data": data})
    assert refused.status_code == 422 and refused.json["details"][0]["field"] == "documents"
