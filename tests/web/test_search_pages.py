"""Search in the pages, through real HTTP on SQLite and PostgreSQL: the portal's catalogue (papers and
synonyms found, ranked, the field filter kept across searches, field names in the page's language)
and the desk's worklist by applicant (services/search.py does the finding)."""

import re

import pytest

from tests.conftest import ROOT, make_user
from tests.web.pages import folder_zip, sign_in

BUNDLED = ROOT / "process_models"


@pytest.fixture
def portal(admin_api, app):
    for folder in ("birth_registration", "marital_status_certificate", "marriage_registration",
                   "construction_permit_commune"):
        assert admin_api.upload([folder_zip(BUNDLED / folder)]).status_code == 201
    return app.test_client()


def _listed(page) -> list[str]:
    """The procedure codes the catalogue page lists, in its order."""
    return re.findall(r'href="/procedures/([0-9.]+)"', page.get_data(as_text=True))


def test_giay_khai_sinh_finds_birth_registration(portal):
    page = portal.get("/?q=giay khai sinh")
    assert page.status_code == 200 and _listed(page) == ["1.001193"]


def test_the_papers_and_synonyms_are_searched_and_the_best_match_comes_first(portal):
    assert _listed(portal.get("/?q=giấy chứng sinh")) == ["1.001193"]  # one of its papers
    assert _listed(portal.get("/?q=birth certificate")) == ["1.001193"]  # a synonym of "khai sinh"
    assert _listed(portal.get("/?q=HÔN NHÂN")) == ["1.004873", "1.000894"]  # in its name, then in the other's papers


def test_the_field_filter_stays_after_a_search(portal):
    text = portal.get("/?q=dang ky&field=civil status (hộ tịch)").get_data(as_text=True)
    select = re.search(r'<select name="field".*?</select>', text, re.S)
    assert select, "the field filter is gone after a search"
    assert re.search(r'<option value="civil status \(hộ tịch\)" selected>', select.group(0))
    assert "1.013225" not in _listed(portal.get("/?q=dang ky&field=civil status (hộ tịch)"))


def test_field_names_are_in_vietnamese_on_vietnamese_pages_and_in_english_on_english_ones(portal):
    text = portal.get("/").get_data(as_text=True)
    assert ">Hộ tịch</option>" in text and ">Xây dựng</option>" in text
    assert "civil status (hộ tịch)</" not in text and "· civil status" not in text and "· Hộ tịch" in text
    assert "<dd>Hộ tịch</dd>" in portal.get("/procedures/1.001193").get_data(as_text=True)
    portal.get("/lang/en")
    english = portal.get("/").get_data(as_text=True)
    assert ">Civil status</option>" in english and "· Construction" in english
    assert ">civil status (hộ tịch)<" not in english and ">Hộ tịch<" not in english


def test_the_desks_worklist_and_ledger_find_by_applicant_name_id_or_code_whatever_the_diacritics(admin_api, app):
    assert admin_api.upload([folder_zip(BUNDLED / "copy_certification")]).status_code == 201
    codes = {}
    for name, citizen_id in (("Nguyễn Văn An", "001234567890"), ("Đặng Thị Dung", "079301000123")):
        body = {"procedure": "2.000815", "applicant": {"name": name, "citizen_id": citizen_id},
                "data": {"requester_full_name": name, "requester_citizen_id": citizen_id,
                         "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]}}
        reply = admin_api.post("/dossiers", body)
        assert reply.status_code == 201, reply.json
        codes[name] = reply.json["code"]
    with app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = app.test_client()
    assert sign_in(officer, "canbo1", "mật-khẩu-1").status_code == 303

    def shown(query):
        text = officer.get("/desk/", query_string={"q": query}).get_data(as_text=True)
        return sorted(code for code in codes.values() if code in text)

    assert shown("") == sorted(codes.values())
    assert shown("nguyen van an") == [codes["Nguyễn Văn An"]]
    assert shown("ĐẶNG") == [codes["Đặng Thị Dung"]] == shown("dang thi dung")
    assert shown("079301000123") == [codes["Đặng Thị Dung"]]
    assert shown(codes["Nguyễn Văn An"].lower()) == [codes["Nguyễn Văn An"]]
    assert shown("tran") == []

    def in_ledger(query):  # the ledger of dossiers received today
        text = officer.get("/desk/ledger", query_string={"q": query}).get_data(as_text=True)
        return sorted(code for code in codes.values() if code in text)

    assert in_ledger("") == sorted(codes.values())
    assert in_ledger("NGUYEN van") == [codes["Nguyễn Văn An"]] and in_ledger("đặng") == [codes["Đặng Thị Dung"]]


def test_a_field_named_in_vietnamese_only_is_shown_as_written_even_with_brackets(sqlite_app):
    from onestop.web.portal import field_label

    with sqlite_app.test_request_context("/"):
        assert field_label("social welfare (giảm nghèo / an sinh xã hội)") == "Giảm nghèo / an sinh xã hội"
        assert field_label("Đất đai (cấp xã)") == "Đất đai (cấp xã)"
        assert field_label("Hộ tịch") == "Hộ tịch" and field_label("") == ""
    with sqlite_app.test_request_context("/", headers={"Cookie": "lang=en"}):
        assert field_label("judicial records (lý lịch tư pháp)") == "Judicial records"
