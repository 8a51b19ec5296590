"""The form builder's format: onestop's JSON Schema forms as form-js documents and back.

Decision: the builder STORES JSON Schema + UI schema (the SpiffArena convention of schema.py,
`<name>-schema.json` and `<name>-uischema.json`) and uses form-js JSON only on the page, while the
administrator edits. Reasons:

- one truth at run time: the portal, the desk and the REST API render and validate JSON Schema
  (web/forms.py, schema.validate); a form stored as form-js would be converted on every read, and
  what form-js cannot say (conditions such as "the father's ID is required when his name is given",
  `$defs`, `minItems`) would have nowhere to live;
- every bundled procedure and every SpiffArena process model is already JSON Schema; storing it
  keeps them opening unchanged in SpiffArena, and the version diff (fields added and removed) keeps
  working on the same files;
- a draft that holds a Camunda `.form` file keeps it as form-js (the builder opens and saves it
  as it is, so it still opens in Camunda Modeler); only JSON Schema forms are converted.

`to_form_js` turns a schema and its UI schema into a form-js document; `from_form_js` turns the
document back, checking it (empty, malformed or duplicate keys, patterns RE2 cannot run, choices
without options, components onestop cannot draw, FEEL expressions and hide-if conditions, which a
server-rendered form does not evaluate) and naming the component of each problem. What
form-js has no property for (the form's title and conditions, a field's `exclusiveMinimum`, a UI
placeholder, a whole field of an unusual shape) rides along in an `onestop` property of the
document and of each component, which form-js keeps untouched; so a form opened and saved without
change comes back equal (the same fields, keys, order, required, patterns, everything else).
No Flask, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .schema import check_schema, check_ui

BOOK = "onestop"  # the property of the document and of each component carrying what form-js cannot say
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PHONE_PATTERN = "^0[0-9]{9}$"
CITIZEN_ID_PATTERN = "^[0-9]{12}$"
_ROOT_ORDER = ("$schema", "$id", "title", "description", "type", "required", "properties")
_CHOICE_KINDS = ("select", "radio")
LONG_LIST = 200  # options beyond which a choice's list is kept out of the editor's properties panel
_IGNORED = ("button", "spacer", "separator")  # the page draws its own submit button and spacing
_UNSUPPORTED_HINT = "supported: text field, text area, number, date/time, select, radio, checkbox, checklist, " \
                    "file picker, group, dynamic list, text"


@dataclass(frozen=True)
class BuilderProblem:
    """A problem of a form-js document, tied to the component it is about (its id, key and label).

    `code` is stable (empty_key, bad_key, duplicate_key, bad_pattern, no_options, empty_option,
    duplicate_option, unsupported, expression, schema, document); `detail` is the checker's English wording."""

    code: str
    component: str = ""
    key: str = ""
    label: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "component": self.component, "key": self.key, "label": self.label,
                "detail": self.detail}


# JSON Schema -> form-js ---------------------------------------------------------------------------

def to_form_js(schema: dict, ui: dict | None = None, form_id: str = "Form") -> dict:
    """The form-js document of a JSON Schema form and its UI schema (both plain JSON); the schema
    is one schema.check_schema accepts."""
    ui = ui if isinstance(ui, dict) else {}
    components = _components_of(schema, ui, ())
    book = {"schema": {k: v for k, v in schema.items() if k not in ("properties", "required")},
            "ui": {k: v for k, v in ui.items() if k.startswith("ui:") and k != "ui:order"},
            "order": "ui:order" in ui, "required": list(schema.get("required") or [])}
    if "properties" not in schema:
        book["no_properties"] = True
    return {"type": "default", "id": form_id, "components": components, BOOK: book}


def _ordered(schema, ui):
    props = schema.get("properties") or {}
    order = [n for n in (ui.get("ui:order") or []) if isinstance(n, str) and n in props]
    return list(dict.fromkeys(order)) + [n for n in props if n not in order]


def _component_id(path):
    return "Field_" + "_".join(re.sub(r"[^A-Za-z0-9_]", "_", p) for p in path)


def _components_of(schema, ui, path):
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out = []
    for name in _ordered(schema, ui):
        sub_ui = ui.get(name) if isinstance(ui.get(name), dict) else {}
        out.append(_component(name, props[name], sub_ui, name in required, (*path, name)))
    return out


def _choices(sub):
    """form-js values for a string choice written as oneOf of {const, title} strings or an enum of
    strings, and how it was written; None when it is something else."""
    options = sub.get("oneOf")
    if isinstance(options, list) and options and all(
            isinstance(o, dict) and set(o) == {"const", "title"} and isinstance(o.get("const"), str)
            and isinstance(o.get("title"), str) for o in options):
        return [{"label": o["title"], "value": o["const"]} for o in options], "oneOf"
    enum = sub.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum) and "oneOf" not in sub:
        return [{"label": v, "value": v} for v in enum], "enum"
    return None


def _kind(sub, sub_ui):
    """Which form-js component draws this property, or "raw" when none does it faithfully."""
    if not isinstance(sub, dict) or "$ref" in sub or "anyOf" in sub or "allOf" in sub:
        return "raw"
    kind, widget = sub.get("type"), sub_ui.get("ui:widget")
    if kind == "null" or widget == "markdown":
        return "text" if kind == "null" and set(sub) <= {"type", "title", "description"} else "raw"
    if widget in ("hidden",):
        return "raw"
    if kind == "object":
        return "group" if isinstance(sub.get("properties"), dict) else "raw"
    if kind == "array":
        items = sub.get("items")
        if isinstance(items, dict) and items.get("type") == "object" and isinstance(items.get("properties"), dict):
            return "dynamiclist"
        if isinstance(items, dict) and items.get("type") == "string" and _choices(items) \
                and set(items) <= {"type", "oneOf", "enum"} and widget in (None, "checkboxes"):
            return "checklist"
        return "raw"
    if kind == "string" and ("oneOf" in sub or "enum" in sub):
        if _choices(sub) is None or widget not in (None, "radio", "select"):
            return "raw"
        return "radio" if widget == "radio" else "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "string":
        fmt = sub.get("format")
        if fmt in ("date", "time", "date-time"):
            return "datetime"
        if fmt == "data-url":
            return "filepicker"
        if widget == "textarea":
            return "textarea"
        return "textfield"
    return "raw"


_HELP_KEYS = ("ui:help", "ui:description")


def _component(name, sub, sub_ui, required, path):
    kind = _kind(sub, sub_ui)
    cid = _component_id(path)
    if kind == "raw":
        title = sub.get("title") if isinstance(sub, dict) else None
        return {"type": "text", "id": cid,
                "text": f"**{title or name}** (`{name}`): trường nâng cao, giữ nguyên khi lưu; sửa trong tệp JSON.",
                BOOK: {"raw": True, "key": name, "schema": sub, "ui": sub_ui, "required": required}}
    schema_left = dict(sub)
    ui_left = dict(sub_ui)
    comp = {"type": kind, "id": cid}
    book = {}
    if kind == "text":
        comp["text"] = schema_left.pop("description", "")
        schema_left.pop("type", None)
        book.update(key=name, schema=schema_left, ui=ui_left, required=required)
        comp[BOOK] = book
        return comp
    title = schema_left.pop("title", None)
    if title is None:
        book["untitled"] = True
    label = title if title is not None else name
    # The help shown under the field: the renderer takes ui:help, then ui:description, then description.
    help_from = next((k for k in _HELP_KEYS if isinstance(ui_left.get(k), str)), None)
    if help_from:
        comp["description"] = ui_left.pop(help_from)
        book["help"] = help_from
    elif isinstance(schema_left.get("description"), str):
        comp["description"] = schema_left.pop("description")
    schema_left.pop("type", None)
    if kind in ("group", "dynamiclist"):
        inner = sub if kind == "group" else sub["items"]
        inner_ui = sub_ui if kind == "group" else (sub_ui.get("items") if isinstance(sub_ui.get("items"), dict) else {})
        comp.update(path=name, label=label, components=_components_of(inner, inner_ui, path))
        if kind == "group":
            comp["showOutline"] = True
            schema_left.pop("properties", None)
            book["inner_required"] = schema_left.pop("required", [])
            for key in list(ui_left):
                if not key.startswith("ui:"):
                    ui_left.pop(key)
            book["order"] = "ui:order" in ui_left
            ui_left.pop("ui:order", None)
        else:
            comp.update(isRepeating=True, allowAddRemove=True, defaultRepetitions=1)
            items_left = {k: v for k, v in sub["items"].items() if k not in ("type", "properties", "required")}
            book["items"] = items_left
            book["inner_required"] = list(sub["items"].get("required") or [])
            schema_left.pop("items", None)
            items_ui = ui_left.pop("items", None)
            if isinstance(items_ui, dict):
                book["items_ui"] = {k: v for k, v in items_ui.items() if k.startswith("ui:") and k != "ui:order"}
                book["order"] = "ui:order" in items_ui
            else:
                book["no_items_ui"] = True
                book["order"] = False
        if required:
            book["required"] = True
    else:
        comp["key"] = name
        if kind == "datetime":
            fmt = schema_left.pop("format")
            comp["subtype"] = {"date": "date", "time": "time", "date-time": "datetime"}[fmt]
            comp["timeLabel" if fmt == "time" else "dateLabel"] = label
        else:
            comp["label"] = label
        validate = {}
        if required:
            validate["required"] = True
        if kind in ("textfield", "textarea"):
            for key in ("minLength", "maxLength", "pattern"):
                if key in schema_left:
                    validate[key] = schema_left.pop(key)
            if schema_left.get("format") == "email":
                schema_left.pop("format")
                validate["validationType"] = "email"
            if kind == "textarea":
                ui_left.pop("ui:widget", None)
        elif kind == "number":
            if schema_left.get("minimum") is not None:
                validate["min"] = schema_left.pop("minimum")
            if schema_left.get("maximum") is not None:
                validate["max"] = schema_left.pop("maximum")
            if sub.get("type") == "integer":
                comp["decimalDigits"] = 0
        elif kind in _CHOICE_KINDS:
            comp["values"], how = _choices(sub)
            schema_left.pop("oneOf" if how == "oneOf" else "enum")
            book["choices"] = how
            if kind == "radio" or ui_left.get("ui:widget") == "select":
                book["widget"] = ui_left.pop("ui:widget")
        elif kind == "checklist":
            comp["values"], how = _choices(sub["items"])
            book["choices"] = how
            schema_left.pop("items")
            if schema_left.get("uniqueItems") is True:
                schema_left.pop("uniqueItems")
            else:
                book["not_unique"] = True
            if "ui:widget" in ui_left:
                book["widget"] = ui_left.pop("ui:widget")
        elif kind == "filepicker":
            schema_left.pop("format")
        if len(comp.get("values") or ()) > LONG_LIST:
            # The editor's properties panel draws an entry per option, even folded: three thousand
            # communes froze it for seconds. A long list rides along whole and is not shown there.
            book["values"] = comp["values"]
            comp["values"] = []
        if validate:
            comp["validate"] = validate
        if "default" in schema_left:
            comp["defaultValue"] = schema_left.pop("default")
        if schema_left.get("readOnly") is True:
            schema_left.pop("readOnly")
            comp["readonly"] = True
    if schema_left:
        book["schema"] = schema_left
    if ui_left:
        book["ui"] = ui_left
    if book:
        comp[BOOK] = book
    return comp


# form-js -> JSON Schema ---------------------------------------------------------------------------

def from_form_js(name: str, document) -> tuple[dict | None, dict | None, list[BuilderProblem]]:
    """(schema, ui, problems) of a form-js document; schema and ui are None when there are problems.

    The result passes schema.check_schema and check_ui (their problems are reported here, tied to
    the component they are about)."""
    if not isinstance(document, dict) or not isinstance(document.get("components"), list):
        return None, None, [BuilderProblem("document", detail="a form needs a list of components")]
    problems: list[BuilderProblem] = []
    places: dict = {}  # JSON pointer of a property (schema) or of its UI entry -> its component
    book = _dict(document.get(BOOK))
    properties, required, ui = _level(document["components"], "", "", places, problems)
    schema = _root(book, properties, required)
    if book.get("order", True) and properties:
        ui = {"ui:order": list(properties), **ui}
    ui = {**_dict(book.get("ui")), **ui}
    if problems:
        return None, None, problems
    for problem in check_schema(name, schema):
        problems.append(_placed(problem, places, "schema"))
    if not problems:
        for problem in check_ui(name, ui, schema):
            problems.append(_placed(problem, places, "ui"))
    if problems:
        return None, None, problems
    return schema, ui, []


def _root(book, properties, required):
    left = book["schema"] if isinstance(book.get("schema"), dict) else {"$schema":
                                                                             "https://json-schema.org/draft/2020-12/schema",
                                                                             "type": "object"}
    schema = {k: left[k] for k in _ROOT_ORDER if k in left}
    if required:
        schema["required"] = _kept_order(book.get("required"), required)
    if properties or not book.get("no_properties"):
        schema["properties"] = properties
    schema.update({k: v for k, v in left.items() if k not in schema})
    return schema


def _dict(value) -> dict:
    """A bookkeeping value as a dict: the page sends the document back, and it is checked, not trusted."""
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _kept_order(before, now):
    """The required names in the order the form listed them before, new ones after in field order."""
    before = [n for n in before if isinstance(n, str)] if isinstance(before, list) else []
    return [n for n in before if n in now] + [n for n in now if n not in before]


def _label(comp):
    return str(comp.get("label") or comp.get("dateLabel") or comp.get("timeLabel") or "")


def _placed(problem, places, kind):
    """A checker's FormProblem tied to the deepest component its pointer lies in."""
    pointer = problem.pointer
    best = None
    for place, comp in places.items():
        if place[0] == kind and (pointer == place[1] or pointer.startswith(place[1] + "/")):
            if best is None or len(place[1]) > len(best[0]):
                best = (place[1], comp)
    comp = best[1] if best else {}
    code = "bad_pattern" if kind == "schema" and pointer.endswith("/pattern") else "schema"
    book = comp.get(BOOK) if isinstance(comp.get(BOOK), dict) else {}
    return BuilderProblem(code, str(comp.get("id") or ""), str(comp.get("key") or comp.get("path") or book.get("key") or ""),
                          _label(comp), problem.message)


def _escape(name):
    return name.replace("~", "~0").replace("/", "~1")


def _level(components, schema_at, ui_at, places, problems, seen=None):
    """(properties, required names, ui) of one object level; groups without a path add to it."""
    properties, required, ui = {}, [], {}
    seen = {} if seen is None else seen

    def claim(comp, key):
        if key in seen:
            problems.append(BuilderProblem("duplicate_key", str(comp.get("id") or ""), key, _label(comp),
                                           f"the key is already used by {seen[key]!r}"))
            return False
        seen[key] = _label(comp) or key
        return True

    for comp in components:
        if not isinstance(comp, dict):
            problems.append(BuilderProblem("document", detail="a component must be an object"))
            continue
        kind = comp.get("type") if isinstance(comp.get("type"), str) else ""
        book = _dict(comp.get(BOOK))
        cid = str(comp.get("id") or "")
        if kind in _IGNORED:
            continue
        dynamic = _dynamic_setting(comp)
        if dynamic:
            problems.append(BuilderProblem("expression", cid, str(comp.get("key") or comp.get("path") or ""),
                                           _label(comp), f"{dynamic} is not supported by onestop's forms"))
            continue
        if book.get("raw"):
            key = book.get("key")
            if isinstance(key, str) and claim(comp, key):
                properties[key] = book.get("schema")
                if book.get("ui"):
                    ui[key] = book["ui"]
                if book.get("required"):
                    required.append(key)
                places[("schema", f"{schema_at}/properties/{_escape(key)}")] = comp
                places[("ui", f"{ui_at}/{_escape(key)}")] = comp
            continue
        if kind in ("text", "html"):
            key = book.get("key") if isinstance(book.get("key"), str) else f"note_{len(properties) + 1}"
            while key in seen and "key" not in book:
                key += "_"
            if not claim(comp, key):
                continue
            prop = {"type": "null"}
            prop.update(_dict(book.get("schema")))
            prop["description"] = str(comp.get("text") if kind == "text" else comp.get("content") or "")
            if "title" not in prop:
                prop["title"] = ""
            properties[key] = prop
            ui[key] = {"ui:widget": "markdown", **_dict(book.get("ui"))} if "key" not in book else _dict(book.get("ui"))
            if not ui[key]:
                del ui[key]
            if book.get("required"):
                required.append(key)
            continue
        if kind == "group" and not comp.get("path"):
            sub_props, sub_required, sub_ui = _level(_list(comp.get("components")), schema_at, ui_at, places,
                                                     problems, seen)
            properties.update(sub_props)
            required.extend(sub_required)
            ui.update(sub_ui)
            continue
        key = comp.get("path") if kind in ("group", "dynamiclist") else comp.get("key")
        if kind not in _KINDS:
            problems.append(BuilderProblem("unsupported", cid, str(key or ""), _label(comp),
                                           f"component type {kind!r} is not supported ({_UNSUPPORTED_HINT})"))
            continue
        if not isinstance(key, str) or not key.strip():
            problems.append(BuilderProblem("empty_key", cid, "", _label(comp), "the field has no key"))
            continue
        if not KEY.match(key):
            problems.append(BuilderProblem("bad_key", cid, key, _label(comp),
                                           "a key is letters, digits and _ and does not start with a digit"))
            continue
        if not claim(comp, key):
            continue
        here = f"{schema_at}/properties/{_escape(key)}"
        places[("schema", here)] = comp
        places[("ui", f"{ui_at}/{_escape(key)}")] = comp
        prop, prop_ui = _property(comp, kind, book, here, f"{ui_at}/{_escape(key)}", places, problems)
        if prop is None:
            continue
        properties[key] = prop
        if prop_ui:
            ui[key] = prop_ui
        if _dict(comp.get("validate")).get("required") is True or book.get("required") is True:
            required.append(key)
    return properties, required, ui


def _dynamic_setting(comp) -> str | None:
    """A form-js setting that would change the form as it is filled (a FEEL expression, a condition
    hiding the field), which onestop's server-rendered forms do not evaluate; None when there is none."""
    conditional = comp.get("conditional")
    if isinstance(conditional, dict) and conditional.get("hide") not in (None, "", False):
        return "a condition hiding the field"
    validate = comp.get("validate") if isinstance(comp.get("validate"), dict) else {}
    for where, values in (("", comp), ("validate.", validate)):
        for key, value in values.items():
            if isinstance(value, str) and value.startswith("=") and key not in ("id", "key", "path"):
                return f"an expression in {where}{key}"
    if kind_needs_values(comp) and comp.get("valuesExpression"):
        return "choices from an expression"
    return None


def kind_needs_values(comp) -> bool:
    return comp.get("type") in _CHOICE_KINDS + ("checklist", "taglist")


_KINDS = {"textfield", "textarea", "number", "datetime", "select", "radio", "checkbox", "checklist", "taglist",
          "filepicker", "group", "dynamiclist"}


def _values(comp, problems):
    values = comp.get("values")
    kept = _dict(comp.get(BOOK)).get("values")
    if not values and isinstance(kept, list):
        values = kept  # a long list the editor was not shown (to_form_js), unless options were added there
    cid, key, label = str(comp.get("id") or ""), str(comp.get("key") or ""), _label(comp)
    if not isinstance(values, list) or not values:
        problems.append(BuilderProblem("no_options", cid, key, label,
                                       "a choice needs its options listed in the form (static options)"))
        return None
    out, seen = [], set()
    for v in values:
        value = str(v.get("value") if isinstance(v, dict) and v.get("value") is not None else "").strip()
        if not value:
            problems.append(BuilderProblem("empty_option", cid, key, label, "an option has no value"))
            return None
        if value in seen:
            problems.append(BuilderProblem("duplicate_option", cid, key, label, f"the value {value!r} is listed twice"))
            return None
        seen.add(value)
        text = v.get("label")
        out.append((value, str(text) if text not in (None, "") else value))
    return out


def _choice_schema(pairs, how):
    if how == "enum":
        return {"enum": [value for value, _text in pairs]}
    return {"oneOf": [{"const": value, "title": text} for value, text in pairs]}


def _title(prop, label, key, book):
    if not (book.get("untitled") and label == key):  # a field without a title is labelled by its key
        prop["title"] = label


def _describe(comp, book, prop, ui) -> None:
    """A component's help text: where its kind keeps help (a UI key), else the schema's description."""
    description = comp.get("description")
    if isinstance(description, str) and description:
        if book.get("help") in _HELP_KEYS:
            ui[book["help"]] = description
        else:
            prop["description"] = description

def _property(comp, kind, book, schema_at, ui_at, places, problems):
    validate = comp.get("validate") if isinstance(comp.get("validate"), dict) else {}
    prop: dict = {}
    ui: dict = {}
    label = _label(comp)
    if kind in ("group", "dynamiclist"):
        inner_at = schema_at if kind == "group" else schema_at + "/items"
        inner_ui_at = ui_at if kind == "group" else ui_at + "/items"
        sub_props, sub_required, sub_ui = _level(_list(comp.get("components")), inner_at, inner_ui_at, places, problems)
        inner = {"type": "object"}
        if sub_required:
            inner["required"] = _kept_order(book.get("inner_required"), sub_required)
        inner["properties"] = sub_props
        if book.get("order", True) and sub_props:
            sub_ui = {"ui:order": list(sub_props), **sub_ui}
        if kind == "group":
            prop = {"type": "object"}
            _title(prop, label, comp.get("path"), book)
            prop.update({k: v for k, v in inner.items() if k != "type"})
            ui = sub_ui
        else:
            prop = {"type": "array"}
            _title(prop, label, comp.get("path"), book)
            inner.update(_dict(book.get("items")))
            prop["items"] = inner
            row_ui = {**_dict(book.get("items_ui")), **sub_ui}
            if row_ui or not book.get("no_items_ui"):
                ui["items"] = row_ui
    else:
        prop["type"] = "string"
        if kind == "number":
            prop["type"] = "integer" if comp.get("decimalDigits") == 0 else "number"
        elif kind == "checkbox":
            prop["type"] = "boolean"
        elif kind in ("checklist", "taglist"):
            prop["type"] = "array"
        _title(prop, label, comp.get("key"), book)
        if kind in ("textfield", "textarea"):
            for key in ("minLength", "maxLength"):
                if isinstance(validate.get(key), int) and not isinstance(validate.get(key), bool):
                    prop[key] = validate[key]
            kind_of = validate.get("validationType")
            if kind_of == "email":
                prop["format"] = "email"
            elif kind_of == "phone":
                prop["pattern"] = PHONE_PATTERN
                ui["ui:widget"] = "tel"
            if validate.get("pattern") not in (None, "") and kind_of != "phone":
                prop["pattern"] = validate["pattern"]
            if kind == "textarea":
                ui["ui:widget"] = "textarea"
        elif kind == "number":
            for src, dst in (("min", "minimum"), ("max", "maximum")):
                if isinstance(validate.get(src), int | float) and not isinstance(validate.get(src), bool):
                    prop[dst] = validate[src]
        elif kind == "datetime":
            subtype = comp.get("subtype") or "date"
            prop["format"] = {"date": "date", "time": "time"}.get(subtype, "date-time")
        elif kind in _CHOICE_KINDS:
            pairs = _values(comp, problems)
            if pairs is None:
                return None, None
            prop.update(_choice_schema(pairs, book.get("choices")))
            if kind == "radio":
                ui["ui:widget"] = "radio"
            elif book.get("widget"):
                ui["ui:widget"] = book["widget"]
        elif kind in ("checklist", "taglist"):
            pairs = _values(comp, problems)
            if pairs is None:
                return None, None
            prop["items"] = {"type": "string", **_choice_schema(pairs, book.get("choices"))}
            if not book.get("not_unique"):
                prop["uniqueItems"] = True
            if book.get("widget"):
                ui["ui:widget"] = book["widget"]
        elif kind == "filepicker":
            prop["format"] = "data-url"
        _describe(comp, book, prop, ui)
        if "defaultValue" in comp and comp["defaultValue"] not in ("", None):
            prop["default"] = comp["defaultValue"]
        if comp.get("readonly") is True or comp.get("disabled") is True:  # both: shown, not changed
            prop["readOnly"] = True
    if kind in ("group", "dynamiclist"):
        _describe(comp, book, prop, ui)
    prop.update({k: v for k, v in _dict(book.get("schema")).items() if k not in prop})
    ui.update({k: v for k, v in _dict(book.get("ui")).items() if k not in ui})
    return prop, ui
