"""Form definitions as data: the JSON Schema subset onestop renders and enforces, checked at upload.

A form is a JSON Schema (draft 2020-12) plus an optional UI schema (the react-jsonschema-form
convention SpiffArena uses). Every keyword is either understood by the renderer and the validator
or refused with the form's name and the JSON pointer where it stands, so that nothing an
administrator writes is silently ignored. Submitted data is NFC-normalised (Vietnamese arrives in
NFC and in NFD) and validated against the schema itself: the HTML form and the REST API share
this one truth.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote

import jsonschema
import referencing
import referencing.exceptions

from . import options
from .memo import per_form_object
from .patterns import Validator, check_pattern

# Keywords that say what a value is, shape the form, or are annotations the renderer shows.
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples", "readOnly",
               "writeOnly", "deprecated"}
STRUCTURE = {"type", "properties", "required", "items", "additionalProperties", "$defs", "definitions", "$ref",
             "allOf"}
CHOICES = {"enum", "const", "oneOf", "anyOf"}
CONDITIONS = {"if", "then", "else", "dependentRequired", "dependentSchemas", "dependencies"}
BOUNDS = {"minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
          "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
          "maxProperties"}
SUPPORTED = ANNOTATIONS | STRUCTURE | CHOICES | CONDITIONS | BOUNDS
TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
# date/date-time/time/email are checked (citizen-id, phone and email also by formats.py); data-url is an attachment (the react-jsonschema-form
# convention for a file field); the others are shown as hints only, which is what they are.
FORMATS = {"date", "date-time", "time", "email", "data-url", "uri", "textarea", "citizen-id", "phone"}
SCHEMA_DIALECTS = {"https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#",
                   "http://json-schema.org/draft-07/schema", "https://json-schema.org/draft/2019-09/schema"}
MAX_DEPTH = 12
MAX_NODES = 5000


@dataclass(frozen=True)
class FormProblem:
    form: str
    pointer: str
    message: str

    def __str__(self):
        return f"form {self.form} at {self.pointer or '/'}: {self.message}"


@dataclass
class FormDefinition:
    """One form: its name, its JSON Schema and its UI schema (both plain JSON)."""

    name: str
    schema: dict
    ui: dict = field(default_factory=dict)
    dynamic: bool = False  # its choices were filled in from one task's data: not to be cached as the form's own

    def as_dict(self) -> dict:
        return {"name": self.name, "schema": self.schema, "ui": self.ui}

    @classmethod
    def from_dict(cls, data: dict) -> FormDefinition:
        return cls(data["name"], data["schema"], data.get("ui") or {})


def _pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check_schema(name: str, schema) -> list[FormProblem]:
    """Every problem of a form's JSON Schema that onestop would not honour, with its JSON pointer."""
    problems: list[FormProblem] = [FormProblem(name, _pointer(path), message) for path, message in options.bad_names(schema)]
    if problems:
        return problems
    schema = options.fill(schema, {}, placeholder=True)  # checked with a stand-in for the task data's choices
    nodes = [0]

    def problem(path, message):
        problems.append(FormProblem(name, _pointer(path), message))

    def walk(node, path, depth):
        nodes[0] += 1
        if nodes[0] > MAX_NODES:
            if nodes[0] == MAX_NODES + 1:
                problem(path, f"the form is too large (more than {MAX_NODES} schema nodes)")
            return
        if depth > MAX_DEPTH:
            problem(path, f"the form is nested more than {MAX_DEPTH} levels deep")
            return
        if isinstance(node, bool):
            return  # true/false are valid schemas (anything / nothing)
        if not isinstance(node, dict):
            problem(path, "a schema must be a JSON object")
            return
        for key, value in node.items():
            here = [*path, key]
            if key not in SUPPORTED:
                problem(here, f"keyword {key!r} is not supported by onestop's forms")
            elif key == "type":
                kinds = value if isinstance(value, list) else [value]
                for kind in kinds:
                    if not isinstance(kind, str) or kind not in TYPES:
                        problem(here, f"unknown type {kind!r}")
            elif key == "format" and (not isinstance(value, str) or value not in FORMATS):
                problem(here, f"format {value!r} is not supported (use one of: {', '.join(sorted(FORMATS))})")
            elif key == "pattern":
                _check_pattern(value, here, problem)
            elif key == "$ref":
                if not isinstance(value, str) or not value.startswith("#/"):
                    problem(here, "only references inside the same form (\"#/$defs/...\") are allowed")
                else:
                    references.append((here, value))
            elif key == "$id" and path:
                # A nested $id makes the references below it mean another (remote) document.
                problem(here, "only the form's top level may have an $id")
            elif key == "$schema" and (not isinstance(value, str) or value not in SCHEMA_DIALECTS):
                problem(here, f"unknown JSON Schema dialect {value!r} (use draft 2020-12)")
            elif key in ("properties", "$defs", "definitions", "dependentSchemas"):
                if not isinstance(value, dict):
                    problem(here, f"{key} must be an object")
                else:
                    for child, sub in value.items():
                        walk(sub, [*here, child], depth + 1)
            elif key == "dependencies":
                if not isinstance(value, dict):
                    problem(here, "dependencies must be an object")
                else:
                    for child, sub in value.items():
                        if not (isinstance(sub, list) and all(isinstance(s, str) for s in sub)):
                            walk(sub, [*here, child], depth + 1)
            elif key in ("items", "additionalProperties", "if", "then", "else"):
                walk(value, here, depth + 1)
            elif key in ("oneOf", "anyOf", "allOf"):
                if not isinstance(value, list) or not value:
                    problem(here, f"{key} must be a non-empty list of schemas")
                else:
                    for i, sub in enumerate(value):
                        walk(sub, [*here, i], depth + 1)
            elif key == "required" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problem(here, "required must be a list of field names")

    references: list = []
    walk(schema, [], 0)
    if not problems:
        problems.extend(FormProblem(name, _pointer(path), f"the reference {ref!r} points to nothing in this form")
                        for path, ref in references if _target(schema, ref) is _NOWHERE)
    if not problems and _loops(schema, [ref for _path, ref in references]):
        problems.append(FormProblem(name, "", "the form's references lead back to themselves without a field "
                                              "in between"))
    if not problems:
        wrong = _metaschema_error(json.dumps(schema, sort_keys=True, ensure_ascii=False))
        if wrong is not None:
            problems.append(FormProblem(name, *wrong))
    if not problems and isinstance(schema, dict) and schema.get("type", "object") != "object":
        problems.append(FormProblem(name, "/type", "a form's top level must be an object (its fields)"))
    return problems


@functools.lru_cache(maxsize=1024)
def _metaschema_error(text: str) -> tuple[str, str] | None:
    """(pointer, message) of the first way the schema (as canonical JSON text) breaks Draft 2020-12's
    meta-schema, or None. Remembered by text: the check costs about 6 ms, and the same forms are
    checked again at every upload, rollout to a commune and draft review.

    A schema the compiled meta-schema (_compiled_metaschema, ~100 times faster) finds valid is valid;
    one it refuses is checked by jsonschema too, whose message and pointer the administrator reads."""
    compiled = _compiled_metaschema()
    if compiled is not None and compiled.is_valid(json.loads(text)):
        return None
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(text))
    except jsonschema.SchemaError as exc:
        return _pointer(exc.absolute_path), exc.message
    return None


@functools.cache
def _compiled_metaschema():
    """Draft 2020-12's meta-schema compiled by jsonschema-rs (whatever $schema the form names, as
    jsonschema's Draft202012Validator.check_schema does), or None where it would not judge as that does.

    It asserts no format. Of the meta-schema's formats (regex, uri, uri-reference) jsonschema asserts
    `regex` always, which check_schema has asserted before (every pattern compiled with `re`), and the
    URI ones only when an optional library is installed: then jsonschema alone judges."""
    if {"uri", "uri-reference"} & set(jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers):
        return None
    import jsonschema_rs  # imported here: only uploads and starts that load models check forms

    return jsonschema_rs.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)


_NOWHERE = object()


def _target(schema, ref: str):
    """What a "#/..." reference points to inside the schema, or _NOWHERE."""
    node = schema
    for raw in unquote(ref[2:]).split("/") if len(ref) > 2 else [""]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _NOWHERE
    return node


# Keywords whose schemas apply to the same value as the schema holding them (no field in between).
_IN_PLACE = ("allOf", "anyOf", "oneOf", "if", "then", "else", "dependentSchemas")


def _loops(schema, references) -> bool:
    """Whether following references (and the keywords that stay on the same value) comes back to
    where it started: validating any value would then recurse without end."""

    def in_place(node):
        if not isinstance(node, dict):
            return []
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for key in _IN_PLACE:
            value = node.get(key)
            subs = value if isinstance(value, list) else list(value.values()) if key == "dependentSchemas" and \
                isinstance(value, dict) else [value]
            for sub in subs:
                found.extend(in_place(sub))
        return found

    graph = {ref: in_place(_target(schema, ref)) for ref in references}
    done, active = set(), set()

    def visit(ref):
        if ref in active:
            return True
        if ref in done:
            return False
        active.add(ref)
        looped = any(visit(nxt) for nxt in graph.get(ref, ()) if nxt in graph)
        active.discard(ref)
        done.add(ref)
        return looped

    return any(visit(ref) for ref in graph)


def _check_pattern(value, path, problem):
    # Submissions are matched by RE2 (patterns.py): what it cannot compile cannot be used.
    reason = check_pattern(value)
    if reason:
        problem(path, reason)
        return
    try:
        re.compile(value)  # jsonschema's own check of the schema compiles it with `re` too
    except re.error as exc:
        problem(path, f"pattern is not a valid regular expression: {exc}")
        return
    # Nested quantifiers such as (a+)+ can take exponential time on a crafted input.
    if re.search(r"\([^)]*[+*][^)]*\)[+*{]", value):
        problem(path, "pattern has a repeated group containing a repetition (e.g. (a+)+): it can take "
                      "exponential time; simplify it")


UI_KEYS = {"ui:order", "ui:widget", "ui:title", "ui:description", "ui:help", "ui:placeholder", "ui:readonly",
           "ui:disabled", "ui:hidden", "ui:options", "ui:autofocus", "ui:enumNames", "ui:rows", "ui:label",
           "ui:classNames", "ui:field", "ui:submitButtonOptions", "ui:autocomplete", "ui:inputType",
           "ui:emptyValue", "ui:enableMarkdownInDescription"}
WIDGETS = {"text", "textarea", "email", "tel", "password", "select", "radio", "checkbox", "checkboxes",
           "date", "datetime", "date-time", "time", "updown", "number", "file", "hidden", "markdown", "range",
           "TypeaheadWidget", "formattedNumber"}


def check_ui(name: str, ui, schema) -> list[FormProblem]:
    """Problems of a UI schema that refuse the form: not an object, a malformed ui:order or
    ui:widget, field names the schema does not have."""
    return [p for level, p in _ui_findings(name, ui, schema) if level == "problem"]


def ui_warnings(name: str, ui, schema) -> list[FormProblem]:
    """What a UI schema asks that onestop ignores: ui: keys and widgets it does not know. These are
    cosmetic (react-jsonschema-form and SpiffArena add new ones often); the form works without them."""
    return [p for level, p in _ui_findings(name, ui, schema) if level == "warning"]


def _ui_findings(name: str, ui, schema) -> list[tuple[str, FormProblem]]:
    if not isinstance(ui, dict):
        return [("problem", FormProblem(name, "", "a UI schema must be a JSON object"))]
    found: list[tuple[str, FormProblem]] = []

    def add(level, here, message):
        found.append((level, FormProblem(name, _pointer(here), message)))

    def walk(node, sub_schema, path):
        props = sub_schema.get("properties", {}) if isinstance(sub_schema, dict) else {}
        for key, value in node.items():
            here = [*path, key]
            if key.startswith("ui:"):
                if key not in UI_KEYS:
                    add("warning", here, f"UI key {key!r} is not known to onestop; it is ignored")
                elif key == "ui:widget" and not isinstance(value, str):
                    add("problem", here, "ui:widget must be the name of a widget")
                elif key == "ui:widget" and value not in WIDGETS:
                    add("warning", here, f"widget {value!r} is not known to onestop; the field is shown with "
                                         f"the usual input for its type (known: {', '.join(sorted(WIDGETS))})")
                elif key == "ui:order" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    add("problem", here, "ui:order must be a list of field names")
            elif key == "items" and isinstance(value, dict):
                walk(value, sub_schema.get("items", {}) if isinstance(sub_schema, dict) else {}, here)
            elif key in props:
                if isinstance(value, dict):
                    walk(value, props[key], here)
            else:
                add("problem", here, f"the UI schema names field {key!r} that the form does not have")

    walk(ui, schema if isinstance(schema, dict) else {}, [])
    return found


def normalise(value):
    """The value with every string (and key) in Unicode NFC, so length checks and storage agree."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {normalise(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


@per_form_object(2048)
def _validator(schema):
    # Draft 2020-12, with `pattern` matched by RE2 in linear time (never by backtracking `re`), and an
    # empty registry: a reference that is not inside the form fails; jsonschema's default would
    # fetch it over the network.
    return Validator(schema, format_checker=Validator.FORMAT_CHECKER, registry=referencing.Registry())


MESSAGES = {
    "required": "this field is required",
    "type": "must be {expected}",
    "pattern": "is not in the expected format",
    "minLength": "must be at least {limit} characters",
    "maxLength": "must be at most {limit} characters",
    "minimum": "must be at least {limit}",
    "maximum": "must be at most {limit}",
    "exclusiveMinimum": "must be greater than {limit}",
    "exclusiveMaximum": "must be less than {limit}",
    "multipleOf": "must be a multiple of {limit}",
    "enum": "is not one of the choices",
    "const": "is not the expected value",
    "oneOf": "is not one of the choices",
    "anyOf": "is not one of the choices",
    "format": "is not a valid {limit}",
    "minItems": "needs at least {limit} entries",
    "maxItems": "takes at most {limit} entries",
    "uniqueItems": "has the same entry twice",
    "additionalProperties": "has a field the form does not have",
}
TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "yes or no",
              "object": "a group of fields", "array": "a list", "null": "empty"}


@dataclass(frozen=True)
class FieldError:
    """One error of submitted data: the field (a/b/0/c path), a stable code and a plain message."""

    field: str
    code: str
    message: str
    limit: object = None

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}


def read_only_fields(schema, ui=None) -> list[tuple[str, ...]]:
    """The paths of the fields the form shows but does not let anyone change: `readOnly` in the schema,
    or `ui:readonly` / `ui:disabled` in the UI schema (as the HTML form draws them), within nested groups.
    Walked once per form object (every submission asks)."""
    return list(_read_only_fields(schema, ui or None))  # (a form without a UI schema is often given a fresh {})


@per_form_object(2048)
def _read_only_fields(schema, ui) -> tuple[tuple[str, ...], ...]:
    found = []

    def walk(node, ui_node, path):
        if not isinstance(node, dict):
            return
        ui_node = ui_node if isinstance(ui_node, dict) else {}
        for name, sub in (node.get("properties") or {}).items():
            sub_ui = ui_node.get(name) if isinstance(ui_node.get(name), dict) else {}
            if isinstance(sub, dict) and (sub.get("readOnly") is True or sub_ui.get("ui:readonly") is True
                                          or sub_ui.get("ui:disabled") is True):
                found.append((*path, name))
            else:
                walk(sub, sub_ui, (*path, name))

    walk(schema, ui, ())
    return tuple(found)


def read_only_changes(schema, ui, submitted: dict, current: dict) -> list[FieldError]:
    """A field error for each read-only field whose submitted value differs from its current one (a
    client may send back unchanged what it was shown; it may not change it)."""
    missing = object()

    def at(data, path):
        for part in path:
            if not isinstance(data, dict) or part not in data:
                return missing
            data = data[part]
        return data

    return [FieldError("/".join(path), "readOnly", "this field is read-only")
            for path in read_only_fields(schema, ui)
            if at(submitted, path) is not missing and at(submitted, path) != at(current, path)]


# The keywords whose judgement jsonschema-rs gives exactly as `Validator` (jsonschema) does, the formats jsonschema
# asserts being handed to jsonschema-rs as jsonschema's own checks (tests/formdefs/test_schema.py holds both to the
# same answers). Not here: `pattern` (RE2 here, another engine there), `multipleOf` (float arithmetic), references
# and other drafts' keywords.
_FAST_KEYWORDS = frozenset({
    "type", "properties", "required", "items", "additionalProperties", "allOf", "anyOf", "oneOf", "not", "if", "then",
    "else", "dependentRequired", "enum", "const", "minLength", "maxLength", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated", "$comment", "$schema"})
_SUBSCHEMA = frozenset({"items", "additionalProperties", "not", "if", "then", "else"})
_SUBSCHEMAS = frozenset({"allOf", "anyOf", "oneOf"})


def _fast_keywords_only(node, depth=0) -> bool:
    """Whether a (sub)schema uses none but _FAST_KEYWORDS, and names Draft 2020-12 if it names a dialect."""
    if isinstance(node, bool):
        return True
    if not isinstance(node, dict) or depth > MAX_DEPTH or not _FAST_KEYWORDS.issuperset(node):
        return False
    if node.get("$schema", "https://json-schema.org/draft/2020-12/schema") != "https://json-schema.org/draft/2020-12/schema":
        return False
    for key, value in node.items():
        if key in _SUBSCHEMA and not _fast_keywords_only(value, depth + 1):
            return False
        if key in _SUBSCHEMAS and not (isinstance(value, list) and all(_fast_keywords_only(v, depth + 1) for v in value)):
            return False
        if key == "properties" and not (isinstance(value, dict)
                                        and all(_fast_keywords_only(v, depth + 1) for v in value.values())):
            return False
    return True


def _asserted_format(name):
    return functools.partial(_conforms, name)


def _conforms(name, value) -> bool:
    return Validator.FORMAT_CHECKER.conforms(value, name)


# Compiled schemas kept per process: 512, as one takes ~14 kB (jsonschema's own validator ~1.5 kB), and compiling one
# again (~70 us) still costs less than jsonschema's check it replaces.
@per_form_object(512)
def _fast_validator(schema):
    """The form's schema compiled by jsonschema-rs when it uses only _FAST_KEYWORDS (else None), kept by identity as
    `_validator` keeps jsonschema's: the check of data that fits costs ~1 us instead of ~100."""
    if not _fast_keywords_only(schema):
        return None
    import jsonschema_rs  # imported here, as _compiled_metaschema does

    try:
        return jsonschema_rs.Draft202012Validator(
            schema, validate_formats=True, offline=True,
            formats={name: _asserted_format(name) for name in Validator.FORMAT_CHECKER.checkers})
    except Exception:  # noqa: BLE001 (a schema it will not compile is judged by jsonschema alone)
        return None


def fits(schema, data) -> bool | None:
    """True when jsonschema-rs finds the data fits a form it judges as jsonschema does; None when it cannot say
    (the form uses other keywords, or the data is refused or is not plain JSON): then jsonschema judges."""
    compiled = _fast_validator(schema)
    if compiled is None:
        return None
    try:
        return True if compiled.is_valid(data) else None
    except Exception:  # noqa: BLE001 (not JSON it can read, e.g. a lone surrogate: jsonschema judges it)
        return None


def validate(schema, data) -> list[FieldError]:
    """The field errors of data against the form's schema, in field order; [] when it fits. Data that fits is
    recognised by jsonschema-rs when the form allows (`fits`); jsonschema names every error of data that does not."""
    if not isinstance(schema, dict):
        return []
    if fits(schema, data):
        return []
    errors = []
    try:
        for error in _validator(schema).iter_errors(data):
            for leaf in _leaves(error):
                errors.extend(_field_errors(leaf))
    except (referencing.exceptions.Unresolvable, RecursionError):
        # A form stored before its references were checked at upload: refuse clearly, never crash.
        return [FieldError("", "form", "this step's form cannot be checked: its references point outside it "
                                       "or loop; the procedure needs a corrected version")]
    unique = {(e.field, e.code): e for e in errors}
    return sorted(unique.values(), key=lambda e: e.field)


def _leaves(error):
    """For a failed oneOf/anyOf of objects, the most specific errors; otherwise the error itself."""
    if error.validator in ("if", "allOf") and error.context:
        return [leaf for sub in error.context for leaf in _leaves(sub)]
    return [error]


def _field_errors(error) -> list[FieldError]:
    path = [str(p) for p in error.absolute_path]
    code = error.validator
    limit = error.validator_value
    if code == "required":  # one error per missing field (jsonschema's do not say which one each is)
        instance = error.instance if isinstance(error.instance, dict) else {}
        return [FieldError("/".join([*path, name]), code, MESSAGES[code])
                for name in error.validator_value if name not in instance]
    if code == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        limit = " or ".join(TYPE_WORDS.get(k, k) for k in kinds)
    elif code == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        path.append(extra[0] if extra else "")
    template = MESSAGES.get(code)
    message = template.format(expected=limit, limit=limit) if template else error.message
    return [FieldError("/".join(path), code, message, limit)]
