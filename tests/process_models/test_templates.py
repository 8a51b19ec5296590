"""The procedure templates of "new procedure" (onestop/procedure_templates), each renamed to a code as
the back office does, uploaded through the REST API and walked through the real engine along every
path its gateways offer."""

import pytest

from onestop.services import templates
from tests.process_models import Walk

CODE = "2.000123"
ONE_STOP, SPECIALIST = "Bộ phận Một cửa", "Công chức chuyên môn"
LEADER, CONSULTED = "Lãnh đạo cơ quan giải quyết", "Cơ quan được lấy ý kiến"
FILE = "data:application/pdf;name=to-khai.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {"applicant_full_name": "Trần Thị Mai", "applicant_citizen_id": "001190023456",
               "applicant_phone": "0912345678", "request_content": "Đề nghị giải quyết theo hồ sơ kèm theo",
               "documents_file": FILE}
RECEIVED = {"applicant_full_name": "Trần Thị Mai", "applicant_citizen_id": "001190023456", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-09"}
MISSING = RECEIVED | {"documents_complete": False, "missing_documents": "Bản sao giấy tờ chứng minh điều kiện"}
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "12/QĐ-UBND"}
SENT_BACK = {"leader_decision": "return", "leader_note": "Kiểm tra lại điều kiện"}
RETURNED = {"returned_on": "2026-03-09", "receiver_full_name": "Trần Thị Mai", "satisfaction": "hai_long"}
REFUSED = {"refusal_reason": "Không đủ điều kiện theo quy định", "notified_on": "2026-03-06"}
APPROVED = {"appraisal_result": "approve"}
STANDARD = ("appraise_sign_return", "other_agency_opinion", "financial_obligation", "site_inspection")


def _start(api, name) -> Walk:
    files = templates.renamed(templates.files(name), CODE, "Cấp giấy xác nhận thử nghiệm")
    response = api.upload([(f.name, f.content) for f in files])
    assert response.status_code == 201, response.json
    assert response.json["warnings"] == [] and response.json["code"] == CODE
    walk = Walk(api, CODE, data=APPLICATION)
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    return walk


def _after_appraisal(walk, name):
    """From an approving appraisal to the leader's signature, along the template's own middle."""
    if name == "other_agency_opinion":
        assert walk.offered() == {"Task_Consult": CONSULTED}
        walk.complete("Task_Consult", {"consulted_agency": "Sở Tài chính", "consultation_reply": "agree"})
        assert walk.offered() == {"Task_Conclude": SPECIALIST}
        walk.complete("Task_Conclude", {"conclusion": "approve"})
    elif name == "financial_obligation":
        assert walk.offered() == {"Task_Obligation": SPECIALIST}
        assert walk.dossier["status"] == "awaiting_financial_obligation"
        assert walk.task("Task_Obligation")["due_at"] is None  # the tax office's time is outside the clock
        walk.complete("Task_Obligation", {"outcome": "da_nop", "amount_paid_vnd": 1500000, "receipt_numbers": "BL-01"})
        assert walk.dossier["status"] == "processing"
        assert walk.offered() == {"Task_Finalize": SPECIALIST}
        walk.complete("Task_Finalize", {"result_ready": True})
    elif name == "site_inspection":
        assert walk.offered() == {"Task_Inspect": SPECIALIST}
        walk.complete("Task_Inspect", {"inspected_on": "2026-03-05", "inspection_result": "meets"})
    assert walk.offered() == {"Task_Sign": LEADER}


def _sign_and_return(walk):
    walk.complete("Task_Sign", SIGNED)
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", RETURNED)
    assert walk.state == "completed" and walk.dossier["status"] == "returned"
    assert walk.ended_at() == ["End_Done"]


def _refuse(walk):
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", REFUSED)
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]


@pytest.mark.parametrize("name", STANDARD)
def test_a_template_runs_from_reception_to_the_result_handed_over(admin_api, name):
    walk = _start(admin_api, name)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": SPECIALIST}
    assert walk.task("Task_Appraise")["due_at"] is not None  # its time allowance
    walk.complete("Task_Appraise", APPROVED)
    _after_appraisal(walk, name)
    _sign_and_return(walk)
    assert walk.data["applicant_full_name"] == "Trần Thị Mai"


@pytest.mark.parametrize("name", STANDARD)
def test_a_template_asks_for_a_supplement_and_receives_the_dossier_again(sqlite_admin_api, name):
    walk = _start(sqlite_admin_api, name)
    walk.complete("Task_Receive", MISSING)
    assert walk.offered() == {"Task_Supplement": ONE_STOP}
    walk.complete("Task_Supplement", {"supplement_received": True, "supplemented_documents": "Bản sao"})
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", {"appraisal_result": "supplement", "appraisal_note": "Thiếu bản vẽ"})
    assert walk.offered() == {"Task_Supplement": ONE_STOP}
    walk.complete("Task_Supplement", {"supplement_received": False, "supplement_note": "Không liên lạc được"})
    _refuse(walk)
    assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 2


@pytest.mark.parametrize("name", STANDARD)
def test_a_template_refuses_after_appraisal_and_the_leader_can_send_back(sqlite_admin_api, name):
    walk = _start(sqlite_admin_api, name)
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPROVED)
    _after_appraisal(walk, name)
    walk.complete("Task_Sign", SENT_BACK)
    assert walk.offered() == {"Task_Appraise": SPECIALIST}
    walk.complete("Task_Appraise", {"appraisal_result": "refuse", "appraisal_note": "Không đủ điều kiện"})
    _refuse(walk)
    assert walk.count("Task_Appraise") == 2 and "Task_Return" not in walk.history()


def test_the_other_agency_disagreeing_leads_to_a_refusal(sqlite_admin_api):
    walk = _start(sqlite_admin_api, "other_agency_opinion")
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPROVED)
    walk.complete("Task_Consult", {"consulted_agency": "Sở Xây dựng", "consultation_reply": "disagree"})
    assert walk.detail("Task_Conclude")["data"]["consultation_reply"] == "disagree"
    walk.complete("Task_Conclude", {"conclusion": "refuse", "conclusion_note": "Cơ quan liên quan không thống nhất"})
    _refuse(walk)


def test_a_site_inspection_can_ask_for_remedies_or_refuse(sqlite_admin_api):
    walk = _start(sqlite_admin_api, "site_inspection")
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPROVED)
    walk.complete("Task_Inspect", {"inspected_on": "2026-03-05", "inspection_result": "supplement",
                                   "inspection_note": "Bổ sung thiết bị phòng cháy"})
    assert walk.offered() == {"Task_Supplement": ONE_STOP}
    walk.complete("Task_Supplement", {"supplement_received": True})
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPROVED)
    walk.complete("Task_Inspect", {"inspected_on": "2026-03-12", "inspection_result": "fails"})
    _refuse(walk)
    assert walk.count("Task_Inspect") == 2


def test_decided_on_the_spot_is_due_the_same_day_and_signed_or_refused(admin_api):
    walk = _start(admin_api, "on_the_spot")
    procedure = admin_api.get(f"/procedures/{CODE}").json
    assert procedure["metadata"]["decided_on_the_spot"] is True
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Resolve": SPECIALIST}
    walk.complete("Task_Resolve", {"resolve_result": "approve"})
    walk.complete("Task_Sign", SENT_BACK)
    assert walk.offered() == {"Task_Resolve": SPECIALIST}
    walk.complete("Task_Resolve", {"resolve_result": "approve"})
    _sign_and_return(walk)
    refused = Walk(admin_api, CODE, data=APPLICATION)
    refused.complete("Task_Receive", RECEIVED)
    refused.complete("Task_Resolve", {"resolve_result": "refuse", "resolve_note": "Giấy tờ giả mạo"})
    _refuse(refused)


def test_an_incomplete_dossier_decided_on_the_spot_is_not_received(sqlite_admin_api):
    walk = _start(sqlite_admin_api, "on_the_spot")
    walk.complete("Task_Receive", MISSING)
    assert walk.state == "completed" and walk.ended_at() == ["End_Guided"]
    assert "Task_Resolve" not in walk.history()


@pytest.mark.parametrize("name", [t.name for t in templates.all_templates()])
def test_a_templates_forms_refuse_bad_data_with_the_field_named(sqlite_admin_api, name):
    walk = _start(sqlite_admin_api, name)
    assert walk.refused_fields("Task_Receive", RECEIVED | {"applicant_citizen_id": "12345"}) == {
        "applicant_citizen_id"}
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {"applicant_phone": "1"}})
    assert refused.status_code == 422 and {d["field"] for d in refused.json["details"]} == {"applicant_phone"}
