"""Camunda Modeler's forms as onestop form definitions.

Two kinds exist: fields declared inside the BPMN (`camunda:formData` / `camunda:formField`, the
"generated task forms" of Camunda 7), which the engine hands over as plain dicts, and Camunda
Forms files (`.form`, the form-js JSON the modeler's form editor saves), named by a task's
`camunda:formKey`. Both become a JSON Schema plus a UI schema; what cannot be expressed is a
problem with a JSON pointer, never dropped silently.
"""

from __future__ import annotations

from .patterns import check_pattern
from .schema import FormDefinition, FormProblem, _pointer

_FIELD_TYPES = {"string": {"type": "string"}, "long": {"type": "integer"}, "integer": {"type": "integer"},
                "short": {"type": "integer"}, "double": {"type": "number"}, "boolean": {"type": "boolean"},
                "date": {"type": "string", "format": "date"}, "enum": {"type": "string"}}
_BOOLEAN_WORDS = {"true": True, "false": False}


def from_form_data(name: str, fields: list[dict]) -> tuple[FormDefinition | None, list[FormProblem], list[str]]:
    """A form from a task's camunda:formField list: (definition, problems, warnings)."""
    problems, warnings = [], []
    properties, required, ui_order, ui = {}, [], [], {}
    for i, f in enumerate(fields):
        where = ["formField", i]
        key = f.get("id") or ""
        kind = f.get("type") or "string"
        if not key:
            problems.append(FormProblem(name, _pointer(where), "a formField has no id"))
            continue
        if kind not in _FIELD_TYPES:
            problems.append(FormProblem(name, _pointer([*where, "type"]),
                                        f"field {key!r} has type {kind!r}; supported: {', '.join(_FIELD_TYPES)}"))
            continue
        prop = dict(_FIELD_TYPES[kind], title=f.get("label") or key)
        if kind == "enum":
            options = f.get("options") or []
            prop["oneOf"] = [{"const": o["id"], "title": o.get("name") or o["id"]} for o in options]
            if not options:
                problems.append(FormProblem(name, _pointer(where), f"enum field {key!r} has no values"))
        default = f.get("default")
        if default not in (None, ""):
            value = _typed_default(kind, default)
            if value is None:
                # The modeler lets a boolean default to "No": the model then works with words, not booleans.
                prop = {"type": "string", "title": prop["title"], "default": default}
                warnings.append(f"{name}: field {key!r} is {kind} but defaults to {default!r}; it is taken as text")
            else:
                prop["default"] = value
        for check, config in (f.get("validation") or {}).items():
            if check == "required":
                required.append(key)
            elif check == "readonly":
                prop["readOnly"] = True
            elif check in ("minlength", "maxlength", "min", "max"):
                number = _number(config)
                if number is None:
                    problems.append(FormProblem(name, _pointer([*where, "validation", check]),
                                                f"field {key!r}: {check} needs a number, not {config!r}"))
                    continue
                bound = {"minlength": "minLength", "maxlength": "maxLength", "min": "minimum", "max": "maximum"}[check]
                prop[bound] = int(number) if bound.endswith("Length") else number
            else:
                problems.append(FormProblem(name, _pointer([*where, "validation", check]),
                                            f"field {key!r}: validation {check!r} is not supported"))
        properties[key] = prop
        ui_order.append(key)
        if f.get("properties", {}).get("description"):
            ui[key] = {"ui:help": f["properties"]["description"]}
    if problems:
        return None, problems, warnings
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    ui["ui:order"] = ui_order
    return FormDefinition(name, schema, ui), [], warnings


def _typed_default(kind, text):
    if kind == "boolean":
        return _BOOLEAN_WORDS.get(str(text).strip().lower())
    if kind in ("long", "integer", "short"):
        try:
            return int(text)
        except ValueError:
            return None
    if kind == "double":
        return _number(text)
    return text


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() else value


# Camunda Forms (form-js) -------------------------------------------------------------------------

_TEXT_LIKE = {"textfield": None, "textarea": "textarea"}


def from_form_js(name: str, document) -> tuple[FormDefinition | None, list[FormProblem]]:
    """A form from a Camunda Forms (.form) document."""
    problems: list[FormProblem] = []
    if not isinstance(document, dict) or not isinstance(document.get("components"), list):
        return None, [FormProblem(name, "/components", "a Camunda form needs a list of components")]
    schema, ui = _components(name, document["components"], ["components"], problems)
    if problems:
        return None, problems
    return FormDefinition(name, schema, ui), []


def _components(name, components, path, problems):
    properties, required, order, ui = {}, [], [], {}
    for i, c in enumerate(components):
        here = [*path, i]
        if not isinstance(c, dict):
            problems.append(FormProblem(name, _pointer(here), "a component must be an object"))
            continue
        kind = c.get("type")
        if kind in ("button", "spacer", "separator"):
            continue  # the page draws its own submit button and spacing
        if kind in ("text", "html"):
            key = c.get("id") or f"text_{i}"
            properties[key] = {"type": "null", "title": "", "description": c.get("text") or c.get("content") or ""}
            ui[key] = {"ui:widget": "markdown"}
            order.append(key)
            continue
        if kind == "group":
            sub_schema, sub_ui = _components(name, c.get("components") or [], [*here, "components"], problems)
            key = c.get("path") or c.get("id") or f"group_{i}"
            properties[key] = dict(sub_schema, title=c.get("label") or "")
            ui[key] = sub_ui
            order.append(key)
            continue
        if kind == "dynamiclist":  # rows of the same fields, under its path
            key = c.get("path")
            if not key:
                problems.append(FormProblem(name, _pointer([*here, "path"]), "a dynamic list has no path"))
                continue
            sub_schema, sub_ui = _components(name, c.get("components") or [], [*here, "components"], problems)
            properties[key] = {"type": "array", "title": c.get("label") or key, "items": sub_schema}
            ui[key] = {"items": sub_ui}
            order.append(key)
            continue
        key = c.get("key")
        if not key:
            problems.append(FormProblem(name, _pointer([*here, "key"]), f"a {kind} component has no key"))
            continue
        if "." in key:
            problems.append(FormProblem(name, _pointer([*here, "key"]),
                                        f"key {key!r}: dotted keys are not supported; use a group with a path"))
            continue
        prop = _component(name, c, here, problems)
        if prop is None:
            continue
        prop["title"] = c.get("label") or key
        if c.get("description"):
            prop["description"] = c["description"]
        if "defaultValue" in c:
            prop["default"] = c["defaultValue"]
        if c.get("readonly") is True:
            prop["readOnly"] = True
        validate = c.get("validate") or {}
        if validate.get("required"):
            required.append(key)
        widget = _TEXT_LIKE.get(kind) or {"radio": "radio", "checklist": "checkboxes"}.get(kind)
        if widget:
            ui.setdefault(key, {})["ui:widget"] = widget
        properties[key] = prop
        order.append(key)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    ui["ui:order"] = order
    return schema, ui


def _component(name, c, here, problems):
    kind = c.get("type")
    validate = c.get("validate") or {}
    if kind in ("textfield", "textarea"):
        prop = {"type": "string"}
        for src, dst in (("minLength", "minLength"), ("maxLength", "maxLength"), ("pattern", "pattern")):
            if src in validate:
                prop[dst] = validate[src]
        if "pattern" in validate:
            reason = check_pattern(validate["pattern"])
            if reason:
                problems.append(FormProblem(name, _pointer([*here, "validate", "pattern"]), reason))
                return None
        if validate.get("validationType") == "email":
            prop["format"] = "email"
        elif validate.get("validationType") == "phone":
            prop["pattern"] = r"^\+?[0-9 ]{8,15}$"
        return prop
    if kind == "number":
        prop = {"type": "integer" if c.get("decimalDigits") == 0 else "number"}
        for src, dst in (("min", "minimum"), ("max", "maximum")):
            if src in validate:
                prop[dst] = validate[src]
        return prop
    if kind == "checkbox":
        return {"type": "boolean"}
    if kind in ("select", "radio"):
        return {"type": "string", "oneOf": _values(name, c, here, problems)}
    if kind in ("checklist", "taglist"):
        return {"type": "array", "uniqueItems": True, "items": {"type": "string", "oneOf": _values(name, c, here, problems)}}
    if kind == "filepicker":  # an attachment, as react-jsonschema-form writes a file field
        return {"type": "string", "format": "data-url"}
    if kind == "datetime":
        subtype = c.get("subtype", "date")
        return {"type": "string", "format": {"date": "date", "time": "time"}.get(subtype, "date-time")}
    problems.append(FormProblem(name, _pointer([*here, "type"]), f"component type {kind!r} is not supported"))
    return None


def _values(name, c, here, problems):
    values = c.get("values")
    if not isinstance(values, list) or not values:
        problems.append(FormProblem(name, _pointer([*here, "values"]),
                                    "the choices must be listed in the form (values); dynamic values are not supported"))
        return [{"const": ""}]
    return [{"const": str(v.get("value")), "title": str(v.get("label") or v.get("value"))} for v in values]
