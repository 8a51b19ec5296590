"""SpiffArena's form conventions: cosmetic UI keys it knows and onestop does not are warnings, and
options taken from the task's data (`options_from_task_data_var:NAME`) are filled in at render time."""

from onestop.formdefs import assemble, check_schema, validate, with_task_options
from onestop.formdefs.schema import FormDefinition, check_ui, ui_warnings

SCHEMA = {"type": "object", "required": ["first_name"],
          "properties": {"first_name": {"type": "string", "title": "First name"},
                         "amount": {"type": "number", "title": "Amount"}}}


def test_a_cosmetic_ui_key_onestop_does_not_know_is_a_warning_not_a_refusal():
    ui = {"first_name": {"ui:autoFocus": True, "ui:help": "as on the ID card"}}
    assert check_ui("f-uischema.json", ui, SCHEMA) == []
    [warning] = ui_warnings("f-uischema.json", ui, SCHEMA)
    assert warning.pointer == "/first_name/ui:autoFocus" and "ignored" in warning.message


def test_spiffarenas_markdown_description_key_and_formatted_number_widget_are_known():
    ui = {"first_name": {"ui:enableMarkdownInDescription": True, "ui:description": "**bold**"},
          "amount": {"ui:widget": "formattedNumber"}}
    assert check_ui("f-uischema.json", ui, SCHEMA) == []
    assert ui_warnings("f-uischema.json", ui, SCHEMA) == []


def test_an_unknown_widget_is_a_warning_and_a_misspelt_field_is_still_refused():
    ui = {"amount": {"ui:widget": "colour-wheel"}, "frist_name": {"ui:widget": "textarea"}}
    [problem] = check_ui("f-uischema.json", ui, SCHEMA)
    assert problem.pointer == "/frist_name"
    [warning] = ui_warnings("f-uischema.json", ui, SCHEMA)
    assert warning.pointer == "/amount/ui:widget"


def test_a_model_whose_ui_schema_has_unknown_keys_assembles_with_warnings_naming_the_task():
    files = {"ask-schema.json": SCHEMA, "ask-uischema.json": {"first_name": {"ui:autoFocus": True}}}
    assembled = assemble(files, {"Task_Ask": {"schema": "ask-schema.json"}})
    assert assembled.problems == [] and assembled.element_forms == {"Task_Ask": "ask-schema.json"}
    [(element_id, message)] = assembled.warnings
    assert element_id == "Task_Ask" and "ui:autoFocus" in message and "ask-uischema.json" in message


DYNAMIC = {"type": "object", "required": ["fruit"], "properties": {
    "fruit": {"type": "string", "title": "Fruit", "anyOf": ["options_from_task_data_var:fruits"]},
    "colours": {"type": "array", "items": ["options_from_task_data_var:colours"]},
    "size": {"$ref": "#/definitions/Size"}},
    "definitions": {"Size": {"type": "integer", "enum": ["options_from_task_data_var:sizes"]}}}


def test_options_from_task_data_are_accepted_at_upload():
    assert check_schema("pick-schema.json", DYNAMIC) == []


def test_options_from_a_variable_that_is_not_a_name_are_refused_at_upload():
    schema = {"type": "object", "properties": {"a": {"anyOf": ["options_from_task_data_var:no such"]}}}
    [problem] = check_schema("pick-schema.json", schema)
    assert problem.pointer == "/properties/a/anyOf/0" and "no such" in problem.message


def test_options_come_from_the_task_data_with_labels_and_submissions_are_checked_against_them():
    data = {"fruits": [{"value": "apples", "label": "Apples"}, {"value": "pears", "label": "Pears"}],
            "colours": ["red", "blue"], "sizes": [1, 2]}
    form = with_task_options(FormDefinition("pick-schema.json", DYNAMIC), data)
    assert form.schema["properties"]["fruit"]["anyOf"] == [{"const": "apples", "title": "Apples"},
                                                           {"const": "pears", "title": "Pears"}]
    assert form.schema["properties"]["colours"]["items"] == {"oneOf": [{"const": "red", "title": "red"},
                                                                       {"const": "blue", "title": "blue"}]}
    assert validate(form.schema, {"fruit": "pears", "colours": ["blue"], "size": 2}) == []
    errors = {e.field: e.code for e in validate(form.schema, {"fruit": "plums", "colours": ["green"], "size": 3})}
    assert set(errors) == {"fruit", "colours/0", "size"}
    assert DYNAMIC["properties"]["fruit"]["anyOf"] == ["options_from_task_data_var:fruits"]  # the stored form is untouched


def test_a_missing_or_malformed_options_variable_offers_no_choice_rather_than_failing():
    form = with_task_options(FormDefinition("pick-schema.json", DYNAMIC), {"fruits": "apples", "sizes": None})
    [error] = [e for e in validate(form.schema, {"fruit": "apples"}) if e.field == "fruit"]
    assert error.code == "enum"


def test_a_form_without_options_from_task_data_is_returned_as_it_is():
    form = FormDefinition("f-schema.json", SCHEMA)
    assert with_task_options(form, {"fruits": []}) is form
