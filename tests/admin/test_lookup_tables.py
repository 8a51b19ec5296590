"""The lookup tables page of the back office, through real HTTP: an administrator uploads a CSV
table, sees its rows, sees a bad file refused in plain words, and drops the table."""

import io

from tests.admin.test_back_office import _signed_in
from tests.web.pages import csrf

PAGE = "/admin/lookup-tables/"


def test_only_administrators_open_the_page(sqlite_app):
    assert _signed_in(sqlite_app, "canbo", ("officer",)).get(PAGE).status_code == 403
    assert _signed_in(sqlite_app, "quantri", ("admin",)).get(PAGE).status_code == 200


def test_an_administrator_uploads_views_and_drops_a_table(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    table = "loai,phi_vnd,ma\nCấp mới,100000,001\nCấp lại,50000,002\n".encode()
    sent = admin.post(PAGE, data={"csrf_token": csrf(admin.get(PAGE)), "name": "fees",
                                  "file": (io.BytesIO(table), "bieu-phi.csv")}, content_type="multipart/form-data")
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/admin/lookup-tables/fees")
    shown = admin.get(PAGE + "fees").get_data(as_text=True)
    assert "<th>loai</th>" in shown and "<td>Cấp lại</td>" in shown and "<td>001</td>" in shown
    assert "bieu-phi.csv" in admin.get(PAGE).get_data(as_text=True)
    dropped = admin.post(PAGE + "fees/delete", data={"csrf_token": csrf(admin.get(PAGE))})
    assert dropped.status_code == 302 and "Chưa có bảng nào" in admin.get(PAGE).get_data(as_text=True)


def test_a_file_that_is_no_table_is_refused_and_nothing_is_kept(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri", ("admin",))
    refused = admin.post(PAGE, data={"csrf_token": csrf(admin.get(PAGE)), "name": "fees",
                                     "file": (io.BytesIO(b"\xff\xfe"), "fees.csv")}, content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Không nhận bảng" in text and "UTF-8" in text
    assert "Chưa có bảng nào" in text
    assert admin.get(PAGE + "nothing").status_code == 302
