"""Headers every answer carries: no framing, no sniffing, no inline script, no referrer leaking a
lookup page's address; cookies that stay on this site (and on HTTPS when it is served so).

Every HTML page gets a Content-Security-Policy, the back office (/admin) included. Our own pages
need no inline script or style at all. flask-admin's pages have inline <script> and <style>
elements: it writes a nonce into each (Admin(csp_nonce_generator=csp_nonce)), so its pages get a
fresh nonce per answer in script-src and style-src instead of 'unsafe-inline'. Inline event
handlers (onclick=) and style attributes cannot carry a nonce and stay refused; the back office's
views avoid them (flask-admin's delete buttons are off: the views never delete), except one:
flask-admin's filter menu writes `onclick="return false;"`, allowed by its hash alone
('unsafe-hashes' admits only handlers whose hash is listed).
"""

import base64
import hashlib
import secrets

from flask import g

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


# flask-admin's filter menu items: <a href="javascript:void(0)" onclick="return false;">
ADMIN_HANDLERS = ("return false;",)
ADMIN_HANDLER_HASHES = "'unsafe-hashes' " + " ".join(
    f"'sha256-{base64.b64encode(hashlib.sha256(h.encode()).digest()).decode()}'" for h in ADMIN_HANDLERS)


def csp_nonce() -> str:
    """This answer's nonce for inline <script> and <style> elements (one per request)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def policy() -> str:
    """The Content-Security-Policy of this answer: with its nonce if a page asked for one."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        return CSP
    return CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}' {ADMIN_HANDLER_HASHES}").replace(
        "style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")


def init_app(app):
    secure = app.config["ONESTOP"].secure_cookies
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure,
                      REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SECURE=secure)
    every = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin")]
    if secure:
        every.append(("Strict-Transport-Security", "max-age=31536000"))
    every = tuple((name.lower(), name, value) for name, value in every)

    @app.after_request
    def _headers(response):
        # Written once per answer from the list built above; a header the view set is kept. (werkzeug's
        # setdefault raised and built an HTTP exception for every header missing: 4 per answer.)
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for lowered, name, value in every:
            if lowered not in present:
                headers.add(name, value)
        if "content-security-policy" not in present and response.mimetype == "text/html":
            headers.add("Content-Security-Policy", policy())
        return response
