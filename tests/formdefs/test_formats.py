"""The formats Vietnamese forms ask for, checked in the form definitions layer (portal, desk and API alike)."""

from datetime import date

from onestop.formdefs import tidy, validate

TODAY = date(2026, 12, 5)
SCHEMA = {"type": "object", "properties": {
    "declarant_citizen_id": {"type": "string"}, "declarant_phone": {"type": "string"},
    "declarant_email": {"type": "string", "format": "email"},
    "child_date_of_birth": {"type": "string", "format": "date"}, "event_day": {"type": "string", "format": "date"},
    "holder": {"type": "object", "properties": {"mobile": {"type": "string", "format": "phone"}}}}}


def _codes(data):
    return {e.field: e.code for e in validate(SCHEMA, tidy(SCHEMA, data), TODAY)}


def test_an_email_with_two_at_signs_is_refused():
    assert _codes({"declarant_email": "an@@example"}) == {"declarant_email": "email"}
    assert _codes({"declarant_email": "an@example"}) == {"declarant_email": "email"}  # no domain name
    assert _codes({"declarant_email": "an.nguyen@example.vn"}) == {}


def test_a_birth_date_in_the_future_is_refused_but_an_appointment_may_be():
    assert _codes({"child_date_of_birth": "2030-01-01"}) == {"child_date_of_birth": "futureDate"}
    assert _codes({"child_date_of_birth": "2026-11-20", "event_day": "2027-01-20"}) == {}


def test_a_date_outside_a_sensible_range_is_refused():
    assert _codes({"event_day": "1899-12-31"}) == {"event_day": "dateRange"}
    assert _codes({"event_day": "2207-01-01"}) == {"event_day": "dateRange"}


def test_a_citizen_id_is_twelve_digits_written_with_or_without_spaces():
    data = tidy(SCHEMA, {"declarant_citizen_id": "001 085 012 345"})
    assert data == {"declarant_citizen_id": "001085012345"} and validate(SCHEMA, data, TODAY) == []
    assert _codes({"declarant_citizen_id": "00108501234"}) == {"declarant_citizen_id": "citizenId"}


def test_phone_numbers_with_spaces_or_plus_84_are_stored_as_ten_digits():
    data = tidy(SCHEMA, {"declarant_phone": "+84 912 345 678", "holder": {"mobile": "0912.345.678"}})
    assert data == {"declarant_phone": "0912345678", "holder": {"mobile": "0912345678"}}
    assert validate(SCHEMA, data, TODAY) == []
    assert _codes({"declarant_phone": "0912 345"}) == {"declarant_phone": "phone"}
    assert _codes({"holder": {"mobile": "+1 202 555 0100"}}) == {"holder/mobile": "phone"}


def test_a_field_its_own_pattern_refused_gets_no_second_error():
    schema = {"type": "object", "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}}}
    errors = validate(schema, {"citizen_id": "12"}, TODAY)
    assert [(e.field, e.code) for e in errors] == [("citizen_id", "pattern")]


ROWS = {"type": "object", "properties": {
    "members": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "phone": {"type": "string"}, "card": {"type": "object", "properties": {
            "citizen_id": {"type": "string"}}}}}},
    "notes": {"type": "array", "items": {"type": "string"}}, "title": {"type": "string"}}}


def test_formatted_fields_in_rows_and_nested_objects_are_tidied_and_named_by_their_path():
    data = tidy(ROWS, {"members": [{"name": "An", "phone": "+84 912 345 678"}, "not a row",
                                   {"phone": "12", "card": {"citizen_id": "001 085 012 345"}}],
                       "notes": ["0912 345 678"], "title": "0912 345 678", "extra": {"phone": "1"}})
    assert data == {"members": [{"name": "An", "phone": "0912345678"}, "not a row",
                                {"phone": "12", "card": {"citizen_id": "001085012345"}}],
                    "notes": ["0912 345 678"], "title": "0912 345 678", "extra": {"phone": "1"}}
    assert {e.field: e.code for e in validate(ROWS, data, TODAY)} == {"members/1": "type", "members/2/phone": "phone"}
    # a value of another type than the schema's is walked as the value it is, as before
    assert tidy(ROWS, {"members": {"phone": "+84 912 345 678"}, "title": ["x"]}) == {
        "members": {"phone": "+84 912 345 678"}, "title": ["x"]}


def test_which_fields_of_a_form_hold_a_format_is_worked_out_once_per_schema_object(monkeypatch):
    """A submission walks the fields that can hold a format, found once per form (formats._plan), not every
    field's kind asked again at each submission (tidy, then the check)."""
    from onestop.formdefs import formats

    asked = []
    real = formats.kind_of
    monkeypatch.setattr(formats, "kind_of", lambda name, schema: asked.append(name) or real(name, schema))
    schema = {"type": "object", "properties": {"a_phone": {"type": "string"}, "note": {"type": "string"}}}
    for _ in range(3):
        assert _codes_of(schema, {"a_phone": "0912 345 678", "note": "x"}) == {}
    assert sorted(asked) == ["a_phone", "note"]


def _codes_of(schema, data):
    return {e.field: e.code for e in validate(schema, tidy(schema, data), TODAY)}
