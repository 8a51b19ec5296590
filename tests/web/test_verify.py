"""The public verification page (/verify) over HTTP, and the signed result downloaded from the portal
and the desk: who signed, when, and whether the file was altered; hostile uploads answered plainly."""

import io

import pikepdf
import pypdf
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from onestop.services import signing, slips
from tests.services.test_signing import _minimal_pdf, flipped, pdf_bomb
from tests.support.signed import officer_with_procedure, resolved_dossier, with_keys
from tests.web.pages import csrf, sign_in

ENGLISH = {"lang": "en"}


@pytest.fixture
def ready(sqlite_app, sqlite_admin_api):
    """(dossier code, lookup key, officer) of a dossier whose result is ready, the centre's key made."""
    with sqlite_app.app_context():
        officer = officer_with_procedure(sqlite_admin_api)
        with_keys()
        dossier = resolved_dossier(officer)
        key = slips.reissue_lookup_key(officer, dossier.code).lookup_key
    return dossier.code, key, officer


def english(app):
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


def upload(client, content, name="ket-qua.pdf"):
    token = csrf(client.get("/verify"))
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart({"csrf_token": token, "document": FileStorage(io.BytesIO(content), name)})
    return client.post("/verify", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def state_of(reply) -> str:
    text = reply.get_data(as_text=True)
    return text.split('data-state="', 1)[1].split('"', 1)[0] if 'data-state="' in text else ""


def citizen_result(app, code, key):
    return app.test_client().post(f"/track/{code}/result", data={"key": key})


def test_the_verification_page_needs_no_sign_in_and_speaks_vietnamese_first(sqlite_app):
    page = sqlite_app.test_client().get("/verify")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="vi">' in text and 'type="file"' in text
    assert "Traceback" not in text


def test_the_citizen_downloads_the_signed_result_and_its_qr_page_says_valid(sqlite_app, ready):
    code, key, _officer = ready
    reply = citizen_result(sqlite_app, code, key)
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    content = reply.get_data()
    with sqlite_app.app_context():
        record = signing.SignedDocument.get(signing.SignedDocument.sha256 == signing._sha256(content))
    address = f"/verify/{record.code}"
    assert address in pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()
    page = english(sqlite_app).get(address)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and state_of(page) == "valid" and code in text
    assert "The signature is valid and the document has not been altered" in text


def test_an_uploaded_copy_of_the_result_is_valid_and_the_same_copy_altered_by_one_byte_is_altered(sqlite_app, ready):
    code, key, _officer = ready
    content = citizen_result(sqlite_app, code, key).get_data()
    client = english(sqlite_app)
    same = upload(client, content)
    assert same.status_code == 200 and state_of(same) == "valid" and code in same.get_data(as_text=True)
    altered = upload(client, flipped(content, len(content) // 3))
    text = altered.get_data(as_text=True)
    assert altered.status_code == 200 and state_of(altered) == "altered"
    assert "has been altered since it was signed" in text and "Traceback" not in text


def test_a_file_signed_elsewhere_names_its_signer_and_says_it_is_not_trusted_here(sqlite_app, tmp_path):
    with sqlite_app.app_context():
        from onestop.models import Centre
        from onestop.services import runtime

        ours = runtime.current().signing
        runtime.current().signing = signing.Options(tmp_path / "elsewhere")
        try:
            signing.create_keys()
            foreign, signer = signing.sign(_minimal_pdf(), Centre.default(), "elsewhere")
        finally:
            runtime.current().signing = ours
    reply = upload(english(sqlite_app), foreign)
    text = reply.get_data(as_text=True)
    assert reply.status_code == 200 and state_of(reply) == "unknown_signer" and signer in text
    assert "not one this centre trusts" in text


@pytest.mark.parametrize(("content", "status", "state"), [
    (b"PK\x03\x04 a spreadsheet", 422, "not_pdf"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 8, 422, "unreadable"),
])
def test_a_file_that_is_not_a_readable_pdf_gets_a_clear_answer(sqlite_app, content, status, state):
    reply = upload(english(sqlite_app), content)
    assert reply.status_code == status and state_of(reply) == state
    assert "Traceback" not in reply.get_data(as_text=True)


def test_an_unsigned_pdf_and_a_pdf_bomb_are_answered_plainly(sqlite_app):
    client = english(sqlite_app)
    unsigned = upload(client, _minimal_pdf())
    assert unsigned.status_code == 200 and "has no digital signature" in unsigned.get_data(as_text=True)
    bomb = upload(client, pdf_bomb())
    assert bomb.status_code == 413 and state_of(bomb) == "too_large"


def test_a_file_larger_than_the_limit_is_refused_as_too_large(sqlite_app):
    limit = sqlite_app.config["ONESTOP"].max_file_bytes
    reply = upload(english(sqlite_app), b"%PDF-1.7\n" + b"0" * limit)
    assert reply.status_code == 413 and state_of(reply) == "too_large"


def test_no_file_or_no_token_is_answered_with_the_form_again(sqlite_app):
    client = english(sqlite_app)
    token = csrf(client.get("/verify"))
    empty = client.post("/verify", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 422 and 'href="#document"' in empty.get_data(as_text=True)
    forged = client.post("/verify", data={"document": (io.BytesIO(_minimal_pdf()), "x.pdf")},
                         content_type="multipart/form-data")
    assert forged.status_code == 400 and 'type="file"' in forged.get_data(as_text=True)


def test_an_unknown_code_is_a_404_page_and_a_typed_code_goes_to_its_page(sqlite_app):
    client = english(sqlite_app)
    missing = client.get("/verify/0123456789ABCDEF0123")
    assert missing.status_code == 404 and "No document has this verification code" in missing.get_data(as_text=True)
    typed = client.get("/verify?code=abc123")
    assert typed.status_code == 303 and typed.headers["Location"].endswith("/verify/abc123")


def test_a_wrong_lookup_key_gets_no_result(sqlite_app, ready):
    code, _key, _officer = ready
    assert citizen_result(sqlite_app, code, "sai-ma-tra-cuu").status_code == 404


def test_the_officer_downloads_the_same_signed_result_and_the_slips_as_pdf_a(sqlite_app, ready):
    code, key, officer = ready
    desk = sqlite_app.test_client()
    assert sign_in(desk, officer.username, "mat-khau-dai-du-12").status_code == 303
    sheet = desk.get(f"/desk/dossiers/{code}/control-sheet")
    assert f"/desk/dossiers/{code}/result.pdf" in sheet.get_data(as_text=True)
    from_desk = desk.get(f"/desk/dossiers/{code}/result.pdf")
    assert from_desk.status_code == 200 and from_desk.get_data() == citizen_result(sqlite_app, code, key).get_data()
    as_pdf = desk.get(f"/desk/dossiers/{code}/control-sheet.pdf")
    assert as_pdf.status_code == 200 and as_pdf.mimetype == "application/pdf"
    with pikepdf.open(io.BytesIO(as_pdf.get_data())) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"


def test_an_address_that_has_checked_many_files_is_asked_to_wait(sqlite_app):
    from onestop.web.throttle import VERIFY_UPLOADS_PER_ADDRESS

    counts = sqlite_app.extensions["onestop.runtime"].limiter
    while counts.hit(VERIFY_UPLOADS_PER_ADDRESS, "127.0.0.1"):
        pass
    reply = upload(english(sqlite_app), _minimal_pdf())
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0
    assert "try again in an hour" in reply.get_data(as_text=True) and state_of(reply) == ""
