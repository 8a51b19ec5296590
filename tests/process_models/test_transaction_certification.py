"""Chứng thực giao dịch liên quan đến tài sản là động sản, quyền sử dụng đất, nhà ở (2.001035): không quá 02 ngày
làm việc kể từ ngày nhận đủ hồ sơ (QĐ 2873/QĐ-UBND Hà Tĩnh); the parties sign before the certifier."""

from tests.process_models import TemplateProcedure

CODE = "2.001035"
FILE = "data:application/pdf;name=ho-so.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234",
               "applicant_phone": "0987123456", "request_content": "Chứng thực hợp đồng tặng cho quyền sử dụng đất thửa 215, tờ bản đồ 12", "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-16"}
PROCEDURE = TemplateProcedure("transaction_certification", CODE, "Bộ phận Một cửa", "Người thực hiện chứng thực", "Lãnh đạo UBND xã", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "25/2026"}
RETURNED = {"returned_on": "2026-03-16", "receiver_full_name": "Trần Văn Bình", "satisfaction": "hai_long"}


def test_a_transaction_is_certified_within_two_working_days(admin_api):
    PROCEDURE.issued(admin_api, SIGNED, RETURNED)
    assert PROCEDURE.limit(admin_api) == {'working_days': 2}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Bản chính Giấy chứng nhận quyền sử dụng đất", "Bản chính Giấy chứng nhận quyền sử dụng đất", SIGNED, RETURNED)


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    PROCEDURE.refused(sqlite_admin_api)
