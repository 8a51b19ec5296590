"""Request arguments the pages and the API read alike: a malformed one is a clear 422, never a 500."""

from datetime import date

from flask import request

from ..services.errors import Invalid


def parse_date(text, name) -> date:
    """An ISO date (YYYY-MM-DD) given as `name`."""
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)") from None


def date_arg(name) -> date | None:
    """The date in query argument `name`, or None when it is absent or empty."""
    text = request.args.get(name)
    return parse_date(text, name) if text else None
