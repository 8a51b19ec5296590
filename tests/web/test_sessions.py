"""The cookie session: skipped for requests without a cookie, intact for those with one."""

from flask import session


def _routes(app):
    @app.get("/_test/remember/<value>")
    def remember(value):
        session["value"] = value
        return "ok"

    @app.get("/_test/recall")
    def recall():
        return session.get("value", "-")


def test_a_request_without_a_cookie_sets_none(sqlite_app):
    _routes(sqlite_app)
    reply = sqlite_app.test_client().get("/_test/recall")
    assert reply.get_data(as_text=True) == "-" and "Set-Cookie" not in reply.headers


def test_a_session_written_in_one_request_is_read_in_the_next(sqlite_app):
    _routes(sqlite_app)
    client = sqlite_app.test_client()
    assert "Set-Cookie" in client.get("/_test/remember/xin-chào").headers
    assert client.get("/_test/recall").get_data(as_text=True) == "xin-chào"


def test_a_forged_session_cookie_is_ignored(sqlite_app):
    _routes(sqlite_app)
    client = sqlite_app.test_client()
    client.set_cookie("session", "eyJ2YWx1ZSI6ImFkbWluIn0.forged.signature")
    assert client.get("/_test/recall").get_data(as_text=True) == "-"


def test_an_api_answer_neither_sets_a_cookie_nor_varies_on_one_but_keeps_the_security_headers(sqlite_admin_api):
    reply = sqlite_admin_api.get("/procedures")
    assert reply.status_code == 200
    assert "Set-Cookie" not in reply.headers and "Cookie" not in reply.headers.get("Vary", "")
    assert reply.headers["X-Content-Type-Options"] == "nosniff" and reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Referrer-Policy"] == "same-origin" and "Content-Security-Policy" not in reply.headers


def test_a_page_still_varies_on_the_cookie_and_carries_its_policy(sqlite_app):
    page = sqlite_app.test_client().get("/")
    assert "Cookie" in page.headers.get("Vary", "") and "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert [name for name, _value in page.headers if name == "X-Frame-Options"] == ["X-Frame-Options"]


def test_a_request_without_a_cookie_header_has_its_cookies_left_unread(sqlite_app, monkeypatch):
    import werkzeug.sansio.request

    parsed = []
    original = werkzeug.sansio.request.parse_cookie
    monkeypatch.setattr(werkzeug.sansio.request, "parse_cookie",
                        lambda *args, **kwargs: parsed.append(args) or original(*args, **kwargs))
    _routes(sqlite_app)
    client = sqlite_app.test_client()
    assert client.get("/_test/recall").get_data(as_text=True) == "-" and parsed == []
    assert "Set-Cookie" in client.get("/_test/remember/x").headers  # with a cookie, it is read as before
    assert client.get("/_test/recall").get_data(as_text=True) == "x" and parsed
