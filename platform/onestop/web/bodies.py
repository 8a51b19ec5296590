"""Request bodies, read within bounds: the app's JSON provider and the API's one body reader.

Every `request.get_json()` of the app goes through `BoundedJSONProvider`, so no handler can read
JSON that is too large, too deep, holds NaN or Infinity, a lone surrogate or NUL (onestop.boundedjson).
`read_object` is what each API handler calls: it answers 413 (too large) or 422 (not JSON, JSON
onestop does not accept, or a body that does not fit the operation's declared schema, with one
detail per problem) before the handler sees anything.
"""

import jsonschema
import orjson
import referencing
from flask import Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from .. import boundedjson
from ..formdefs.memo import per_form_object
from ..formdefs.schema import fits
from ..services.errors import Invalid, ServiceError, TooLarge, shown

MAX_DETAILS = 20


def max_json_bytes() -> int:
    return current_app._get_current_object().config["ONESTOP"].max_json_bytes


# orjson leaves to Flask's own encoder what Flask writes its own way (dates as HTTP dates,
# dataclasses through its hook), so an answer reads the same whichever encoder wrote it.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that reading goes through onestop.boundedjson and writing through orjson
    (several times faster than the standard library's encoder on the API's answers; the bytes are
    UTF-8, unescaped and unsorted, as the app's settings asked of the standard one)."""

    def loads(self, s, **kwargs):
        return boundedjson.loads(s, max_bytes=self._app.config["ONESTOP"].max_json_bytes)

    def _encode(self, obj) -> bytes | None:
        """obj as JSON bytes through orjson, or None where only the standard encoder can (ASCII
        escaping asked for, an integer beyond 64 bits)."""
        if self.ensure_ascii:
            return None
        try:
            return orjson.dumps(obj, default=self.default, option=_ORJSON | (orjson.OPT_SORT_KEYS if self.sort_keys else 0))
        except orjson.JSONEncodeError:
            return None

    def dumps(self, obj, **kwargs) -> str:
        encoded = None if kwargs else self._encode(obj)
        return encoded.decode() if encoded is not None else super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs):
        """An answer of JSON bytes, written once (Flask's writes text, then encodes it again)."""
        obj = self._prepare_response_obj(args, kwargs)
        encoded = None if self._app.debug else self._encode(obj)
        if encoded is None:
            return super().response(obj)
        return self._app.response_class(encoded + b"\n", mimetype=self.mimetype)


class BoundedRequest(Request):
    """A request whose JSON that cannot be read is a clear error, never a bare 400 page."""

    def on_json_loading_failed(self, e):
        if e is None:
            raise Invalid("send the body as JSON (Content-Type: application/json)")
        raise refusal(e)


def refusal(exc: ValueError) -> ServiceError:
    """The answer to a body boundedjson refused (or any other unreadable JSON)."""
    reason = getattr(exc, "reason", "not_json")
    message = getattr(exc, "message", "the body is not valid JSON").replace("the JSON", "the body")
    if reason == "too_large":
        return TooLarge(message)
    if reason == "not_json" and not message.startswith("the body"):
        message = f"the body is {message}"
    return Invalid(message)


def read_object(schema: dict | None = None) -> dict:
    """The request's JSON object ({} when there is no body), checked against `schema` if given."""
    limit = max_json_bytes()
    # (the request read once through Flask's proxy, Content-Length parsed once: each costs ~1 us)
    req = request._get_current_object()
    length = req.content_length
    if length and length > limit:  # refused before reading it
        raise TooLarge(f"the body is larger than the limit of {boundedjson.size_text(limit)}")
    try:
        body = _parsed(req, limit)
    except ValueError as exc:
        raise refusal(exc) from exc
    if schema is None:
        if not isinstance(body, dict):
            raise Invalid("the body must be a JSON object")
        return body
    problems = check(schema, body)
    if problems:
        raise Invalid(problems[0]["message"], details=problems[:MAX_DETAILS])
    return body


# The largest body looked at ahead of its handler: a read ahead saves one round trip, and it is made before the
# token is checked, so a stranger's large body is left to the handler, which reads it only for a valid token.
PEEK_BYTES = 16 * 1024


def peek_object() -> dict | None:
    """The request's JSON object, unchecked, where read_object would read one; else None (over PEEK_BYTES or the
    limit, of no stated length, not JSON, not an object, no body, cut short), refusing nothing: for a read made
    ahead of the handler, whose read_object then checks the body as ever (the parse is kept for it: _parsed; a
    body that could not be read is read again and refused as before)."""
    limit = max_json_bytes()
    req = request._get_current_object()
    length = req.content_length
    if not length or length > min(limit, PEEK_BYTES):
        return None
    try:
        body = _parsed(req, limit)
    except (ValueError, HTTPException):  # (not JSON: read_object refuses it; a client gone: it answers that)
        return None
    return body if isinstance(body, dict) else None


_PARSED = "onestop.json_body"  # where a request keeps its body's parse (or the ValueError it raised)


def _parsed(req: Request, limit: int):
    """The body's JSON value ({} when there is none) as request.get_json(force=True) would read it through the
    app's provider (boundedjson within the same limit), without Flask's JSON module between (~6 us a request),
    and parsed once a request however many readers ask (peek_object, read_object): a refusal is kept and raised
    again."""
    environ = req.environ
    value = environ.get(_PARSED, _PARSED)
    if value is _PARSED:
        data = req.get_data(cache=True)
        try:
            value = boundedjson.loads(data, max_bytes=limit) if data else {}
        except ValueError as exc:
            value = exc.with_traceback(None)  # (kept without its frames, which hold the environ: no cycle)
        environ[_PARSED] = value
    if isinstance(value, ValueError):
        raise value
    return value


def check(schema: dict, value) -> list[dict]:
    """Each way `value` does not fit `schema`: [{"field", "code", "message"}], in field order. A value that fits
    is recognised by jsonschema-rs where the schema allows (formdefs.schema.fits); jsonschema names the problems."""
    if fits(schema, value):
        return []
    problems = []
    for error in _validator(schema).iter_errors(value):
        problems.extend(_problems(error))
    return sorted(problems, key=lambda p: p["field"])


@per_form_object(256)  # the schemas are module constants (web/openapi.py's REQUEST_BODIES)
def _validator(schema: dict):
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER, registry=referencing.Registry())


_KINDS = {"object": "a JSON object", "array": "a list", "string": "text", "integer": "a whole number",
          "number": "a number", "boolean": "true or false", "null": "null"}


def _problems(error) -> list[dict]:
    path = [str(p)[:80] for p in error.absolute_path]  # a key may be the caller's: never echo megabytes
    field = "/".join(path)
    name = field.replace("_", " ") or "the body"  # "office hours must be a list": a sentence
    code, limit = error.validator, error.validator_value
    if code == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [{"field": "/".join([*path, n]), "code": code,
                 "message": f"{'/'.join([*path, n]).replace('_', ' ')} is required"}
                for n in limit if n not in present]
    if code == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        field = "/".join([*path, extra[0]]) if extra else field
        message = f"{shown(extra[0] if extra else '')} is not a field here; send one or more of: {', '.join(known)}"
    elif code == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        kinds = [k for k in kinds if k != "null"] or kinds  # null stands for "left out": not worth saying
        message = f"{name} must be {' or '.join(_KINDS.get(k, k) for k in kinds)}"
    elif code == "enum":
        message = f"{name} must be one of: {', '.join('null' if v is None else str(v) for v in limit)}"
    elif code in ("minLength", "maxLength"):
        message = f"{name} must be {'at least' if code == 'minLength' else 'at most'} {limit} characters long"
    elif code in ("minItems", "maxItems"):
        message = f"{name} must have {'at least' if code == 'minItems' else 'at most'} {limit} entries"
    elif code == "minProperties":
        message = f"{name} must have at least {limit} field(s): {', '.join(sorted(error.schema.get('properties', {})))}"
    elif code == "pattern":
        message = f"{name} is not in the expected form ({limit})"
    elif code == "format":
        message = f"{name} must be a {limit}" + (" (YYYY-MM-DD)" if limit == "date" else "")
    else:
        message = f"{name} is not valid ({code})"
    return [{"field": field, "code": code, "message": message}]


def init_app(app):
    """Every JSON the app reads goes through the bounded reader."""
    provider = BoundedJSONProvider(app)
    provider.ensure_ascii, provider.sort_keys = app.json.ensure_ascii, app.json.sort_keys
    app.json = provider
    app.request_class = BoundedRequest
