"""A citizen signs in on the portal through the local OpenID provider (real HTTP), finds the
applicant block filled and locked, cannot change what the identity vouches for even by sending
another value, sees "my dossiers", and reuses a kept document; the officer's sign-in is untouched
and anonymous submission still works."""

import io
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from onestop.app import create_app
from onestop.models import CitizenDossier, Dossier
from onestop.simulators import identity as provider_app
from tests.conftest import CHEAP_PASSWORDS, Api, _close_pool, make_user
from tests.process_models import upload_bundled
from tests.support.simulators import serving
from tests.web.pages import PDF, csrf, sign_in

HUNG = "001085012345"
BIRTH = "1.001193"
APPLICATION = {"declarant_relationship": "cha", "child_full_name": "Nguyễn Minh Anh", "child_gender": "nu",
               "child_date_of_birth": "2026-11-20", "child_place_of_birth": "Bệnh viện Sản Nhi Quảng Ninh",
               "mother_full_name": "Trần Thị Lan", "birth_evidence": "giay_chung_sinh", "copies_requested": "1"}


@pytest.fixture
def provider_url(tmp_path):
    with serving(provider_app.create_app(tmp_path / "vneid")) as url:
        yield url


@pytest.fixture
def site(sqlite_url, tmp_path, engine, clock, provider_url):
    app = create_app({"home": tmp_path / "home", "database_url": sqlite_url, "testing": True,
                      "run_timer_thread": False, "secret_key": "test-secret", "engine": engine, "clock": clock,
                      "password_hasher": CHEAP_PASSWORDS, "oidc_issuer": provider_url, "oidc_client_id": "onestop",
                      "oidc_client_secret": "simulator-secret"})
    with app.app_context():
        token = make_user("admin", ("admin",))[1]
    upload_bundled(Api(app.test_client(), token), "birth_registration")
    yield app
    _close_pool()


def at_provider(url, known=HUNG):
    """The browser at the provider: its page, a test citizen picked, the form sent; where it sends back to."""
    assert requests.get(url, timeout=5).status_code == 200
    answer = requests.post(url.split("?")[0], data={**dict(parse_qsl(urlsplit(url).query)), "known": known},
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    return answer.headers["Location"]


def english(client):
    client.set_cookie("lang", "en")
    return client


def sign_in_citizen(client, known=HUNG, next_path=None):
    start = client.get("/signin" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 303
    return client.get(at_provider(start.headers["Location"], known))


def submit_form(client, fields, files=None, reuse=None):
    page = client.get(f"/procedures/{BIRTH}/submit")
    match = re.search(r'name="_submission" value="([^"]+)"', page.get_data(as_text=True))
    data = {"csrf_token": csrf(page), "_submission": match.group(1), **fields}
    if files is not None:
        data["birth_evidence_file"] = files
    if reuse is not None:
        data["_reuse:birth_evidence_file"] = str(reuse)
    return client.post(f"/procedures/{BIRTH}/submit", data=data, content_type="multipart/form-data")


def test_a_citizen_signs_in_and_finds_the_applicant_block_filled_and_locked(site):
    client = english(site.test_client())
    done = sign_in_citizen(client, next_path=f"/procedures/{BIRTH}/submit")
    assert done.status_code == 303 and done.headers["Location"] == f"/procedures/{BIRTH}/submit"
    text = client.get(f"/procedures/{BIRTH}/submit").get_data(as_text=True)
    name = re.search(r'<input[^>]*id="declarant_full_name"[^>]*>', text).group(0)
    assert 'value="Nguyễn Văn Hùng"' in name and "readonly" in name
    citizen_id = re.search(r'<input[^>]*id="declarant_citizen_id"[^>]*>', text).group(0)
    assert f'value="{HUNG}"' in citizen_id and "readonly" in citizen_id
    phone = re.search(r'<input[^>]*id="declarant_phone"[^>]*>', text).group(0)
    assert 'value="0912345678"' in phone and "readonly" not in phone  # a contact detail: filled, may change
    assert "My dossiers" in text and "Sign out" in text


def test_an_altered_authoritative_field_is_overwritten_with_the_claim_and_the_dossier_is_mine(site):
    client = site.test_client()
    sign_in_citizen(client)
    sent = submit_form(client, APPLICATION | {"declarant_full_name": "Kẻ Mạo Danh", "declarant_citizen_id": "999999999999",
                                              "declarant_phone": "0900000000"}, files=(io.BytesIO(PDF), "chung-sinh.pdf"))
    assert sent.status_code == 303, sent.get_data(as_text=True)[:3000]
    with site.app_context():
        dossier = Dossier.select().order_by(Dossier.id.desc()).first()
        assert (dossier.data["declarant_full_name"], dossier.data["declarant_citizen_id"]) == ("Nguyễn Văn Hùng", HUNG)
        assert dossier.data["declarant_phone"] == "0900000000"
        assert CitizenDossier.get(CitizenDossier.dossier == dossier.id).citizen_id == HUNG
    mine = client.get("/my/dossiers").get_data(as_text=True)
    assert dossier.code in mine and "Thủ tục đăng ký khai sinh" in mine


def test_a_signed_in_citizen_reuses_a_kept_document_instead_of_uploading_it(site):
    client = site.test_client()
    sign_in_citizen(client)
    assert submit_form(client, APPLICATION, files=(io.BytesIO(PDF), "chung-sinh.pdf")).status_code == 303
    page = client.get(f"/procedures/{BIRTH}/submit").get_data(as_text=True)
    offered = re.search(r'name="_reuse:birth_evidence_file">(.*?)</select>', page, re.S).group(1)
    document_id = re.search(r'<option value="(\d+)">[^<]*chung-sinh.pdf', offered).group(1)
    sent = submit_form(client, APPLICATION, reuse=document_id)
    assert sent.status_code == 303, sent.get_data(as_text=True)[:3000]
    with site.app_context():
        second = Dossier.select().order_by(Dossier.id.desc()).first()
        assert second.data["birth_evidence_file"].startswith("attachment:")
    codes = re.findall(r">([^<]+-\d{6}-\d{4,})</a></td>", client.get("/my/dossiers").get_data(as_text=True))
    assert len(codes) == 2 and codes[0] == second.code


def test_another_citizens_document_cannot_be_chosen_by_its_number(site):
    hung = site.test_client()
    sign_in_citizen(hung)
    assert submit_form(hung, APPLICATION, files=(io.BytesIO(PDF), "chung-sinh.pdf")).status_code == 303
    document_id = re.search(r'name="_reuse:birth_evidence_file">.*?<option value="(\d+)"',
                            hung.get(f"/procedures/{BIRTH}/submit").get_data(as_text=True), re.S).group(1)
    lan = site.test_client()
    sign_in_citizen(lan, known="022190023456")
    sent = submit_form(lan, APPLICATION, reuse=document_id)
    assert sent.status_code == 404
    assert "_reuse:birth_evidence_file" not in sent.get_data(as_text=True)  # Lan has nothing kept to offer


def test_a_callback_whose_state_does_not_match_signs_nobody_in(site):
    client = english(site.test_client())
    start = client.get("/signin")
    back = at_provider(start.headers["Location"])
    forged = re.sub(r"state=[^&]+", "state=forged", back)
    assert client.get(forged).status_code == 400
    assert client.get(back).status_code == 400  # the sign-in started is spent: an answer is taken once
    assert "Sign out" not in client.get("/").get_data(as_text=True)
    assert client.get("/my/dossiers").status_code == 303


def test_an_unreachable_provider_is_a_clear_page_not_a_crash(site):
    site.config["ONESTOP"].oidc_issuer = "http://127.0.0.1:9"
    page = english(site.test_client()).get("/signin")
    assert page.status_code == 503 and "cannot be reached" in page.get_data(as_text=True)


def test_signing_out_ends_the_citizens_session(site):
    client = english(site.test_client())
    sign_in_citizen(client)
    page = client.get("/")
    token = re.search(r'action="/signout"[^>]*>\s*<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    assert client.post("/signout", data={"csrf_token": token}).status_code == 303
    assert client.get("/my/dossiers").status_code == 303


def test_a_signed_in_citizen_is_no_officer_and_the_officers_sign_in_is_untouched(site):
    client = site.test_client()
    sign_in_citizen(client)
    assert client.get("/desk/").status_code in (302, 303)  # to the officers' sign-in
    with site.app_context():
        make_user("canbo", ("officer",), password="Mật-khẩu-2026")
    assert sign_in(client, "canbo", "Mật-khẩu-2026").status_code in (302, 303)
    assert client.get("/desk/").status_code == 200


def test_anonymous_submission_with_a_lookup_key_still_works(site):
    client = site.test_client()
    sent = submit_form(client, APPLICATION | {"declarant_full_name": "Nguyễn Văn Hùng", "declarant_citizen_id": HUNG},
                       files=(io.BytesIO(PDF), "chung-sinh.pdf"))
    assert sent.status_code == 303
    confirmation = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="lookup-key">([^<]+)<', confirmation)
    with site.app_context():
        assert CitizenDossier.select().count() == 0


def test_a_citizens_session_ends_after_the_session_hours(site, clock):
    client = site.test_client()
    sign_in_citizen(client)
    assert client.get("/my/dossiers").status_code == 200
    clock.advance(site.config["ONESTOP"].session_hours * 3600 + 60)
    assert client.get("/my/dossiers").status_code == 303  # signed in again to see them


def _hung_submits(app):
    """Hùng, signed in (English pages), submits the birth application: (his client, the new dossier)."""
    hung = english(app.test_client())
    sign_in_citizen(hung)
    assert submit_form(hung, APPLICATION, files=(io.BytesIO(PDF), "chung-sinh.pdf")).status_code == 303
    with app.app_context():
        return hung, Dossier.select().order_by(Dossier.id.desc()).first()


def test_a_citizen_follows_their_own_dossier_without_its_key_and_nobody_elses(site):
    hung, dossier = _hung_submits(site)
    code = dossier.code
    page = hung.get(f"/my/dossiers/{code}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and code in text and "Progress" in text and "Thủ tục đăng ký khai sinh" in text
    lan = site.test_client()
    sign_in_citizen(lan, known="022190023456")
    assert lan.get(f"/my/dossiers/{code}").status_code == 404
    assert code not in lan.get("/my/dossiers").get_data(as_text=True)
    assert site.test_client().get(f"/my/dossiers/{code}").status_code == 404  # signed out: nobody's


def test_a_citizen_sees_the_fees_of_their_own_dossier_paid_and_still_owed(site):
    from onestop.models import Payment, utcnow

    hung, dossier = _hung_submits(site)
    code = dossier.code
    with site.app_context():
        Payment.create(centre=dossier.centre_id, dossier=dossier.id, order_ref=f"{code}-P1", amount=100000,
                       stage="submission", state="paid", receipt_no="BL-20261205-000001", paid_at=utcnow())
        page = hung.get(f"/my/dossiers/{code}").get_data(as_text=True)
        assert "BL-20261205-000001" in page and "100.000" in page and ": paid" in page
        assert 'id="fee-owed"' not in page
        Payment.create(centre=dossier.centre_id, dossier=dossier.id, order_ref=f"{code}-P2", amount=50000,
                       stage="before_result")
    page = hung.get(f"/my/dossiers/{code}").get_data(as_text=True)
    assert "50.000" in page and ": to pay" in page and 'id="fee-owed"' in page


def test_a_citizen_downloads_the_signed_result_of_their_own_dossier_without_its_key(site):
    from onestop.services import signing
    from onestop.status import Status
    from tests.support.signed import with_keys

    hung, dossier = _hung_submits(site)
    code = dossier.code
    page = hung.get(f"/my/dossiers/{code}")
    assert "Download the signed result" not in page.get_data(as_text=True)  # not ready yet
    assert hung.post(f"/my/dossiers/{code}/result", data={"csrf_token": csrf(page)}).status_code == 303
    with site.app_context():
        with_keys()
        Dossier.update(status=Status.RESOLVED).where(Dossier.code == code).execute()
    page = hung.get(f"/my/dossiers/{code}")
    assert "Download the signed result" in page.get_data(as_text=True)
    assert hung.post(f"/my/dossiers/{code}/result", data={}).status_code == 303  # no CSRF token: nothing
    answer = hung.post(f"/my/dossiers/{code}/result", data={"csrf_token": csrf(page)})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    with site.app_context():
        assert signing.verify_file(answer.data).state == "valid"
    lan = site.test_client()
    sign_in_citizen(lan, known="022190023456")
    other = lan.get("/my/dossiers")
    assert lan.post(f"/my/dossiers/{code}/result", data={"csrf_token": csrf(other)}).status_code == 404
    assert site.test_client().post(f"/my/dossiers/{code}/result").status_code == 404  # signed out: nobody's


@pytest.fixture
def paying_site(sqlite_url, tmp_path, engine, clock, provider_url):
    """The portal with citizens' sign-in and a payment gateway (never called here: paying starts
    with the browser sent to it)."""
    app = create_app({"home": tmp_path / "home", "database_url": sqlite_url, "testing": True,
                      "run_timer_thread": False, "secret_key": "test-secret", "engine": engine, "clock": clock,
                      "password_hasher": CHEAP_PASSWORDS, "oidc_issuer": provider_url, "oidc_client_id": "onestop",
                      "oidc_client_secret": "simulator-secret", "payment_url": "http://gateway.invalid",
                      "payment_merchant": "ONESTOP1", "payment_secret": "merchant-secret"})
    with app.app_context():
        token = make_user("admin", ("admin",))[1]
    upload_bundled(Api(app.test_client(), token), "birth_registration")
    yield app
    _close_pool()


def test_a_citizen_pays_the_fee_of_their_own_dossier_from_my_dossiers_and_comes_back_there(paying_site):
    from urllib.parse import urlencode

    from onestop.models import Payment
    from onestop.services import payment_gateway

    hung, dossier = _hung_submits(paying_site)
    code = dossier.code
    with paying_site.app_context():
        Payment.create(centre=dossier.centre_id, dossier=dossier.id, order_ref=f"{code}-P1", amount=100000,
                       stage="before_result")
    page = hung.get(f"/my/dossiers/{code}")
    assert "Pay the fee online" in page.get_data(as_text=True)
    assert hung.post(f"/my/dossiers/{code}/pay", data={}).headers["Location"] == f"/my/dossiers/{code}"  # no CSRF
    sent = hung.post(f"/my/dossiers/{code}/pay", data={"csrf_token": csrf(page)})
    assert sent.status_code == 303 and sent.headers["Location"].startswith("http://gateway.invalid/paymentv2/")
    assert f"vnp_TxnRef={code}-P1" in sent.headers["Location"]
    back = {"vnp_TxnRef": f"{code}-P1", "vnp_ResponseCode": "24", "vnp_TransactionStatus": "02"}  # cancelled there
    back["vnp_SecureHash"] = payment_gateway.sign(back, "merchant-secret")
    returned = hung.get("/payment/vnpay/return?" + urlencode(back))
    assert returned.status_code == 303 and returned.headers["Location"] == f"/my/dossiers/{code}"
    assert "The payment was not made" in hung.get(f"/my/dossiers/{code}").get_data(as_text=True)
    lan = paying_site.test_client()
    sign_in_citizen(lan, known="022190023456")
    other = lan.get("/my/dossiers")
    assert lan.post(f"/my/dossiers/{code}/pay", data={"csrf_token": csrf(other)}).status_code == 404
