"""The back office's upload answers in Vietnamese: what the services refuse in English (for the API
and the logs) is shown to the administrator in their language."""

import io
import zipfile

from tests.admin.test_back_office import _signed_in, _token


def _upload(client, files):
    data = {"csrf_token": _token(client), "files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/admin/onboard/", data=data, content_type="multipart/form-data")


def test_an_upload_the_services_refuse_is_explained_in_vietnamese(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    damaged = _upload(admin, [("thu-tuc.zip", b"PK\x03\x04 not really a zip")]).get_data(as_text=True)
    assert "is not a readable zip file" not in damaged and "không phải tệp .zip đọc được" in damaged
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("a.bpmn", "<x/>")
    twice = _upload(admin, [("a.bpmn", b"<x/>"), ("a.bpmn", b"<x/>")]).get_data(as_text=True)
    assert "was given twice" not in twice and "được chọn hai lần" in twice
