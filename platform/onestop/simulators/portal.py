"""A simulator of the National Public Service Portal (Cổng Dịch vụ công quốc gia), speaking the
contract of docs/integrations.md (the national portal): it pushes online dossiers to a onestop, keeps the status
changes onestop sends back (dropping, and counting, a change it already holds), answers the
reconciliation's status query, and can be told to misbehave for the tests.

Everything it keeps is in an SQLite file under `home`. Its control endpoints (`/control/...`) are
the test's and the demo's hands: set the shared secret, push dossiers, forget a status, go down, be
slow, answer nonsense, and read what it received. It imports nothing of onestop.

    POST /statuses                 a status change from onestop (signed) -> {"accepted", "duplicate"}
    POST /statuses/query           {"portal_dossier_ids": [...]} -> {"dossiers": {id: {"seq", "status_code"}}}
    GET  /documents/<name>         a document a pushed dossier refers to by URL
    POST /control/config           {"secret": "whsec_...", "mode": "up|down|slow|malformed", "delay": s}
    POST /control/push             {"target": url, "count": n, "procedure_code", "agency_code", ...}
    POST /control/forget           {"portal_dossier_id": id}: drop the last status change it holds
    POST /control/documents        {"name", "content_base64"}: serve a document
    GET  /control/state            what it received: per dossier the seqs and codes, deliveries, duplicates
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import urllib3
from flask import Flask, Response, abort, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ..clock import Clock

_UTC = UTC
_REAL = Clock()  # the portal's own clock: real time (signatures are checked against the receiver's)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS status (portal_id TEXT, seq INTEGER, code INTEGER, value TEXT, changed_at TEXT,
                                   received_at TEXT, PRIMARY KEY (portal_id, seq));
CREATE TABLE IF NOT EXISTS delivery (id INTEGER PRIMARY KEY, portal_id TEXT, seq INTEGER, duplicate INTEGER,
                                     received_at TEXT);
CREATE TABLE IF NOT EXISTS pushed (portal_id TEXT PRIMARY KEY, dossier_code TEXT, receipt TEXT, pushed_at TEXT);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS document (name TEXT PRIMARY KEY, content BLOB);
"""


class _Store:
    """The simulator's state: one SQLite file, one connection guarded by a lock (it is small and quick)."""

    def __init__(self, path: Path):
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def run(self, sql, params=()):
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def setting(self, name, default=None):
        rows = self.run("SELECT value FROM setting WHERE name = ?", (name,))
        return rows[0][0] if rows else default

    def set(self, name, value):
        self.run("INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                 (name, None if value is None else str(value)))


def create_app(home: Path):
    """The portal simulator's WSGI application, keeping its state under `home`."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    store = _Store(home / "portal.sqlite")
    app = Flask(__name__)
    http = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=10, read=60))

    def misbehave():
        """Answer as the test asked: down (503), slow (a pause first), malformed (not JSON); else None."""
        mode = store.setting("mode", "up")
        if mode == "down":
            return Response("portal under maintenance", status=503)
        if mode == "slow":
            time.sleep(float(store.setting("delay", "5")))
        if mode == "malformed":
            return Response("<html>not json", status=200, mimetype="text/html")
        return None

    def checked_body():
        secret = store.setting("secret")
        body = request.get_data()
        if secret:
            try:
                Webhook(secret).verify(body, dict(request.headers), json_parse=False)
            except WebhookVerificationError:
                abort(401)
        try:
            value = json.loads(body)
        except ValueError:
            abort(400)
        if not isinstance(value, dict):
            abort(400)
        return value

    @app.post("/statuses")
    def receive_status():
        odd = misbehave()
        if odd is not None:
            return odd
        change = checked_body()
        portal_id, seq, status = change.get("portal_dossier_id"), change.get("seq"), change.get("status") or {}
        if not isinstance(portal_id, str) or not isinstance(seq, int) or not isinstance(status, dict):
            return jsonify({"error": "bad_request"}), 400
        with store.lock:
            cursor = store.db.execute(
                "INSERT OR IGNORE INTO status (portal_id, seq, code, value, changed_at, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (portal_id, seq, status.get("code"), status.get("value"),
                                              change.get("changed_at"), _REAL.now().isoformat()))
            duplicate = cursor.rowcount == 0
            store.db.execute("INSERT INTO delivery (portal_id, seq, duplicate, received_at) VALUES (?, ?, ?, ?)",
                             (portal_id, seq, int(duplicate), _REAL.now().isoformat()))
        return jsonify({"accepted": True, "duplicate": duplicate})

    @app.post("/statuses/query")
    def query_statuses():
        odd = misbehave()
        if odd is not None:
            return odd
        ids = checked_body().get("portal_dossier_ids") or []
        if not isinstance(ids, list):
            return jsonify({"error": "bad_request"}), 400
        held = {}
        for portal_id in ids[:1000]:
            rows = store.run("SELECT seq, code FROM status WHERE portal_id = ? ORDER BY seq", (str(portal_id),))
            seq, code = 0, None
            for number, status_code in rows:  # the last of an unbroken run from 1: a gap is a loss
                if number != seq + 1:
                    break
                seq, code = number, status_code
            held[str(portal_id)] = {"seq": seq, "status_code": code}
        return jsonify({"dossiers": held})

    @app.get("/documents/<name>")
    def document(name):
        rows = store.run("SELECT content FROM document WHERE name = ?", (name,))
        if not rows:
            abort(404)
        return Response(rows[0][0], mimetype="application/octet-stream")

    @app.post("/control/config")
    def config():
        body = request.get_json(force=True) or {}
        for name in ("secret", "mode", "delay"):
            if name in body:
                store.set(name, body[name])
        return jsonify({"secret": bool(store.setting("secret")), "mode": store.setting("mode", "up")})

    @app.post("/control/documents")
    def add_document():
        body = request.get_json(force=True) or {}
        store.run("INSERT OR REPLACE INTO document (name, content) VALUES (?, ?)",
                  (body["name"], base64.b64decode(body["content_base64"])))
        return jsonify({"url": request.host_url.rstrip("/") + request.script_root + f"/documents/{body['name']}"})

    @app.post("/control/forget")
    def forget():
        portal_id = (request.get_json(force=True) or {}).get("portal_dossier_id")
        rows = store.run("SELECT MAX(seq) FROM status WHERE portal_id = ?", (portal_id,))
        if not rows or rows[0][0] is None:
            return jsonify({"forgot": None}), 404
        store.run("DELETE FROM status WHERE portal_id = ? AND seq = ?", (portal_id, rows[0][0]))
        return jsonify({"forgot": rows[0][0]})

    @app.get("/control/state")
    def state():
        dossiers: dict = {}
        for portal_id, seq, code, value in store.run("SELECT portal_id, seq, code, value FROM status ORDER BY portal_id, seq"):
            dossiers.setdefault(portal_id, []).append({"seq": seq, "code": code, "value": value})
        deliveries, duplicates = store.run("SELECT COUNT(*), COALESCE(SUM(duplicate), 0) FROM delivery")[0]
        pushed = {p: {"dossier_code": c, "receipt": json.loads(r)}
                  for p, c, r in store.run("SELECT portal_id, dossier_code, receipt FROM pushed")}
        return jsonify({"dossiers": dossiers, "deliveries": deliveries, "duplicates": duplicates, "pushed": pushed})

    @app.post("/control/push")
    def push():
        """Push `count` dossiers (ids `prefix`-1..n, or `ids`) to `target`, `concurrency` at a time,
        each `repeat` times; signed with the secret unless `forge` (a wrong secret)."""
        body = request.get_json(force=True) or {}
        secret = body.get("secret") or store.setting("secret")
        if body.get("forge"):
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        prefix = body.get("prefix") or f"DVC-{uuid.uuid4().hex[:8]}"
        ids = body.get("ids") or [f"{prefix}-{n}" for n in range(1, int(body.get("count", 1)) + 1)]
        repeat = int(body.get("repeat", 1))

        def one(portal_id):
            payload = {"portal_dossier_id": portal_id, "procedure_code": body["procedure_code"],
                       "agency_code": body["agency_code"],
                       "submitted_at": _REAL.now().isoformat() + "Z",
                       "applicant": body.get("applicant") or {"name": "Nguyễn Văn An", "citizen_id": "001090012345"},
                       "form_data": body.get("form_data") or {}}
            if body.get("documents"):
                payload["documents"] = body["documents"]
            raw = json.dumps(payload, ensure_ascii=False).encode()
            answers = []
            for _ in range(repeat):
                message_id = f"push.{portal_id}.{uuid.uuid4().hex[:8]}"
                now = _REAL.now()  # naive UTC, as Webhook.sign takes it
                headers = {"Content-Type": "application/json", "webhook-id": message_id,
                           "webhook-timestamp": str(int(now.replace(tzinfo=_UTC).timestamp())),
                           "webhook-signature": Webhook(secret).sign(message_id, now, raw) if secret else ""}
                try:
                    reply = http.request("POST", body["target"], body=raw, headers=headers)
                except urllib3.exceptions.HTTPError as exc:
                    answers.append({"status": None, "error": type(exc).__name__})
                    continue
                try:
                    answer = json.loads(reply.data or b"null")
                except ValueError:
                    answer = None
                answers.append({"status": reply.status, "answer": answer})
                if reply.status in (200, 201) and isinstance(answer, dict):
                    store.run("INSERT OR REPLACE INTO pushed (portal_id, dossier_code, receipt, pushed_at) "
                              "VALUES (?, ?, ?, ?)", (portal_id, answer.get("dossier_code"), json.dumps(answer),
                                                      _REAL.now().isoformat()))
            return portal_id, answers

        with ThreadPoolExecutor(max(1, min(int(body.get("concurrency", 1)), 32))) as pool:
            results = dict(pool.map(one, ids))
        return jsonify({"results": results})

    return app
