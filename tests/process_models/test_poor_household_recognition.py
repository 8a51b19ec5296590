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
    PROCEDURE.issued(admin_api, SIGNED, RETURNED, middle=_reviewed)
    assert PROCEDURE.limit(admin_api) == {'calendar_days': 15}


def test_a_missing_paper_stops_the_clock_and_the_dossier_is_received_again(sqlite_admin_api):
    PROCEDURE.issued_after_a_supplement(sqlite_admin_api, "Giấy đề nghị rà soát có chữ ký chủ hộ", "Giấy đề nghị rà soát có chữ ký chủ hộ", SIGNED, RETURNED, middle=_reviewed)


def test_an_appraisal_that_finds_the_conditions_unmet_is_refused_in_writing(sqlite_admin_api):
    PROCEDURE.refused(sqlite_admin_api)
