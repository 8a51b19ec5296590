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
