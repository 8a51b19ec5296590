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


def _fields(schema, data, path=()):
    """(path, kind, holder, key) of every formatted field present in the data, nested ones too."""
    if not isinstance(schema, dict) or not isinstance(data, dict):
        return
    for name, sub in (schema.get("properties") or {}).items():
        if name not in data or not isinstance(sub, dict):
            continue
        value = data[name]
        if isinstance(value, dict):
            yield from _fields(sub, value, (*path, name))
        elif isinstance(value, list) and isinstance(sub.get("items"), dict):
            for i, row in enumerate(value):
                yield from _fields(sub["items"], row, (*path, name, str(i)))
        elif isinstance(value, str):
            kind = kind_of(name, sub)
            if kind is not None:
                yield (*path, name), kind, data, name


def tidy(schema: dict | None, data: dict) -> dict:
    """The data with citizen IDs and phone numbers in their stored shape (changed in place, returned):
    separators dropped, +84 / 84 written as the leading 0."""
    for _path, kind, holder, key in list(_fields(schema, data)):
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
