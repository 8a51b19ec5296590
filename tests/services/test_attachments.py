"""Attachments: type by content, size limits per file and per dossier, safe names, stored once."""

import base64
import io
import zipfile

import pytest

from onestop.services import attachments
from onestop.services.attachments import Upload, safe_name, sniff
from onestop.services.errors import Invalid, TooLarge
from tests.conftest import Api, _make_app, make_user
from tests.web.pages import FORMS, PDF, folder_zip

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _docx():
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return blob.getvalue()


def test_the_type_comes_from_the_content_not_the_name():
    assert sniff(PDF, "scan.jpg") == "application/pdf"
    assert sniff(PNG, "anh.png") == "image/png"
    assert sniff(_docx(), "don.docx").endswith("wordprocessingml.document")
    assert sniff(b"MZ\x90\x00" + b"\0" * 64, "giay-to.pdf") is None  # a Windows program named .pdf
    assert sniff(b"<html><script>alert(1)</script>", "a.pdf") is None
    assert sniff(b"plain words", "a.txt") is None


def test_names_lose_paths_and_control_characters_and_stay_short():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\an\\giấy tờ.pdf") == "giấy tờ.pdf"
    assert safe_name("a\x00b\u202ec.pdf") == "abc.pdf"
    assert safe_name("") == "tep-dinh-kem"
    long = safe_name("x" * 300 + ".pdf")
    assert len(long) <= 120 and long.endswith(".pdf")


@pytest.fixture
def small_limits(sqlite_url, tmp_path, engine):
    app = _make_app(sqlite_url, tmp_path, engine, max_file_bytes=2048, max_dossier_file_bytes=3000)
    with app.app_context():
        _, token = make_user("admin1", ("admin",))
    api = Api(app.test_client(), token)
    assert api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    yield app, api
    from onestop.db import database

    database.close()


def _data_url(content, name="a.pdf"):
    return f"data:application/pdf;name={name};base64," + base64.b64encode(content).decode()


GOOD = {"full_name": "Trần Thị Bình", "citizen_id": "001203004567", "business_name": "Phở Bình",
        "capital_vnd": 50_000_000, "start_date": "2026-12-01", "business_lines": ["5610"]}


def test_a_file_over_the_per_file_limit_is_refused_on_its_field(small_limits):
    _app, api = small_limits
    big = PDF + b"\0" * 4096
    reply = api.post("/dossiers", {"procedure": "household_business", "data": GOOD | {"documents": _data_url(big)}})
    assert reply.status_code == 413 and reply.json["details"][0]["field"] == "documents"


def test_the_same_content_is_stored_once(small_limits):
    app, api = small_limits
    for _ in range(2):
        assert api.post("/dossiers", {"procedure": "household_business",
                                      "data": GOOD | {"documents": _data_url(PDF)}}).status_code == 201
    stored = [p for p in (app.config["ONESTOP"].home / "files").rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == PDF


def test_the_per_dossier_limit_counts_the_files_it_already_has(small_limits):
    from onestop.services.dossiers import start_dossier
    from onestop.services.users import portal_user

    app, _api = small_limits
    schema = {"properties": {"f": {"type": "string", "format": "data-url"}}}
    with app.app_context():
        started = start_dossier(portal_user(), "household_business",
                                GOOD | {"documents": _data_url(PDF + b"\0" * 1900)})  # 2 kB of the 3 kB allowed
        attachments.take(schema, {}, {"f": Upload("b.pdf", PDF + b"\0" * 1000)})  # on its own it fits
        with pytest.raises(TooLarge):
            attachments.take(schema, {}, {"f": Upload("b.pdf", PDF + b"\0" * 1000)}, dossier_id=started.id)


def test_an_upload_for_a_field_the_form_does_not_have_is_refused(small_limits):
    app, _api = small_limits
    with app.app_context(), pytest.raises(Invalid):
        attachments.take({"properties": {}}, {}, {"nope": Upload("a.pdf", PDF)})
