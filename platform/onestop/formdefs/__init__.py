"""Form definitions: uploaded form files and BPMN form declarations -> checked, renderable forms.

The engine reports which element names which form (SpiffArena's `formJsonSchemaFilename` /
`formUiSchemaFilename` properties, Camunda's `formKey` and `formData`); `assemble` resolves those
references against the uploaded files, converts Camunda's forms, checks every schema and UI schema
against what onestop supports, and returns the forms by name. No Flask, no database.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from . import options
from .camunda import from_form_data, from_form_js
from .formats import check as check_formats
from .formats import tidy
from .instructions import render as render_instructions
from .schema import (
    FieldError,
    FormDefinition,
    FormProblem,
    check_schema,
    check_ui,
    normalise,
    read_only_changes,
    read_only_fields,
    ui_warnings,
)
from .schema import validate as validate_schema

__all__ = ["Assembled", "FieldError", "FormDefinition", "FormProblem", "assemble", "check_schema", "normalise",
           "read_only_changes", "read_only_fields", "render_instructions", "takes_task_options", "tidy", "validate", "with_task_options"]

_KEY_PREFIXES = ("camunda-forms:deployment:", "camunda-forms:app:", "embedded:deployment:", "embedded:app:",
                 "deployment:", "app:", "embedded:")


def validate(schema, data, today=None) -> list[FieldError]:
    """The field errors of data against the form: its schema's, then the formats Vietnamese forms
    ask for (formats.py; birth dates after `today` are refused when it is given), one per field
    at most for the latter. Call `tidy` on the data first, as the services do."""
    errors = validate_schema(schema, data)
    if not isinstance(schema, dict) or not isinstance(data, dict):
        return errors
    extra = check_formats(schema, data, today, frozenset(e.field for e in errors))
    return sorted(errors + extra, key=lambda e: e.field) if extra else errors


@dataclass
class Assembled:
    forms: dict = field(default_factory=dict)  # form name -> FormDefinition.as_dict()
    element_forms: dict = field(default_factory=dict)  # BPMN element id -> form name
    problems: list = field(default_factory=list)  # FormProblem, each naming its element where known
    warnings: list = field(default_factory=list)  # (element id or None, message)


def takes_task_options(form: FormDefinition | None) -> bool:
    """Whether the form takes some of its choices from the task's data (options_from_task_data_var)."""
    return form is not None and options.has_markers(form.schema)


def with_task_options(form: FormDefinition, data: dict) -> FormDefinition:
    """The form with the choices it takes from the task's data filled in from `data` (the form
    itself when it takes none): what is drawn and what a submission is checked against."""
    schema = options.fill(form.schema, data)
    return form if schema is form.schema else FormDefinition(form.name, schema, form.ui, dynamic=True)


def ui_name_for(schema_name: str) -> str:
    """SpiffArena's pairing: receive-schema.json goes with receive-uischema.json."""
    return schema_name[: -len("-schema.json")] + "-uischema.json" if schema_name.endswith("-schema.json") else ""


def key_candidates(form_key: str) -> list[str]:
    """The file names a camunda:formKey may mean (prefixes such as camunda-forms:deployment: dropped)."""
    key = form_key.strip()
    for prefix in _KEY_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    base = posixpath.basename(key)
    if not base:
        return []
    return [base, f"{base}.form", f"{base}.json", f"{base}-schema.json"]


def assemble(files: dict, references: dict) -> Assembled:
    """Resolve every element's form reference against the uploaded form files (name -> parsed JSON).

    `references` maps an element id to what the BPMN says: {"schema": file, "ui": file} (SpiffArena),
    {"key": formKey} and/or {"fields": [...]} (Camunda).
    """
    out = Assembled()
    for element_id, ref in references.items():
        if ref.get("fields") is not None:
            name = f"{element_id}.formData"
            form, problems, warnings = from_form_data(name, ref["fields"])
            out.problems.extend(_at(element_id, problems))
            out.warnings.extend((element_id, w) for w in warnings)
            if form is not None:
                out.forms[name] = form.as_dict()
                out.element_forms[element_id] = name
            continue
        schema_name, ui_name = ref.get("schema"), ref.get("ui")
        if not schema_name and ref.get("key"):
            schema_name = next((c for c in key_candidates(ref["key"]) if c in files), None)
            if schema_name is None:
                out.warnings.append((element_id, f"form key {ref['key']!r} names no uploaded form; "
                                                 "the task takes its data without a form"))
                continue
        if not schema_name:
            continue
        if schema_name not in out.forms:
            form, problems, warnings = _from_files(schema_name, ui_name, files)
            out.problems.extend(_at(element_id, problems))
            out.warnings.extend((element_id, str(w)) for w in warnings)
            if form is None:
                continue
            out.forms[schema_name] = form.as_dict()
        out.element_forms[element_id] = schema_name
    return out


def _at(element_id, problems):
    return [(element_id, p) for p in problems]


def _from_files(schema_name, ui_name, files):
    document = files.get(schema_name)
    if document is None:
        return None, [FormProblem(schema_name, "", "the form file was not uploaded")], []
    if schema_name.endswith(".form"):
        return (*from_form_js(schema_name, document), [])
    problems = check_schema(schema_name, document)
    ui_name = ui_name or ui_name_for(schema_name)
    ui = files.get(ui_name) if ui_name else None
    if ui_name and ui is None and ui_name != ui_name_for(schema_name):
        problems.append(FormProblem(ui_name, "", "the UI schema file was not uploaded"))
    warnings = []
    if ui is not None and not problems:
        problems.extend(check_ui(ui_name, ui, document))
        warnings = ui_warnings(ui_name, ui, document)
    if problems:
        return None, problems, []
    return FormDefinition(schema_name, document, ui or {}), [], warnings
