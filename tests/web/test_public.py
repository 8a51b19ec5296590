"""Pages that need no sign-in, and what a browser gets when something is wrong."""


def test_the_home_page_is_in_vietnamese_first(sqlite_app):
    page = sqlite_app.test_client().get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<html lang="vi">' in text and "Trung tâm phục vụ hành chính công" in text


def test_the_health_check_reaches_the_database(sqlite_app):
    assert sqlite_app.test_client().get("/healthz").json["status"] == "ok"


def test_the_back_office_is_mounted_and_asks_visitors_to_sign_in(sqlite_app):
    reply = sqlite_app.test_client().get("/admin/")
    assert reply.status_code == 302 and "/desk/login?next=/admin/" in reply.headers["Location"]


def test_an_unknown_page_gets_a_short_html_page_not_a_traceback(sqlite_app):
    page = sqlite_app.test_client().get("/no/such/page")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "Traceback" not in text and "Trang chủ" in text


def test_pages_forbid_framing_sniffing_and_inline_script(sqlite_app):
    page = sqlite_app.test_client().get("/")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in page.headers  # plain HTTP unless ONESTOP_SECURE_COOKIES=1
