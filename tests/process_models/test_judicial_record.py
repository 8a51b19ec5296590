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
    PROCEDURE.issued(admin_api, SIGNED, RETURNED)
    assert PROCEDURE.limit(admin_api) == {'calendar_days': 10}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Tờ khai Mẫu số 02/2025/LLTP có chữ ký người ủy quyền", "Tờ khai Mẫu số 02/2025/LLTP có chữ ký người ủy quyền", SIGNED, RETURNED)


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    PROCEDURE.refused(sqlite_admin_api)
