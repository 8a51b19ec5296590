"""Request arguments the pages and the API read alike: a malformed one is a clear 422, never a 500."""

from datetime import date

from flask import request
from flask_babel import gettext as _
from werkzeug.routing import BaseConverter, IntegerConverter

from ..services.errors import Invalid
from .errors import PageInvalid

# Dates a centre can mean. Beyond them the arithmetic on local and UTC times (a day more, seven
# hours less) leaves the range of Python's dates, and no dossier or statistic lives there anyway.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def parse_date(text, name) -> date:
    """An ISO date (YYYY-MM-DD) given as `name`, between EARLIEST and LATEST (Invalid; for a page,
    PageInvalid with its message in the reader's language)."""
    try:
        value = date.fromisoformat(str(text))
    except ValueError:
        raise _invalid(f"{name} must be a date (YYYY-MM-DD)",
                       _("“%(name)s” must be a date written as year-month-day, for example 2026-12-31.",
                         name=name)) from None
    if not EARLIEST <= value <= LATEST:
        raise _invalid(f"{name} must be a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}",
                       _("“%(name)s” must be a date from %(first)s to %(last)s.", name=name,
                         first=EARLIEST.isoformat(), last=LATEST.isoformat()))
    return value


def _invalid(for_developers: str, for_people: str) -> Invalid:
    """The API keeps its English message; a page gets the translated one."""
    return Invalid(for_developers) if request.path.startswith("/api/") else PageInvalid(for_people)


def date_arg(name) -> date | None:
    """The date in query argument `name`, or None when it is absent or empty."""
    text = request.args.get(name)
    return parse_date(text, name) if text else None


class RowId(IntegerConverter):
    """`<rowid:name>` in a route: a row's id, 1 to 2**63 - 1. Anything larger is a 404 here rather
    than an integer the database driver cannot bind (a 500)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**63 - 1)


class IsoDay(BaseConverter):
    """`<isoday:name>` in a route: a segment shaped like a date (YYYY-MM-DD; parse_date checks the
    rest), so a route's literal neighbour (…/import beside …/<day>) answers 405 for another method
    rather than being read as a day."""

    regex = r"\d{4}-\d{2}-\d{2}"


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul():
    """No text onestop keeps may hold NUL (PostgreSQL refuses it): refuse it wherever a request
    carries text (the path, the query, a submitted form and its files' names) before any page or
    handler reads it."""
    # (a request without a query string has no arguments to parse: the API's, ~10 k instructions each)
    req = request._get_current_object()  # (once: each look-up through the proxy costs ~1 us)
    if "\x00" in req.path or (req.query_string and _holds_nul(req.args)):
        raise PageInvalid(_("The address contains a NUL character, which no text may hold."))
    if req.mimetype in _FORMS and (_holds_nul(req.form) or any(
            "\x00" in (upload.filename or "") for _field, upload in req.files.items(multi=True))):
        raise PageInvalid(_("The form contains a NUL character, which no text may hold."))


def _holds_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def init_app(app):
    app.url_map.converters["rowid"] = RowId
    app.url_map.converters["isoday"] = IsoDay
    app.before_request(refuse_nul)
