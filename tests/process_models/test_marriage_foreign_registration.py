"""Đăng ký kết hôn có yếu tố nước ngoài (2.000806), commune level since 1 July 2025: 05 ngày làm việc from a
complete dossier (NĐ 120/2025/NĐ-CP, Phụ lục I.1.b); the desk asks for what is missing and receives the
dossier again, the clock standing still meanwhile."""

from datetime import datetime

from onestop.workdays import to_local
from tests.process_models import TemplateProcedure

CODE = "2.000806"
FILE = "data:application/pdf;name=to-khai.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Nguyễn Thị Lan", "applicant_citizen_id": "022195004321",
               "applicant_phone": "0912345678", "request_content": "Đăng ký kết hôn với ông John Smith, quốc tịch Úc",
               "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Nguyễn Thị Lan", "applicant_citizen_id": "022195004321", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-09"}
PROCEDURE = TemplateProcedure("marriage_foreign_registration", CODE, "Bộ phận Một cửa", "Công chức Tư pháp - Hộ tịch",
                              "Lãnh đạo UBND xã", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "15/2026"}
RETURNED = {"returned_on": "2026-03-09", "receiver_full_name": "Nguyễn Thị Lan", "satisfaction": "hai_long"}


def test_a_marriage_with_a_foreigner_is_registered_within_five_working_days(admin_api):
    walk = PROCEDURE.start(admin_api)
    received = to_local(datetime.fromisoformat(walk.dossier["received_at"].removesuffix("Z")))
    PROCEDURE.received_and_appraised(walk, {"appraisal_result": "approve"})
    PROCEDURE.signed_and_returned(walk, SIGNED, RETURNED)
    metadata = admin_api.get(f"/procedures/{CODE}").json["metadata"]
    assert metadata["level"] == "commune" and metadata["deadline"]["working_days"] == 5
    assert walk.dossier["due_at"] and to_local(datetime.fromisoformat(walk.dossier["due_at"].removesuffix("Z"))) > received


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Giấy xác nhận y tế đã quá 06 tháng", "Giấy xác nhận y tế mới", SIGNED, RETURNED)
