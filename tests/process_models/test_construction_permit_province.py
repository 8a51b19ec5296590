"""Cấp giấy phép xây dựng công trình cấp đặc biệt, I, II (1.013236), province level: the Sở Xây dựng appraisal
and the consultation of the related state agencies run in parallel; the leader decides once both are in."""

import pytest

from tests.process_models import Walk, upload_bundled

CODE = "1.013236"
ONE_STOP = "Bộ phận Một cửa"
APPRAISAL = "Chuyên viên Sở Xây dựng"
RELATED = "Cơ quan quản lý nhà nước liên quan"
LEADER = "Lãnh đạo Sở Xây dựng"

RECEIVED = {
    "investor_name": "Công ty Cổ phần Đầu tư Phát triển Nhà Bình Minh",
    "investor_tax_code": "0101234567",
    "representative_full_name": "Đỗ Quang Vinh",
    "representative_citizen_id": "001079011223",
    "project_name": "Tòa nhà văn phòng Bình Minh Tower",
    "construction_address": "Lô C2, đường Lê Văn Lương, phường Thanh Xuân, thành phố Hà Nội",
    "work_grade": "cap_I",
    "work_type": "khong_theo_tuyen",
    "project_approval_decision": "125/QĐ-HĐQT",
    "fire_safety_approval": "358/TD-PCCC",
    "documents_complete": True,
    "appointment_date": "2026-04-06",
}
APPRAISED = {"site_inspected_on": "2026-03-12", "matches_appraised_design": True,
             "fire_safety_design_approved": True, "appraisal_result": "eligible",
             "appraisal_opinion": "Đủ điều kiện theo Điều 50 Nghị định 175/2024/NĐ-CP"}
CONSULTED = {"consulted_agency": "Sở Nông nghiệp và Môi trường", "consultation_reply": "agree",
             "reply_document_number": "412/SNNMT-QLĐĐ", "replied_on": "2026-03-20"}
BRANCHES = {"Task_Appraise": (APPRAISAL, APPRAISED), "Task_Consult": (RELATED, CONSULTED)}


def _split(api):
    upload_bundled(api, "construction_permit_province")
    walk = Walk(api, CODE, applicant={"organisation": RECEIVED["investor_name"], "tax_code": "0101234567"})
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": APPRAISAL, "Task_Consult": RELATED}
    return walk


@pytest.mark.parametrize("first, second", [("Task_Appraise", "Task_Consult"), ("Task_Consult", "Task_Appraise")])
def test_the_leader_decides_only_once_both_reviews_are_in_whichever_comes_first(admin_api, first, second):
    walk = _split(admin_api)
    walk.complete(first, BRANCHES[first][1])
    assert walk.offered() == {second: BRANCHES[second][0]}
    assert "Gateway_Join" not in walk.history()
    walk.complete(second, BRANCHES[second][1])
    assert walk.offered() == {"Task_Decide": LEADER}
    seen = walk.detail("Task_Decide")["data"]
    assert seen["appraisal_result"] == "eligible" and seen["consultation_reply"] == "agree"

    walk.complete("Task_Decide", {"permit_decision": "grant", "permit_number": "87/GPXD-SXD",
                                  "decided_on": "2026-04-02"})
    assert walk.offered() == {"Task_ReturnPermit": ONE_STOP}
    walk.complete("Task_ReturnPermit", {"returned_on": "2026-04-03", "receiver_full_name": "Đỗ Quang Vinh",
                                        "delivery": "truc_tiep", "satisfaction": "rat_hai_long"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Granted"]
    history = walk.history()
    assert history.index(first) < history.index(second) < history.index("Gateway_Join") < history.index("Task_Decide")
    assert walk.count("Gateway_Join") == 1 and walk.count("Task_Decide") == 1
    # The engine's bookkeeping for the branch that arrived second is not history.
    assert walk.history(state="cancelled") == []


def test_a_permit_refused_after_a_disagreeing_opinion_is_returned_in_writing(sqlite_admin_api):
    walk = _split(sqlite_admin_api)
    walk.complete("Task_Consult", CONSULTED | {
        "consulted_agency": "Công an tỉnh (Phòng Cảnh sát PCCC và CNCH)", "consultation_reply": "disagree",
        "consultation_opinion": "Giải pháp thoát nạn tầng hầm chưa bảo đảm"})
    walk.complete("Task_Appraise", APPRAISED | {"fire_safety_design_approved": False, "appraisal_result": "not_eligible"})
    assert walk.offered() == {"Task_Decide": LEADER}
    walk.complete("Task_Decide", {"permit_decision": "refuse", "decided_on": "2026-04-02",
                                  "refusal_reason": "Thiết kế chưa được thẩm duyệt về phòng cháy và chữa cháy"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"returned_on": "2026-04-03", "delivery": "truc_tuyen"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
    assert walk.data["refusal_reason"].startswith("Thiết kế chưa được thẩm duyệt")


def test_an_incomplete_dossier_is_handed_back_before_any_review(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "construction_permit_province")
    walk = Walk(sqlite_admin_api, CODE)
    walk.complete("Task_Receive", RECEIVED | {"documents_complete": False, "missing_documents": "Dữ liệu BIM"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Returned"]
    assert "Gateway_Split" not in walk.history()


def test_a_refused_review_form_leaves_the_other_branch_waiting(sqlite_admin_api):
    walk = _split(sqlite_admin_api)
    assert walk.refused_fields("Task_Consult", {"consultation_reply": "silent"}) == {
        "consulted_agency", "consultation_reply"}
    assert walk.refused_fields("Task_Appraise", APPRAISED | {"site_inspected_on": "12/03/2026"}) == {
        "site_inspected_on"}
    walk.refresh()
    assert walk.offered() == {"Task_Appraise": APPRAISAL, "Task_Consult": RELATED}
    walk.complete("Task_Consult", CONSULTED | {"consultation_reply": "no_reply"})
    assert walk.offered() == {"Task_Appraise": APPRAISAL}
