"""The formats Vietnamese forms ask for, checked the same way for the portal, the desk and the API.

A field is a citizen ID (CCCD: 12 digits), a phone number, an email address or a date either
because its schema says so (`"format": "citizen-id"`, `"phone"`, `"email"`, `"date"`) or because
its name says so the way the bundled and field models name them (`…citizen_id`, `…phone`,
`…birth_date`, `…date_of_birth`). `tidy` first puts what people type into the stored shape
(spaces in a CCCD, "+84 912 345 678" for 0912345678), so a form's own `pattern` sees the number
and not its spacing; `check` then reports what is still wrong, one error per field, never a second
one on a field the schema already refused.
"""

from __future__ import annotations

import re
from datetime import date

from .memo import per_form_object
from .schema import FieldError

CITIZEN_ID = re.compile(r"^[0-9]{12}$")
# A Vietnamese number as stored: 0 then 9 digits (mobiles, and landlines since 2017's area codes);
# 1800/1900 service numbers have 8 or 10 digits.
PHONE = re.compile(r"^(0[0-9]{9}|1[89]00[0-9]{4,6})$")
# One @, a local part of the usual characters without leading, trailing or doubled dots, and a
# domain of dot-separated labels ending in a name of two letters or more.
EMAIL = re.compile(r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)@"
                   r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)  # no person, paper or deadline of a dossier lies outside
_SEPARATORS = re.compile(r"[\s.\-()\u00a0]")


def kind_of(name: str, schema: dict) -> str | None:
    """What a field holds, as far as formats go: citizen_id, phone, email, birth_date, date or None."""
    if not isinstance(schema, dict) or schema.get("type") not in ("string", None, ["string", "null"]):
        return None
    fmt = schema.get("format")
    lowered = name.lower()
    if fmt == "citizen-id" or (fmt is None and (lowered.endswith("citizen_id") or lowered.endswith("cccd"))):
        return "citizen_id"
    if fmt == "phone" or (fmt is None and (lowered.endswith("phone") or lowered.endswith("dien_thoai"))):
        return "phone"
    if fmt == "email":
        return "email"
    if fmt == "date":
        birth = "birth_date" in lowered or "date_of_birth" in lowered or "ngay_sinh" in lowered or lowered == "dob"
        return "birth_date" if birth else "date"
    return None


def _fields(schema, data) -> list:
    """(path, kind, holder, key) of every formatted field present in the data, nested ones too."""
    if not isinstance(schema, dict) or not isinstance(data, dict):
        return []
    found = []
    _walk(_plan(schema), data, (), found)
    return found


@per_form_object(512)  # kept with the form's schema objects (formdefs/memo.py), as its validators are
def _plan(schema: dict) -> tuple:
    """What of a schema can hold a formatted field, worked out once per schema object: for each of its properties
    that can (in order), (name, the plan of its schema for an object value, the plan of its items for a list of
    objects, its kind for a text value). A submission walks only these, not every field of the form."""
    return _plan_of(schema)


def _plan_of(schema) -> tuple:
    if not isinstance(schema, dict):
        return ()
    plan = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        items = sub.get("items")
        as_object, as_rows, kind = _plan_of(sub), _plan_of(items) if isinstance(items, dict) else (), kind_of(name, sub)
        if as_object or as_rows or kind is not None:
            plan.append((name, as_object, as_rows, kind))
    return tuple(plan)


def _walk(plan, data: dict, path: tuple, found: list) -> None:
    for name, as_object, as_rows, kind in plan:
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, dict):
            if as_object:
                _walk(as_object, value, (*path, name), found)
        elif isinstance(value, list):
            if as_rows:
                for i, row in enumerate(value):
                    if isinstance(row, dict):
                        _walk(as_rows, row, (*path, name, str(i)), found)
        elif isinstance(value, str) and kind is not None:
            found.append(((*path, name), kind, data, name))


def tidy(schema: dict | None, data: dict) -> dict:
    """The data with citizen IDs and phone numbers in their stored shape (changed in place, returned):
    separators dropped, +84 / 84 written as the leading 0."""
    for _path, kind, holder, key in _fields(schema, data):
        value = holder[key].strip()
        if kind == "citizen_id":
            compact = _SEPARATORS.sub("", value)
            holder[key] = compact if compact.isdigit() else value
        elif kind == "phone":
            compact = _SEPARATORS.sub("", value)
            if compact.startswith("+84"):
                compact = "0" + compact[3:]
            elif compact.startswith("84") and len(compact) == 11:
                compact = "0" + compact[2:]
            holder[key] = compact if compact.isdigit() else value
    return data


MESSAGES = {
    "citizenId": "must be the 12 digits of a citizen ID card",
    "phone": "is not a Vietnamese phone number (10 digits starting with 0, or +84)",
    "email": "is not an email address (name@example.vn)",
    "dateRange": "must be a date from {earliest} to {latest}",
    "futureDate": "cannot be after today ({today})",
}


def check(schema: dict | None, data: dict, today: date | None = None, taken=frozenset()) -> list[FieldError]:
    """The format errors of (tidied) data; fields in `taken` (paths already refused) are skipped."""
    errors = []
    for path, kind, holder, key in _fields(schema, data):
        field = "/".join(path)
        if field in taken:
            continue
        value = holder[key]
        if kind == "citizen_id" and not CITIZEN_ID.match(value):
            errors.append(FieldError(field, "citizenId", MESSAGES["citizenId"]))
        elif kind == "phone" and not PHONE.match(value):
            errors.append(FieldError(field, "phone", MESSAGES["phone"]))
        elif kind == "email" and not EMAIL.match(value):
            errors.append(FieldError(field, "email", MESSAGES["email"]))
        elif kind in ("date", "birth_date") and ISO_DATE.match(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                continue  # the schema's own `format: date` says it is not a date
            if not EARLIEST <= day <= LATEST:
                errors.append(FieldError(field, "dateRange", MESSAGES["dateRange"].format(
                    earliest=EARLIEST.isoformat(), latest=LATEST.isoformat()), (EARLIEST, LATEST)))
            elif kind == "birth_date" and today is not None and day > today:
                errors.append(FieldError(field, "futureDate", MESSAGES["futureDate"].format(today=today.isoformat()),
                                         today))
    return errors
