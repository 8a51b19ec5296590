"""Every error becomes a clear answer: JSON under /api, a short page elsewhere; never a traceback.

Pages speak the reader's language: a page shows a sentence written for people for its status
(services' messages are for developers and the API), and a form post's file that is too large is
not a bare 413: the request is read with each file capped (`CappedFile`), so the form comes back
with the file's own error and everything else that was typed."""

import logging
import tempfile

from flask import Request, current_app, jsonify, make_response, render_template_string, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..services.errors import Invalid, NotFound, ServiceError

log = logging.getLogger("onestop.web")

_PAGE = """<!doctype html><html lang="{{ lang }}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<link rel="stylesheet" href="/static/onestop.css">
<body><main id="main"><h1>{{ title }}</h1><p>{{ message }}</p>
{% if back %}<p>{{ back }}</p>{% endif %}<p><a href="/">{{ home }}</a></p></main></body></html>"""

# How many times the configured request limit a form page may send: files beyond their own limit
# are read and dropped (CappedFile), so the form can say which file is too large and keep the rest.
FORM_CEILING_FACTOR = 4


class PageInvalid(Invalid):
    """Invalid input whose message is written for people (translated): pages show it as it is."""

    for_people = True


class PageNotFound(NotFound):
    """Nothing here, with a message written for people (translated): pages show it as it is."""

    for_people = True


def _titles():
    return {400: _("The request could not be handled"), 403: _("You may not open this page"),
            404: _("Page not found"), 405: _("This page cannot be used that way"),
            409: _("This was changed meanwhile"), 413: _("The files are too large"),
            422: _("Something in the request is not right"), 429: _("Too many attempts"),
            500: _("Sorry, something went wrong")}


def _sentences():
    limit = (current_app.config["ONESTOP"].max_file_bytes or 0) // (1024 * 1024)
    return {404: _("The page you asked for does not exist here. Check the address, or start from the list "
                   "of procedures."),
            403: _("Your account does not have the role this page needs."),
            405: _("Go back to the previous page and use its buttons."),
            409: _("Someone changed this at the same time. Open the page again to see it as it is now."),
            413: _("Each file may be at most %(limit)s MiB. Go back, choose smaller files (a scan at 150-200 dpi "
                   "is enough) and send again.", limit=limit),
            429: _("Please wait a few minutes before trying again."),
            500: _("The error has been recorded and will be looked into. Please try again later.")}


def error_response(status, code, message, details=None, for_people=False):
    if request.path.startswith("/api/"):
        body = {"error": code, "message": message}
        if details is not None:
            body["details"] = details
        return jsonify(body), status
    from .i18n import current_language

    title = _titles().get(status) or _titles()[400 if status < 500 else 500]
    shown = message if for_people else _sentences().get(status) or _(
        "Check what you entered or the address, then try again.")
    back = _("Use your browser's Back button: what you typed is still on the previous page.") \
        if status in (400, 413, 422) and request.method == "POST" else ""
    return render_template_string(_PAGE, lang=current_language(), title=title, message=shown, back=back,
                                  home=_("Home page")), status


class CappedFile(tempfile.SpooledTemporaryFile):
    """Where the form parser writes an uploaded file: at most `limit` + 1 bytes are kept (enough to
    know it is too large), the rest is read and dropped, and `overflowed` says so."""

    def __init__(self, limit: int):
        super().__init__(max_size=1024 * 1024)
        self.limit, self.kept, self.overflowed = limit, 0, False

    def write(self, data):
        room = self.limit + 1 - self.kept
        if room <= 0:
            self.overflowed = True
            return len(data)
        piece = data[:room]
        self.kept += len(piece)
        super().write(piece)
        if len(piece) < len(data):
            self.overflowed = True
        return len(data)


class CappedUploads(Request):
    """The app's request, with form pages' uploads capped per file and a higher ceiling for them
    (mixed into whatever request class the app has: web/bodies.py's bounded JSON reader)."""

    def _is_form_page(self) -> bool:
        return not self.path.startswith("/api/") and self.mimetype == "multipart/form-data"

    @property
    def max_content_length(self):
        if self._max_content_length is not None:
            return self._max_content_length
        limit = current_app._get_current_object().config.get("MAX_CONTENT_LENGTH")
        if limit and self._is_form_page():
            return limit * FORM_CEILING_FACTOR
        return limit

    @max_content_length.setter
    def max_content_length(self, value):
        self._max_content_length = value

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        if self._is_form_page():
            return CappedFile(current_app.config["ONESTOP"].max_file_bytes)
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)


def cap_uploads(app):
    """Form pages' uploads capped per file (call after anything else that sets the request class)."""
    if not issubclass(app.request_class, CappedUploads):
        app.request_class = type("OnestopRequest", (CappedUploads, app.request_class), {})


def init_app(app):

    @app.before_request
    def _refuse_oversized():
        # Refuse before the body is parsed: werkzeug would otherwise spool part of it to a
        # temporary file first. (The request read once through Flask's proxy, the limit only for a body:
        # each look-up through the proxy costs ~1 us, and werkzeug parses Content-Length at each read.)
        req = request._get_current_object()
        length = req.content_length
        if length:
            limit = req.max_content_length
            if limit and length > limit:
                raise RequestEntityTooLarge()

    @app.errorhandler(ServiceError)
    def _service_error(exc):
        return error_response(exc.status, exc.code, exc.message, exc.details, getattr(exc, "for_people", False))

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            limit = request.max_content_length or 0
            message = f"the request is larger than the limit of {limit // 1024} KiB"
        response = make_response(error_response(exc.code or 500, code, message))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # as RFC 9110 asks of a 405
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
