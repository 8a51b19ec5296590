"""Cấp Giấy xác nhận tình trạng hôn nhân (1.004873): commune level, 3 working days, with an optional
verification of where the applicant lived before; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "1.004873"
ONE_STOP, CIVIL, LEADER = "Bộ phận Một cửa", "Công chức Tư pháp - Hộ tịch", "Lãnh đạo UBND xã"

APPLICATION = {"requester_full_name": "Vũ Thị Hạnh", "requester_birth_date": "1994-02-17",
               "requester_citizen_id": "022194007788", "requester_phone": "0987654321",
               "requester_residence": "Khu 4, phường Cẩm Phả, tỉnh Quảng Ninh",
               "marital_status": "chua_ket_hon", "purpose": "ket_hon", "intended_spouse": "Lê Minh Quân",
               "lived_elsewhere": True}
SIGNED = {"signer_full_name": "Nguyễn Văn Bình", "signed": True}
RETURNED = {"returned_on": "2026-12-09", "receiver_full_name": "Vũ Thị Hạnh", "satisfaction": "hai_long"}


def _start(api, application=APPLICATION):
    upload_bundled(api, "marital_status_certificate")
    walk = Walk(api, CODE, data=application)
    walk.complete("Task_Receive", {"identity_checked": True})
    assert walk.offered() == {"Task_Appraise": CIVIL}
    return walk


def test_a_certificate_needing_no_verification_goes_straight_to_the_leader(admin_api):
    walk = _start(admin_api, APPLICATION | {"lived_elsewhere": False})
    walk.complete("Task_Appraise", {"database_checked": True, "eligible": True, "needs_verification": False})
    assert walk.offered() == {"Task_Sign": LEADER}
    walk.complete("Task_Sign", SIGNED)
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", RETURNED | {"fee_vnd": 0})
    assert walk.dossier["status"] == "returned" and walk.ended_at() == ["End_Issued"]
    assert "Task_Verify" not in walk.history()


def test_an_earlier_residence_is_verified_before_signing(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.complete("Task_Appraise", {"database_checked": True, "eligible": True, "needs_verification": True})
    assert walk.offered() == {"Task_Verify": CIVIL}
    assert walk.refused_fields("Task_Verify", {"verification_sent_on": "2026-12-01"}) == {"outcome"}
    walk.complete("Task_Verify", {"verification_sent_on": "2026-12-01", "outcome": "cam_doan"})
    assert walk.offered() == {"Task_Sign": LEADER}
    walk.complete("Task_Sign", SIGNED).complete("Task_Return", RETURNED | {"fee_vnd": 10000})
    assert walk.history()[-3:] == ["Task_Sign", "Task_Return", "End_Issued"]


def test_marrying_needs_the_intended_spouse_named(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "marital_status_certificate")
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {"intended_spouse": None}})
    assert refused.status_code == 422 and {d["field"] for d in refused.json["details"]} == {"intended_spouse"}


def test_a_supplement_pauses_the_three_days_and_the_appraisal_goes_on_after_it(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    due = walk.dossier["due_at"]
    assert walk.supplement("Bản sao bản án ly hôn")["due_at"] >= due
    walk.complete("Task_Appraise", {"database_checked": True, "eligible": False, "needs_verification": False})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
