"""Submitted data against its form, the one way for the portal, the desk and the API: composed
(NFC), tidied (citizen IDs and phone numbers in their stored shape, formdefs/formats.py), its files
taken out and checked, and every error reported at once: a bad file does not hide the rest."""

from __future__ import annotations

from .. import formdefs
from ..models import local_today
from . import attachments
from .errors import Invalid, ServiceError


def accept(form, data, uploads=None, dossier_id=None, current=dict):
    """(data NFC-normalised and tidied, with its files replaced by references; the checked files)
    if the data fits the form; Invalid (or the file's TooLarge) with every field error if not.

    First, Invalid if the data changes a field the form shows read-only (the desk's and the portal's
    forms never send one; the API must not let a caller write it either). `current()`: the values
    the step holds now ({} at a start), read only when a read-only field was sent. The data is
    normalised once for both checks (they were two functions, each walking and copying it)."""
    data = formdefs.normalise(data)
    if form is not None and formdefs.read_only_changes(form.schema, form.ui, data, {}):
        errors = formdefs.read_only_changes(form.schema, form.ui, data, current())
        if errors:
            raise Invalid("the data changes a read-only field of the form", field_errors=errors)
    return _prepared(form, data, uploads, dossier_id)


def _prepared(form, data, uploads, dossier_id):
    if form is not None:
        formdefs.tidy(form.schema, data)
    try:
        data, blobs = attachments.take(form.schema if form is not None else None, data, uploads, dossier_id)
    except ServiceError as exc:
        if form is None or not exc.field_errors:
            raise
        refused = {e.field for e in exc.field_errors}
        others = [e for e in formdefs.validate(form.schema, data, local_today()) if e.field not in refused]
        if not others:
            raise
        raise Invalid("the data does not fit the form",
                      field_errors=sorted([*exc.field_errors, *others], key=lambda e: e.field)) from None
    if form is not None:
        errors = formdefs.validate(form.schema, data, local_today())
        if errors:
            raise Invalid("the data does not fit the form", field_errors=errors)
    return data, blobs
