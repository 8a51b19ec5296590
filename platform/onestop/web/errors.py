"""Every error becomes a clear answer: JSON under /api, a short page elsewhere; never a traceback."""

import logging

from flask import jsonify, make_response, render_template_string, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..services.errors import ServiceError

log = logging.getLogger("onestop.web")

_PAGE = """<!doctype html><html lang="vi"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ status }}</title>
<link rel="stylesheet" href="/static/onestop.css">
<body><main><h1>{{ status }}</h1><p>{{ message }}</p><p><a href="/">Trang chủ / Home</a></p></main></body></html>"""


def error_response(status, code, message, details=None):
    if request.path.startswith("/api/"):
        body = {"error": code, "message": message}
        if details is not None:
            body["details"] = details
        return jsonify(body), status
    return render_template_string(_PAGE, status=status, message=message), status


def init_app(app):
    @app.before_request
    def _refuse_oversized():
        # Refuse before the body is parsed: werkzeug would otherwise spool part of it to a
        # temporary file first.
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length and request.content_length > limit:
            raise RequestEntityTooLarge()

    @app.errorhandler(ServiceError)
    def _service_error(exc):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH") or 0
            message = f"the request is larger than the limit of {limit // 1024} KiB"
        response = make_response(error_response(exc.code or 500, code, message))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # as RFC 9110 asks of a 405
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
