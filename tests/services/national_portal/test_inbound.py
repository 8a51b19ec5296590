"""Dossiers the national portal pushes (services.national_portal.inbound), over real HTTP from the
portal's simulator: received at the centre of their agency code with the statutory receipt, once
however often they are pushed; forged pushes, unknown codes and bad data refused and recorded."""

import base64

import pytest

from onestop.models import Attachment, Dossier, PortalDossier, PortalPush, PortalRefusal
from tests.process_models import upload_bundled
from tests.process_models.test_birth_registration import APPLICATION
from tests.support.national_portal import connected

BIRTH = "1.001193"
PDF = base64.b64encode(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\ntrailer\n<<>>\n%%EOF\n").decode()
FORM = {k: v for k, v in APPLICATION.items() if k != "birth_evidence_file"}
DOCUMENT = [{"field": "birth_evidence_file", "name": "giay-chung-sinh.pdf", "content_base64": PDF}]


@pytest.fixture
def portal(sqlite_app, sqlite_admin_api, tmp_path):
    upload_bundled(sqlite_admin_api, "birth_registration")
    with connected(sqlite_app, tmp_path / "portal") as portal:
        yield portal


def _rows(app, model, *where):
    with app.app_context():
        return list(model.select().where(*where)) if where else list(model.select())


def test_a_pushed_dossier_is_received_at_its_agencys_centre_with_the_statutory_receipt(portal):
    status, receipt = portal.push_one(BIRTH, "DVC-2026-000001", form_data=FORM, documents=DOCUMENT)
    assert status == 201, receipt
    assert receipt["dossier_code"] and receipt["centre"] == "default" and receipt["duplicate"] is False
    assert receipt["status"] == {"code": 1, "name": "Mới đăng ký", "value": "new"}
    assert receipt["appointment_date"] and receipt["lookup_key"]
    [dossier] = _rows(portal.app, Dossier)
    assert (dossier.code, dossier.channel, dossier.status) == (receipt["dossier_code"], "online", "new")
    assert dossier.applicant["name"] == "Nguyễn Văn An"
    assert [a.name for a in _rows(portal.app, Attachment)] == ["giay-chung-sinh.pdf"]
    [link] = _rows(portal.app, PortalDossier)
    assert (link.portal_id, link.procedure_code, link.agency_code) == ("DVC-2026-000001", BIRTH, "000.00.07.H22")
    # Its first status is queued for the portal in the same unit of work.
    assert [(p.seq, p.status, p.state) for p in _rows(portal.app, PortalPush)] == [(1, "new", "pending")]


def test_the_same_portal_dossier_pushed_again_makes_no_second_dossier(portal):
    first, again = portal.push(BIRTH, ids=["DVC-2"], form_data=FORM, documents=DOCUMENT, repeat=2)["DVC-2"]
    assert (first["status"], again["status"]) == (201, 200)
    assert again["answer"]["duplicate"] is True
    assert again["answer"]["dossier_code"] == first["answer"]["dossier_code"]
    assert again["answer"]["lookup_key"] == first["answer"]["lookup_key"]
    assert len(_rows(portal.app, Dossier)) == 1 and len(_rows(portal.app, PortalPush)) == 1


def test_the_same_portal_dossier_pushed_several_times_at_once_makes_one_dossier(portal):
    results = portal.push(BIRTH, ids=["DVC-3"] * 4, form_data=FORM, documents=DOCUMENT, concurrency=4)
    answers = [a for answer_list in results.values() for a in answer_list]
    assert len({a["answer"]["dossier_code"] for a in results["DVC-3"]}) == 1, answers
    assert len(_rows(portal.app, Dossier)) == 1 and len(_rows(portal.app, PortalDossier)) == 1


def test_a_forged_push_is_refused_changes_nothing_and_is_recorded(portal):
    status, answer = portal.push_one(BIRTH, "DVC-FORGED", form_data=FORM, forge=True)
    assert status == 401 and answer["error"] == "bad_signature"
    assert _rows(portal.app, Dossier) == []
    [refusal] = _rows(portal.app, PortalRefusal)
    assert refusal.reason == "forged" and refusal.centre_id is None and refusal.address == "127.0.0.1"


def test_an_unsigned_push_is_refused(portal, sqlite_app):
    with sqlite_app.test_client() as client:
        answer = client.post("/api/v1/national-portal/dossiers", json={
            "portal_dossier_id": "X", "procedure_code": BIRTH, "agency_code": "000.00.07.H22"})
    assert answer.status_code == 401 and _rows(portal.app, Dossier) == []


def test_an_unknown_procedure_code_is_refused_with_a_code_the_portal_can_show(portal):
    status, answer = portal.push_one("9.999999", "DVC-4", form_data=FORM)
    assert status == 422 and answer["error"] == "unknown_procedure"
    assert answer["details"][0]["field"] == "procedure_code" and "9.999999" in answer["message"]
    [refusal] = _rows(portal.app, PortalRefusal)
    assert (refusal.reason, refusal.procedure_code, refusal.centre_id is not None) == ("unknown_procedure",
                                                                                       "9.999999", True)


def test_an_unknown_agency_code_is_refused(portal):
    status, answer = portal.push_one(BIRTH, "DVC-5", agency_code="000.00.99.H99", form_data=FORM)
    assert status == 422 and answer["error"] == "unknown_agency"
    assert [r.reason for r in _rows(portal.app, PortalRefusal)] == ["unknown_agency"]


def test_data_the_procedures_form_does_not_take_is_refused_field_by_field(portal):
    status, answer = portal.push_one(BIRTH, "DVC-6", form_data=FORM | {"declarant_citizen_id": "12"},
                                   documents=DOCUMENT)
    assert status == 422 and answer["error"] == "invalid"
    assert any(d["field"] == "declarant_citizen_id" for d in answer["details"])
    assert _rows(portal.app, Dossier) == [] and [r.reason for r in _rows(portal.app, PortalRefusal)] == ["invalid"]


def test_a_document_the_portal_serves_is_fetched_from_its_address(portal):
    url = portal.control("/control/documents", {"name": "chung-sinh.pdf", "content_base64": PDF})["url"]
    status, receipt = portal.push_one(BIRTH, "DVC-7", form_data=FORM,
                                      documents=[{"field": "birth_evidence_file", "name": "chung-sinh.pdf", "url": url}])
    assert status == 201, receipt
    assert [a.name for a in _rows(portal.app, Attachment)] == ["chung-sinh.pdf"]


def test_a_document_elsewhere_than_the_portal_is_not_fetched(portal):
    status, answer = portal.push_one(BIRTH, "DVC-8", form_data=FORM, documents=[
        {"field": "birth_evidence_file", "name": "x.pdf", "url": "http://169.254.169.254/latest/meta-data"}])
    assert status == 422 and answer["details"][0]["field"] == "documents/0/url"
    assert _rows(portal.app, Dossier) == []


def test_each_dossier_is_received_at_the_centre_whose_agency_code_it_carries(portal, sqlite_app):
    from onestop.models import Centre
    from tests.conftest import Api, make_user

    with sqlite_app.app_context():
        commune = Centre.create(code="xa-an-binh", name="UBND xã An Bình", level="commune",
                                agency_code="000.25.07.H22")
        _, token = make_user("admin.xa", ("admin",), centre=commune)
    upload_bundled(Api(sqlite_app.test_client(), token), "birth_registration")
    status, receipt = portal.push_one(BIRTH, "DVC-X1", agency_code="000.25.07.H22", form_data=FORM,
                                      documents=DOCUMENT)
    assert status == 201 and receipt["centre"] == "xa-an-binh"
    status, receipt = portal.push_one(BIRTH, "DVC-X2", form_data=FORM, documents=DOCUMENT)
    assert status == 201 and receipt["centre"] == "default"
    with sqlite_app.app_context():
        by_centre = {d.code: d.centre.code for d in Dossier.select()}
        links = {link.portal_id: link.centre.code for link in PortalDossier.select()}
    assert sorted(by_centre.values()) == ["default", "xa-an-binh"]
    assert links == {"DVC-X1": "xa-an-binh", "DVC-X2": "default"}
