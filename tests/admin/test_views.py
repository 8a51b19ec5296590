"""The back office's chrome and common list behaviour through real HTTP: signing out, flask-admin's
messages in proper Vietnamese, Vietnam time to the minute, audit events by name, a search box that
says what it searches, and the landing page's figures leading to their lists."""

import json
import re

from onestop.models import AuditEvent, Dossier
from onestop.workdays import to_local
from tests.conftest import MODELS, make_user, script_model
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _signed_in(app, username="quantri", roles=("admin",)):
    with app.app_context():
        make_user(username, roles, password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 303
    return client


def test_an_administrator_signs_out_with_a_post_and_lands_on_the_sign_in_page(sqlite_app):
    admin = _signed_in(sqlite_app)
    home = admin.get("/admin/")
    html = home.get_data(as_text=True)
    assert re.search(r'<form method="post" action="/admin/sign-out"[^>]*><input id="sign-out-token" name="csrf_token"', html)
    assert admin.get("/admin/sign-out").status_code == 405  # a link cannot sign anyone out
    assert admin.post("/admin/sign-out").status_code == 303 and admin.get("/admin/").status_code == 200  # no token
    done = admin.post("/admin/sign-out", data={"csrf_token": csrf(home)})
    assert done.status_code == 303 and done.headers["Location"].endswith("/desk/login")
    again = admin.get("/admin/")
    assert again.status_code == 302 and "/desk/login" in again.headers["Location"]


def test_creating_a_unit_is_confirmed_in_proper_vietnamese(sqlite_app):
    admin = _signed_in(sqlite_app)
    form = admin.get("/admin/unit/new/")
    created = admin.post("/admin/unit/new/", data={"csrf_token": csrf(form), "code": "TP", "name": "Phòng Tư pháp",
                                                   "kind": "department"}, follow_redirects=True)
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and "Phòng Tư pháp" in html
    assert "Đã tạo xong." in html and "Kỷ lục" not in html
    assert ">Chi tiết<" in html and "Xem hồ sơ" not in html  # the list's own words, ours too


def test_times_are_shown_in_vietnam_time_to_the_minute(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    code = sqlite_admin_api.post("/dossiers", {"procedure": "review"}).json["code"]
    with sqlite_app.app_context():
        dossier = Dossier.get(Dossier.code == code)
        event = AuditEvent.select().where(AuditEvent.dossier == dossier).first()
    admin = _signed_in(sqlite_app)
    listed = admin.get("/admin/dossier/").get_data(as_text=True)
    assert f"{to_local(dossier.received_at):%d/%m/%Y %H:%M}" in listed
    assert str(dossier.received_at) not in listed and not re.search(r"\d\d:\d\d:\d\d\.\d{6}", listed)
    details = admin.get(f"/admin/dossier/details/?id={dossier.id}").get_data(as_text=True)
    assert f"{to_local(dossier.received_at):%d/%m/%Y %H:%M}" in details
    audit = admin.get("/admin/audit/").get_data(as_text=True)
    assert f"{to_local(event.at):%d/%m/%Y %H:%M}" in audit and not re.search(r"\d\d:\d\d:\d\d\.\d{6}", audit)


def test_audit_events_are_listed_and_filtered_by_their_vietnamese_names(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    sqlite_admin_api.post("/dossiers", {"procedure": "review"})
    admin = _signed_in(sqlite_app)
    audit = admin.get("/admin/audit/").get_data(as_text=True)
    assert "Tiếp nhận hồ sơ" in audit and "Tải lên phiên bản thủ tục" in audit
    assert {"Tiếp nhận hồ sơ", "Tải lên phiên bản thủ tục"} <= set(re.findall(r'<td class="col-action">\s*(.*?)\s*</td>',
                                                                             audit, re.S))
    assert not re.search(r"<td[^>]*>\s*(dossier|procedure)\.[a-z_]+\s*</td>", audit)
    filters = json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', audit).group(1))
    assert ["dossier.started", "Tiếp nhận hồ sơ"] in filters["Việc"][0]["options"]
    assert [f["operation"] for f in filters["Lúc"]][:2] == ["là", "không phải"]  # not flask-admin's "bằng"
    chosen = admin.get(f"/admin/audit/?flt0_{filters['Việc'][0]['arg']}=dossier.started").get_data(as_text=True)
    assert set(re.findall(r'<td class="col-action">\s*(.*?)\s*</td>', chosen, re.S)) == {"Tiếp nhận hồ sơ"}


def test_the_search_box_is_labelled_with_what_it_searches_and_never_says_none(sqlite_app):
    admin = _signed_in(sqlite_app)
    for path, words in (("/admin/procedure/", "mã, tên thủ tục"), ("/admin/user/", "tên đăng nhập, họ tên"),
                        ("/admin/centre/", "mã, tên")):
        html = admin.get(path).get_data(as_text=True)
        assert 'placeholder="None"' not in html
        assert re.search(rf'<label class="search-label" for="search">Tìm theo {words}</label>', html), path


def test_the_landing_page_counts_incidents_and_links_to_exactly_those_dossiers(sqlite_app, sqlite_admin_api):
    assert sqlite_admin_api.upload([script_model("fee = 100 / divisor")]).status_code == 201
    failed = sqlite_admin_api.post("/dossiers", {"procedure": "scripted", "data": {"divisor": 0}}).json["code"]
    fine = sqlite_admin_api.post("/dossiers", {"procedure": "scripted", "data": {"divisor": 4}}).json["code"]
    admin = _signed_in(sqlite_app)
    home = admin.get("/admin/").get_data(as_text=True)
    incidents = re.search(r'<li id="incidents".*?</li>', home, re.S).group(0)
    assert '<span class="figure">1</span>' in incidents and 'href="/admin/dossier/?show=incidents"' in incidents
    active = re.search(r'<li id="active".*?</li>', home, re.S).group(0)
    assert '<span class="figure">1</span>' in active
    for figure in ("overdue", "procedures", "late-timers", "unsent", "not-ready"):
        assert f'<li id="{figure}"' in home
    listed = admin.get("/admin/dossier/?show=incidents").get_data(as_text=True)
    assert "<h1>Hồ sơ gặp sự cố</h1>" in listed and failed in listed and fine not in listed
    assert "Gặp sự cố" in listed  # the workflow's state by name, not "error"
    filters = json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', listed).group(1))
    assert ["error", "Gặp sự cố"] in filters["Tiến trình"][0]["options"]
    assert all(name != value for value, name in filters["Trạng thái"][0]["options"])  # each status by its name


def test_every_column_field_and_filter_of_every_list_has_a_vietnamese_label(sqlite_app):
    from flask_admin.contrib.peewee import ModelView

    unlabelled = []
    with sqlite_app.test_request_context():
        for view in sqlite_app.extensions["onestop.admin"]._views:
            if not isinstance(view, ModelView):
                continue
            shown = [name for name, _ in view._list_columns + view._details_columns]
            unlabelled += [f"{view.endpoint}.{name}" for name in dict.fromkeys(shown) if name not in view.column_labels]
            for form in (view.create_form(), view.edit_form()) if view.can_create or view.can_edit else ():
                unlabelled += [f"{view.endpoint} form {f.name}" for f in form
                               if f.name != "csrf_token" and f.label.text.isascii()]
    assert unlabelled == [], "\n".join(unlabelled)
