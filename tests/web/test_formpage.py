"""Forms the GOV.UK way on the portal (web/formpage.py, templates/_form.html): every error at once
in a summary at the top linking to its field, inputs described only by what exists, what was typed
kept (and the file to choose again named), and the same form sent twice making one dossier."""

import io
import re

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.web.pages import FORMS, GOOD_APPLICATION, PDF, csrf, folder_zip, submit_application
from tests.web.test_portal import BIRTH

SUBMIT = "/procedures/household_business/submit"


@pytest.fixture
def portal(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    return sqlite_app.test_client()


def _summary(text):
    match = re.search(r'<div class="error-summary"([^>]*)>(.*?)</div>', text, re.S)
    assert match, "the page has no error summary"
    return match.group(1), match.group(2)


def test_every_wrong_field_is_listed_in_a_summary_at_the_top_that_links_to_it(portal):
    reply = submit_application(portal, GOOD_APPLICATION | {"citizen_id": "12345", "capital_vnd": "nhiều"})
    text = reply.get_data(as_text=True)
    attributes, entries = _summary(text)
    assert reply.status_code == 422
    assert 'role="alert"' in attributes and 'tabindex="-1"' in attributes and "data-error-summary" in attributes
    assert re.findall(r'href="#([^"]+)"', entries) == ["citizen_id", "capital_vnd"]  # in the order drawn
    assert text.index("error-summary") < text.index('id="full_name"')  # above the first field
    described = re.search(r'<input[^>]*id="citizen_id"[^>]*>', text).group(0)
    assert re.search(r'aria-describedby="[^"]*citizen_id-error"', described) and 'aria-invalid="true"' in described
    assert "forms.js" in text  # focuses the summary when the page opens


def test_no_input_is_described_by_none_or_required_none(portal):
    for page in (portal.get(SUBMIT), submit_application(portal, GOOD_APPLICATION | {"citizen_id": "1"})):
        text = page.get_data(as_text=True)
        assert '="None"' not in text
        assert 'aria-required="true"' in text  # the required ones still say so


def test_a_bad_file_does_not_hide_the_other_errors_and_says_which_file_to_choose_again(portal):
    reply = submit_application(portal, GOOD_APPLICATION | {"citizen_id": "12"},
                               files=(io.BytesIO(b"MZ\x90\x00" + b"\0" * 200), "giay-to.pdf"))
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert 'id="documents-error"' in text and 'id="citizen_id-error"' in text
    assert 'id="documents-again"' in text and "giay-to.pdf" in text
    assert 'value="Trần Thị Bình"' in text


def test_a_40_mib_attachment_comes_back_on_its_field_with_everything_typed_kept(portal, sqlite_app):
    form = portal.get(SUBMIT)
    fields = {"csrf_token": csrf(form), **GOOD_APPLICATION, "citizen_id": "12",
              "documents": FileStorage(io.BytesIO(PDF + b"0" * (40 * 1024 * 1024)), "ban-chup.pdf")}
    boundary, body = encode_multipart(fields)  # in memory: the test client would spool it to a file it never closes
    reply = portal.post(SUBMIT, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    text = reply.get_data(as_text=True)
    assert reply.status_code in (413, 422)
    assert "KiB" not in text and 'id="documents-error"' in text and 'id="citizen_id-error"' in text
    assert 'value="Trần Thị Bình"' in text and 'value="Phở Bình"' in text
    with sqlite_app.app_context():
        from onestop.models import Dossier
        assert Dossier.select().count() == 0


def test_the_file_input_tells_the_browser_its_limit_and_types(portal, sqlite_app):
    text = portal.get(SUBMIT).get_data(as_text=True)
    field = re.search(r'<input[^>]*id="documents"[^>]*>', text).group(0)
    assert f'data-max-bytes="{sqlite_app.config["ONESTOP"].max_file_bytes}"' in field and 'accept=".pdf,' in field
    assert "<script>" not in text  # the checks are in a static file the CSP allows


def test_the_same_form_sent_twice_makes_one_dossier_and_shows_the_first(portal, sqlite_app):
    form = portal.get(SUBMIT)
    rendered = re.search(r'name="_submission" value="([^"]+)"', form.get_data(as_text=True))
    token = rendered.group(1) if rendered else "the-form-drawn-once-" * 2

    def send():
        return portal.post(SUBMIT, content_type="multipart/form-data", data={
            "csrf_token": csrf(form), "_submission": token, **GOOD_APPLICATION,
            "documents": (io.BytesIO(PDF), "gcn.pdf")})

    first, again = send(), send()  # Back, then Submit again
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    confirmation = portal.get(again.headers["Location"])
    assert confirmation.status_code == 200 and 'id="lookup-key"' in confirmation.get_data(as_text=True)
    with sqlite_app.app_context():
        from onestop.models import Dossier
        assert Dossier.select().count() == 1
    other = portal.get(SUBMIT).get_data(as_text=True)
    assert f'value="{token}"' not in other  # each rendered form has its own


def test_a_wrong_email_and_a_birth_date_in_the_future_are_refused_on_the_portal(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled

    upload_bundled(sqlite_admin_api, "birth_registration")
    client = sqlite_app.test_client()
    form = client.get("/procedures/1.001193/submit")
    reply = client.post("/procedures/1.001193/submit", content_type="multipart/form-data", data={
        "csrf_token": csrf(form), **BIRTH, "declarant_email": "an@@example", "child_date_of_birth": "2030-01-01",
        "declarant_phone": "+84 912 345 678", "birth_evidence_file": (io.BytesIO(PDF), "gcs.pdf")})
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert 'id="declarant_email-error"' in text and 'id="child_date_of_birth-error"' in text
    assert 'id="declarant_phone-error"' not in text  # +84 and spaces are a phone number


def test_an_unknown_procedure_is_a_page_for_people_not_developer_english(portal):
    vietnamese = portal.get("/procedures/nope")
    assert vietnamese.status_code == 404 and "no procedure" not in vietnamese.get_data(as_text=True)
    portal.get("/lang/en?next=/")
    english = portal.get("/procedures/nope").get_data(as_text=True)
    assert "Page not found" in english and "no procedure" not in english and '<html lang="en">' in english
