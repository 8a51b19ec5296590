"""schemathesis hooks of tests/security/test_schemathesis.py (loaded by the client through
SCHEMATHESIS_HOOKS): the national portal's pushes go out signed with the server's shared secret,
as the portal signs them (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature over
the body as sent), so that they reach the contract's checks instead of ending at the signature (401).
"""

import os
import uuid
from datetime import UTC, datetime

import schemathesis
from standardwebhooks import Webhook

PORTAL_PATH = "/national-portal/dossiers"
_webhook = Webhook(os.environ["ONESTOP_NATIONAL_PORTAL_SECRET"])


def _signed(request):
    """requests' auth callable: the prepared request (its body the bytes that go out) signed."""
    message_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    body = request.body or b""
    request.headers["webhook-id"] = message_id
    request.headers["webhook-timestamp"] = str(int(now.timestamp()))
    request.headers["webhook-signature"] = _webhook.sign(message_id, now, body.encode() if isinstance(body, str) else body)
    return request


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path == PORTAL_PATH:
        kwargs["auth"] = _signed
