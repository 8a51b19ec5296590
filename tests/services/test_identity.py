"""Citizens' electronic identity against the local OpenID provider (onestop.simulators.identity),
talked to over real HTTP: the code flow with PKCE, the ID token's signature, issuer, audience,
expiry and nonce checked, the state checked; "enter once" (authoritative claims put over what a
submission says), "my dossiers" across centres, and a kept document reused instead of uploaded."""

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from onestop.models import CitizenDocument, CitizenDossier, Dossier
from onestop.services import attachments, identity, procedures
from onestop.services.attachments import Upload
from onestop.services.errors import NotFound
from onestop.services.identity import Citizen, Provider, SignInRefused
from onestop.services.users import portal_user
from onestop.simulators import identity as provider_app
from tests.process_models import upload_bundled
from tests.support.simulators import serving
from tests.web.pages import PDF

BIRTH = "1.001193"  # bundled birth registration: the declarant_* applicant block and a file field
CALLBACK = "http://127.0.0.1:9/signin/callback"
HUNG = "001085012345"  # a test citizen the provider offers


@pytest.fixture
def provider_home(tmp_path):
    return tmp_path / "vneid"


@pytest.fixture
def provider(provider_home):
    with serving(provider_app.create_app(provider_home)) as url:
        yield Provider(url, "onestop", "simulator-secret", timeout=5)


def browser_signs_in(url, known=HUNG, **typed):
    """What the citizen's browser does at the provider: open its page, pick (or type) the citizen,
    send the form; the provider's answer to the callback (its query)."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "VNeID" in page.text
    answer = requests.post(url.split("?")[0], data={**dict(parse_qsl(urlsplit(url).query)),
                                                   "known": "" if typed else known, **typed},
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK)
    return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))


def signed_token(key, provider, **changes):
    now = int(time.time())
    claims = {"iss": provider.issuer, "sub": "s-1", "aud": provider.client_id, "iat": now, "exp": now + 300,
              "nonce": "n-1", "citizen_id": HUNG, "name": "Nguyễn Văn Hùng"} | changes
    return jwt.encode({"alg": "RS256", "kid": key.kid}, {k: v for k, v in claims.items() if v is not None}, key)


def test_the_code_flow_with_pkce_signs_in_the_citizen_the_provider_vouched_for(provider):
    url, pending = identity.begin(provider, CALLBACK)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["code_challenge_method"] == "S256" and query["state"] == pending["state"]
    assert query["nonce"] == pending["nonce"] and pending["verifier"] not in url
    citizen = identity.finish(provider, pending, browser_signs_in(url))
    assert (citizen.citizen_id, citizen.name, citizen.birthdate, citizen.gender) == (
        HUNG, "Nguyễn Văn Hùng", "1985-03-14", "male")
    assert citizen.issuer == provider.issuer and citizen.subject


def test_a_citizen_typed_at_the_provider_signs_in_with_those_claims(provider):
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url, **{"citizen_id": "079201000111", "name": "Lê Thị Mai", "birthdate": "2001-01-09",
                                      "gender": "female"})
    citizen = identity.finish(provider, pending, answer)
    assert (citizen.citizen_id, citizen.name, citizen.gender) == ("079201000111", "Lê Thị Mai", "female")


def test_an_answer_whose_state_does_not_match_is_refused_before_any_code_is_used(provider):
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url)
    with pytest.raises(SignInRefused) as refused:
        identity.finish(provider, pending, {**answer, "state": "someone-elses"})
    assert refused.value.reason == "state"
    with pytest.raises(SignInRefused) as refused:
        identity.finish(provider, None, answer)  # no sign-in started in this browser
    assert refused.value.reason == "state"
    assert identity.finish(provider, pending, answer).citizen_id == HUNG  # the code was never spent


def test_a_code_is_good_once_and_only_with_its_verifier(provider):
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url)
    with pytest.raises(SignInRefused) as refused:
        identity.finish(provider, {**pending, "verifier": "x" * 64}, answer)
    assert refused.value.reason == "provider"
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url)
    identity.finish(provider, pending, answer)
    with pytest.raises(SignInRefused):
        identity.finish(provider, pending, answer)


def test_a_client_with_the_wrong_secret_gets_no_token(provider):
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url)
    with pytest.raises(SignInRefused) as refused:
        identity.finish(Provider(provider.issuer, "onestop", "not-the-secret", timeout=5), pending, answer)
    assert refused.value.reason == "provider"


def test_the_provider_refuses_an_authorization_request_without_pkce_or_from_an_unknown_client(provider):
    url, _pending = identity.begin(provider, CALLBACK)
    query = dict(parse_qsl(urlsplit(url).query))
    base = url.split("?")[0]
    assert requests.get(base, params={k: v for k, v in query.items() if k != "code_challenge"}, timeout=5).status_code == 400
    assert requests.get(base, params=query | {"client_id": "intruder"}, timeout=5).status_code == 400
    assert requests.get(base, params=query, timeout=5).status_code == 200


def test_an_id_token_with_another_sign_ins_nonce_is_refused(provider):
    url, pending = identity.begin(provider, CALLBACK)
    answer = browser_signs_in(url)
    with pytest.raises(SignInRefused) as refused:
        identity.finish(provider, {**pending, "nonce": "another"}, answer)
    assert refused.value.reason == "token"


def test_a_token_signed_by_the_providers_key_passes_and_a_forged_expired_or_misaddressed_one_does_not(
        provider, provider_home):
    key = provider_app.signing_key(provider_home)
    assert identity.verify_id_token(provider, signed_token(key, provider), "n-1")["citizen_id"] == HUNG
    forger = RSAKey.generate_key(2048, parameters={"kid": key.kid})  # the provider's key id, not its key
    long_ago = int(time.time()) - 3600
    for token in (signed_token(forger, provider),
                  signed_token(key, provider, iat=long_ago - 300, exp=long_ago),
                  signed_token(key, provider, aud="another-client"),
                  signed_token(key, provider, iss="https://evil.example"),
                  signed_token(key, provider, nonce=None),
                  signed_token(key, provider, exp=None),
                  signed_token(key, provider)[:-4] + "AAAA"):
        with pytest.raises(SignInRefused) as refused:
            identity.verify_id_token(provider, token, "n-1")
        assert refused.value.reason == "token"


def test_a_provider_that_cannot_be_reached_or_answers_nonsense_is_a_clear_refusal_not_a_crash():
    with serving(_broken_app()) as url:
        with pytest.raises(identity.ProviderUnavailable):
            identity.begin(Provider(url, "onestop", "x", timeout=2), CALLBACK)
    with pytest.raises(identity.ProviderUnavailable):
        identity.begin(Provider("http://127.0.0.1:9", "onestop", "x", timeout=2), CALLBACK)


def _broken_app():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{not json"]
    return app


def test_claims_without_a_citizen_id_sign_nobody_in():
    with pytest.raises(SignInRefused):
        identity.citizen_of({"sub": "x", "name": "Ai đó"})


# Enter once ------------------------------------------------------------------------------------

HUNG_CITIZEN = Citizen(citizen_id=HUNG, name="Nguyễn Văn Hùng", subject="s-1", issuer="http://idp", birthdate="1985-03-14",
                       gender="male", phone="0912345678", email="hung.nguyen@example.vn")
APPLICATION = {"declarant_full_name": "Nguyễn Văn Hùng", "declarant_citizen_id": HUNG, "declarant_phone": "0912345678",
               "declarant_relationship": "cha", "child_full_name": "Nguyễn Minh Anh", "child_gender": "nu",
               "child_date_of_birth": "2026-11-20", "child_place_of_birth": "Bệnh viện Sản Nhi Quảng Ninh",
               "mother_full_name": "Trần Thị Lan", "birth_evidence": "giay_chung_sinh"}


@pytest.fixture
def birth(admin_api):
    upload_bundled(admin_api, "birth_registration")


@pytest.fixture
def sqlite_birth(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "birth_registration")


def _form(actor):
    version = procedures.catalogue_entry(actor, BIRTH)[1]
    return procedures.start_form(version), version.metadata


def test_the_identity_fills_the_applicant_block_and_locks_what_the_register_vouches_for(app, birth):
    with app.app_context():
        definition, metadata = _form(portal_user())
        filled = identity.fill(definition, metadata, HUNG_CITIZEN)
    assert filled.values == {"declarant_full_name": "Nguyễn Văn Hùng", "declarant_citizen_id": HUNG,
                             "declarant_phone": "0912345678", "declarant_email": "hung.nguyen@example.vn"}
    assert filled.locked == {"declarant_full_name", "declarant_citizen_id"}  # phone and email may change


def test_a_submission_that_alters_an_authoritative_field_gets_the_claim_and_is_linked_to_the_citizen(app, birth):
    with app.app_context():
        actor = portal_user()
        definition, metadata = _form(actor)
        altered = APPLICATION | {"declarant_full_name": "Người Khác", "declarant_citizen_id": "999999999999",
                                 "declarant_phone": "0900000000"}
        dossier, key = identity.submit(actor, BIRTH, HUNG_CITIZEN, altered,
                                       {"birth_evidence_file": Upload("chung-sinh.pdf", PDF)},
                                       definition=definition, metadata=metadata)
        stored = Dossier.get_by_id(dossier.id)
        assert stored.data["declarant_full_name"] == "Nguyễn Văn Hùng" and stored.data["declarant_citizen_id"] == HUNG
        assert stored.data["declarant_phone"] == "0900000000"  # a contact detail the citizen may change
        assert stored.applicant["citizen_id"] == HUNG and key
        assert CitizenDossier.get(CitizenDossier.dossier == dossier.id).citizen_id == HUNG
        kept = identity.kept_documents(actor, HUNG_CITIZEN)
        assert [(d.name, d.dossier_id, d.title) for d in kept] == [
            ("chung-sinh.pdf", dossier.id, "Bản chụp giấy tờ chứng minh việc sinh")]
        assert [d.code for d in identity.my_dossiers(HUNG_CITIZEN)] == [dossier.code]


def test_a_kept_document_is_attached_to_a_new_dossier_without_being_uploaded_again(sqlite_app, sqlite_birth):
    with sqlite_app.app_context():
        actor = portal_user()
        definition, metadata = _form(actor)
        first, _key = identity.submit(actor, BIRTH, HUNG_CITIZEN, APPLICATION,
                                      {"birth_evidence_file": Upload("chung-sinh.pdf", PDF)},
                                      definition=definition, metadata=metadata)
        document = identity.kept_documents(actor, HUNG_CITIZEN)[0]
        second, _key = identity.submit(actor, BIRTH, HUNG_CITIZEN, APPLICATION, {},
                                       reuse={"birth_evidence_file": document.id},
                                       definition=definition, metadata=metadata)
        files = attachments.of_dossier(second)
        assert [(a.field, a.name, a.sha256) for a in files] == [("birth_evidence_file", "chung-sinh.pdf",
                                                                 document.sha256)]
        assert CitizenDocument.select().where(CitizenDocument.citizen_id == HUNG).count() == 1  # not kept twice
        assert [d.code for d in identity.my_dossiers(HUNG_CITIZEN)] == [second.code, first.code]


def test_another_citizens_kept_document_cannot_be_attached(sqlite_app, sqlite_birth):
    with sqlite_app.app_context():
        actor = portal_user()
        definition, metadata = _form(actor)
        identity.submit(actor, BIRTH, HUNG_CITIZEN, APPLICATION, {"birth_evidence_file": Upload("a.pdf", PDF)},
                        definition=definition, metadata=metadata)
        theirs = identity.kept_documents(actor, HUNG_CITIZEN)[0]
        lan = Citizen(citizen_id="022190023456", name="Trần Thị Lan", subject="s-2", issuer="http://idp")
        with pytest.raises(NotFound):
            identity.submit(actor, BIRTH, lan, APPLICATION, {}, reuse={"birth_evidence_file": theirs.id},
                            definition=definition, metadata=metadata)
        assert identity.my_dossiers(lan) == []


def test_a_signed_in_submission_is_stored_with_its_link_to_the_citizen_or_not_at_all(sqlite_app, sqlite_birth):
    """The link to the citizen ("my dossiers") is written in the dossier's own unit of work: when it
    cannot be written (here the database refuses it, as a full disk or a lost connection would), no
    dossier is left behind that the citizen would never find among their dossiers."""
    from onestop.db import database

    with sqlite_app.app_context():
        actor = portal_user()
        definition, metadata = _form(actor)
        before = Dossier.select().count()
        database.execute_sql("CREATE TRIGGER refuse_link BEFORE INSERT ON citizendossier "
                             "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        with pytest.raises(Exception, match="disk full"):
            identity.submit(actor, BIRTH, HUNG_CITIZEN, APPLICATION,
                            {"birth_evidence_file": Upload("chung-sinh.pdf", PDF)}, definition=definition,
                            metadata=metadata)
        database.execute_sql("DROP TRIGGER refuse_link")
        assert Dossier.select().count() == before
        assert identity.my_dossiers(HUNG_CITIZEN) == []
