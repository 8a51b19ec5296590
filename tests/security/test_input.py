"""Hostile input never makes a 500: each request the fuzzers found answering 500 (or storing what
cannot be sent back) is here, and answers a 4xx with a message instead."""

import http.server
import io
import json
import threading
import zipfile

import pytest

from onestop.formdefs import schema as formschema
from tests.conftest import MODELS, make_user, script_model
from tests.web.pages import csrf

NOT_THERE = "000.00.00.H00-000000-9999"


def _raw(api, method, path, text, content_type="application/json"):
    return api.client.open("/api/v1" + path, method=method, data=text, content_type=content_type,
                           headers={"Authorization": f"Bearer {api.token}", "Accept-Language": "en"})


def _is_clear_refusal(response, status=422):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert body["error"] and body["message"] and "Traceback" not in body["message"]
    return body


def _admin_centre(api):
    return api.get("/centres").json["centres"][0]["code"]


@pytest.mark.parametrize("body", [{"agency_code": 5}, {"agency_code": ["H15"]}, {"name": {"a": 1}},
                                  {"address": None}, {"name": "x", "unknown": 1}, {}, ["name"]])
def test_wrong_json_types_in_a_centre_update_are_refused(admin_api, body):
    response = admin_api.client.patch(f"/api/v1/centres/{_admin_centre(admin_api)}", json=body,
                                      headers={"Authorization": f"Bearer {admin_api.token}"})
    _is_clear_refusal(response)


@pytest.mark.parametrize("verb, body, field", [
    ("supplement-request", {"reason": 5}, "reason"),
    ("supplement", {"note": 5}, "note"),
    ("supplement", {"files": "data:,x"}, "files"),
    ("end", {"how": "withdrawn", "reason": 5}, "reason"),
    ("end", {"how": ["stopped"], "reason": "x"}, "how"),
    ("apology", {"new_due": "2030-01-02", "reason": 5}, "reason"),
    ("apology", {"new_due": 20300102, "reason": "x"}, "new_due"),
])
def test_the_lifecycle_verbs_refuse_wrong_types_even_for_a_dossier_that_does_not_exist(sqlite_admin_api, verb, body, field):
    refused = _is_clear_refusal(sqlite_admin_api.post(f"/dossiers/{NOT_THERE}/{verb}", body))
    assert field in {d["field"] for d in refused["details"]}


@pytest.mark.parametrize("body", [{"code": 5, "name": "Một cửa"}, {"code": "MC", "name": 5},
                                  {"code": "MC", "name": "Một cửa", "kind": ["counter"]}])
def test_creating_a_unit_with_wrong_json_types_is_refused(admin_api, body):
    _is_clear_refusal(admin_api.post("/units", body))
    assert admin_api.get("/units").json["units"] == []


@pytest.mark.parametrize("text", [
    '{"procedure": "review", "data": {"\\ud800": 1}}',
    '{"procedure": "review", "data": {"name": "a\\udfffb"}}',
    '{"procedure": "review", "applicant": {"\\ud800x": "y"}}',
])
def test_a_lone_surrogate_in_a_key_or_a_text_is_refused(admin_api, text):
    admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    assert "surrogate" in _is_clear_refusal(_raw(admin_api, "POST", "/dossiers", text))["message"]


def test_a_proper_surrogate_pair_is_a_character_and_is_kept(admin_api):
    admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    started = _raw(admin_api, "POST", "/dossiers", '{"procedure": "review", "data": {"note": "\\ud83d\\ude00"}}')
    assert started.status_code == 201
    assert admin_api.get(f"/dossiers/{started.json['code']}").json["data"]["note"] == "\U0001F600"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1E999"])
def test_numbers_that_are_not_finite_are_refused_and_never_stored(admin_api, number):
    admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    _is_clear_refusal(_raw(admin_api, "POST", "/dossiers", '{"procedure": "review", "data": {"fee": ' + number + '}}'))
    with admin_api.client.application.app_context():
        from onestop.models import Dossier

        assert Dossier.select().count() == 0


def test_a_30_mb_data_body_is_too_large(sqlite_admin_api):
    sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    body = json.dumps({"procedure": "review", "data": {"note": "x" * (30 * 1024 * 1024)}})
    refused = _is_clear_refusal(_raw(sqlite_admin_api, "POST", "/dossiers", body), 413)
    assert "MiB" in refused["message"]


@pytest.mark.parametrize("depth", [100_000, 900, 65])
def test_json_nested_deeper_than_the_limit_is_refused(sqlite_admin_api, depth):
    text = '{"procedure": "review", "data": {"a": ' + "[" * depth + "]" * depth + "}}"
    assert "nested" in _is_clear_refusal(_raw(sqlite_admin_api, "POST", "/dossiers", text))["message"]


def test_a_body_that_is_not_json_is_refused_with_a_message(sqlite_admin_api):
    assert "JSON" in _is_clear_refusal(_raw(sqlite_admin_api, "POST", "/dossiers", "{'procedure': 1}"))["message"]
    assert "UTF-8" in _is_clear_refusal(_raw(sqlite_admin_api, "POST", "/dossiers", b'{"a": "\xff"}'))["message"]


@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "from=9999-12-30&to=9999-12-31",
                                   "from=0001-01-01&to=0001-01-02"])
def test_statistics_for_dates_at_the_ends_of_the_calendar_are_refused_without_a_token(sqlite_app, query):
    client = sqlite_app.test_client()
    _is_clear_refusal(client.get(f"/api/v1/stats?{query}"))
    _is_clear_refusal(client.get(f"/api/v1/stats/provinces?{query}"))


def test_a_calendar_at_the_end_of_time_is_refused(sqlite_admin_api):
    _is_clear_refusal(sqlite_admin_api.get("/calendar?from=9999-12-31"))
    _is_clear_refusal(sqlite_admin_api.put("/calendar/days/0001-01-01", {"working": True}))


def test_a_line_break_in_the_sign_in_next_address_never_makes_a_500(sqlite_app):
    with sqlite_app.app_context():
        make_user("officer1", ("officer",), password="a-long-passphrase-1")
    client = sqlite_app.test_client()
    page = client.get("/desk/login")
    reply = client.post("/desk/login?next=/desk/%0d%0aSet-Cookie:%20evil=1",
                        data={"csrf_token": csrf(page), "username": "officer1", "password": "a-long-passphrase-1"})
    assert reply.status_code == 303
    assert "\n" not in reply.headers["Location"] and "evil" not in reply.headers.get("Set-Cookie", "")


def _form_upload(api, form_text: str, name="receive-schema.json"):
    return api.upload([MODELS / "review.bpmn", (name, form_text.encode())])


def test_a_form_nested_100000_deep_is_refused_at_upload(sqlite_admin_api):
    deep = '{"type": "object", "properties": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    refused = _is_clear_refusal(_form_upload(sqlite_admin_api, deep))
    assert "nested" in json.dumps(refused["details"]) and "receive-schema.json" in json.dumps(refused["details"])


def test_a_procedure_json_nested_50000_deep_is_refused_at_upload(sqlite_admin_api):
    deep = '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json",
                                 ("procedure.json", deep.encode())])
    assert "procedure.json" in json.dumps(_is_clear_refusal(response)["details"])


def test_a_form_with_nan_is_refused_at_upload(sqlite_admin_api):
    form = (MODELS / "receive-schema.json").read_text().replace('"type": "object"', '"type": "object", "default": {"n": NaN}', 1)
    _is_clear_refusal(_form_upload(sqlite_admin_api, form))


def _form_with(**properties):
    form = json.loads((MODELS / "receive-schema.json").read_text())
    form["properties"].update(properties)
    return form


@pytest.mark.parametrize("form", [
    _form_with(remote={"$id": "https://evil.example/forms/", "$ref": "#/$defs/name"}),
    {**_form_with(remote={"$ref": "#/$defs/missing"}), "$id": "https://evil.example/forms/form.json"},
    _form_with(remote={"$ref": "other.json#/x"}),
], ids=["nested-id", "root-id-and-dangling-ref", "relative-file"])
def test_a_form_with_a_remote_id_and_a_relative_ref_is_refused_at_upload(sqlite_admin_api, form):
    refused = _is_clear_refusal(_form_upload(sqlite_admin_api, json.dumps(form)))
    assert "/properties/remote" in json.dumps(refused["details"])
    assert sqlite_admin_api.get("/procedures").json["procedures"] == []


def test_a_form_whose_references_loop_is_refused_at_upload(sqlite_admin_api):
    form = _form_with(looped={"$ref": "#/$defs/a"})
    form["$defs"] = {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}}
    assert "lead back" in json.dumps(_is_clear_refusal(_form_upload(sqlite_admin_api, json.dumps(form)))["details"])


def test_a_form_with_references_inside_itself_still_uploads(sqlite_admin_api):
    form = _form_with(contact={"$ref": "#/$defs/contact"})
    form["$id"] = "https://example.org/forms/receive.json"
    form["$defs"] = {"contact": {"type": "object", "properties": {"phone": {"type": "string"}}}}
    response = _form_upload(sqlite_admin_api, json.dumps(form))
    assert response.status_code == 201, response.json


class _Counting(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):  # noqa: N802 (the standard library's name)
        _Counting.hits.append(self.path)
        body = b'{"type": "string"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_stored_form_that_points_outside_itself_is_refused_and_nothing_is_fetched():
    # A form stored before upload checked its references: completing its step must neither 500 nor
    # fetch the address it names.
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counting)
    # shutdown() returns at the serving loop's next poll: half a second by default, a hundredth here.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/forms/"
        form = {"type": "object", "properties": {"x": {"$id": base, "$ref": "remote.json"}}}
        errors = formschema.validate(form, {"x": "anything"})
    finally:
        server.shutdown()
        server.server_close()
    assert [e.code for e in errors] == ["form"] and _Counting.hits == []


def test_a_rollout_pack_with_a_deeply_nested_manifest_is_refused(sqlite_app):
    from onestop.services import rollout
    from onestop.services.errors import Invalid

    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("manifest.json", "[" * 50_000 + "]" * 50_000)
    with sqlite_app.app_context(), pytest.raises(Invalid):
        rollout.read_pack(blob.getvalue())


def test_an_unexpected_error_never_shows_its_text(sqlite_app):
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False

    @sqlite_app.get("/api/v1/_explode")
    def explode():
        raise RuntimeError("secret detail /etc/onestop password=hunter2")

    response = sqlite_app.test_client().get("/api/v1/_explode")
    assert response.status_code == 500 and response.json["error"] == "internal_error"
    assert "hunter2" not in response.get_data(as_text=True)


def test_an_attachment_id_beyond_64_bits_is_not_found_rather_than_a_crash(admin_api):
    admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    code = admin_api.post("/dossiers", {"procedure": "review"}).json["code"]
    for attachment in ("565873999166187700463075328", "9223372036854775808", "0"):
        _is_clear_refusal(admin_api.get(f"/dossiers/{code}/attachments/{attachment}"), 404)


@pytest.mark.parametrize("field, length", [("name", 256), ("agency_code", 41), ("agency_code", 63), ("address", 501)])
def test_a_centre_value_longer_than_its_column_is_refused(admin_api, field, length):
    value = "A" * length
    response = admin_api.client.patch(f"/api/v1/centres/{_admin_centre(admin_api)}", json={field: value},
                                      headers={"Authorization": f"Bearer {admin_api.token}"})
    _is_clear_refusal(response)


def test_the_longest_agency_code_still_makes_dossier_codes_that_fit(admin_api):
    admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"])
    agency = "H15.50.05.135"  # the longest shape of the national list (services.codes.AGENCY_SHAPES)
    changed = admin_api.client.patch(f"/api/v1/centres/{_admin_centre(admin_api)}", json={"agency_code": agency},
                                     headers={"Authorization": f"Bearer {admin_api.token}"})
    assert changed.status_code == 200, changed.json
    started = admin_api.post("/dossiers", {"procedure": "review"})
    assert started.status_code == 201 and started.json["code"].startswith(agency)


@pytest.mark.parametrize("text", ['{"code": "MC", "name": "Một\\u0000cửa"}', '{"code": "MC", "name": "x", "\\u0000": 1}'])
def test_a_nul_character_in_json_is_refused(admin_api, text):
    assert "NUL" in _is_clear_refusal(_raw(admin_api, "POST", "/units", text))["message"]


@pytest.mark.parametrize("path", ["/stats/report?centre=a%00b", "/centres?parent=%00", "/dossiers/A%00B",
                                  "/tasks?dossier=%00"])
def test_a_nul_character_in_the_address_is_refused(admin_api, path):
    response = admin_api.client.get("/api/v1" + path, headers={"Authorization": f"Bearer {admin_api.token}",
                                                                "Accept-Language": "en"})
    assert "NUL" in _is_clear_refusal(response)["message"]


def test_a_nul_character_in_a_desk_form_is_refused(app):
    with app.app_context():
        make_user("officer1", ("officer",), password="a-long-passphrase-1")
    client = app.test_client()
    page = client.get("/desk/login")
    reply = client.post("/desk/login", data={"csrf_token": csrf(page), "username": "officer1\x00",
                                             "password": "a-long-passphrase-1"})
    assert reply.status_code == 422


def test_a_number_a_script_makes_that_json_cannot_hold_is_sent_as_null(admin_api):
    assert admin_api.upload([script_model("x = float('nan')\ny = 1e308 * 10\nz = -y")]).status_code == 201
    started = admin_api.post("/dossiers", {"procedure": "scripted"})
    assert started.status_code == 201
    again = admin_api.get(f"/dossiers/{started.json['code']}").get_data(as_text=True)  # the start's answer is lean
    data = json.loads(again, parse_constant=lambda name: pytest.fail(f"{name} sent"))["data"]
    assert (data["x"], data["y"], data["z"]) == (None, None, None)
    assert "NaN" not in again and "Infinity" not in again


def test_a_nul_character_in_an_uploaded_file_name_is_refused(admin_api):
    response = admin_api.upload([MODELS / "receive-schema.json",
                                 ("review\x00.bpmn", (MODELS / "review.bpmn").read_bytes())])
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/admin/onboard/565873999166187700463075328",
                                  "/admin/dossier/details/?id=565873999166187700463075328",
                                  "/admin/centre/edit/?id=-9223372036854775809"])
def test_a_back_office_id_beyond_64_bits_is_not_found_rather_than_a_crash(app, path):
    with app.app_context():
        make_user("adm", ("admin",), password="a-long-passphrase-1")
    client = app.test_client()
    page = client.get("/desk/login")
    client.post("/desk/login", data={"csrf_token": csrf(page), "username": "adm", "password": "a-long-passphrase-1"})
    assert client.get(path).status_code == 404
