"""A local OpenID Connect provider standing in for VNeID (the national electronic identity): the
authorization code flow with PKCE (S256), RS256-signed ID tokens, a JWKS, userinfo and a discovery
document, over real HTTP. Its sign-in page is a form where a tester picks a test citizen or types
one (citizen ID number, full name, date of birth, gender, address, phone, email): it accepts any
identity it is given, which is why it is never mounted in production.

State under `home`: the signing key (`signing-key.json`, generated on first start), the registered
clients (`clients.json`: the client `onestop`, secret `simulator-secret`, any redirect address; a
client with `"claims_in_id_token": true` gets every claim in the ID token, else the ID token names
the citizen, citizen ID and name, and userinfo tells the rest) and
the test citizens offered (`citizens.json`). Codes and access tokens live in memory for minutes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import secrets
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CODE_SECONDS = 120
TOKEN_SECONDS = 600
DEFAULT_CLIENTS = {"onestop": {"secret": "simulator-secret"}}
DEFAULT_CITIZENS = [
    {"citizen_id": "001085012345", "name": "Nguyễn Văn Hùng", "birthdate": "1985-03-14", "gender": "male",
     "address": "Số 12 phố Hàng Bạc, phường Hoàn Kiếm, Thành phố Hà Nội", "phone_number": "0912345678",
     "email": "hung.nguyen@example.vn"},
    {"citizen_id": "022190023456", "name": "Trần Thị Lan", "birthdate": "1990-07-02", "gender": "female",
     "address": "Tổ 5, phường Hồng Hải, tỉnh Quảng Ninh", "phone_number": "0987654321", "email": "lan.tran@example.vn"},
]
CLAIMS = ("citizen_id", "name", "birthdate", "gender", "address", "phone_number", "email")
SCOPES = ("openid", "profile", "email", "phone", "address")


def _create_once(path: Path, text: str) -> None:
    """Write path whole unless it exists. Several processes of one server start at once: the first
    file in place stays and every process reads that one (a draft of one's own, linked into place,
    which fails when another was first); no process reads a half-written file."""
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    draft.touch(mode=0o600)  # the key is private, even a simulator's
    try:
        draft.write_text(text, encoding="utf-8")
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()


def _load(path: Path, default):
    if not path.exists():
        _create_once(path, json.dumps(default, ensure_ascii=False, indent=1))
    return json.loads(path.read_text(encoding="utf-8"))


def signing_key(home: Path) -> RSAKey:
    """The provider's RS256 key, generated under home on first use (tests read it to sign tokens)."""
    path = home / "signing-key.json"
    if not path.exists():
        key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": "RS256"})
        text = json.dumps(key.as_dict(private=True))
        _create_once(path, text)
        if path.read_text(encoding="utf-8") == text:
            # Ours is the key kept: reading it back would only check it again (~37 ms of CPU, as much as
            # making it; each test's provider makes one). Another process's key, kept first, is read.
            return key
    return RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _page(body: str, status=200):
    return (f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>VNeID (mô phỏng)</title>"
            f"<meta name='viewport' content='width=device-width'></head><body>{body}</body></html>", status,
            {"Content-Type": "text/html; charset=utf-8"})


def create_app(home: Path):
    """The provider's WSGI application, its key, clients and test citizens under home."""
    home.mkdir(parents=True, exist_ok=True)
    key = signing_key(home)
    clients = _load(home / "clients.json", DEFAULT_CLIENTS)
    citizens = _load(home / "citizens.json", DEFAULT_CITIZENS)
    codes: dict[str, dict] = {}
    tokens: dict[str, dict] = {}
    lock = threading.Lock()
    app = Flask(__name__)

    def issuer() -> str:
        return request.host_url.rstrip("/") + request.script_root

    def error(code, description, status=400):
        return jsonify(error=code, error_description=description), status

    @app.get("/.well-known/openid-configuration")
    def discovery():
        base = issuer()
        return jsonify(issuer=base, authorization_endpoint=f"{base}/authorize", token_endpoint=f"{base}/token",
                       userinfo_endpoint=f"{base}/userinfo", jwks_uri=f"{base}/jwks",
                       response_types_supported=["code"], subject_types_supported=["public"],
                       id_token_signing_alg_values_supported=["RS256"], scopes_supported=list(SCOPES),
                       token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                       code_challenge_methods_supported=["S256"], grant_types_supported=["authorization_code"],
                       claims_supported=["sub", "iss", "aud", "exp", "iat", "nonce", *CLAIMS])

    @app.get("/jwks")
    def jwks():
        return jsonify(KeySet([key]).as_dict(private=False))

    def checked_request(args):
        """The error page for a bad authorization request, or None."""
        if args.get("client_id") not in clients:
            return _page("<h1>Ứng dụng không được đăng ký (unknown client)</h1>", 400)
        if args.get("response_type") != "code" or "openid" not in (args.get("scope") or "").split():
            return _page("<h1>Yêu cầu không hợp lệ (response_type=code and scope openid required)</h1>", 400)
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return _page("<h1>Yêu cầu không hợp lệ (PKCE S256 required)</h1>", 400)
        if not (args.get("redirect_uri") or "").startswith(("http://", "https://")):
            return _page("<h1>Yêu cầu không hợp lệ (redirect_uri)</h1>", 400)
        return None

    @app.get("/authorize")
    def authorize():
        refused = checked_request(request.args)
        if refused is not None:
            return refused
        kept = "".join(f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
                       for k, v in request.args.items() if k in ("client_id", "redirect_uri", "scope", "state", "nonce",
                                                                 "code_challenge", "code_challenge_method",
                                                                 "response_type"))
        options = "".join(f"<option value='{html.escape(c['citizen_id'])}'>{html.escape(c['name'])} "
                          f"({html.escape(c['citizen_id'])})</option>" for c in citizens)
        fields = "".join(
            f"<p><label for='{name}'>{label}</label><br><input id='{name}' name='{name}' type='{kind}'></p>"
            for name, label, kind in (
                ("citizen_id", "Số định danh cá nhân", "text"), ("name", "Họ, chữ đệm và tên", "text"),
                ("birthdate", "Ngày sinh", "date"), ("address", "Nơi thường trú", "text"),
                ("phone_number", "Số điện thoại", "tel"), ("email", "Thư điện tử", "email")))
        gender = ("<p><label for='gender'>Giới tính</label><br><select id='gender' name='gender'>"
                  "<option value=''>—</option><option value='male'>Nam</option><option value='female'>Nữ</option>"
                  "</select></p>")
        return _page(
            "<h1>VNeID — đăng nhập (mô phỏng)</h1><form method='post'>" + kept
            + f"<p><label for='known'>Công dân thử nghiệm</label><br><select id='known' name='known'>"
              f"<option value=''>— nhập bên dưới —</option>{options}</select></p>"
            + fields + gender + "<button type='submit'>Đăng nhập</button></form>")

    @app.post("/authorize")
    def approve():
        refused = checked_request(request.form)
        if refused is not None:
            return refused
        form = request.form
        person = next((dict(c) for c in citizens if c["citizen_id"] == form.get("known")), None)
        if person is None:
            person = {name: form.get(name, "").strip() for name in CLAIMS if form.get(name, "").strip()}
        if not person.get("citizen_id") or not person.get("name"):
            return _page("<h1>Nhập số định danh cá nhân và họ tên</h1>", 400)
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = {"client_id": form["client_id"], "redirect_uri": form["redirect_uri"],
                           "challenge": form["code_challenge"], "nonce": form.get("nonce"),
                           "scope": form.get("scope", ""), "person": person, "expires": time.time() + CODE_SECONDS}
        query = {"code": code} | ({"state": form["state"]} if form.get("state") else {})
        target = form["redirect_uri"]
        return "", 302, {"Location": target + ("&" if "?" in target else "?") + urlencode(query)}

    def client_of():
        """The client authenticating the token request (HTTP Basic or the form), or None."""
        auth = request.authorization
        client_id, secret = (auth.username, auth.password) if auth and auth.username else (
            request.form.get("client_id"), request.form.get("client_secret"))
        client = clients.get(client_id or "")
        if client is None or not secrets.compare_digest(str(client.get("secret", "")), str(secret or "")):
            return None
        return client_id

    @app.post("/token")
    def token():
        client_id = client_of()
        if client_id is None:
            return error("invalid_client", "unknown client or wrong secret", 401)
        if request.form.get("grant_type") != "authorization_code":
            return error("unsupported_grant_type", "only authorization_code")
        with lock:
            grant = codes.pop(request.form.get("code", ""), None)  # a code is used once
        if grant is None or grant["expires"] < time.time() or grant["client_id"] != client_id:
            return error("invalid_grant", "unknown, used or expired code")
        if request.form.get("redirect_uri") != grant["redirect_uri"]:
            return error("invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = request.form.get("code_verifier") or ""
        if not secrets.compare_digest(_s256(verifier), grant["challenge"]):
            return error("invalid_grant", "code_verifier does not match the code_challenge")
        person, now = grant["person"], int(time.time())
        subject = str(uuid.uuid5(uuid.NAMESPACE_URL, "vneid:" + person["citizen_id"]))
        # The ID token names the citizen; the other claims are in userinfo (as providers that keep
        # ID tokens small do), unless the client registered "claims_in_id_token".
        named = person if clients[client_id].get("claims_in_id_token") else {
            k: v for k, v in person.items() if k in ("citizen_id", "name")}
        claims = {"iss": issuer(), "sub": subject, "aud": client_id, "iat": now, "exp": now + TOKEN_SECONDS,
                  "auth_time": now, **named}
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        access = secrets.token_urlsafe(24)
        with lock:
            for stale in [t for t, v in tokens.items() if v["expires"] < now]:
                del tokens[stale]
            tokens[access] = {"claims": {"sub": subject, **person}, "expires": now + TOKEN_SECONDS}
        return jsonify(access_token=access, token_type="Bearer", expires_in=TOKEN_SECONDS, id_token=id_token,
                       scope=grant["scope"])

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo():
        auth = request.headers.get("Authorization", "")
        found = tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if found is None or found["expires"] < time.time():
            return error("invalid_token", "unknown or expired access token", 401)
        return jsonify(found["claims"])

    return app
