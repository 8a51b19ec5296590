"""Đăng ký thành lập công ty TNHH một thành viên (2.001583): province level, 3 working days; walked
through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "2.001583"
ONE_STOP, REGISTRAR, LEADER = "Bộ phận Một cửa", "Phòng Đăng ký kinh doanh - Sở Tài chính", "Lãnh đạo Phòng Đăng ký kinh doanh"

APPLICATION = {"owner_full_name": "Hoàng Minh Đức", "owner_citizen_id": "022088009911", "owner_phone": "0978111222",
               "company_name": "Công ty TNHH Thương mại Hạ Long Xanh", "head_office": "Số 5 đường Lê Thánh Tông, phường Hạ Long",
               "charter_capital_vnd": 2000000000,
               "lines": [{"code": "4663", "line_name": "Bán buôn vật liệu, thiết bị lắp đặt khác trong xây dựng"},
                         {"code": "4933", "line_name": "Vận tải hàng hóa bằng đường bộ"}],
               "legal_representative": "Hoàng Minh Đức"}


def _start(api):
    upload_bundled(api, "llc_registration")
    walk = Walk(api, CODE, data=APPLICATION)
    walk.complete("Task_Receive", {"documents_checked": True})
    assert walk.offered() == {"Task_Review": REGISTRAR}
    return walk


def test_a_valid_dossier_is_approved_and_the_certificate_returned(admin_api):
    walk = _start(admin_api)
    assert walk.refused_fields("Task_Review", {"name_not_confusing": True, "valid": True}) == {"enterprise_code"}
    walk.complete("Task_Review", {"name_not_confusing": True, "valid": True, "enterprise_code": "5702123456"})
    assert walk.offered() == {"Task_Approve": LEADER}
    walk.complete("Task_Approve", {"approver_full_name": "Trịnh Thị Hoa", "approved": True})
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", {"returned_on": "2026-12-04", "receiver_full_name": "Hoàng Minh Đức"})
    assert walk.dossier["status"] == "returned" and walk.ended_at() == ["End_Registered"]


def test_an_invalid_dossier_gets_a_notice_of_what_to_amend(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.complete("Task_Review", {"name_not_confusing": False, "valid": False,
                                  "amendments": "Tên công ty gây nhầm lẫn với doanh nghiệp đã đăng ký"})
    assert walk.offered() == {"Task_NotifyAmendment": ONE_STOP}
    walk.complete("Task_NotifyAmendment", {"notified_on": "2026-12-02"})
    assert walk.ended_at() == ["End_Amend"]


def test_the_lines_need_four_digit_codes(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "llc_registration")
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {
        "lines": [{"code": "46", "line_name": "Bán buôn"}]}})
    assert refused.status_code == 422 and {d["field"] for d in refused.json["details"]} == {"lines/0/code"}


def test_a_supplement_restarts_the_three_days(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.supplement("Bản sao giấy tờ pháp lý của chủ sở hữu")
    walk.complete("Task_Review", {"name_not_confusing": True, "valid": True, "enterprise_code": "5702123456"})
    assert walk.offered() == {"Task_Approve": LEADER}
