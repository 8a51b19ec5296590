"""The OpenAPI document is the contract: every route is in it, everything in it is a route, and what
the API really answers fits the response schemas it publishes (declared beside the presenters)."""

import io
import re

import jsonschema
import referencing
from flask import request

from tests.conftest import MODELS, Api, make_user

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _template(rule):
    """A Flask rule under /api/v1 as the document writes its path: <code> → {code}, any converter dropped."""
    path = rule.removeprefix("/api/v1")
    path = path.replace("<task_id>", "{id}").replace("<rowid:attachment_id>", "{id}")
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)


def _operations_of_routes(app):
    return {(_template(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1") for method in rule.methods & METHODS}


def test_every_route_and_method_of_the_api_is_documented_and_every_documented_one_is_a_route(sqlite_app):
    doc = sqlite_app.test_client().get("/api/v1/openapi.json").json
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    routes = _operations_of_routes(sqlite_app)
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations that are no route"


def test_every_schema_the_document_refers_to_is_declared_and_valid(sqlite_app):
    doc = sqlite_app.test_client().get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    referred = set(re.findall(r'"#/components/schemas/(\w+)"', sqlite_app.json.dumps(doc)))
    assert referred <= set(schemas)
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


class Conformance:
    """Checks each answer of the app under /api/v1 against the document, as it is sent."""

    def __init__(self, app):
        self.answered, self.violations = set(), []
        app.after_request(self._check)  # before the app's first request, as Flask wants
        self.doc = app.test_client().get("/api/v1/openapi.json").json
        resource = referencing.Resource.from_contents(self.doc, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource("urn:openapi", resource)

    def _check(self, response):
        if not request.path.startswith("/api/v1/") or request.url_rule is None or not hasattr(self, "doc"):
            return response
        operation_key = (_template(request.url_rule.rule), request.method.lower())
        operation = self.doc["paths"][operation_key[0]][operation_key[1]]
        answer = operation["responses"].get(str(response.status_code))
        if answer is None:
            self.violations.append(f"{operation_key}: status {response.status_code} is not documented")
            return response
        self.answered.add(operation_key + (response.status_code,))
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            if response.mimetype != "application/json":
                self.violations.append(f"{operation_key}: {response.status_code} answered {response.mimetype}")
                return response
            pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in (
                "paths", operation_key[0], operation_key[1], "responses", str(response.status_code), "content",
                "application/json", "schema"))
            # Through the document itself, so that its #/components/... references resolve.
            validator = jsonschema.Draft202012Validator({"$ref": f"urn:openapi#/{pointer}"}, registry=self.registry)
            for error in validator.iter_errors(response.get_json()):
                self.violations.append(f"{operation_key} {response.status_code}: {error.json_path}: {error.message}")
        return response


def _scenario(app, api):
    """Go through every operation once, mostly on the happy path."""
    uploaded = api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    assert uploaded.status_code == 201, uploaded.json
    api.get("/procedures"), api.get("/procedures/review")
    started = api.post("/dossiers", {"procedure": "review", "data": {"fee": 100}, "applicant": {"name": "A"}}).json
    code, task = started["code"], started["tasks"][0]["id"]
    api.get(f"/dossiers/{code}"), api.get("/tasks"), api.get(f"/tasks/{task}")
    api.post(f"/dossiers/{code}/supplement-request", {"reason": "thiếu giấy tờ"})
    api.post(f"/dossiers/{code}/supplement", {"note": "đây", "files": ["data:application/pdf;name=a.pdf;base64,JVBERi0xLjQK"]})
    dossier = api.get(f"/dossiers/{code}").json
    if dossier["attachments"]:
        api.get(f"/dossiers/{code}/attachments/{dossier['attachments'][0]['id']}")
    api.post(f"/dossiers/{code}/apology", {"new_due": "2099-01-05", "reason": "chậm"})
    api.post(f"/dossiers/{code}/messages", {"name": "no-such-message"})
    api.post("/messages", {"name": "no-such-message", "payload": {}})
    api.post(f"/tasks/{task}/complete", {"data": {"applicant_name": "A", "documents_complete": True}})
    api.post(f"/tasks/{task}/complete", {"data": {"applicant_name": "Nguyễn Văn A", "documents_complete": True}})
    for kind in ("history", "events"):  # a page, then the next one through its link
        first = api.get(f"/dossiers/{code}/{kind}?limit=1").json
        assert first["next"], first
        api.client.get(first["next"], headers=api._headers())
    api.get(f"/dossiers/{code}/history?cursor=x")
    other = api.post("/dossiers", {"procedure": "review"}).json
    api.post(f"/dossiers/{other['code']}/end", {"how": "withdrawn", "reason": "rút"})
    api.client.post(f"/api/v1/dossiers/{other['code']}/rating", json={"key": other["lookup_key"], "level": "hai_long"})
    api.post(f"/tasks/{task}/complete", {"data": {}})  # done already: a conflict
    api.get("/centres")
    centre = api.get("/centres").json["centres"][0]["code"]
    api.client.patch(f"/api/v1/centres/{centre}", json={"name": "Trung tâm"}, headers=api._headers())
    api.post("/units", {"code": "mot-cua", "name": "Bộ phận một cửa"}), api.get("/units")
    api.put("/units/mot-cua/members/admin1")
    api.get("/procedures/review/template"), api.post("/procedures/review/adopt", {})
    api.put("/procedures/review/local", {"fee_note": "miễn phí"}), api.post("/procedures/review/migrate", {})
    api.client.post("/api/v1/rollouts", data={"to": "nation"}, headers=api._headers())
    api.get("/coverage/review")
    api.get("/calendar"), api.put("/calendar/days/2099-01-03", {"working": True, "note": "làm bù"})
    api.delete("/calendar/days/2099-01-03"), api.put("/calendar/hours", {"office_hours": [["07:30", "11:30"]]})
    with app.app_context():  # a province with its communes, for the national roll-up to list
        from onestop.services import centres

        centres.import_units(make_user("system", ("system_admin",))[0], [22])
    day = {"working": False, "name": "Nghỉ", "source": "Công văn 1/VPCP"}
    for base in ("/calendar/national", "/calendar/provinces/P22"):  # the official calendar (a centre's admin: 403)
        api.get(f"{base}?year=2026"), api.put(f"{base}/2099-01-05", day), api.delete(f"{base}/2099-01-05")
        api.client.post(f"/api/v1{base}/import", headers=api._headers(), content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"date,working,name,source\n2099-01-05,false,A,B\n"), "d.csv")})
    provinces = api.client.get("/api/v1/stats/provinces").json["provinces"]
    assert [p["province"] for p in provinces] == ["P22"]
    api.get("/stats"), api.client.get("/api/v1/stats"), api.get("/stats/report")
    api.client.get("/api/v1/openapi.json"), api.get("/dossiers/no-such"), api.post("/dossiers", {"procedure": 7}), api.client.get("/api/v1/procedures")
    from tests.support.national_portal import AGENCY, signed_push

    with app.app_context():  # the national portal pushes a dossier to the centre of its agency code, twice
        from onestop.models import Centre

        Centre.update(agency_code=AGENCY).where(Centre.code == centre).execute()
    pushed = {"portal_dossier_id": "DVC-1", "procedure_code": "review", "agency_code": AGENCY}
    assert signed_push(app, api.client, pushed).status_code == 201
    assert signed_push(app, api.client, pushed).status_code == 200
    signed_push(app, api.client, pushed | {"procedure_code": "none"}), signed_push(app, api.client, {"x": 1})
    api.client.post("/api/v1/national-portal/dossiers", json=pushed)  # unsigned
    from tests.web.test_external_tasks import external_task_scenario

    external_task_scenario(app, api)


def test_every_answer_of_every_operation_fits_the_schema_the_document_publishes(app):
    conformance = Conformance(app)
    with app.app_context():
        _, token = make_user("admin1", ("admin",))
    _scenario(app, Api(app.test_client(), token))
    assert conformance.violations == []
    answered = {(path, method) for path, method, _status in conformance.answered}
    assert _operations_of_routes(app) - answered == set(), "operations the scenario did not reach"
    succeeded = {(path, method) for path, method, status in conformance.answered if status < 300}
    assert len(succeeded) >= 25, sorted(answered - succeeded)


def test_a_method_a_route_does_not_take_is_answered_405_with_the_methods_it_does(sqlite_app):
    answer = sqlite_app.test_client().delete("/api/v1/units")
    assert answer.status_code == 405 and answer.json["error"] == "method_not_allowed"
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "POST"}

