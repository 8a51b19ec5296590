"""Camunda Modeler's forms: camunda:formData fields and Camunda Forms (.form) files become form definitions."""

import json
from pathlib import Path

from onestop.formdefs import validate
from onestop.formdefs.camunda import from_form_data, from_form_js

FORMS = Path(__file__).resolve().parents[1] / "models" / "forms"


def test_form_fields_become_typed_properties_with_their_constraints():
    form, problems, warnings = from_form_data("Task_Check.formData", [
        {"id": "organiser", "label": "Đơn vị", "type": "string", "validation": {"required": None, "maxlength": "200"}},
        {"id": "guests", "label": "Khách", "type": "long", "validation": {"min": "1", "max": "5000"}},
        {"id": "kind", "label": "Loại", "type": "enum", "default": "indoor",
         "options": [{"id": "indoor", "name": "Trong nhà"}, {"id": "outdoor", "name": "Ngoài trời"}]},
        {"id": "ok", "label": "Đủ", "type": "boolean", "default": "false"},
    ])
    assert problems == [] and warnings == []
    props = form.schema["properties"]
    assert form.schema["required"] == ["organiser"]
    assert props["organiser"] == {"type": "string", "title": "Đơn vị", "maxLength": 200}
    assert props["guests"] == {"type": "integer", "title": "Khách", "minimum": 1, "maximum": 5000}
    assert props["kind"]["oneOf"][1] == {"const": "outdoor", "title": "Ngoài trời"} and props["kind"]["default"] == "indoor"
    assert props["ok"]["default"] is False
    assert form.ui["ui:order"] == ["organiser", "guests", "kind", "ok"]
    assert [e.field for e in validate(form.schema, {"guests": 0})] == ["guests", "organiser"]


def test_a_boolean_that_defaults_to_a_word_is_taken_as_text_with_a_warning():
    form, problems, warnings = from_form_data("f", [{"id": "NeedClarification", "type": "boolean", "default": "No"}])
    assert problems == [] and form.schema["properties"]["NeedClarification"]["type"] == "string"
    assert "NeedClarification" in warnings[0] and "text" in warnings[0]
    assert validate(form.schema, {"NeedClarification": "Yes"}) == []


def test_an_unknown_field_type_or_validator_is_a_problem_with_a_pointer():
    _form, problems, _ = from_form_data("f", [{"id": "a", "type": "colour"},
                                              {"id": "b", "type": "string", "validation": {"validator": "x.Y"}}])
    assert [p.pointer for p in problems] == ["/formField/0/type", "/formField/1/validation/validator"]


def test_a_camunda_forms_file_becomes_a_schema_and_ui_schema():
    document = json.loads((FORMS / "camunda" / "apply.form").read_text())
    form, problems = from_form_js("apply.form", document)
    assert problems == []
    props = form.schema["properties"]
    assert set(form.schema["required"]) == {"applicant_name", "purpose", "event_day"}
    assert props["email"]["format"] == "email" and props["guests"]["type"] == "integer"
    assert props["scale"]["oneOf"] == [{"const": "commune", "title": "Cấp xã"}, {"const": "province", "title": "Cấp tỉnh"}]
    assert props["event_day"]["format"] == "date" and props["loudspeakers"]["type"] == "boolean"
    assert form.ui["purpose"]["ui:widget"] == "textarea" and form.ui["scale"]["ui:widget"] == "radio"
    assert "submit" not in props  # the page draws its own button
    assert form.ui["ui:order"][0] == "Field_intro" and form.ui["Field_intro"]["ui:widget"] == "markdown"


def test_an_unsupported_component_is_a_problem_with_a_pointer():
    _form, problems = from_form_js("x.form", {"components": [{"type": "textfield", "key": "a"},
                                                             {"type": "iframe", "key": "b"}]})
    assert [p.pointer for p in problems] == ["/components/1/type"]


def test_a_camunda_file_picker_is_an_attachment_and_a_dynamic_list_is_rows_of_its_fields():
    from onestop.formdefs.camunda import from_form_js

    form, problems = from_form_js("papers.form", {"components": [
        {"type": "filepicker", "key": "scan", "label": "Bản chụp", "validate": {"required": True}},
        {"type": "dynamiclist", "path": "rows", "label": "Giấy tờ", "components": [
            {"type": "textfield", "key": "paper", "label": "Tên giấy tờ", "validate": {"required": True}}]},
        {"type": "dynamiclist", "label": "Không đường dẫn", "components": []}]})
    assert form is None and [p.pointer for p in problems] == ["/components/2/path"]
    form, problems = from_form_js("papers.form", {"components": [
        {"type": "filepicker", "key": "scan", "label": "Bản chụp", "validate": {"required": True}},
        {"type": "dynamiclist", "path": "rows", "label": "Giấy tờ", "components": [
            {"type": "textfield", "key": "paper", "label": "Tên giấy tờ", "validate": {"required": True}}]}]})
    assert problems == []
    assert form.schema["properties"]["scan"] == {"type": "string", "format": "data-url", "title": "Bản chụp"}
    rows = form.schema["properties"]["rows"]
    assert rows["type"] == "array" and rows["items"]["required"] == ["paper"]
    assert form.schema["required"] == ["scan"]
