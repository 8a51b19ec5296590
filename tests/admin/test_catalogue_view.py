"""The catalogue import in the back office (/admin/catalogue), through real HTTP: a file's bad rows
listed one by one with nothing imported, the drafts of an import filtered by their problems,
published in bulk, and their generated models opening in the modeller."""

import io
import json
import re
from pathlib import Path

from onestop.models import CatalogueImport, Draft
from tests.conftest import make_user
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"
REFERENCE = Path(__file__).resolve().parents[1] / "models" / "reference_procedures.json"


def _signed_in(app, username="quantri", roles=("admin",)):
    with app.app_context():
        make_user(username, roles, password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 303
    return client


def _upload(client, records, name="catalogue.json", headers=None):
    token = csrf(client.get("/admin/catalogue/"))
    body = json.dumps(records, ensure_ascii=False).encode()
    return client.post("/admin/catalogue/import", data={"csrf_token": token, "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data", headers=headers or {})


def _records(count=3) -> list:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))[:count]


def test_a_bad_file_is_listed_row_by_row_and_nothing_of_it_is_imported(sqlite_app):
    admin = _signed_in(sqlite_app)
    rows = _records()
    rows[0]["processing_days"], rows[2]["processing_unit"] = -1, "tuần"
    del rows[1]["documents"]
    admin.set_cookie("lang", "en")  # the visitor's choice of language (web/i18n.py)
    reply = _upload(admin, rows)
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422 and 'id="problems"' in text
    kinds = re.findall(r'<tr data-kind="([a-z_]+)"><td>(\d+)</td>', text)
    assert kinds == [("impossible_time", "1"), ("missing_column", "2"), ("unknown_unit", "3")]
    assert "The time limit -1 is impossible" in text and "The column documents is missing." in text
    assert "Traceback" not in text
    with sqlite_app.app_context():
        assert Draft.select().count() == 0 and CatalogueImport.select().count() == 0


def test_an_imports_drafts_are_filtered_by_problems_published_in_bulk_and_open_in_the_modeller(sqlite_app):
    admin = _signed_in(sqlite_app)
    rows = _records()
    rows[2]["fee_vnd"] = None  # a fee still to write: a warning
    reply = _upload(admin, rows)
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    page_url = reply.headers["Location"]
    page = admin.get(page_url).get_data(as_text=True)
    assert re.findall(r'<tr data-code="([0-9.]+)">', page) == ["1.001193", "1.000894", "1.004873"]
    warned = admin.get(page_url + "?show=warnings").get_data(as_text=True)
    assert re.findall(r'<tr data-code="([0-9.]+)">', warned) == ["1.004873"]
    with sqlite_app.app_context():
        ids = {d.code: d.id for d in Draft.select()}
    assert admin.get(f"/admin/modeller/{ids['1.001193']}").status_code == 200  # an ordinary model
    token = csrf(admin.get(page_url))
    done = admin.post(page_url + "/publish",
                      data={"csrf_token": token, "draft": [str(ids["1.001193"]), str(ids["1.000894"]), "999999"]})
    assert done.status_code == 303
    published = admin.get(page_url + "?show=published").get_data(as_text=True)
    assert re.findall(r'<tr data-code="([0-9.]+)">', published) == ["1.001193", "1.000894"]
    assert "đã công bố (phiên bản 1)" in published
    with sqlite_app.app_context():
        assert Draft.get_by_id(ids["1.004873"]).published_version is None
    citizen = sqlite_app.test_client()  # a published generated procedure is on the portal, its form with it
    assert "Giấy chứng sinh" in citizen.get("/procedures/1.001193").get_data(as_text=True)
    form = citizen.get("/procedures/1.001193/submit").get_data(as_text=True)
    assert 'name="applicant_date_of_birth"' in form and 'name="document_03_file"' in form


def test_an_officer_cannot_import_and_another_centres_import_is_not_found(sqlite_app):
    officer = _signed_in(sqlite_app, "canbo", ("officer",))
    assert officer.get("/admin/catalogue/").status_code == 403
    admin = _signed_in(sqlite_app)
    assert admin.get("/admin/catalogue/4242").status_code == 404
