"""The counter (web/intake.py): a paper dossier's receipt lists the papers received, it can be
printed again, and the applicant's name and ID are asked once."""

import html
import io
import re

import pytest

from tests.conftest import make_user
from tests.web.pages import PDF, csrf, sign_in
from tests.web.test_portal import BIRTH

PERMIT = "/desk/intake/1.013225"  # construction permit: no start form, the counter asks who applies
BIRTH_FORM = "/desk/intake/1.001193"  # birth registration: its form asks the declarant's name and ID


@pytest.fixture
def counter(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled

    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    upload_bundled(sqlite_admin_api, "birth_registration")
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    assert sign_in(officer, "canbo1", "mật-khẩu-1").status_code == 303
    return officer


def _papers(page_text):
    """The document slots of the intake form, by title ("1. Đơn đề nghị" -> "Đơn đề nghị")."""
    return [html.unescape(p) for p in re.findall(r'<div class="card paper" id="paper-\d+">\s*<h3>\d+\. ([^<]+)</h3>',
                                                 page_text)]


def test_a_paper_dossiers_receipt_lists_the_papers_received_not_an_online_submission(counter):
    form = counter.get(PERMIT)
    papers = _papers(form.get_data(as_text=True))[:2]
    assert len(papers) == 2
    reply = counter.post(PERMIT, data={"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa",
                                       "applicant_phone": "0983 456 789", "paper-0-paper": "1", "paper-1-paper": "1"})
    assert reply.status_code == 303
    slip = counter.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Hồ sơ nộp trực tuyến" not in slip
    listed = re.search(r'<ol class="slip-papers">(.*?)</ol>', slip, re.S).group(1)
    assert all(p in html.unescape(listed) for p in papers)


def test_the_receipt_is_also_a_pdf_a_file_listing_the_same_papers(counter):
    import io

    import pikepdf
    import pypdf

    form = counter.get(PERMIT)
    papers = _papers(form.get_data(as_text=True))[:1]
    reply = counter.post(PERMIT, data={"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa",
                                       "applicant_phone": "0983 456 789", "paper-0-paper": "1"})
    slip = counter.get(reply.headers["Location"])
    assert "format=pdf" in slip.get_data(as_text=True)
    as_pdf = counter.get(reply.headers["Location"] + "?format=pdf")
    assert as_pdf.status_code == 200 and as_pdf.mimetype == "application/pdf"
    with pikepdf.open(io.BytesIO(as_pdf.get_data())) as pdf:
        assert pdf.open_metadata().pdfa_status == "2B"
    text = " ".join(pypdf.PdfReader(io.BytesIO(as_pdf.get_data())).pages[0].extract_text().split())
    assert "Phạm Thị Hoa" in text and " ".join(papers[0].split()) in text


def _key_in_qr_code(client, code):
    """The lookup key the receipt's QR code carries (the session remembers it to print it again)."""
    with client.session_transaction() as session:
        return session["intakes"][code]


def test_a_receipt_is_printed_again_later_and_a_new_key_can_be_issued(counter, sqlite_app, sqlite_admin_api):
    form = counter.get(PERMIT)
    reply = counter.post(PERMIT, data={"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa"})
    code = re.search(r"/desk/intake/([^/]+)/receipt", reply.headers["Location"]).group(1)
    first_key = _key_in_qr_code(counter, code)
    later = sqlite_app.test_client()  # the next morning: another session
    assert sign_in(later, "canbo1", "mật-khẩu-1").status_code == 303
    again = later.get(f"/desk/intake/{code}/receipt")
    text = again.get_data(as_text=True)
    assert again.status_code == 200 and f"Mã hồ sơ: {code}" in text and 'action="/desk/intake/' in text
    issued = later.post(f"/desk/intake/{code}/receipt", data={"csrf_token": csrf(again)})
    assert issued.status_code == 303
    new_key = _key_in_qr_code(later, code)
    assert new_key != first_key
    portal = sqlite_app.test_client()
    assert portal.get(f"/track/{code}?k={new_key}").status_code == 200
    assert portal.get(f"/track/{code}?k={first_key}").status_code == 404
    events = sqlite_admin_api.get(f"/dossiers/{code}/events").json
    assert "dossier.receipt_reprinted" in str(events)


def test_the_applicants_name_and_id_are_typed_once_when_the_form_asks_them(counter):
    birth = counter.get(BIRTH_FORM).get_data(as_text=True)
    assert 'name="applicant_name"' not in birth and 'name="applicant_citizen_id"' not in birth
    assert 'name="declarant_full_name"' in birth
    permit = counter.get(PERMIT).get_data(as_text=True)
    assert 'name="applicant_name"' in permit and 'name="applicant_citizen_id"' in permit
    form = counter.get(BIRTH_FORM)
    received = counter.post(BIRTH_FORM, content_type="multipart/form-data", data={
        "csrf_token": csrf(form), **BIRTH, "birth_evidence_file": (io.BytesIO(PDF), "gcs.pdf")})
    code = re.search(r"/desk/(?:intake|sittings)/([^/?]+)", received.headers["Location"]).group(1)
    slip = counter.get(f"/desk/intake/{code}/receipt").get_data(as_text=True)  # birth registration: decided on the spot
    assert "Nguyễn Văn Hùng" in slip and "001085012345" in slip  # taken from the application


def test_a_wrong_citizen_id_typed_at_the_counter_is_reported_with_the_rest(counter, sqlite_app):
    form = counter.get(PERMIT)
    reply = counter.post(PERMIT, data={"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa",
                                       "applicant_citizen_id": "12345", "applicant_email": "hoa@@example"})
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422 and 'data-error-summary' in text
    assert re.findall(r'<li><a href="#([^"]+)">', text) == ["applicant_citizen_id", "applicant_email"]
    assert 'value="Phạm Thị Hoa"' in text
    with sqlite_app.app_context():
        from onestop.models import Dossier
        assert Dossier.select().count() == 0


def test_the_same_counter_form_sent_twice_receives_one_dossier(counter, sqlite_app):
    form = counter.get(PERMIT)
    token = re.search(r'name="_submission" value="([^"]+)"', form.get_data(as_text=True))
    data = {"csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa",
            "_submission": token.group(1) if token else "the-form-drawn-once-" * 2}
    first, again = counter.post(PERMIT, data=data), counter.post(PERMIT, data=data)
    assert first.headers["Location"] == again.headers["Location"]
    with sqlite_app.app_context():
        from onestop.models import Dossier
        assert Dossier.select().count() == 1
