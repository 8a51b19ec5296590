"""The built-in HTTP connectors, under the names SpiffArena's connector proxy gives them
(`http/GetRequest`, `http/PostRequest`, ... and their `V2` spellings), taking the same parameters
(url, headers, params, data, basic_auth_username, basic_auth_password).

Each request goes to the address `hosts.check` approved (the name is kept for the Host header and
TLS), follows no redirect, gives up after the configured timeout, reads at most
`Options.max_response_bytes`, and is tried again with growing pauses after a network failure, a
timeout, a 429 or a 5xx. The result is what SpiffArena's connectors put under the task's result
variable: `{"body", "mimetype", "http_status", "operator_identifier"}`, the body parsed when it is JSON.
"""

import json
import logging
import time
from base64 import b64encode
from urllib.parse import urlencode

from . import hosts
from .options import ConnectorFailure, Options

log = logging.getLogger("onestop.connectors")

_READ_ONLY = [{"id": "url", "type": "str", "required": True}, {"id": "headers", "type": "any", "required": False},
              {"id": "params", "type": "any", "required": False},
              {"id": "basic_auth_username", "type": "str", "required": False},
              {"id": "basic_auth_password", "type": "str", "required": False}]
_WITH_BODY = [p for p in _READ_ONLY if p["id"] != "params"] + [{"id": "data", "type": "any", "required": False}]
METHODS = {"Get": ("GET", _READ_ONLY), "Head": ("HEAD", _READ_ONLY), "Post": ("POST", _WITH_BODY),
           "Put": ("PUT", _WITH_BODY), "Patch": ("PATCH", _WITH_BODY), "Delete": ("DELETE", _WITH_BODY)}
# operator name -> (HTTP method, parameters as /v1/commands lists them)
COMMANDS = {f"http/{verb}Request{suffix}": spec for verb, spec in METHODS.items() for suffix in ("", "V2")}
_RETRIED_STATUSES = {429, 500, 502, 503, 504}


def run(centre_id, operator: str, params: dict, options: Options) -> dict:
    """Make the call `operator` names with these (secret-filled) parameters; the result, or
    ConnectorFailure once the tries are spent or the failure is one a retry cannot mend."""
    method = COMMANDS[operator][0]
    target = hosts.check(centre_id, _with_query(params.get("url"), params.get("params")))
    headers, body = _headers_and_body(params, method)
    pause = options.backoff_seconds
    for attempt in range(1, max(1, options.attempts) + 1):
        try:
            status, mimetype, raw = _send(target, method, headers, body, options)
        except ConnectorFailure as failure:
            if not failure.retryable or attempt >= options.attempts:
                raise
            log.info("%s to %s: try %d failed (%s); trying again", operator, target.host, attempt, failure.message)
        else:
            if status in _RETRIED_STATUSES and attempt < options.attempts:
                log.info("%s to %s: try %d answered %d; trying again", operator, target.host, attempt, status)
            else:
                return _result(operator, target, status, mimetype, raw)
        time.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable: the last try returns or raises")


def _with_query(url, query):
    if not query or not isinstance(url, str):
        return url
    if not isinstance(query, dict):
        raise ConnectorFailure("the parameter params is a dictionary of query parameters")
    return url + ("&" if "?" in url else "?") + urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)


def _headers_and_body(params, method):
    headers = params.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) for k in headers):
        raise ConnectorFailure("the parameter headers is a dictionary of header names and values")
    headers = {k: str(v) for k, v in headers.items() if v is not None}
    for name, value in headers.items():
        try:
            f"{name}{value}".encode("latin-1")
        except UnicodeEncodeError:
            raise ConnectorFailure(f"the header {name[:80]!r} holds characters an HTTP header cannot carry "
                                   "(letters with Vietnamese marks, for one)") from None
    user, password = params.get("basic_auth_username"), params.get("basic_auth_password")
    if user and password:
        headers["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode()).decode()
    data = params.get("data")
    if method in ("GET", "HEAD") or data is None:
        return headers, None
    if isinstance(data, bytes | str):
        return headers, data.encode() if isinstance(data, str) else data
    headers.setdefault("Content-Type", "application/json")
    return headers, json.dumps(data, ensure_ascii=False, default=str).encode()


def _send(target, method, headers, body, options):
    """One request to the checked address: (status, mimetype, body bytes)."""
    import urllib3  # here, not at the top: a command that sends nothing does not pay for its import

    timeout = urllib3.Timeout(connect=options.timeout_seconds, read=options.timeout_seconds)
    kwargs = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, ssl_context=options.tls, **kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    headers = {"Host": host_header, "User-Agent": "onestop-connector", **headers}
    started = time.monotonic()
    try:
        with pool:
            reply = pool.urlopen(method, target.path, body=body, headers=headers, redirect=False,
                                 preload_content=False, assert_same_host=False)
            try:
                raw = reply.read(options.max_response_bytes + 1, decode_content=True)
                if len(raw) > options.max_response_bytes:
                    raise ConnectorFailure(f"{target.host} answered with more than {options.max_response_bytes} bytes")
                return reply.status, reply.headers.get("Content-Type", ""), raw
            finally:
                reply.release_conn()
    except urllib3.exceptions.TimeoutError:
        raise ConnectorFailure(f"{target.host} did not answer within {options.timeout_seconds:g} s",
                               retryable=True) from None
    except urllib3.exceptions.SSLError:
        raise ConnectorFailure(f"{target.host}'s TLS certificate could not be verified") from None
    except (urllib3.exceptions.HTTPError, OSError):
        raise ConnectorFailure(f"{target.host}:{target.port} could not be reached", retryable=True) from None
    finally:
        log.debug("%s %s:%s took %.3f s", method, target.host, target.port, time.monotonic() - started)


def _result(operator, target, status, mimetype, raw):
    if 300 <= status < 400:
        raise ConnectorFailure(f"{target.host} answered with a redirect ({status}); put the address it redirects "
                               "to in the model, and on the allowed hosts")
    if status >= 400:
        raise ConnectorFailure(f"{target.host} answered HTTP {status}", retryable=status in _RETRIED_STATUSES)
    return {"body": decode_body(raw, mimetype), "mimetype": mimetype.split(";", 1)[0].strip() or None,
            "http_status": status, "operator_identifier": operator}


def decode_body(raw: bytes, mimetype: str):
    """A response body as data: JSON parsed when it says it is JSON, otherwise its text."""
    text = raw.decode("utf-8", errors="replace")
    if "json" in (mimetype or "").lower():
        try:
            return json.loads(text)
        except ValueError:
            raise ConnectorFailure("the service said it answered JSON, but its answer is not JSON") from None
    return text
