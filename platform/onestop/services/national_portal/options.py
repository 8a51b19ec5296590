"""Where the national portal is and how onestop and it recognise each other: its base URL, the
shared secret both sides sign with (Standard Webhooks: HMAC-SHA256 over id, timestamp and body),
the timeout of each call, how often the reconciliation runs. Built from the settings by
assemble.build_runtime; a runtime without them is not connected (nothing is sent, pushes wait)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from functools import cached_property
from typing import TYPE_CHECKING

from standardwebhooks.webhooks import Webhook

from ...clock import Clock
from .. import runtime

if TYPE_CHECKING:  # imported where a request is made: a command that sends nothing does not pay for it
    import urllib3

MAX_ANSWER_BYTES = 2 * 1024 * 1024  # the portal's answers are small JSON objects


@dataclass(eq=False)
class Options:
    url: str = ""  # the portal's base URL (no trailing slash); "" = not connected
    secret: str = ""  # the shared secret, "whsec_" + base64 (Standard Webhooks)
    timeout_seconds: float = 10.0
    reconcile_seconds: float = 900.0  # how often the worker compares the portal's view with ours
    attempts: int = 10  # tries of one status change before it is failed (an incident in the back office)
    lease: float = 0.0  # how long a change being sent stays claimed; 0: 2 × the timeout + 5 s (lease_seconds)
    _pool: object = field(default=None, repr=False)

    @property
    def connected(self) -> bool:
        return bool(self.url and self.secret)

    @cached_property
    def webhook(self) -> Webhook:
        return Webhook(self.secret)

    @property
    def lease_seconds(self) -> float:
        """How long a status change being sent stays claimed: after that, a worker killed in the
        middle of sending it is presumed dead and the change is sent again (same seq). By default
        twice the timeout and 5 s, longer than a live worker's send can take; a shorter `lease`
        recovers sooner from a killed worker, but a send that outlasts it may be made twice at once
        by two workers (the portal keeps one copy)."""
        return self.lease or 2 * self.timeout_seconds + 5

    def pool(self) -> urllib3.PoolManager:
        if self._pool is None:
            import urllib3

            self._pool = urllib3.PoolManager(maxsize=4, retries=False,
                                             timeout=urllib3.Timeout(connect=self.timeout_seconds,
                                                                     read=self.timeout_seconds))
        return self._pool

    def post(self, path: str, message_id: str, payload: dict) -> dict:
        """POST a signed JSON payload to the portal; its JSON answer (an object). OSError when the
        portal is down, slow or answers anything but a 2xx JSON object (the caller retries)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        now = _SIGNING_CLOCK.now()  # real time: the portal checks the stamp against its own clock
        headers = {"Content-Type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(int(now.replace(tzinfo=_UTC).timestamp())),
                   "webhook-signature": self.webhook.sign(message_id, now, body)}
        reply, raw = self._request("POST", self.url + path, MAX_ANSWER_BYTES, "the portal did not answer",
                                   body=body, headers=headers)
        if not 200 <= reply.status < 300:
            raise OSError(f"the portal answered {reply.status}")
        if len(raw) > MAX_ANSWER_BYTES:
            raise OSError("the portal's answer is too large")
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            raise OSError("the portal's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise OSError("the portal's answer is not a JSON object")
        return answer

    def fetch(self, url: str, limit: int) -> bytes:
        """A document the portal serves (only from the portal's own address): its bytes, at most `limit`."""
        if not self.url or not url.startswith(self.url + "/"):
            raise ValueError("documents are fetched only from the portal's own address")
        reply, content = self._request("GET", url, limit, "the portal did not serve the document")
        if reply.status != 200:
            raise OSError(f"the portal answered {reply.status} for a document")
        if len(content) > limit:
            raise ValueError("the document is larger than the limit")
        return content

    def _request(self, method: str, url: str, limit: int, failed: str, **kwargs):
        """(the reply, at most limit + 1 bytes of its body); OSError naming `failed` when the request fails."""
        import urllib3

        try:
            reply = self.pool().request(method, url, preload_content=False, **kwargs)
            try:
                return reply, reply.read(limit + 1)
            finally:
                reply.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise OSError(f"{failed}: {type(exc).__name__}") from None


_UTC = UTC
_SIGNING_CLOCK = Clock()
_NOT_CONNECTED = Options()


def current() -> Options:
    """The options of the active runtime (not connected if it has none)."""
    return getattr(runtime.current(), "national_portal", None) or _NOT_CONNECTED
