"""Headers every answer carries: no framing, no sniffing, no inline script, no referrer leaking a
lookup page's address; cookies that stay on this site (and on HTTPS when it is served so)."""

from flask import request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def init_app(app):
    secure = app.config["ONESTOP"].secure_cookies
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure,
                      REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SECURE=secure)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html" and not request.path.startswith("/admin"):  # flask-admin: issue 7
            headers.setdefault("Content-Security-Policy", CSP)
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
