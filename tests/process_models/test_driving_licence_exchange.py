"""Đổi giấy phép lái xe (3.000347): province police, 5 working days; a licence missing from the registry
is verified with its issuer first; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "3.000347"
DESK = "Bộ phận tiếp nhận và trả kết quả - Phòng CSGT"
LICENSING, LEADER = "Đội đăng ký, quản lý giấy phép lái xe", "Lãnh đạo Phòng Cảnh sát giao thông"

APPLICATION = {"holder_full_name": "Bùi Văn Nam", "holder_birth_date": "1985-11-02", "holder_citizen_id": "022085006655",
               "holder_phone": "0911222333", "licence_number": "220123456789", "licence_class": "B",
               "licence_expiry": "2026-12-31", "reason": "het_han", "health_certificate": True, "delivery": "truc_tiep"}
RECEIVED = {"photo_taken": True, "fee_paid": True}
APPROVED = {"approver_full_name": "Thượng tá Lý Văn Sơn", "sent_to_department": True}
PRINTED = {"new_licence_serial": "AB1234567", "old_licence_destroyed": True}
RETURNED = {"returned_on": "2026-12-08", "receiver_full_name": "Bùi Văn Nam", "satisfaction": "hai_long"}


def _start(api):
    upload_bundled(api, "driving_licence_exchange")
    walk = Walk(api, CODE, data=APPLICATION)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Lookup": LICENSING}
    return walk


def test_a_licence_in_the_registry_is_approved_printed_and_returned(admin_api):
    walk = _start(admin_api)
    walk.complete("Task_Lookup", {"licence_found": True, "violations_checked": True})
    assert walk.offered() == {"Task_Approve": LEADER}
    walk.complete("Task_Approve", APPROVED)
    assert walk.offered() == {"Task_Print": LICENSING}
    walk.complete("Task_Print", PRINTED)
    assert walk.offered() == {"Task_Return": DESK} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", RETURNED)
    assert walk.dossier["status"] == "returned" and walk.ended_at() == ["End_Exchanged"]


def test_a_licence_missing_from_the_registry_is_verified_or_refused(sqlite_admin_api):
    verified = _start(sqlite_admin_api)
    verified.complete("Task_Lookup", {"licence_found": False, "violations_checked": True})
    assert verified.offered() == {"Task_Verify": LICENSING}
    verified.complete("Task_Verify", {"issuer": "Sở Giao thông vận tải Hải Phòng", "request_sent_on": "2026-12-01",
                                      "verified": True})
    assert verified.offered() == {"Task_Approve": LEADER}

    unverified = Walk(sqlite_admin_api, CODE, data=APPLICATION)
    unverified.complete("Task_Receive", RECEIVED).complete("Task_Lookup", {"licence_found": False, "violations_checked": True})
    unverified.complete("Task_Verify", {"issuer": "Sở Giao thông vận tải Hải Phòng", "request_sent_on": "2026-12-01",
                                        "verified": False})
    assert unverified.offered() == {"Task_NotifyRefusal": DESK}
    unverified.complete("Task_NotifyRefusal", {"refusal_explained": "Cơ quan đã cấp không xác nhận giấy phép"})
    assert unverified.ended_at() == ["End_Refused"]


def test_the_licence_number_has_twelve_digits(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "driving_licence_exchange")
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {"licence_number": "AB12"}})
    assert refused.status_code == 422 and {d["field"] for d in refused.json["details"]} == {"licence_number"}


def test_a_missing_health_certificate_is_asked_for_and_the_five_days_restart(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.supplement("Giấy khám sức khỏe còn hiệu lực", "Đã nộp giấy khám sức khỏe")
    walk.complete("Task_Lookup", {"licence_found": True, "violations_checked": True})
    assert walk.offered() == {"Task_Approve": LEADER}
