"""Choices taken from the task's data: SpiffArena's `options_from_task_data_var:NAME`.

A SpiffArena form may stand `["options_from_task_data_var:fruits"]` where a list of choices belongs
(`anyOf`, `oneOf`, `enum`, or an array's `items`); the choices are then the task data's `fruits`:
a list of {"value": ..., "label": ...} or of plain values. The stored form keeps the marker; each
time a task's form is shown or a submission is checked, `fill` puts the task's current choices in
its place, so the form drawn and the check on submit agree. A missing or malformed variable offers
no choice (the field cannot be answered) rather than failing the page.
"""

from __future__ import annotations

import copy
import re

from .memo import per_form_object

PREFIX = "options_from_task_data_var:"
_KEYS = ("anyOf", "oneOf", "enum", "items")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_OPTIONS = 2000


def _marker(key, value) -> str | None:
    """The variable a keyword's value names, if it is a marker (a list of one "options_from_..." text)."""
    if key in _KEYS and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) \
            and value[0].startswith(PREFIX):
        return value[0][len(PREFIX):]
    return None


def markers(schema) -> list[tuple[list, str]]:
    """(path of the keyword, variable name) for each marker in the schema."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                name = _marker(key, value)
                if name is not None:
                    found.append(([*path, key], name))
                else:
                    walk(value, [*path, key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, [*path, i])

    walk(schema, [])
    return found


@per_form_object(2048)
def has_markers(schema) -> bool:
    """Whether the schema holds a marker: `markers` walked once per schema object, not at every submission."""
    return bool(markers(schema))


def bad_names(schema) -> list[tuple[list, str]]:
    """(path of the marker, message) for each marker whose variable is not a plain name."""
    return [([*path, 0], f"options are taken from task data variable {name!r}, which is not a variable name "
                         "(letters, digits and _)") for path, name in markers(schema) if not _NAME.match(name)]


def choices(value) -> list[dict]:
    """The task data's value as JSON Schema choices [{"const", "title"}], without repeats; [] if it is
    not a list of {"value", "label"} objects or of plain values."""
    out, seen = [], set()
    if not isinstance(value, list):
        return out
    for entry in value[:MAX_OPTIONS]:
        if isinstance(entry, dict) and "value" in entry:
            const, title = entry["value"], entry.get("label", entry["value"])
        else:
            const, title = entry, entry
        if not isinstance(const, str | int | float | bool) or (type(const), const) in seen:
            continue
        seen.add((type(const), const))
        out.append({"const": const, "title": str(title)})
    return out


def fill(schema, data: dict, placeholder: bool = False):
    """A copy of the schema with each marker replaced by the choices the data holds (the schema
    itself when it has none). With `placeholder`, one stand-in choice each: what the upload check sees."""
    if not has_markers(schema):
        return schema
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            for key in list(node):
                name = _marker(key, node[key])
                if name is None:
                    walk(node[key])
                    continue
                found = [{"const": "option"}] if placeholder else choices((data or {}).get(name))
                del node[key]
                if key == "items":
                    node["items"] = {"oneOf": found} if found else {"enum": []}
                elif found:
                    node["anyOf" if key == "anyOf" else "oneOf"] = found
                else:
                    node["enum"] = []
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema
