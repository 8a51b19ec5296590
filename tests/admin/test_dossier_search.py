"""The back office's dossier list finds by applicant (name, citizen ID) or code, whatever the diacritics
and case, within the administrator's scope (admin/onestop_admin/search.py over services/search.py)."""

from onestop.models import Centre
from onestop.services import centres
from tests.conftest import ROOT, make_user
from tests.web.pages import folder_zip, sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _start(api, name, citizen_id):
    body = {"procedure": "2.000815", "applicant": {"name": name, "citizen_id": citizen_id},
            "data": {"requester_full_name": name, "requester_citizen_id": citizen_id,
                     "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]}}
    reply = api.post("/dossiers", body)
    assert reply.status_code == 201, reply.json
    return reply.json["code"]


def test_the_dossier_list_finds_by_applicant_name_or_id_whatever_the_diacritics(admin_api, app):
    assert admin_api.upload([folder_zip(ROOT / "process_models" / "copy_certification")]).status_code == 201
    an = _start(admin_api, "Nguyễn Văn An", "001234567890")
    dung = _start(admin_api, "Đặng Thị Dung", "079301000123")
    with app.app_context():
        make_user("quantri", ("admin",), password=PASSWORD)
    admin = app.test_client()
    assert sign_in(admin, "quantri", PASSWORD).status_code == 303

    def found(words):
        page = admin.get("/admin/dossier/", query_string={"search": words})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        return sorted(code for code in (an, dung) if code in text)

    assert found("") == sorted([an, dung])
    assert found("nguyen van an") == [an]
    assert found("NGUYỄN") == [an]
    assert found("dang thi dung") == [dung]
    assert found("001234567890") == [an]
    assert found(dung) == [dung]
    assert found("le van tam") == []


def test_an_administrator_finds_no_dossier_outside_their_scope(admin_api, app):
    assert admin_api.upload([folder_zip(ROOT / "process_models" / "copy_certification")]).status_code == 201
    code = _start(admin_api, "Nguyễn Văn An", "001234567890")
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        make_user("qn.admin", ("province_admin", "admin"), centre=Centre.get(Centre.code == "P22"), password=PASSWORD)
    other = app.test_client()
    assert sign_in(other, "qn.admin", PASSWORD).status_code == 303
    text = other.get("/admin/dossier/", query_string={"search": "nguyen van an"}).get_data(as_text=True)
    assert code not in text
