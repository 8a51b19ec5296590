"""Tiếp nhận đối tượng bảo trợ xã hội vào cơ sở trợ giúp xã hội (2.000286), an inter-level procedure of the
commune and the province: 25 ngày làm việc, 10 at the commune and 15 at the province (QĐ 2022/QĐ-UBND Cao
Bằng, quy trình số 17); the return is not counted."""

from tests.process_models import TemplateProcedure

CODE = "2.000286"
FILE = "data:application/pdf;name=don.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Hoàng Thị Nga", "applicant_citizen_id": "004160001122",
               "applicant_phone": "0977333444", "request_content": "Đề nghị tiếp nhận cụ bà neo đơn vào cơ sở",
               "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Hoàng Thị Nga", "applicant_citizen_id": "004160001122", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-04-06"}
PROVINCE = "Sở Y tế và Cơ sở trợ giúp xã hội"
PROCEDURE = TemplateProcedure("social_protection_admission", CODE, "Bộ phận tiếp nhận và trả kết quả",
                              "Phòng Văn hóa - Xã hội UBND xã", "Người đứng đầu Cơ sở trợ giúp xã hội",
                              APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Nông Văn Quý", "result_number": "08/QĐ-TTCTXH"}
RETURNED = {"returned_on": "2026-04-06", "receiver_full_name": "Hoàng Thị Nga", "satisfaction": "hai_long"}


def _at_the_province(walk):
    """The Department of Health appraises and refers the file; the facility processes it."""
    assert walk.offered() == {"Task_Consult": PROVINCE}
    walk.complete("Task_Consult", {"consulted_agency": "Sở Y tế", "consultation_reply": "agree"})
    assert walk.offered() == {"Task_Conclude": PROVINCE}
    walk.complete("Task_Conclude", {"conclusion": "approve"})


def test_a_beneficiary_is_admitted_after_the_commune_and_the_province(admin_api):
    walk = PROCEDURE.start(admin_api)
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"}, _at_the_province)
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    metadata = admin_api.get(f"/procedures/{CODE}").json["metadata"]
    assert metadata["level"] == ["commune", "province"] and metadata["deadline"]["working_days"] == 25
    steps = metadata["deadline"]["steps"]
    assert sum(step["working_days"] for step in steps.values()) == 25  # 10 at the commune, 15 at the province


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    PROCEDURE.supplement_asked(walk, "Thiếu xác nhận của UBND xã về hoàn cảnh")
    PROCEDURE.supplement_received(walk, "Văn bản xác nhận hoàn cảnh")
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"}, _at_the_province)
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 1


def test_the_department_disagreeing_leads_to_a_written_refusal(sqlite_admin_api):
    walk = PROCEDURE.start(sqlite_admin_api)
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", {"appraisal_result": "approve"})
    walk.complete("Task_Consult", {"consulted_agency": "Sở Y tế", "consultation_reply": "disagree"})
    walk.complete("Task_Conclude", {"conclusion": "refuse", "conclusion_note": "Không thuộc diện tiếp nhận"})
    assert walk.offered() == {"Task_NotifyRefusal": PROCEDURE.one_stop}
    walk.complete("Task_NotifyRefusal", {"refusal_reason": "Không thuộc diện tiếp nhận", "notified_on": "2026-03-20"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
