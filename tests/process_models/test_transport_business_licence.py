"""Cấp Giấy phép kinh doanh vận tải bằng xe ô tô (1.000703), Sở Xây dựng: 04 ngày làm việc kể từ ngày nhận đủ
hồ sơ đúng quy định; what must be amended is notified within 03 ngày làm việc."""

from tests.process_models import TemplateProcedure

CODE = "1.000703"
FILE = "data:application/pdf;name=ho-so.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234",
               "applicant_phone": "0987123456", "request_content": "Cấp giấy phép kinh doanh vận tải hành khách theo hợp đồng", "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-16"}
PROCEDURE = TemplateProcedure("transport_business_licence", CODE, "Bộ phận Một cửa - Sở Xây dựng", "Chuyên viên Sở Xây dựng", "Lãnh đạo Sở Xây dựng", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "25/2026"}
RETURNED = {"returned_on": "2026-03-16", "receiver_full_name": "Trần Văn Bình", "satisfaction": "hai_long"}


def test_a_transport_licence_is_issued_within_four_working_days(admin_api):
    PROCEDURE.issued(admin_api, SIGNED, RETURNED)
    assert PROCEDURE.limit(admin_api) == {'working_days': 4}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Quyết định thành lập bộ phận quản lý an toàn", "Quyết định thành lập bộ phận quản lý an toàn", SIGNED, RETURNED)


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    PROCEDURE.refused(sqlite_admin_api)
