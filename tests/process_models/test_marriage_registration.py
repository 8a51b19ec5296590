"""Đăng ký kết hôn (1.000894): commune level, registered the same working day; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "1.000894"
ONE_STOP, CIVIL, LEADER = "Bộ phận Một cửa", "Công chức Tư pháp - Hộ tịch", "Lãnh đạo UBND xã"

APPLICATION = {
    "groom_full_name": "Trần Văn Hùng", "groom_birth_date": "1996-04-12", "groom_citizen_id": "022096001234",
    "groom_residence": "Tổ 3, khu 5, phường Hồng Gai, tỉnh Quảng Ninh",
    "bride_full_name": "Phạm Thị Thu", "bride_birth_date": "1998-09-30", "bride_citizen_id": "022198004321",
    "bride_residence": "Thôn 2, xã Quảng La, tỉnh Quảng Ninh", "contact_phone": "0912345678", "first_marriage": True}
RECEIVED = {"identity_checked": True}
APPRAISED = {"marital_status_checked": True, "eligible": True}
RECORDED = {"register_book": "01/2026", "register_entry_number": "215", "registered_on": "2026-12-07",
            "software_updated": True}
SIGNED = {"signer_full_name": "Nguyễn Văn Bình", "signed": True}
RETURNED = {"returned_on": "2026-12-07", "receiver_full_name": "Trần Văn Hùng", "both_present": True,
            "satisfaction": "rat_hai_long"}


def _start(api):
    upload_bundled(api, "marriage_registration")
    walk = Walk(api, CODE, data=APPLICATION)
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    assert walk.dossier["applicant"] == {"name": "Trần Văn Hùng", "citizen_id": "022096001234", "phone": "0912345678"}
    return walk


def test_an_eligible_couple_is_registered_signed_and_handed_the_certificate(admin_api):
    walk = _start(admin_api)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": CIVIL}
    assert walk.detail("Task_Appraise")["data"]["bride_full_name"] == "Phạm Thị Thu"
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.offered() == {"Task_Record": CIVIL}
    walk.complete("Task_Record", RECORDED)
    assert walk.offered() == {"Task_Sign": LEADER}
    walk.complete("Task_Sign", SIGNED)
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    assert walk.refused_fields("Task_Return", RETURNED | {"both_present": None}) == {"both_present"}
    walk.complete("Task_Return", RETURNED)
    assert walk.state == "completed" and walk.dossier["status"] == "returned"
    assert walk.ended_at() == ["End_Registered"]


def test_an_ineligible_couple_is_refused_in_writing_with_the_ground(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.refused_fields("Task_Appraise", {"marital_status_checked": True, "eligible": False}) == {"refusal_ground"}
    walk.complete("Task_Appraise", {"marital_status_checked": True, "eligible": False, "refusal_ground": "chua_du_tuoi"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"refusal_explained": "Bên nữ chưa đủ 18 tuổi (Điều 8 Luật Hôn nhân và gia đình)"})
    assert walk.ended_at() == ["End_Refused"]


def test_a_missing_paper_is_asked_for_and_the_day_restarts_when_it_arrives(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.supplement("Bên nam xuất trình hộ chiếu còn hạn", "Đã xuất trình hộ chiếu")
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": CIVIL}
