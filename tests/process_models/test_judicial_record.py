"""Cấp Phiếu Lý lịch tư pháp (3.000333), Công an tỉnh: 10 "Ngày" in the national database, not "ngày làm
việc": calendar days (Luật Lý lịch tư pháp 2009: «không quá 10 ngày»)."""

from tests.process_models import TemplateProcedure

CODE = "3.000333"
FILE = "data:application/pdf;name=ho-so.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234",
               "applicant_phone": "0987123456", "request_content": "Cấp Phiếu lý lịch tư pháp số 1", "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-16"}
PROCEDURE = TemplateProcedure("judicial_record", CODE, "Bộ phận tiếp nhận - Công an tỉnh", "Cán bộ nghiệp vụ lý lịch tư pháp - Công an tỉnh", "Lãnh đạo Công an tỉnh", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "25/2026"}
RETURNED = {"returned_on": "2026-03-16", "receiver_full_name": "Trần Văn Bình", "satisfaction": "hai_long"}


def test_a_judicial_record_certificate_is_issued_within_ten_calendar_days(admin_api):
    walk = PROCEDURE.start(admin_api)
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"})
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    metadata = admin_api.get(f"/procedures/{CODE}").json["metadata"]
    assert {k: v for k, v in metadata["deadline"].items() if k in ("working_days", "calendar_days")} == {'calendar_days': 10}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    PROCEDURE.supplement_asked(walk, "Tờ khai Mẫu số 02/2025/LLTP có chữ ký người ủy quyền")
    PROCEDURE.supplement_received(walk, "Tờ khai Mẫu số 02/2025/LLTP có chữ ký người ủy quyền")
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"})
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 1


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", {"appraisal_result": "refuse", "appraisal_note": "Không đủ điều kiện"})
    assert walk.offered() == {"Task_NotifyRefusal": PROCEDURE.one_stop}
    walk.complete("Task_NotifyRefusal", {"refusal_reason": "Không đủ điều kiện theo quy định", "notified_on": "2026-03-06"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
