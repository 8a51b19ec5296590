"""The app's JSON provider: answers written by orjson read as Flask's own encoder wrote them."""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from flask import jsonify


@dataclass
class _Point:
    x: int


def test_an_answer_is_compact_utf8_json_in_the_order_it_was_built(sqlite_app):
    with sqlite_app.test_request_context():
        answer = jsonify({"tên": "Nguyễn Văn A", "b": 1, "a": [1.5, None, True]})
    assert answer.mimetype == "application/json"
    assert answer.get_data() == '{"tên":"Nguyễn Văn A","b":1,"a":[1.5,null,true]}\n'.encode()


def test_dates_uuids_dataclasses_and_number_keys_are_written_as_flasks_encoder_writes_them(sqlite_app):
    value = {"day": date(2026, 12, 5), "at": datetime(2026, 12, 5, 7, 30), "id": uuid.UUID(int=7), 3: _Point(4)}
    with sqlite_app.test_request_context():
        answer = jsonify(value).get_data(as_text=True)
        standard = json.dumps(value, default=sqlite_app.json.default, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(answer) == json.loads(standard)
    assert json.loads(answer)["day"] == "Sat, 05 Dec 2026 00:00:00 GMT"


def test_a_number_too_large_for_orjson_is_still_written(sqlite_app):
    with sqlite_app.test_request_context():
        assert json.loads(jsonify({"n": 2**70}).get_data()) == {"n": 2**70}
        assert json.loads(sqlite_app.json.dumps({"n": 2**70})) == {"n": 2**70}


def _post_units(api, data: bytes):
    return api.client.post("/api/v1/units", data=data, content_type="application/json",
                           headers={"Authorization": f"Bearer {api.token}"})


def test_an_api_body_is_refused_as_before_each_way_it_can_be(sqlite_app, sqlite_admin_api, monkeypatch):
    answers = {data: _post_units(sqlite_admin_api, data) for data in (
        b"{not json", b'{"code": NaN}', b'{"code": "\\ud800"}', b'{"code": "\\u0000"}', b"[1]", b"\xff")}
    assert {data: (a.status_code, a.json) for data, a in answers.items()} == {
        b"{not json": (422, {"error": "invalid", "message": "the body is not valid JSON: Expecting property name "
                             "enclosed in double quotes (line 1, column 2)"}),
        b'{"code": NaN}': (422, {"error": "invalid", "message": "NaN is not a JSON number (only finite numbers are)"}),
        b'{"code": "\\ud800"}': (422, {"error": "invalid", "message": "a text contains a lone UTF-16 surrogate "
                                       "(\\ud800-\\udfff), which is not a character"}),
        b'{"code": "\\u0000"}': (422, {"error": "invalid", "message": "a text contains a NUL character (\\u0000), "
                                       "which no text may hold"}),
        b"[1]": (422, {"error": "invalid", "message": "the body must be a JSON object", "details": [
            {"field": "", "code": "type", "message": "the body must be a JSON object"}]}),
        b"\xff": (422, {"error": "invalid", "message": "the body is not UTF-8 text (byte 0)"}),
    }
    assert _post_units(sqlite_admin_api, b"").json["message"] != "the body must be a JSON object"  # {} read: the schema's
    monkeypatch.setattr(sqlite_app.config["ONESTOP"], "max_json_bytes", 40)
    declared = _post_units(sqlite_admin_api, b'{"code": "u1", "name": "' + b"x" * 40 + b'"}')
    assert (declared.status_code, json.loads(declared.data)) == (
        413, {"error": "too_large", "message": "the body is larger than the limit of 1 KiB"})



def test_an_api_request_without_a_query_string_parses_no_arguments(sqlite_admin_api, monkeypatch):
    # Its hooks (the NUL check, the static files' version) asked werkzeug to parse an empty query every request.
    import werkzeug.sansio.request

    parsed = []
    original = werkzeug.sansio.request.parse_qsl
    monkeypatch.setattr(werkzeug.sansio.request, "parse_qsl",
                        lambda *args, **kwargs: parsed.append(args) or original(*args, **kwargs))
    assert _post_units(sqlite_admin_api, b'{"code": "u1", "name": "Unit"}').status_code == 201
    assert parsed == []
    assert sqlite_admin_api.get("/units?x=1").status_code == 200 and parsed  # a query is parsed as before


def test_an_api_body_is_read_by_the_bounded_reader_without_flasks_json_module(sqlite_app, sqlite_admin_api, monkeypatch):
    # get_json(force=True) went through Flask's JSON module to the app's provider (~6 us a request); read_object
    # calls the same reader with the same limit, and refuses as before (above).
    from onestop import boundedjson
    from onestop.web import bodies

    read = []
    monkeypatch.setattr(sqlite_app.json, "loads", lambda *args, **kwargs: read.append("provider"))
    monkeypatch.setattr(bodies.boundedjson, "loads", lambda *args, _loads=boundedjson.loads, **kwargs:
                        read.append((args[0], kwargs)) or _loads(*args, **kwargs))
    assert _post_units(sqlite_admin_api, b'{"code": "u1", "name": "Unit"}').status_code == 201
    assert read == [(b'{"code": "u1", "name": "Unit"}', {"max_bytes": sqlite_app.config["ONESTOP"].max_json_bytes})]


def test_a_body_looked_at_ahead_of_its_handler_is_parsed_once(sqlite_app, monkeypatch):
    # On PostgreSQL a submission's body is looked at before the handler reads it (its intake is read with the
    # token's user: web/api.py, _intake_ahead); both readers share one parse.
    from onestop import boundedjson
    from onestop.web import bodies

    read = []
    monkeypatch.setattr(sqlite_app.json, "loads", lambda *args, _loads=sqlite_app.json.loads, **kwargs:
                        read.append("provider") or _loads(*args, **kwargs))
    monkeypatch.setattr(bodies.boundedjson, "loads", lambda *args, _loads=boundedjson.loads, **kwargs:
                        read.append("bounded") or _loads(*args, **kwargs))
    body = b'{"procedure": "p1", "data": {"fee": 100}}'
    with sqlite_app.test_request_context("/api/v1/dossiers", method="POST", data=body,
                                         content_type="application/json"):
        assert bodies.peek_object() == {"procedure": "p1", "data": {"fee": 100}}
        assert bodies.read_object() == {"procedure": "p1", "data": {"fee": 100}}
    assert read == ["bounded"]
    with sqlite_app.test_request_context("/api/v1/dossiers", method="POST", data=b"{not json",
                                         content_type="application/json"):
        assert bodies.peek_object() is None  # refuses nothing: the handler's read refuses it, as before
        try:
            bodies.read_object()
        except Exception as exc:  # noqa: BLE001  (the refusal read_object raises, whatever its class)
            assert "not valid JSON" in str(exc)
        else:
            raise AssertionError("a body that is not JSON was read")


def test_a_request_over_the_apps_limit_is_refused_before_its_body_is_read_on_any_route(sqlite_app):
    # errors._refuse_oversized reads Content-Length first and the limit only for a body (it read the limit first).
    limit = sqlite_app.config["MAX_CONTENT_LENGTH"]
    client = sqlite_app.test_client()
    for path, kind in (("/api/v1/units", "application/json"), ("/track", "application/x-www-form-urlencoded")):
        answer = client.post(path, data=b"x" * (limit + 1), content_type=kind)
        assert answer.status_code == 413, (path, answer.status_code)
    assert "limit" in client.post("/api/v1/units", data=b"x" * (limit + 1), content_type="application/json").json["message"]
    assert client.get("/healthz").status_code == 200  # no body: nothing to refuse
    assert client.post("/api/v1/units", data=b"{}", content_type="application/json").status_code == 401
