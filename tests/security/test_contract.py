"""The API holds to the same rules as the back office: a read-only form field cannot be written
through it, and a model the back office's lint blocks cannot be published through it (issue 15)."""

import io
import json

from tests.conftest import MODELS, Api, make_user

RECEIVE = json.loads((MODELS / "receive-schema.json").read_text())


def _review_with_read_only_citizen_id(api):
    schema = RECEIVE | {"properties": RECEIVE["properties"] | {
        "citizen_id": RECEIVE["properties"]["citizen_id"] | {"readOnly": True}}}
    uploaded = api.upload([MODELS / "review.bpmn", ("receive-schema.json", json.dumps(schema).encode())])
    assert uploaded.status_code == 201, uploaded.json
    started = api.post("/dossiers", {"procedure": "review", "data": {"citizen_id": "079123456789"}})
    assert started.status_code == 201, started.json
    return started.json["tasks"][0]["id"]


def test_a_read_only_form_field_cannot_be_overwritten_through_the_api(admin_api):
    task = _review_with_read_only_citizen_id(admin_api)
    answer = admin_api.post(f"/tasks/{task}/complete", {"data": {
        "applicant_name": "Nguyễn Văn A", "documents_complete": True, "citizen_id": "001999999999"}})
    assert answer.status_code == 422, answer.json
    assert [(d["field"], d["code"]) for d in answer.json["details"]] == [("citizen_id", "readOnly")]
    detail = admin_api.get(f"/tasks/{task}").json
    assert detail["data"]["citizen_id"] == "079123456789"


def test_a_read_only_form_field_sent_back_unchanged_is_accepted(admin_api):
    task = _review_with_read_only_citizen_id(admin_api)
    answer = admin_api.post(f"/tasks/{task}/complete", {"data": {
        "applicant_name": "Nguyễn Văn A", "documents_complete": True, "citizen_id": "079123456789"}})
    assert answer.status_code == 200, answer.json
    assert admin_api.get(f"/dossiers/{answer.json['code']}").json["data"]["citizen_id"] == "079123456789"


def test_a_pack_the_back_offices_lint_would_block_is_not_published_through_the_api(app):
    from onestop.models import Centre, ProcedureVersion
    from onestop.services import centres
    from tests.services.test_rollout import pack_of, rehashed

    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        _, token = make_user("qn.admin", ("province_admin", "admin"), centre=Centre.get(Centre.code == "P22"))
        before = ProcedureVersion.select().count()

    def without_documents_or_fee(folder, name, content):
        if folder != "copy_certification" or name != "procedure.json":
            return content
        meta = json.loads(content)
        return json.dumps({k: v for k, v in meta.items() if k not in ("documents", "fee", "fee_vnd")}).encode()

    pack = rehashed(pack_of(edit=without_documents_or_fee))
    answer = Api(app.test_client(), token).client.post(
        "/api/v1/rollouts", data={"pack": (io.BytesIO(pack), "pack.zip"), "to": "province:22/*"},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"}, content_type="multipart/form-data")
    assert answer.status_code == 422, answer.json
    refused = {(d["file"], d["message"].split(" (")[0]) for d in answer.json["details"]}
    assert refused == {("copy_certification", 'procedure.json lists no required documents'),
                       ("copy_certification", 'procedure.json states no fee')}
    with app.app_context():
        assert ProcedureVersion.select().count() == before


def test_a_read_only_field_of_the_start_form_cannot_be_set_through_the_api(admin_api):
    bpmn = (MODELS / "review.bpmn").read_text().replace(
        '<bpmn:startEvent id="StartEvent_1">',
        '<bpmn:startEvent id="StartEvent_1"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="start-schema.json" />'
        '</spiffworkflow:properties></bpmn:extensionElements>')
    start = {"type": "object", "properties": {"applicant_name": {"type": "string"},
                                              "fee_waived": {"type": "boolean", "readOnly": True}}}
    uploaded = admin_api.upload([("review.bpmn", bpmn.encode()), MODELS / "receive-schema.json",
                                 ("start-schema.json", json.dumps(start).encode())])
    assert uploaded.status_code == 201, uploaded.json
    assert admin_api.get("/procedures").json["procedures"][0]["online"] is True  # it has a start form
    refused = admin_api.post("/dossiers", {"procedure": "review", "data": {"applicant_name": "A", "fee_waived": True}})
    assert refused.status_code == 422, refused.json
    assert [(d["field"], d["code"]) for d in refused.json["details"]] == [("fee_waived", "readOnly")]
    assert admin_api.post("/dossiers", {"procedure": "review", "data": {"applicant_name": "A"}}).status_code == 201


def test_every_bundled_procedure_passes_the_lint_a_pack_must_pass(sqlite_app):
    from onestop.services import rollout
    from tests.process_models import bundled_folders
    from tests.services.test_rollout import pack_of

    with sqlite_app.app_context():
        entries = rollout.read_pack(pack_of(folders=tuple(bundled_folders())))
    assert sorted(e.folder for e in entries) == bundled_folders()
