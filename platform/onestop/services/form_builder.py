"""The form builder's verbs: list a draft's forms, open one as a form-js document, check a document
(for the preview and before saving), save it into the draft, start a new form, and offer the
ready-made fields and blocks.

A form named `receive` is the SpiffArena pair `receive-schema.json` (+ `receive-uischema.json`):
the builder edits it as form-js and stores JSON Schema again (formdefs/formjs.py says why). A form
named `receive.form` is a Camunda form-js file and is stored as the editor leaves it. Saving goes
through drafts.save with the revision the page was opened at: either every file of the form is
written or none is, and a second administrator is told who saved in between.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from .. import boundedjson
from ..formdefs import FormDefinition, check_schema
from ..formdefs.blocks import blocks
from ..formdefs.camunda import from_form_js as camunda_form
from ..formdefs.formjs import (
    BOOK,
    CITIZEN_ID_PATTERN,
    PHONE_PATTERN,
    BuilderProblem,
    from_form_js,
    to_form_js,
)
from . import drafts
from .errors import Forbidden, Invalid, NotFound

SCHEMA_SUFFIX = "-schema.json"
UI_SUFFIX = "-uischema.json"
FORM_SUFFIX = ".form"
NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,62}$")
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FormFile:
    """One form of a draft as the list shows it."""

    name: str  # what the builder's address names: "receive" or "receive.form"
    file: str
    ui_file: str | None  # SpiffArena's formUiSchemaFilename, when the draft has one
    title: str
    fields: int
    dialect: str  # "json-schema" (SpiffArena) or "form-js" (Camunda)


@dataclass(frozen=True)
class OpenForm:
    """A form opened in the builder: its form-js document and the draft revision it was read at."""

    name: str
    dialect: str
    document: dict
    revision: int
    code: str | None
    edited_by: str | None
    edited_at: object
    documents: tuple  # procedure.json "documents": the papers the applicant brings


def _authorise(actor):
    if not actor.has_role(*drafts.DRAFT_ROLES):
        raise Forbidden("only an administrator edits procedures")


def _parse(content: bytes, what: str):
    try:
        return boundedjson.loads(content, max_bytes=MAX_DOCUMENT_BYTES)
    except boundedjson.Refused as exc:
        raise Invalid(f"{what} is not usable JSON: {exc}") from None


def files_of(name: str) -> tuple[str, str, str | None]:
    """(dialect, form file, UI schema file or None) of a form name; Invalid for a name the builder
    does not make."""
    if name.endswith(FORM_SUFFIX) and NAME.match(name[: -len(FORM_SUFFIX)]):
        return "form-js", name, None
    if NAME.match(name):
        return "json-schema", name + SCHEMA_SUFFIX, name + UI_SUFFIX
    raise Invalid("a form's name is lower-case letters, digits and _ (for example: receive, appraise_result)")


def list_forms(actor, draft_id) -> tuple[drafts.DraftState, list[FormFile]]:
    """The draft (its revision, who saved last) and its forms, by name."""
    _authorise(actor)
    state = drafts.state(actor, draft_id)
    found = []
    for f in state.files:
        if f.name.endswith(SCHEMA_SUFFIX) and NAME.match(f.name[: -len(SCHEMA_SUFFIX)]):
            name, dialect = f.name[: -len(SCHEMA_SUFFIX)], "json-schema"
        elif f.name.endswith(FORM_SUFFIX) and NAME.match(f.name[: -len(FORM_SUFFIX)]):
            name, dialect = f.name, "form-js"
        else:
            continue
        try:
            document = boundedjson.loads(f.content, max_bytes=MAX_DOCUMENT_BYTES)
        except boundedjson.Refused:
            document = {}
        document = document if isinstance(document, dict) else {}
        if dialect == "json-schema":
            title, fields = document.get("title"), len(document.get("properties") or {})
        else:
            title, fields = None, sum(1 for c in document.get("components") or [] if isinstance(c, dict) and c.get("key"))
        ui_file = name + UI_SUFFIX if dialect == "json-schema" and state.file(name + UI_SUFFIX) else None
        found.append(FormFile(name, f.name, ui_file, str(title or name), fields, dialect))
    return state, sorted(found, key=lambda f: f.name)


def open_form(actor, draft_id, name) -> OpenForm:
    """A form of the draft as the builder edits it; NotFound when the draft has no such form."""
    _authorise(actor)
    dialect, form_file, ui_file = files_of(name)
    state = drafts.state(actor, draft_id)
    stored = state.file(form_file)
    if stored is None:
        raise NotFound("the draft has no such form")
    content = _parse(stored.content, form_file)
    if dialect == "form-js":
        if not isinstance(content, dict):
            raise Invalid(f"{form_file} is not a form-js document")
        document = content
    else:
        problems = check_schema(form_file, content)
        if problems:  # a draft keeps what was uploaded; the builder edits only forms onestop accepts
            raise Invalid(f"{problems[0]}; correct the file and upload it again")
        ui = state.file(ui_file)
        ui_content = _parse(ui.content, ui_file) if ui is not None else {}
        document = to_form_js(content, ui_content if isinstance(ui_content, dict) else {}, form_id=f"Form_{name}")
    return OpenForm(name, dialect, document, state.revision, state.code, state.edited_by, state.edited_at,
                    tuple(_documents(state)))


def _documents(state) -> list[str]:
    meta = state.file("procedure.json")
    if meta is None:
        return []
    try:
        content = boundedjson.loads(meta.content, max_bytes=MAX_DOCUMENT_BYTES)
    except boundedjson.Refused:
        return []
    papers = content.get("documents") if isinstance(content, dict) else None
    if not isinstance(papers, list):
        return []
    # A paper is its name, or an object naming it with its counts (as the templates write them).
    names = (p.get("name") if isinstance(p, dict) else p for p in papers)
    return [n.strip() for n in names if isinstance(n, str) and n.strip()]


def check(name: str, document) -> tuple[FormDefinition, dict]:
    """The form a document defines, as onestop will render it, and the files saving it writes
    ({file: bytes}); Invalid with every problem (BuilderProblem dicts in `details`) otherwise."""
    dialect, form_file, ui_file = files_of(name)
    schema, ui, problems = from_form_js(form_file, document)
    if not problems and dialect == "form-js":
        definition, camunda_problems = camunda_form(form_file, document)
        problems = [BuilderProblem("schema", detail=str(p)) for p in camunda_problems]
        if not problems:
            return definition, {form_file: _dumps(document)}
    if problems:
        raise Invalid(f"the form has {len(problems)} problem(s)", details=[p.as_dict() for p in problems])
    changes = {form_file: _dumps(schema), ui_file: _dumps(ui) if ui else None}
    return FormDefinition(form_file, schema, ui), changes


def preview(actor, draft_id, name, document) -> FormDefinition:
    """The form a (possibly unsaved) document of one of the actor's drafts defines, as onestop will
    render it; NotFound for another centre's draft, Invalid with the problems otherwise."""
    _authorise(actor)
    drafts.state(actor, draft_id)
    return check(name, document)[0]


def _dumps(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def save_form(actor, draft_id, name, document, revision: int) -> int:
    """Check the document and write its files into the draft at `revision`; the new revision.
    Invalid (nothing written) when the form has problems; Conflict when someone saved in between."""
    _authorise(actor)
    state = drafts.state(actor, draft_id)  # another centre's draft is not found, whatever the document
    _definition, changes = check(name, document)
    if changes.get(name + UI_SUFFIX, b"") is None and state.file(name + UI_SUFFIX) is None:
        del changes[name + UI_SUFFIX]  # nothing to remove
    return drafts.save(actor, draft_id, changes, revision)


def create_form(actor, draft_id, name: str, title: str, revision: int) -> int:
    """A new, empty SpiffArena form in the draft; the new revision. Invalid if the name is taken."""
    _authorise(actor)
    draft = drafts.state(actor, draft_id)  # another centre's draft is not found, whatever the name
    dialect, form_file, _ui_file = files_of(name)
    if dialect != "json-schema":
        raise Invalid("a new form is named without an extension (for example: receive)")
    if draft.file(form_file) is not None:
        raise Invalid(f"the draft already has a form named {name}")
    title = " ".join((title or "").split())[:200] or name
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, "type": "object",
              "properties": {}}
    return drafts.save(actor, draft_id, {form_file: _dumps(schema)}, revision)


# What the builder offers beside form-js's own palette ----------------------------------------------

_PRESETS = (
    ("text", "Trường chữ", {"text_field": {"type": "string", "title": "Trường chữ", "maxLength": 200}}, {}),
    ("number", "Số", {"number_field": {"type": "integer", "title": "Số", "minimum": 0}}, {}),
    ("date", "Ngày", {"date_field": {"type": "string", "title": "Ngày", "format": "date"}}, {}),
    ("choice", "Lựa chọn", {"choice_field": {"type": "string", "title": "Lựa chọn", "oneOf": [
        {"const": "co", "title": "Có"}, {"const": "khong", "title": "Không"}]}}, {}),
    ("file", "Tệp đính kèm", {"file_field": {"type": "string", "title": "Tệp đính kèm", "format": "data-url"}}, {}),
    ("citizen_id", "Số CCCD (12 chữ số)", {"citizen_id": {
        "type": "string", "title": "Số định danh cá nhân (CCCD)", "pattern": CITIZEN_ID_PATTERN,
        "description": "12 chữ số trên thẻ căn cước"}}, {}),
    ("phone", "Số điện thoại", {"phone": {"type": "string", "title": "Số điện thoại", "pattern": PHONE_PATTERN}},
     {"phone": {"ui:widget": "tel", "ui:placeholder": "09xxxxxxxx"}}),
    ("email", "Thư điện tử", {"email": {"type": "string", "title": "Thư điện tử", "format": "email",
                                        "maxLength": 200}}, {}),
)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in ascii_text if not unicodedata.combining(c)).lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    return "_".join(words)[:40].strip("_") or "giay_to"


def palette(documents=()) -> list[dict]:
    """The ready-made entries the builder offers: fields (kind "field"), blocks from forms/ (kind
    "block"), and one file field per paper of procedure.json "documents" (kind "document"); each
    with the form-js components it inserts."""
    entries = []
    for entry_id, label, properties, ui in _PRESETS:
        schema = {"type": "object", "properties": properties}
        entries.append({"id": entry_id, "kind": "field", "label": label,
                        "components": to_form_js(schema, ui)["components"]})
    for name, block in blocks().items():
        components = to_form_js(block.schema, block.ui)["components"]
        entries.append({"id": f"block_{name}", "kind": "block", "label": block.schema.get("title") or name,
                        "components": components})
    for i, paper in enumerate(documents, start=1):
        label = paper.split(" — ")[0].strip()[:200]
        schema = {"type": "object", "properties": {f"doc_{_slug(label)}": {
            "type": "string", "title": label, "format": "data-url",
            "description": "Bản chụp hoặc bản điện tử (PDF, ảnh)"}}}
        entries.append({"id": f"document_{i}", "kind": "document", "label": label,
                        "components": to_form_js(schema, {})["components"]})
    return entries


__all__ = ["BOOK", "FormFile", "OpenForm", "check", "create_form", "files_of", "list_forms", "open_form",
           "palette", "preview", "save_form"]
