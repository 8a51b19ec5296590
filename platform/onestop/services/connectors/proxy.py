"""A SpiffArena connector proxy plugged in by URL (one per centre): `GET /v1/commands` lists what it
can do, `POST /v1/do/<operator>` with the parameters as a JSON object does it. Its answer is either
the version 2 envelope (`{"command_response": {"body", "mimetype", "http_status"}, "error",
"command_response_version": 2, "spiff__logs"}`) or, from older proxies, the result itself; an
`error` object, an upstream status of 300 or more, or a status of its own of 300 or more is a failure.

The proxy's address is the administrator's own setting, so it is not checked against the allow list
(a proxy usually runs beside onestop, on an internal address). Its key, if it wants one, is the
centre's secret `CONNECTOR_PROXY_API_KEY`, sent as `Spiff-Connector-Proxy-Api-Key`. The dossier's data
is not sent (`spiff__task_data` stays empty): a connector gets only the parameters the model gives it.
"""

import json
import logging
import time
from urllib.parse import quote

from .http import decode_body
from .options import ConnectorFailure, Options

log = logging.getLogger("onestop.connectors")
API_KEY_SECRET = "CONNECTOR_PROXY_API_KEY"  # noqa: S105 (a secret's name, not a secret)
API_KEY_HEADER = "Spiff-Connector-Proxy-Api-Key"


def _pool(options: Options):
    import urllib3  # here, not at the top: a command that sends nothing does not pay for its import

    timeout = urllib3.Timeout(connect=options.timeout_seconds, read=options.timeout_seconds)
    return urllib3.PoolManager(timeout=timeout, retries=False, maxsize=1)


def commands(proxy_url: str, options: Options, api_key: str | None = None) -> list[dict]:
    """The proxy's commands ([{"id", "parameters": [{"id", "type", "required"}]}]), or ConnectorFailure."""
    import urllib3

    headers = {API_KEY_HEADER: api_key} if api_key else {}
    try:
        with _pool(options) as pool:
            reply = pool.request("GET", f"{proxy_url}/v1/commands", headers=headers, redirect=False)
    except (urllib3.exceptions.HTTPError, OSError):
        raise ConnectorFailure(f"the connector proxy at {proxy_url} could not be reached", retryable=True) from None
    if reply.status != 200:
        raise ConnectorFailure(f"the connector proxy at {proxy_url} answered HTTP {reply.status} to /v1/commands")
    try:
        listed = json.loads(reply.data)
    except ValueError:
        raise ConnectorFailure(f"the connector proxy at {proxy_url} did not answer /v1/commands with JSON") from None
    if not isinstance(listed, list):
        raise ConnectorFailure(f"the connector proxy at {proxy_url} did not answer /v1/commands with a list")
    return [c for c in listed if isinstance(c, dict) and isinstance(c.get("id"), str)]


def run(proxy_url: str, operator: str, params: dict, options: Options, api_key: str | None = None,
        task: dict | None = None) -> dict:
    """Ask the proxy to do `operator` (tried again after network failures and 5xx answers)."""
    import urllib3

    body = {**params, "spiff__task_id": (task or {}).get("task_id"),
            "spiff__process_instance_id": (task or {}).get("dossier"), "spiff__task_data": {}}
    headers = {"Content-Type": "application/json", **({API_KEY_HEADER: api_key} if api_key else {})}
    url = f"{proxy_url}/v1/do/{quote(operator, safe='/')}"
    pause = options.backoff_seconds
    for attempt in range(1, max(1, options.attempts) + 1):
        try:
            with _pool(options) as pool:
                reply = pool.request("POST", url, body=json.dumps(body, default=str).encode(), headers=headers,
                                     redirect=False, preload_content=False)
                raw = reply.read(options.max_response_bytes + 1)
                reply.release_conn()
            if reply.status < 500 or attempt >= options.attempts:
                return _answer(operator, reply.status, raw, options)
            log.info("connector proxy, %s: try %d answered %d; trying again", operator, attempt, reply.status)
        except (urllib3.exceptions.HTTPError, OSError):
            if attempt >= options.attempts:
                raise ConnectorFailure(f"the connector proxy at {proxy_url} could not be reached",
                                       retryable=True) from None
            log.info("connector proxy, %s: try %d could not reach it; trying again", operator, attempt)
        time.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable: the last try returns or raises")


def _answer(operator, status, raw, options):
    if len(raw) > options.max_response_bytes:
        raise ConnectorFailure(f"the connector proxy answered {operator} with more than "
                               f"{options.max_response_bytes} bytes")
    if status == 202:
        raise ConnectorFailure(f"the connector proxy answered {operator} later by callback (202), which onestop "
                               "does not take: use a connector that answers at once")
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        raise ConnectorFailure(f"the connector proxy answered {operator} with something that is not JSON") from None
    if not isinstance(answer, dict):
        answer = {"api_response": answer}
    error = answer.get("error")
    if isinstance(error, dict) and error.get("error_code"):
        raise ConnectorFailure(f"{operator} failed: {str(error.get('error_code'))[:100]}: "
                               f"{str(error.get('message') or '')[:500]}")
    if "api_response" in answer and "spiff__logs" in answer:
        answer = answer["api_response"]  # the older envelope
    if isinstance(answer, dict) and (answer.get("command_response_version") or 0) > 1:
        answer = _version_2(operator, answer.get("command_response"))
    if status >= 300:
        raise ConnectorFailure(f"the connector proxy answered {operator} with HTTP {status}",
                               retryable=status >= 500)
    return answer


def _version_2(operator, response):
    if not isinstance(response, dict):
        raise ConnectorFailure(f"the connector proxy's answer to {operator} has no command_response")
    upstream = response.get("http_status") or 0
    if isinstance(upstream, int) and upstream >= 300:
        raise ConnectorFailure(f"{operator}: the service behind the connector proxy answered HTTP {upstream}",
                               retryable=upstream >= 500)
    body, mimetype = response.get("body"), response.get("mimetype") or ""
    if isinstance(body, str) and "json" in mimetype:
        body = decode_body(body.encode(), mimetype)
    return {**response, "body": body, "operator_identifier": operator}
