"""Chứng thực bản sao từ bản chính (2.000815): commune level, decided the same day; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "2.000815"
ONE_STOP = "Bộ phận Một cửa"
CERTIFIER = "Công chức Tư pháp - Hộ tịch"
LEADER = "Lãnh đạo UBND xã"

APPLICATION = {"requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321", "requester_phone": "0904555666",
               "papers": [{"paper_name": "Bằng tốt nghiệp đại học", "pages": 1, "copies": 3},
                          {"paper_name": "Học bạ trung học phổ thông", "pages": 12, "copies": 1}]}
RECEIVED = {"original_presented": True, "certifiable": True, "total_pages": 15}
ATTESTED = {"copies_match": True, "register_book": "01/2026-SCT/BS", "register_entry_number": "1532", "attested_pages": 15}
SIGNED = {"signer_full_name": "Lê Văn Tâm", "signed": True}
RETURNED = {"returned_on": "2026-12-07", "receiver_full_name": "Đỗ Thị Mai", "fee_vnd": 19000, "satisfaction": "hai_long"}


def _start(api):
    upload_bundled(api, "copy_certification")
    walk = Walk(api, CODE, data=APPLICATION)
    assert walk.offered() == {"Task_Receive": ONE_STOP} and walk.dossier["status"] == "received"
    assert walk.dossier["applicant"]["name"] == "Đỗ Thị Mai"  # taken from the application
    return walk


def test_copies_are_certified_signed_and_returned_the_same_day(admin_api):
    walk = _start(admin_api)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Attest": CERTIFIER}
    walk.complete("Task_Attest", ATTESTED)
    assert walk.offered() == {"Task_Sign": LEADER}
    walk.complete("Task_Sign", SIGNED)
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", RETURNED)
    assert walk.state == "completed" and walk.dossier["status"] == "returned"
    assert walk.ended_at() == ["End_Certified"]


def test_an_original_that_may_not_be_certified_is_refused_with_its_ground(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    assert walk.refused_fields("Task_Receive", {"original_presented": True, "certifiable": False}) == {"refusal_ground"}
    walk.complete("Task_Receive", {"original_presented": True, "certifiable": False, "refusal_ground": "dong_dau_mat"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"refusal_explained": "Văn bản đóng dấu Mật, không được chứng thực bản sao"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]


def test_a_missing_original_is_asked_for_and_the_clock_restarts_when_it_arrives(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    asked = sqlite_admin_api.post(f"/dossiers/{walk.code}/supplement-request",
                                  {"reason": "Mang bản chính Học bạ trung học phổ thông để đối chiếu"})
    assert asked.status_code == 200 and asked.json["status"] == "supplement_requested"
    resumed = sqlite_admin_api.post(f"/dossiers/{walk.code}/supplement", {"note": "Đã mang bản chính"})
    assert resumed.json["status"] == "processing" and resumed.json["due_at"]
    walk.refresh()
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Attest": CERTIFIER}


def test_the_application_needs_at_least_one_paper_with_its_pages_and_copies(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "copy_certification")
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {
        "papers": [{"paper_name": "Bằng", "pages": 0}]}})
    assert refused.status_code == 422
    assert {d["field"] for d in refused.json["details"]} == {"papers/0/pages", "papers/0/copies"}
