"""What a page needs around a generated form, the GOV.UK way: the error summary's entries (each a
link to its field's id), each input's attributes (aria-describedby naming only what exists, never
"None"), the file chosen before that must be chosen again, the largest file the browser may send,
and the one-time token that makes a form sent twice one dossier (services/submissions.py)."""

from flask import request
from wtforms import FieldList, FormField

from ..services import attachments, submissions

SUBMISSION_FIELD = "_submission"
FILE_TYPES = ".pdf,.jpg,.jpeg,.png,.tif,.tiff,.webp,.doc,.docx,.xls,.xlsx,.odt"


def submission_token() -> str:
    """The rendered form's one-time token: the one it was sent with (a form drawn again after an
    error keeps it), else a new one."""
    sent = request.form.get(SUBMISSION_FIELD) if request.method == "POST" else None
    return sent if submissions.usable(sent) else submissions.new_token()


def sent_token():
    """The token a form was sent with, or None."""
    return request.form.get(SUBMISSION_FIELD) or None


def _first_id(field) -> str:
    """Where a summary entry leads: the input itself, or a group's first option."""
    return f"{field.id}-0" if field.type in ("RadioField", "SelectMultipleField") else field.id


def _entry(field, message) -> tuple[str, str]:
    """A summary entry: where it leads, and the message named by its field's label."""
    label = (field.label.text if field.label is not None else "").strip()
    return _first_id(field), f"{label}: {message}" if label else str(message)


def error_list(form) -> list[tuple[str, str]]:
    """(the input's id, "label: message") for every field error of a bound form, in the order drawn."""
    out = []
    if form is None:
        return out
    for member in form:
        if isinstance(member, FormField):
            out.extend(error_list(member.form))
        elif isinstance(member, FieldList):
            for entry in member.entries:
                out.extend(error_list(entry.form) if isinstance(entry, FormField) else
                           [_entry(entry, e) for e in entry.errors])
            out.extend(_entry(member, e) for e in member.errors if isinstance(e, str))
        elif member.errors and not isinstance(member.errors, dict) and member.type != "CSRFTokenField":
            out.extend(_entry(member, e) for e in member.errors if isinstance(e, str))
    return out


def chosen_file(field) -> str:
    """The name of the file chosen in a sent form's file field ("" if none): a page drawn again
    cannot keep it, so it says which file to choose again."""
    data = getattr(field, "data", None)
    return (getattr(data, "filename", "") or "") if field.type == "FileField" else ""


def file_limit() -> int:
    """The largest file accepted, in bytes (checked in the browser before sending, and again here)."""
    return attachments.store().max_file_bytes


def field_attrs(field, required=False) -> dict:
    """The attributes of an input: what describes it (hint, error, a file to choose again), whether
    it is required or wrong; only those that apply (never "None")."""
    is_file = field.type == "FileField"
    described = [f"{field.id}-{part}" for part, present in (("hint", field.description), ("types", is_file),
                                                            ("again", chosen_file(field)), ("error", field.errors))
                 if present]
    attrs = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if required:
        attrs["aria-required"] = "true"
    if field.errors:
        attrs["aria-invalid"] = "true"
    if is_file:
        attrs["accept"] = FILE_TYPES
        attrs["data-max-bytes"] = file_limit()
    return attrs


def combine_attrs(first: dict, second: dict) -> dict:
    """Two attribute dicts as one (the template's own, then the field's)."""
    return {**first, **second}


def init_app(app):
    app.jinja_env.filters["combine_attrs"] = combine_attrs
    app.jinja_env.globals.update(form_errors=error_list, field_attrs=field_attrs, chosen_file=chosen_file,
                                 file_limit=file_limit, SUBMISSION_FIELD=SUBMISSION_FIELD)
