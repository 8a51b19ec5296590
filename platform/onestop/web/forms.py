"""HTML forms generated from form definitions: WTForms classes (one per form, cached), the data a
submission carries, and the definition's field errors put back next to their fields.

WTForms here only renders and collects values (with Flask-WTF's CSRF token); whether the values
are right is decided by the form's JSON Schema in the services layer, exactly as for the REST API.
A number that does not parse therefore reaches the schema as text and gets the schema's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    FileField,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import widgets as w
from wtforms.fields.choices import SelectChoice

from ..formdefs import FieldError, FormDefinition

MAX_ROWS = 50
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")

MESSAGES = {
    "required": _l("This field is required."),
    "type": _l("Must be %(expected)s."),
    "pattern": _l("Not in the expected format."),
    "minLength": _l("Must be at least %(limit)s characters."),
    "maxLength": _l("Must be at most %(limit)s characters."),
    "minimum": _l("Must be at least %(limit)s."),
    "maximum": _l("Must be at most %(limit)s."),
    "exclusiveMinimum": _l("Must be greater than %(limit)s."),
    "exclusiveMaximum": _l("Must be less than %(limit)s."),
    "multipleOf": _l("Must be a multiple of %(limit)s."),
    "enum": _l("Choose one of the options."),
    "const": _l("Not the expected value."),
    "oneOf": _l("Choose one of the options."),
    "anyOf": _l("Choose one of the options."),
    "format": _l("Not a valid %(limit)s."),
    "minItems": _l("Needs at least %(limit)s entries."),
    "maxItems": _l("Takes at most %(limit)s entries."),
    "uniqueItems": _l("The same entry appears twice."),
    "additionalProperties": _l("This field is not part of the form."),
    "readOnly": _l("This field cannot be changed."),
    "maxSize": _l("The file is larger than %(limit)s MiB."),
    "empty": _l("The file is empty."),
    "fileType": _l("The file must be a PDF, an image (JPEG, PNG, TIFF, WebP) or an office document."),
    "dataUrl": _l("The file could not be read."),
    "dossierSize": _l("With this file the dossier's files would exceed %(limit)s MiB."),
    "citizenId": _l("Enter the 12 digits of the citizen ID card (CCCD), for example 001203004567."),
    "phone": _l("Enter a Vietnamese phone number: 10 digits starting with 0, for example 0912 345 678, or +84."),
    "email": _l("Enter an email address such as ten@example.vn."),
    "dateRange": _l("Enter a date from %(first)s to %(last)s."),
    "futureDate": _l("This date cannot be in the future."),
}
CSRF_MESSAGE = _l("The page was open too long or came from elsewhere; please check the form and send it again.")
TYPE_WORDS = {"text": _l("text"), "a whole number": _l("a whole number"), "a number": _l("a number"),
              "yes or no": _l("yes or no"), "a list": _l("a list"), "a group of fields": _l("a group of fields")}
FORMAT_WORDS = {"date": _l("date"), "date-time": _l("date and time"), "email": _l("email address"),
                "time": _l("time"), "uri": _l("web address")}


def message_for(error: FieldError) -> str:
    """The field error in the page's language."""
    template = MESSAGES.get(error.code)
    if template is None:
        return error.message
    limit = error.limit
    if error.code == "format":
        limit = FORMAT_WORDS.get(limit, limit)
    expected = " / ".join(str(TYPE_WORDS.get(part, part)) for part in str(error.limit).split(" or ")) \
        if error.code == "type" else None
    if error.code == "dateRange" and isinstance(limit, tuple):
        return str(template) % {"first": limit[0].strftime("%d/%m/%Y"), "last": limit[1].strftime("%d/%m/%Y")}
    return str(template) % {"limit": limit, "expected": expected}


@dataclass
class Item:
    """How one property is drawn: its kind (text, textarea, number, checkbox, select, radio,
    checkboxes, date, datetime, email, tel, file, group, rows, hidden, note, readonly)."""

    name: str
    kind: str
    label: str
    help: str = ""
    required: bool = False
    schema: dict = field(default_factory=dict)
    children: list = field(default_factory=list)  # for group and rows: the items inside
    markdown: bool = False  # the help is Markdown (SpiffArena's ui:enableMarkdownInDescription)


def _choices(schema):
    """The options of an enum-like schema as WTForms choices, or None if it has none."""
    for key in ("oneOf", "anyOf"):
        if key in schema and all(isinstance(o, dict) and "const" in o for o in schema[key]):
            return [SelectChoice(str(o["const"]), str(o.get("title", o["const"]))) for o in schema[key]]
    if "enum" in schema:
        return [SelectChoice(str(v), str(v)) for v in schema["enum"]]
    return None


def _kind(schema, ui) -> str:
    widget = ui.get("ui:widget")
    if widget == "hidden":
        return "hidden"
    if schema.get("readOnly") or ui.get("ui:readonly") or ui.get("ui:disabled"):
        return "readonly"
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if kind == "null" or widget == "markdown":
        return "note"
    if kind == "object":
        return "group"
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if items.get("type") == "object":
            return "rows"
        return "checkboxes" if _choices(items) is not None else "lines"
    if _choices(schema) is not None:
        return "radio" if widget == "radio" else "select"
    if kind == "boolean":
        return "radio-bool" if widget == "radio" else "checkbox"
    if kind in ("integer", "number"):
        return "number"
    fmt = schema.get("format")
    if fmt == "data-url" or widget == "file":
        return "file"
    if fmt == "date" or widget == "date":
        return "date"
    if fmt == "date-time" or widget in ("datetime", "date-time"):
        return "datetime"
    if fmt == "email" or widget == "email":
        return "email"
    if widget == "tel":
        return "tel"
    if widget == "textarea" or fmt == "textarea" or (schema.get("maxLength") or 0) > 500:
        return "textarea"
    return "text"


def _ordered(schema, ui):
    props = schema.get("properties") or {}
    order = [n for n in (ui.get("ui:order") or []) if n in props and n != "*"]
    return order + [n for n in props if n not in order]


def _items(schema, ui) -> list[Item]:
    required = set(schema.get("required") or [])
    out = []
    for name in _ordered(schema, ui):
        sub = schema["properties"][name]
        if not isinstance(sub, dict):
            continue
        sub_ui = ui.get(name) if isinstance(ui.get(name), dict) else {}
        kind = _kind(sub, sub_ui)
        label = sub_ui.get("ui:title") or sub.get("title") or name
        help_text = sub_ui.get("ui:help") or sub_ui.get("ui:description") or sub.get("description") or ""
        item = Item(name, kind, str(label), str(help_text), name in required, sub,
                    markdown=sub_ui.get("ui:enableMarkdownInDescription") is True)
        if kind == "group":
            item.children = _items(sub, sub_ui)
        elif kind == "rows":
            row_ui = sub_ui.get("items") if isinstance(sub_ui.get("items"), dict) else {}
            item.children = _items(sub["items"], row_ui)
        out.append(item)
    return out


def _field(item: Item, ui: dict):
    kw = {"label": item.label, "description": item.help}
    attrs = {}
    if item.kind in ("text", "email", "tel", "textarea"):
        if item.schema.get("maxLength"):
            attrs["maxlength"] = item.schema["maxLength"]
        if ui.get("ui:placeholder"):
            attrs["placeholder"] = ui["ui:placeholder"]
    if item.kind == "textarea":
        attrs["rows"] = (ui.get("ui:options") or {}).get("rows") or ui.get("ui:rows") or 4
        return TextAreaField(render_kw=attrs, **kw)
    if item.kind in ("text", "email", "tel", "date", "datetime", "number", "lines"):
        widget = {"email": w.EmailInput, "tel": w.TelInput, "date": w.DateInput,
                  "datetime": w.DateTimeLocalInput}.get(item.kind, w.TextInput)()
        if item.kind == "number":
            attrs["inputmode"] = "numeric" if item.schema.get("type") == "integer" else "decimal"
        if item.kind == "tel":
            attrs["inputmode"] = "tel"
        if item.kind == "email":
            attrs["autocomplete"] = "email"
        return StringField(widget=widget, render_kw=attrs, **kw)
    if item.kind == "checkbox":
        return BooleanField(**kw)
    if item.kind == "radio-bool":
        return RadioField(choices=[SelectChoice("true", _l("Yes")), SelectChoice("false", _l("No"))],
                          validate_choice=False, **kw)
    if item.kind in ("select", "radio"):
        choices = _choices(item.schema)
        if item.kind == "select":
            return SelectField(choices=[SelectChoice("", "—")] + choices, validate_choice=False, **kw)
        return RadioField(choices=choices, validate_choice=False, **kw)
    if item.kind == "checkboxes":
        return SelectMultipleField(choices=_choices(item.schema["items"]), validate_choice=False,
                                   widget=w.ListWidget(prefix_label=False), option_widget=w.CheckboxInput(), **kw)
    if item.kind == "file":
        return FileField(**kw)
    if item.kind == "hidden":
        return HiddenField()
    return None  # readonly and note are drawn from the data, not submitted


@dataclass
class HtmlForm:
    """A definition's WTForms class and its layout (what to draw, in order)."""

    definition: FormDefinition
    form_class: type
    layout: list

    def build(self, data=None, submitted=False):
        """A form prefilled with data (the dossier's, or the schema's defaults), bound to the
        request's form and files when `submitted`."""
        if submitted:
            return self.form_class(data=_prefill(self.layout, data or {}))  # Flask-WTF reads the request
        return self.form_class(formdata=None, data=_prefill(self.layout, data or {}))

    def edit_rows(self, form, formdata) -> bool:
        """Apply an "add a row" / "remove a row" button (pages work without JavaScript); True if one was pressed."""
        target = formdata.get("_add_row") or formdata.get("_remove_row") or ""
        name, _, index = target.partition(":")
        rows = form._fields.get(name) if name else None
        if not isinstance(rows, FieldList):
            return False
        if formdata.get("_add_row") and len(rows.entries) < MAX_ROWS:
            rows.append_entry()
        elif formdata.get("_remove_row") and index.isdigit() and int(index) < len(rows.entries):
            kept = [e.data for i, e in enumerate(rows.entries) if i != int(index)]
            while rows.entries:
                rows.pop_entry()
            for row in kept or [{}]:
                rows.append_entry(row)
        return True


def _subclass(items, ui, base):
    attrs = {}
    for item in items:
        sub_ui = ui.get(item.name) if isinstance(ui.get(item.name), dict) else {}
        if item.kind == "group":
            attrs[item.name] = FormField(_subclass(item.children, sub_ui, Form), label=item.label)
        elif item.kind == "rows":
            row_ui = sub_ui.get("items") if isinstance(sub_ui.get("items"), dict) else {}
            attrs[item.name] = FieldList(FormField(_subclass(item.children, row_ui, Form)), label=item.label,
                                         min_entries=1, max_entries=MAX_ROWS)
        else:
            made = _field(item, sub_ui)
            if made is not None:
                attrs[item.name] = made
    return type("GeneratedForm", (base,), attrs)


_cache: dict = {}  # id(schema) -> (schema, HtmlForm); schemas live as long as their cached model


def html_form(definition: FormDefinition) -> HtmlForm:
    """The HTML form of a definition, generated once per form version (each time for a form whose
    choices come from one task's data)."""
    if definition.dynamic:
        layout = _items(definition.schema, definition.ui)
        return HtmlForm(definition, _subclass(layout, definition.ui, FlaskForm), layout)
    entry = _cache.get(id(definition.schema))
    if entry is None or entry[0] is not definition.schema:
        layout = _items(definition.schema, definition.ui)
        entry = (definition.schema, HtmlForm(definition, _subclass(layout, definition.ui, FlaskForm), layout))
        _cache[id(definition.schema)] = entry
        if len(_cache) > 2048:
            _cache.clear()
    return entry[1]


def _prefill(layout, data):
    out = {}
    for item in layout:
        value = data.get(item.name, item.schema.get("default"))
        if value is None:
            continue
        if item.kind == "group" and isinstance(value, dict):
            out[item.name] = _prefill(item.children, value)
        elif item.kind == "rows" and isinstance(value, list):
            out[item.name] = [_prefill(item.children, v) for v in value if isinstance(v, dict)]
        elif item.kind in ("select", "radio", "hidden"):
            out[item.name] = str(value)
        elif item.kind == "radio-bool":
            out[item.name] = "true" if value is True else "false" if value is False else None
        elif item.kind == "checkboxes" and isinstance(value, list):
            out[item.name] = [str(v) for v in value]
        elif item.kind == "lines" and isinstance(value, list):
            out[item.name] = ", ".join(str(v) for v in value)
        elif item.kind == "datetime" and isinstance(value, str):
            out[item.name] = value[:16]
        elif item.kind not in ("file", "note"):
            out[item.name] = value
    return out


def submitted(html: HtmlForm, form, earlier: dict | None = None):
    """(data, files) of a bound form: values typed by the schema, empty fields left out, files by path."""
    files = {}
    data = _collect(html.layout, form, earlier or {}, files, [])
    return data, files


def _collect(layout, form, earlier, files, path):
    out = {}
    for item in layout:
        if item.kind in ("note",):
            continue
        if item.kind == "readonly":
            if item.name in earlier:
                out[item.name] = earlier[item.name]
            continue
        wtf = form[item.name]
        if item.kind == "group":
            value = _collect(item.children, wtf.form, earlier.get(item.name) or {}, files, [*path, item.name])
            if value:
                out[item.name] = value
            continue
        if item.kind == "rows":
            rows = []
            for i, entry in enumerate(wtf.entries):
                row = _collect(item.children, entry.form, {}, files, [*path, item.name, str(i)])
                if row:
                    rows.append(row)
            if rows:
                out[item.name] = rows
            continue
        if item.kind == "file":
            upload = wtf.data
            if upload is not None and getattr(upload, "filename", ""):
                files["/".join([*path, item.name])] = upload
            elif item.name in earlier:
                out[item.name] = earlier[item.name]
            continue
        value = _typed(item, wtf.data)
        if value is not None:
            out[item.name] = value
    return out


def _typed(item: Item, raw):
    if item.kind == "checkbox":
        return bool(raw)
    if item.kind == "radio-bool":
        return {"true": True, "false": False}.get(raw)
    if item.kind == "checkboxes":
        consts = {str(o.get("const")): o.get("const") for o in item.schema["items"].get("oneOf", [])
                  if isinstance(o, dict)}
        return [consts.get(v, v) for v in raw or []] or None
    if raw is None:
        return None
    text = str(raw).strip()
    if text == "":
        return None
    if item.kind in ("select", "radio"):
        options = item.schema.get("oneOf") or item.schema.get("anyOf") or [{"const": v} for v in item.schema.get("enum", [])]
        for option in options:
            if isinstance(option, dict) and str(option.get("const")) == text:
                return option["const"]
        return text
    if item.kind == "number":
        number = text.replace(" ", "").replace("\u00a0", "")
        try:
            return int(number) if item.schema.get("type") == "integer" else _number(number)
        except ValueError:
            return text  # the schema says why it is wrong
    if item.kind == "datetime" and _LOCAL_DATETIME.match(text):
        return (text if len(text) > 16 else text + ":00") + "+07:00"  # entered in Vietnam's time
    if item.kind == "lines":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _number(text):
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() and "." not in text and "," not in text else value


def put_errors(html: HtmlForm, form, errors: list[FieldError]) -> list[str]:
    """Attach each error to its field; return those that belong to no field (shown at the top)."""
    loose = []
    for error in errors:
        target = _locate(form, error.field.split("/") if error.field else [])
        message = message_for(error)
        if target is None:
            loose.append(message)
        else:
            target.errors = list(target.errors or []) + [message]
    return loose


def _locate(form, parts):
    """The field a path names (a/b/0/c), or None when it names no single field."""
    current = form
    for part in parts:
        if isinstance(current, FormField):
            current = current.form
        if isinstance(current, FieldList) and part.isdigit() and int(part) < len(current.entries):
            current = current.entries[int(part)]
        elif isinstance(current, Form) and part in current._fields:
            current = current[part]
        else:
            break
    return None if isinstance(current, Form | FormField) else current

