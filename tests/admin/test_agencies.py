"""The back office's agencies pages through real HTTP: centres without an identity code are shown as
not ready (home, centre list), a code is entered in the centre's edit form, and a province's
administrator merges two of its communes."""

import re

from onestop.models import AuditEvent, Centre, Dossier, User, local_today
from onestop.services import agencies, centres
from tests.conftest import make_user
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _province_admin(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        agencies.import_codes(system, "07090,000.21.05.H22\n", "codes.csv")
        make_user("tinh.admin", ("province_admin",), centre=Centre.get(Centre.code == "P22"), password=PASSWORD)
        commune = Centre.get(Centre.code == "W07093")
    client = app.test_client()
    assert sign_in(client, "tinh.admin", PASSWORD).status_code == 303
    return client, commune


def test_centres_without_an_identity_code_are_shown_as_not_ready_and_a_code_is_entered_in_the_edit_form(sqlite_app):
    client, commune = _province_admin(sqlite_app)
    home = client.get("/admin/").get_data(as_text=True)
    row = re.search(r'<li id="not-ready".*?</li>', home, re.S).group(0)
    assert ">54<" in row and "P22" in row and "W07090" not in row  # P22 and its 53 other communes
    listed = client.get("/admin/centre/?search=W0709").get_data(as_text=True)
    assert "Chưa sẵn sàng" in listed and "Sẵn sàng" in listed and "national list codes.csv" in listed
    page = f"/admin/centre/edit/?id={commune.id}"
    refused = client.post(page, data={"csrf_token": csrf(client.get(page)), "name": commune.name,
                                      "agency_code": "H22-50"}, follow_redirects=True)
    assert "national list" in refused.get_data(as_text=True)
    with sqlite_app.app_context():
        assert Centre.get_by_id(commune.id).agency_code is None
    client.post(page, data={"csrf_token": csrf(client.get(page)), "name": commune.name,
                            "agency_code": "H22.50.05.13"})
    with sqlite_app.app_context():
        saved = Centre.get_by_id(commune.id)
        assert saved.agency_code == "H22.50.05.13" and saved.agency_code_source.startswith("entered by tinh.admin")
    home = client.get("/admin/").get_data(as_text=True)
    assert ">53<" in re.search(r'<li id="not-ready".*?</li>', home, re.S).group(0)


def test_a_province_administrator_merges_two_of_its_communes_and_is_told_what_went_wrong(sqlite_app):
    client, _ = _province_admin(sqlite_app)
    token = csrf(client.get("/admin/mergers/"))
    past = client.post("/admin/mergers/", data={"csrf_token": token, "merged": "W07090", "successor": "W07093",
                                                "on": "2020-01-01"}, follow_redirects=True)
    assert "in the past" in past.get_data(as_text=True)
    itself = client.post("/admin/mergers/", data={"csrf_token": token, "merged": "W07090", "successor": "W07090",
                                                  "on": local_today().isoformat()}, follow_redirects=True)
    assert "into itself" in itself.get_data(as_text=True)
    done = client.post("/admin/mergers/", data={"csrf_token": token, "merged": "W07090", "successor": "W07093",
                                                "on": local_today().isoformat()}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Đã sáp nhập W07090 vào W07093" in text
    assert re.search(r'<table[^>]*id="mergers".*W07090.*W07093', text, re.S)
    with sqlite_app.app_context():
        merged = Centre.get(Centre.code == "W07090")
        assert merged.successor.code == "W07093" and merged.handed_over_at is not None
        assert AuditEvent.select().where(AuditEvent.action == "centres.merged").count() == 1
        assert Dossier.select().count() == 0
    commune_admin_page = sqlite_app.test_client()
    with sqlite_app.app_context():
        make_user("xa.admin", ("admin",), centre=Centre.get(Centre.code == "W07093"), password=PASSWORD)
    sign_in(commune_admin_page, "xa.admin", PASSWORD)
    assert commune_admin_page.get("/admin/mergers/").status_code == 403


def test_a_province_administrator_imports_codes_of_its_province_and_sees_every_wrong_row(sqlite_app):
    import io

    client, _ = _province_admin(sqlite_app)
    with sqlite_app.app_context():
        centres.import_units(User.get(User.username == "system"), [1])  # Hà Nội beside Quảng Ninh
        other = next(c.admin_code for c in Centre.under(Centre.get(Centre.code == "P01").id))
    page = "/admin/agency_codes/"
    wrong = f"07093,H22.50.05.13\n{other},000.21.05.H01\n07081,H22-1\n".encode()
    refused = client.post(page, data={"csrf_token": csrf(client.get(page)), "file": (io.BytesIO(wrong), "codes.csv")},
                          content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    problems = re.search(r'<table[^>]*id="problems".*?</table>', text, re.S).group(0)
    assert "<td>2</td>" in problems and "<td>3</td>" in problems and "<td>1</td>" not in problems  # P01 is not theirs
    with sqlite_app.app_context():
        assert Centre.get(Centre.code == "W07093").agency_code is None
    good = b"07093,H22.50.05.13\n07081,000.21.07.H22\n"
    done = client.post(page, data={"csrf_token": csrf(client.get(page)), "file": (io.BytesIO(good), "codes.csv")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "cho 2 trung tâm" in done.get_data(as_text=True)
    assert re.search(r'id="not-ready">Chưa sẵn sàng: 52 ', done.get_data(as_text=True))  # P22 and 51 communes
