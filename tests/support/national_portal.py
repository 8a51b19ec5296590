"""The national portal's simulator (onestop.simulators.portal) served over real HTTP beside a test's
app, also served over real HTTP, the two sharing a secret: the test drives the portal's control
endpoints (push dossiers, go down, forget a status) and the worker's rounds (send, reconcile)."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC

import urllib3

from onestop.simulators.portal import create_app as portal_simulator
from tests.support.simulators import serving

SECRET = "whsec_" + base64.b64encode(b"the portal and onestop share this").decode()
AGENCY = "000.00.07.H22"
_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


class Portal:
    """The simulator at `url`, pushing to the onestop at `onestop_url`."""

    def __init__(self, url, onestop_url, app=None):
        self.url, self.onestop_url, self.app = url, onestop_url, app

    def control(self, path, body=None):
        if body is None:
            reply = _http.request("GET", self.url + path)
        else:
            reply = _http.request("POST", self.url + path, body=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
        return json.loads(reply.data)

    def push(self, procedure_code, ids=None, count=1, agency_code=AGENCY, **kw):
        """Push dossiers; {portal id: [{"status", "answer"}, ...]} (one answer per repeat)."""
        body = {"target": self.onestop_url + "/api/v1/national-portal/dossiers", "procedure_code": procedure_code,
                "agency_code": agency_code, "count": count} | kw
        if ids is not None:
            body["ids"] = ids
        return self.control("/control/push", body)["results"]

    def push_one(self, procedure_code, portal_id, **kw):
        """One push of one dossier: (HTTP status, answer)."""
        [answer] = self.push(procedure_code, ids=[portal_id], **kw)[portal_id]
        return answer["status"], answer["answer"]

    def mode(self, mode, delay=None):
        self.control("/control/config", {"mode": mode} | ({"delay": delay} if delay is not None else {}))

    def state(self):
        return self.control("/control/state")

    def statuses(self, portal_id):
        """The (seq, national code) pairs the portal holds of a dossier, in order."""
        return [(s["seq"], s["code"]) for s in self.state()["dossiers"].get(portal_id, [])]


def signed_push(app, client, payload, secret=None):
    """POST a push to the app's /api/v1/national-portal/dossiers through `client` (a Flask test
    client), signed with `secret` (default: the app's own shared secret)."""
    from standardwebhooks.webhooks import Webhook

    from onestop.clock import Clock

    secret = secret or app.extensions["onestop.runtime"].national_portal.secret
    body = json.dumps(payload).encode()
    now = Clock().now()
    headers = {"webhook-id": f"push.{payload.get('portal_dossier_id')}",
               "webhook-timestamp": str(int(now.replace(tzinfo=UTC).timestamp())),
               "webhook-signature": Webhook(secret).sign(f"push.{payload.get('portal_dossier_id')}", now, body)}
    return client.post("/api/v1/national-portal/dossiers", data=body, headers=headers, content_type="application/json")


def worker_round(app, what="send", **kw):
    """One round of the worker's portal sync in the app's runtime: send_due, reconcile_due or reconcile."""
    from onestop.db import database
    from onestop.services.national_portal import sync

    with app.app_context():
        database.connect(reuse_if_open=True)
        return getattr(sync, {"send": "send_due"}.get(what, what))(**kw)


def send_all(app, rounds=20):
    """Rounds of sending until nothing is due (each dossier's changes go one a round, in order)."""
    total = 0
    for _ in range(rounds):
        sent = worker_round(app)
        total += sent
        if not sent:
            return total
    raise AssertionError("the status changes kept coming")


@contextlib.contextmanager
def connected(app, home, timeout_seconds=2.0, agency=AGENCY):
    """The app and the portal simulator, both served over HTTP, connected by SECRET; the default
    centre carries `agency`. Yields a Portal."""
    from onestop.models import Centre
    from onestop.services.national_portal.options import Options
    from onestop.services.users import ensure_default_centre

    with app.app_context():
        ensure_default_centre()
        Centre.update(agency_code=agency).where(Centre.code == "default").execute()
    with serving(portal_simulator(home)) as portal_url, serving(app) as onestop_url:
        app.extensions["onestop.runtime"].national_portal = Options(url=portal_url, secret=SECRET,
                                                                    timeout_seconds=timeout_seconds)
        portal = Portal(portal_url, onestop_url, app)
        portal.control("/control/config", {"secret": SECRET})
        yield portal
