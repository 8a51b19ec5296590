"""Công nhận hộ nghèo, hộ cận nghèo thường xuyên hằng năm (1.011607): 15 "Ngày" in the national database, not
"ngày làm việc": calendar days; the review (Phiếu B, village meeting, 03 ngày làm việc posted) is the
site-inspection step; no online channel."""

from tests.process_models import TemplateProcedure

CODE = "1.011607"
FILE = "data:application/pdf;name=ho-so.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234",
               "applicant_phone": "0987123456", "request_content": "Đề nghị rà soát hộ nghèo do chủ hộ bị tai nạn lao động", "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-16"}
PROCEDURE = TemplateProcedure("poor_household_recognition", CODE, "Bộ phận Một cửa", "Ban Chỉ đạo rà soát cấp xã", "Chủ tịch UBND xã", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "25/2026"}
RETURNED = {"returned_on": "2026-03-16", "receiver_full_name": "Trần Văn Bình", "satisfaction": "hai_long"}

def _reviewed(walk):
    """Phiếu B collected, the village meeting held and the result posted: the review's findings."""
    assert walk.offered() == {"Task_Inspect": PROCEDURE.specialist}
    walk.complete("Task_Inspect", {"inspected_on": "2026-03-05", "inspection_result": "meets"})



def test_a_household_is_recognised_as_poor_within_fifteen_calendar_days(admin_api):
    walk = PROCEDURE.start(admin_api)
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"}, _reviewed)
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    metadata = admin_api.get(f"/procedures/{CODE}").json["metadata"]
    assert {k: v for k, v in metadata["deadline"].items() if k in ("working_days", "calendar_days")} == {'calendar_days': 15}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    PROCEDURE.supplement_asked(walk, "Giấy đề nghị rà soát có chữ ký chủ hộ")
    PROCEDURE.supplement_received(walk, "Giấy đề nghị rà soát có chữ ký chủ hộ")
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"}, _reviewed)
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 1


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", {"appraisal_result": "refuse", "appraisal_note": "Không đủ điều kiện"})
    assert walk.offered() == {"Task_NotifyRefusal": PROCEDURE.one_stop}
    walk.complete("Task_NotifyRefusal", {"refusal_reason": "Không đủ điều kiện theo quy định", "notified_on": "2026-03-06"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
