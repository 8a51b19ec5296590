"""Tách thửa hoặc hợp thửa đất (1.012784): không quá 12 ngày làm việc (QĐ 138/2025/QĐ-UBND Đồng Tháp Điều 16:
0,5 ngày tiếp nhận + 11,5 ngày Văn phòng đăng ký đất đai)."""

from tests.process_models import TemplateProcedure

CODE = "1.012784"
FILE = "data:application/pdf;name=ho-so.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234",
               "applicant_phone": "0987123456", "request_content": "Tách thửa đất số 215 thành hai thửa", "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Văn Bình", "applicant_citizen_id": "022180001234", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-16"}
PROCEDURE = TemplateProcedure("land_plot_subdivision", CODE, "Bộ phận Một cửa", "Văn phòng đăng ký đất đai", "Lãnh đạo Văn phòng đăng ký đất đai", APPLICATION, RECEIVED)
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "25/2026"}
RETURNED = {"returned_on": "2026-03-16", "receiver_full_name": "Trần Văn Bình", "satisfaction": "hai_long"}


def test_a_plot_is_subdivided_within_twelve_working_days(admin_api):
    PROCEDURE.issued(admin_api, SIGNED, RETURNED)
    assert PROCEDURE.limit(admin_api) == {'working_days': 12}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Bản vẽ tách thửa có kích thước các cạnh", "Bản vẽ tách thửa có kích thước các cạnh", SIGNED, RETURNED)


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    PROCEDURE.refused(sqlite_admin_api)
