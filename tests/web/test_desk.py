"""The officers' desk: sign-in, worklist with counts, a task page with everything, claim, complete,
downloads, and what a colleague or another centre's officer gets."""

import re

import pytest

from tests.conftest import make_user
from tests.web.pages import FORMS, PDF, csrf, folder_zip, sign_in, submit_application


@pytest.fixture
def desk(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload([folder_zip(FORMS / "spiffarena")]).status_code == 201
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
        make_user("canbo2", ("officer",), password="mật-khẩu-2")
        make_user("congdan", ("citizen",), password="mật-khẩu-3")
    citizen = sqlite_app.test_client()
    assert submit_application(citizen).status_code == 303
    officer = sqlite_app.test_client()
    assert sign_in(officer, "canbo1", "mật-khẩu-1").status_code == 303
    return officer


def _task_link(client):
    text = client.get("/desk/").get_data(as_text=True)
    return re.search(r'href="(/desk/tasks/[0-9a-f-]{36})"', text).group(1)


def test_the_desk_asks_for_sign_in_first(sqlite_app):
    reply = sqlite_app.test_client().get("/desk/")
    assert reply.status_code == 302 and "/desk/login" in reply.headers["Location"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(sqlite_app):
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="đúng")
    reply = sign_in(sqlite_app.test_client(), "canbo1", "sai")
    assert reply.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in reply.get_data(as_text=True)
    assert sign_in(sqlite_app.test_client(), "nobody", "sai").status_code == 401


def test_a_citizen_account_cannot_sign_in_to_the_desk(sqlite_app):
    with sqlite_app.app_context():
        make_user("congdan", ("citizen",), password="mật-khẩu")
    assert sign_in(sqlite_app.test_client(), "congdan", "mật-khẩu").status_code == 401


def test_the_worklist_shows_the_task_with_counts(desk):
    text = desk.get("/desk/").get_data(as_text=True)
    assert "Thẩm định hồ sơ" in text and "Đăng ký hộ kinh doanh" in text
    assert "Trần Thị Bình" in text  # the applicant, taken from the online application
    assert re.search(r"<strong>1</strong>Tất cả công việc", text) and re.search(r"<strong>0</strong>Tôi đang xử lý", text)


def test_the_task_page_shows_data_files_instructions_and_form(desk):
    link = _task_link(desk)
    text = desk.get(link).get_data(as_text=True)
    assert "Trần Thị Bình" in text and "giay-chung-nhan.pdf" in text
    assert "<strong>tên hộ kinh doanh</strong>" in text  # the model's Markdown instructions, rendered
    assert 'name="approved"' in text
    download = re.search(r'href="(/desk/dossiers/[^"]+/files/\d+)"', text).group(1)
    reply = desk.get(download)
    assert reply.status_code == 200 and reply.data == PDF and reply.mimetype == "application/pdf"
    assert "attachment" in reply.headers["Content-Disposition"]


def test_an_officer_completes_the_task_through_the_form(desk):
    link = _task_link(desk)
    page = desk.get(link)
    reply = desk.post(link, data={"csrf_token": csrf(page), "approved": "y"})
    assert reply.status_code == 303
    assert "Đã xong" in desk.get("/desk/").get_data(as_text=True)
    assert "Thẩm định hồ sơ" not in desk.get("/desk/").get_data(as_text=True).split("<tbody>")[1]


def test_a_task_claimed_by_a_colleague_cannot_be_completed_by_another(desk, sqlite_app):
    link = _task_link(desk)
    page = desk.get(link)
    assert desk.post(link + "/claim", data={"csrf_token": csrf(page)}).status_code == 303
    other = sqlite_app.test_client()
    sign_in(other, "canbo2", "mật-khẩu-2")
    page = other.get(link)
    reply = other.post(link, data={"csrf_token": csrf(page), "approved": "y"}, follow_redirects=True)
    assert "Một đồng nghiệp đã nhận việc này" in reply.get_data(as_text=True)
    assert "Thẩm định hồ sơ" in desk.get("/desk/").get_data(as_text=True)  # still waiting, still theirs


def test_a_task_a_colleague_completed_meanwhile_gives_a_clear_message(desk, sqlite_app):
    link = _task_link(desk)
    page = desk.get(link)
    other = sqlite_app.test_client()
    sign_in(other, "canbo2", "mật-khẩu-2")
    other_page = other.get(link)
    assert other.post(link, data={"csrf_token": csrf(other_page), "approved": "y"}).status_code == 303
    reply = desk.post(link, data={"csrf_token": csrf(page), "approved": "y"}, follow_redirects=True)
    assert reply.status_code == 200 and "Một đồng nghiệp đã xử lý việc này" in reply.get_data(as_text=True)


def test_another_centres_officer_sees_neither_the_task_nor_the_files(desk, sqlite_app):
    link = _task_link(desk)
    download = re.search(r'href="(/desk/dossiers/[^"]+/files/\d+)"', desk.get(link).get_data(as_text=True)).group(1)
    with sqlite_app.app_context():
        from onestop.models import Centre

        elsewhere = Centre.create(code="xa-b", name="Xã B", level="commune")
        make_user("canbo-xa-b", ("officer",), centre=elsewhere, password="mật-khẩu-4")
    foreign = sqlite_app.test_client()
    sign_in(foreign, "canbo-xa-b", "mật-khẩu-4")
    assert "Thẩm định hồ sơ" not in foreign.get("/desk/").get_data(as_text=True)
    assert foreign.get(link).status_code == 404  # no such task here, as for any unknown address
    assert foreign.get(download).status_code == 404


def test_a_camunda_form_data_task_renders_and_refuses_wrong_values_on_the_desk(sqlite_admin_api, sqlite_app):
    assert sqlite_admin_api.upload(sorted((FORMS / "camunda").iterdir())).status_code == 201
    data = {"applicant_name": "Lê Văn Cường", "purpose": "Hội chợ xuân", "event_day": "2027-01-20"}
    assert sqlite_admin_api.post("/dossiers", {"procedure": "event_permit", "data": data}).status_code == 201
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    link = _task_link(officer)
    page = officer.get(link)
    text = page.get_data(as_text=True)
    assert 'name="organiser"' in text and '<option selected value="indoor">Trong nhà</option>' in text
    refused = officer.post(link, data={"csrf_token": csrf(page), "organiser": "UBND xã", "guests": "0"})
    assert refused.status_code == 422 and 'id="guests-error">Phải từ 1 trở lên.' in refused.get_data(as_text=True)
    done = officer.post(link, data={"csrf_token": csrf(page), "organiser": "UBND xã", "guests": "300"})
    assert done.status_code == 303


def test_an_officer_is_not_shown_a_leaders_task_and_is_turned_back_from_it(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled
    from tests.process_models.test_birth_registration import APPLICATION, APPRAISED, CODE, RECEIVED, RECORDED

    upload_bundled(sqlite_admin_api, "birth_registration")
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION}).json
    for data in (RECEIVED, APPRAISED, RECORDED):
        task_id = dossier["tasks"][0]["id"]
        reply = sqlite_admin_api.post(f"/tasks/{task_id}/complete", {"data": data})
        assert reply.status_code == 200, reply.json
        dossier = reply.json
    [sign] = dossier["tasks"]
    assert sign["lane"] == "Lãnh đạo UBND xã"
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    assert sign["id"] not in officer.get("/desk/").get_data(as_text=True)
    turned = officer.get(f"/desk/tasks/{sign['id']}", follow_redirects=True)
    assert "vai trò của bạn không được giao" in turned.get_data(as_text=True)


def test_the_control_sheet_shows_each_hand_over_and_who_kept_a_step_late(sqlite_admin_api, sqlite_app):
    from datetime import datetime

    from tests.process_models import upload_bundled
    from tests.process_models.test_birth_registration import APPRAISED, RECEIVED
    from tests.web.test_portal import BIRTH

    upload_bundled(sqlite_admin_api, "birth_registration")
    citizen = sqlite_app.test_client()
    form = citizen.get("/procedures/1.001193/submit")
    reply = citizen.post("/procedures/1.001193/submit", content_type="multipart/form-data", data={
        "csrf_token": csrf(form), **BIRTH, "birth_evidence_file": (__import__("io").BytesIO(PDF), "gcs.pdf")})
    confirmation = citizen.get(reply.headers["Location"]).get_data(as_text=True)
    code = re.search(r'class="big-code">([^<]+)<', confirmation).group(1)
    key = re.search(r'id="lookup-key">([^<]+)<', confirmation).group(1)
    with sqlite_app.app_context():
        from onestop.models import Dossier, WorkItem

        WorkItem.update(due_at=datetime(2020, 1, 1)).where(
            WorkItem.dossier == Dossier.get(Dossier.code == code).id).execute()  # the desk kept it too long
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    for data in (RECEIVED, APPRAISED):
        task = sqlite_admin_api.get(f"/tasks?dossier={code}").json["tasks"][0]
        assert sqlite_admin_api.post(f"/tasks/{task['id']}/complete", {"data": data}).status_code == 200
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    sheet = officer.get(f"/desk/dossiers/{code}/control-sheet").get_data(as_text=True)
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in sheet and "<strong>Trễ hạn</strong>" in sheet
    assert "Đúng hạn" in sheet and "Đơn vị để hồ sơ trễ hạn: Bộ phận Một cửa." in sheet
    public = citizen.get(f"/track/{code}?k={key}").get_data(as_text=True)
    assert "Đơn vị làm chậm: Bộ phận Một cửa" in public and "trễ hạn" in public
    assert "admin1" not in public  # no officer's name on the public page


def test_notices_print_the_supplement_request_and_the_apology_from_the_record(sqlite_admin_api, sqlite_app):
    from datetime import date, timedelta

    from tests.services.test_lifecycle import _upload

    _upload(sqlite_admin_api, "pause")
    code = sqlite_admin_api.post("/dossiers", {"procedure": "review", "applicant": {"name": "Trần Thị Bình"}}).json["code"]
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    assert officer.get(f"/desk/dossiers/{code}/notices/supplement").status_code == 404  # none issued yet
    due = date.fromisoformat(sqlite_admin_api.get(f"/dossiers/{code}").json["due_at"][:10])
    later = due + timedelta(days=14)
    while later.weekday() >= 5:
        later += timedelta(days=1)
    assert sqlite_admin_api.post(f"/dossiers/{code}/apology", {"new_due": later.isoformat(),
                                                               "reason": "Chờ ý kiến Sở"}).status_code == 200
    sqlite_admin_api.post(f"/dossiers/{code}/supplement-request", {"reason": "Bản sao sổ đỏ có chứng thực"})
    text = officer.get(f"/desk/dossiers/{code}/notices/supplement").get_data(as_text=True)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text and "Bản sao sổ đỏ có chứng thực" in text
    assert "Trần Thị Bình" in text
    text = officer.get(f"/desk/dossiers/{code}/notices/apology").get_data(as_text=True)
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text and later.strftime("%d/%m/%Y") in text
    assert officer.get(f"/desk/dossiers/{code}/notices/anything").status_code == 404


def test_the_ledger_lists_the_dossiers_received_on_a_day(desk, sqlite_app):
    from onestop.models import utcnow
    from onestop.workdays import to_local

    today = to_local(utcnow()).date()
    text = desk.get(f"/desk/ledger?from={today}&to={today}").get_data(as_text=True)
    assert "Sổ theo dõi hồ sơ" in text and "Đăng ký hộ kinh doanh" in text and "Trần Thị Bình" in text
    assert "1 hồ sơ" in text
    long_ago = desk.get("/desk/ledger?from=2020-01-01&to=2020-01-02").get_data(as_text=True)
    assert "Không có hồ sơ nào" in long_ago
    assert desk.get("/desk/ledger?from=2020-01-01&to=2021-01-01").status_code == 422  # at most three months


def test_an_officer_receives_a_paper_dossier_at_the_counter_and_prints_its_receipt(sqlite_admin_api, sqlite_app):
    from tests.process_models import upload_bundled
    from tests.web.test_portal import BIRTH

    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    upload_bundled(sqlite_admin_api, "birth_registration")
    with sqlite_app.app_context():
        make_user("canbo1", ("officer",), password="mật-khẩu-1")
    officer = sqlite_app.test_client()
    sign_in(officer, "canbo1", "mật-khẩu-1")
    assert "Cấp giấy phép xây dựng" in officer.get("/desk/intake?q=giay phep").get_data(as_text=True)
    form = officer.get("/desk/intake/1.013225")
    reply = officer.post("/desk/intake/1.013225", data={
        "csrf_token": csrf(form), "applicant_name": "Phạm Thị Hoa", "applicant_phone": "0983456789"})
    assert reply.status_code == 303
    slip = officer.get(reply.headers["Location"]).get_data(as_text=True)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in slip and "Phạm Thị Hoa" in slip and 'class="segno"' in slip
    code = re.search(r"Mã hồ sơ: ([^<]+)<", slip).group(1)
    assert sqlite_admin_api.get(f"/dossiers/{code}").json["status"] == "received"
    assert officer.get(f"/desk/intake/{code}/receipt").status_code == 200
    assert sqlite_app.test_client().get(f"/desk/intake/{code}/receipt").status_code == 302  # not signed in

    form = officer.get("/desk/intake/1.001193")
    refused = officer.post("/desk/intake/1.001193", content_type="multipart/form-data",
                           data={"csrf_token": csrf(form), **BIRTH, "declarant_citizen_id": "12"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="declarant_citizen_id-error"' in text
    received = officer.post("/desk/intake/1.001193", content_type="multipart/form-data", data={
        "csrf_token": csrf(form), **BIRTH, "birth_evidence_file": (__import__("io").BytesIO(PDF), "gcs.pdf")})
    assert received.status_code == 303


def test_a_malformed_date_on_the_report_keeps_the_page_and_says_what_to_correct(sqlite_app):
    with sqlite_app.app_context():
        make_user("lanhdao", ("leader", "officer"), password="mật-khẩu-2")
    leader = sqlite_app.test_client()
    sign_in(leader, "lanhdao", "mật-khẩu-2")
    leader.get("/lang/en?next=/")
    reply = leader.get("/desk/report?from=2026-13-45&to=2026-12-31")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "YYYY-MM-DD" not in text and 'id="report"' in text  # the report itself, not a bare message
    assert 'href="#from"' in text and 'id="from-error"' in text and 'value="2026-13-45"' in text
