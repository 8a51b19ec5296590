"""The form builder's conversion: JSON Schema forms to form-js documents and back, equal after the
round trip; fields added in the editor become the JSON Schema onestop renders; bad documents are
refused with the component each problem is about."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop.formdefs import camunda, check_schema
from onestop.formdefs.blocks import blocks
from onestop.formdefs.formjs import BOOK, PHONE_PATTERN, from_form_js, to_form_js
from tests.conftest import ROOT
from tests.process_models import BUNDLED, bundled_folders


def _forms(folder):
    for path in sorted(folder.glob("*-schema.json")):
        ui_path = path.with_name(path.name.replace("-schema.json", "-uischema.json"))
        yield path.name, json.loads(path.read_text()), json.loads(ui_path.read_text()) if ui_path.exists() else {}


def _round_trip(name, schema, ui):
    document = json.loads(json.dumps(to_form_js(schema, ui)))  # as the page sends it back
    back_schema, back_ui, problems = from_form_js(name, document)
    assert problems == []
    return back_schema, back_ui


@pytest.mark.parametrize("folder", bundled_folders())
def test_every_form_of_a_bundled_procedure_comes_back_equal_from_the_builder(folder):
    forms = list(_forms(BUNDLED / folder))
    assert forms
    for name, schema, ui in forms:
        back_schema, back_ui = _round_trip(name, schema, ui)
        assert back_schema == schema, name
        assert back_ui == ui, name
        assert back_schema["required"] == schema["required"]  # in the same order, too


def test_the_spiffarena_and_shared_forms_of_the_tests_and_the_blocks_come_back_equal():
    # Not the field corpus (tests/field_corpus): forms published elsewhere, kept byte for byte, which the
    # builder may normalise (an absent "required" comes back as []); tests/test_field_corpus.py runs them.
    folders = [p for p in (ROOT / "tests").rglob("*") if p.is_dir() and any(p.glob("*-schema.json"))
               and "field_corpus" not in p.relative_to(ROOT).parts]
    assert folders
    for folder in folders:
        for name, schema, ui in _forms(folder):
            if check_schema(name, schema):
                continue  # a deliberately broken fixture
            assert _round_trip(name, schema, ui) == (schema, ui), f"{folder}/{name}"
    for block in blocks().values():
        assert _round_trip(block.name, block.schema, block.ui) == (block.schema, block.ui)


def test_fields_keys_required_and_patterns_are_what_the_editor_shows():
    schema = json.loads((BUNDLED / "birth_registration" / "application-schema.json").read_text())
    ui = json.loads((BUNDLED / "birth_registration" / "application-uischema.json").read_text())
    document = to_form_js(schema, ui)
    by_key = {c["key"]: c for c in document["components"] if "key" in c}
    assert list(by_key) == ui["ui:order"]
    cccd = by_key["declarant_citizen_id"]
    assert (cccd["type"], cccd["label"], cccd["description"]) == (
        "textfield", "Số định danh cá nhân của người yêu cầu", "12 chữ số trên thẻ căn cước")
    assert cccd["validate"] == {"required": True, "pattern": "^[0-9]{12}$"}
    assert by_key["child_gender"]["type"] == "radio"
    assert by_key["child_gender"]["values"] == [{"label": "Nam", "value": "nam"}, {"label": "Nữ", "value": "nu"}]
    assert by_key["child_date_of_birth"] | {} == {**by_key["child_date_of_birth"], "type": "datetime",
                                                  "subtype": "date", "dateLabel": "Ngày, tháng, năm sinh"}
    assert by_key["birth_evidence_file"]["type"] == "filepicker"
    assert by_key["copies_requested"]["decimalDigits"] == 0
    assert by_key["copies_requested"]["validate"] == {"min": 0, "max": 10}
    assert document[BOOK]["schema"]["then"] == {"required": ["father_citizen_id"]}  # kept aside, not lost


def test_what_an_administrator_adds_in_the_editor_becomes_the_json_schema_onestop_renders():
    document = {"type": "default", "components": [
        {"type": "textfield", "id": "a", "key": "name", "label": "Họ tên", "description": "Như trên CCCD",
         "validate": {"required": True, "minLength": 2, "maxLength": 100}},
        {"type": "textfield", "id": "b", "key": "phone", "label": "Điện thoại", "validate": {"validationType": "phone"}},
        {"type": "textfield", "id": "c", "key": "email", "label": "Thư", "validate": {"validationType": "email"}},
        {"type": "number", "id": "d", "key": "count", "label": "Số bản", "decimalDigits": 0, "validate": {"min": 1}},
        {"type": "datetime", "id": "e", "key": "day", "subtype": "date", "dateLabel": "Ngày hẹn"},
        {"type": "select", "id": "f", "key": "kind", "label": "Loại",
         "values": [{"label": "Cấp mới", "value": "new"}, {"label": "Cấp lại", "value": "again"}]},
        {"type": "filepicker", "id": "g", "key": "scan", "label": "Bản chụp", "validate": {"required": True}},
        {"type": "checklist", "id": "h", "key": "papers", "label": "Giấy tờ",
         "values": [{"label": "CCCD", "value": "cccd"}]},
        {"type": "group", "id": "i", "label": "Địa chỉ", "path": "address", "components": [
            {"type": "textfield", "id": "j", "key": "street", "label": "Đường", "validate": {"required": True}}]},
        {"type": "text", "id": "k", "text": "**Lưu ý**: mang bản chính."},
        {"type": "button", "id": "l", "label": "Gửi"},
        {"type": "textfield", "id": "m", "key": "ref_no", "label": "Số biên nhận", "disabled": True},
    ]}
    schema, ui, problems = from_form_js("new-schema.json", document)
    assert problems == []
    assert schema["required"] == ["name", "scan"]
    props = schema["properties"]
    assert props["name"] == {"type": "string", "title": "Họ tên", "description": "Như trên CCCD", "minLength": 2,
                             "maxLength": 100}
    assert props["phone"]["pattern"] == PHONE_PATTERN and ui["phone"] == {"ui:widget": "tel"}
    assert props["email"]["format"] == "email"
    assert props["count"] == {"type": "integer", "title": "Số bản", "minimum": 1}
    assert props["day"] == {"type": "string", "title": "Ngày hẹn", "format": "date"}
    assert props["kind"]["oneOf"] == [{"const": "new", "title": "Cấp mới"}, {"const": "again", "title": "Cấp lại"}]
    assert props["scan"]["format"] == "data-url"
    assert props["papers"] == {"type": "array", "title": "Giấy tờ", "uniqueItems": True,
                               "items": {"type": "string", "oneOf": [{"const": "cccd", "title": "CCCD"}]}}
    assert props["address"]["required"] == ["street"] and props["address"]["type"] == "object"
    assert props["note_10"] == {"type": "null", "title": "", "description": "**Lưu ý**: mang bản chính."}
    assert props["ref_no"] == {"type": "string", "title": "Số biên nhận", "readOnly": True}
    assert ui["ui:order"] == ["name", "phone", "email", "count", "day", "kind", "scan", "papers", "address", "note_10",
                              "ref_no"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _problems(components):
    schema, ui, problems = from_form_js("f-schema.json", {"type": "default", "components": components})
    assert schema is None and ui is None
    return [(p.code, p.component, p.key) for p in problems]


def test_an_empty_a_malformed_and_a_duplicate_key_are_each_tied_to_their_component():
    assert _problems([
        {"type": "textfield", "id": "one", "key": "name", "label": "Tên"},
        {"type": "textfield", "id": "two", "key": "", "label": "Không khóa"},
        {"type": "textfield", "id": "three", "key": "họ tên", "label": "Có dấu"},
        {"type": "group", "id": "box", "components": [{"type": "number", "id": "four", "key": "name"}]},
    ]) == [("empty_key", "two", ""), ("bad_key", "three", "họ tên"), ("duplicate_key", "four", "name")]


def test_a_key_taken_by_a_field_the_editor_cannot_show_is_a_duplicate_too():
    document = to_form_js({"type": "object", "properties": {"ref": {"$ref": "#/$defs/x"}}, "$defs": {"x": {}}})
    assert document["components"][0]["type"] == "text"  # shown as a note, carried whole
    document["components"].append({"type": "textfield", "id": "new", "key": "ref"})
    _schema, _ui, problems = from_form_js("f-schema.json", document)
    assert [(p.code, p.component) for p in problems] == [("duplicate_key", "new")]


def test_a_pattern_re2_cannot_run_or_that_backtracks_is_named_on_its_field():
    assert _problems([{"type": "textfield", "id": "look", "key": "code", "validate": {"pattern": "^(?=1)1$"}}]) == [
        ("bad_pattern", "look", "code")]
    assert _problems([{"type": "textfield", "id": "nest", "key": "code", "validate": {"pattern": "^(a+)+$"}}]) == [
        ("bad_pattern", "nest", "code")]


def test_a_choice_needs_options_with_distinct_values():
    assert _problems([
        {"type": "select", "id": "none", "key": "a", "values": []},
        {"type": "radio", "id": "twice", "key": "b", "values": [{"label": "X", "value": "x"}, {"label": "Y", "value": "x"}]},
        {"type": "checklist", "id": "blank", "key": "c", "values": [{"label": "X", "value": ""}]},
        {"type": "select", "id": "dynamic", "key": "d", "valuesKey": "options"},
    ]) == [("no_options", "none", "a"), ("duplicate_option", "twice", "b"), ("empty_option", "blank", "c"),
           ("no_options", "dynamic", "d")]


def test_a_component_onestop_cannot_draw_is_refused_and_a_non_document_is_said_so():
    assert _problems([{"type": "image", "id": "img", "source": "x.png"}]) == [("unsupported", "img", "")]
    assert _problems([{"type": "iframe", "id": "frame", "key": "x"}]) == [("unsupported", "frame", "x")]
    _schema, _ui, problems = from_form_js("f-schema.json", {"components": "nope"})
    assert [p.code for p in problems] == ["document"]


@pytest.mark.parametrize("folder", bundled_folders())
def test_camundas_own_reader_of_form_js_reads_the_builders_document_with_the_same_fields(folder):
    for name, schema, ui in _forms(BUNDLED / folder):
        definition, problems = camunda.from_form_js(name, to_form_js(schema, ui))
        assert problems == [], name
        assert set(definition.schema["properties"]) == set(schema["properties"]), name
        # form-js has no "required" for a group or a list of rows: only the builder's note keeps it
        lists = {k for k, v in schema["properties"].items() if v.get("type") in ("object", "array")}
        assert set(definition.schema.get("required", [])) == set(schema["required"]) - lists, name


def test_an_expression_or_a_hide_condition_is_refused_rather_than_silently_ignored():
    assert _problems([
        {"type": "textfield", "id": "feel", "key": "a", "label": "=upper(name)"},
        {"type": "textfield", "id": "hide", "key": "b", "conditional": {"hide": "=a = \"x\""}},
        {"type": "number", "id": "max", "key": "c", "validate": {"max": "=limit"}},
    ]) == [("expression", "feel", "a"), ("expression", "hide", "b"), ("expression", "max", "c")]


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(
    ["", "a", "x_1", "=x", "^(a+)+$", "textfield", "select", "group", "dynamiclist", "text", "filepicker", "date",
     "ui:help", "oneOf", "enum", "radio", "checkboxes"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(
        ["type", "key", "path", "id", "label", "values", "value", "components", "validate", "required", "pattern",
         "onestop", "schema", "ui", "raw", "items", "items_ui", "help", "choices", "widget", "subtype",
         "description", "defaultValue", "decimalDigits", "conditional", "hide", "min", "maxLength"]), children,
        max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(components=st.lists(_json, max_size=5), book=_json)
def test_whatever_a_page_sends_back_is_either_refused_with_reasons_or_a_form_onestop_accepts(components, book):
    schema, ui, problems = from_form_js("f-schema.json", {"components": components, BOOK: book})
    if problems:
        assert schema is None and all(p.code for p in problems)
    else:
        assert check_schema("f-schema.json", schema) == [] and isinstance(ui, dict)


def test_a_long_list_of_choices_is_kept_out_of_the_editors_panel_and_comes_back_whole():
    communes = blocks()["address"]
    document = to_form_js(communes.schema, communes.ui)
    commune = next(c for c in document["components"] if c.get("key") == "applicant_commune")
    assert commune["values"] == [] and len(commune[BOOK]["values"]) > 3000
    province = next(c for c in document["components"] if c.get("key") == "applicant_province")
    assert len(province["values"]) == 34  # a short list is edited as usual
    schema, _ui, problems = from_form_js("address-schema.json", document)
    assert problems == [] and schema == communes.schema
    commune["values"] = [{"label": "Khác", "value": "khac"}]  # options added in the editor replace it
    schema, _ui, _problems = from_form_js("address-schema.json", document)
    assert schema["properties"]["applicant_commune"]["enum"] == ["khac"]
