"""Cấp giấy phép xây dựng công trình cấp III, IV và nhà ở riêng lẻ (1.013225), commune level: the supplement
is requested once, then the dossier is rechecked (with further written guidance if still short)."""

from tests.process_models import Walk, upload_bundled

CODE = "1.013225"
ONE_STOP = "Bộ phận Một cửa"
CONSTRUCTION = "Cơ quan quản lý xây dựng thuộc UBND xã"
LEADER = "Lãnh đạo UBND xã"

RECEIVED = {
    "investor_full_name": "Phạm Thị Hoa",
    "investor_citizen_id": "036188007654",
    "investor_phone": "0983456789",
    "construction_address": "Thôn Đông, xã Yên Phong, tỉnh Bắc Ninh",
    "land_parcel": "Thửa đất số 215, tờ bản đồ số 12",
    "land_certificate_number": "DK 123456",
    "work_type": "nha_o_rieng_le",
    "floors": 3,
    "construction_area_m2": 92.5,
    "total_floor_area_m2": 277.5,
    "has_adjacent_works": True,
    "documents_complete": True,
    "appointment_date": "2026-03-20",
}
APPRAISED = {"site_inspected_on": "2026-03-09", "planning_compliant": True, "appraisal_result": "propose_grant",
             "appraisal_opinion": "Phù hợp quy hoạch chung xã Yên Phong, chỉ giới xây dựng 3 m"}
SUPPLEMENT_ASKED = APPRAISED | {
    "appraisal_result": "supplement",
    "supplement_request": "Bổ sung bản cam kết bảo đảm an toàn đối với công trình liền kề; bản vẽ mặt cắt móng"}
GRANTED = {"permit_decision": "grant", "permit_number": "25/GPXD-UBND", "decided_on": "2026-03-18"}
RETURNED = {"returned_on": "2026-03-19", "receiver_full_name": "Phạm Thị Hoa", "delivery": "truc_tiep",
            "satisfaction": "hai_long"}


def _received(api):
    upload_bundled(api, "construction_permit_commune")
    walk = Walk(api, CODE, applicant={"full_name": "Phạm Thị Hoa", "citizen_id": "036188007654"})
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": CONSTRUCTION}
    return walk


def _supplement(walk, documents):
    assert walk.offered() == {"Task_ReceiveSupplement": ONE_STOP}
    walk.complete("Task_ReceiveSupplement", {"supplement_notice_sent_on": "2026-03-10", "supplement_received": True,
                                             "supplement_received_on": "2026-03-16",
                                             "supplemented_documents": documents})
    assert walk.offered() == {"Task_Recheck": CONSTRUCTION}


def test_a_house_permit_is_granted_when_the_appraisal_finds_the_dossier_complete(admin_api):
    walk = _received(admin_api)
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.offered() == {"Task_Decide": LEADER}
    walk.complete("Task_Decide", GRANTED)
    assert walk.offered() == {"Task_ReturnPermit": ONE_STOP}
    walk.complete("Task_ReturnPermit", RETURNED)
    assert walk.state == "completed" and walk.offered() == {}
    assert walk.ended_at() == ["End_Granted"]
    assert "Task_ReceiveSupplement" not in walk.history() and "Task_Recheck" not in walk.history()
    assert walk.data["permit_number"] == "25/GPXD-UBND"
    metadata = admin_api.get(f"/procedures/{CODE}").json["metadata"]
    assert metadata["level"] == "commune" and metadata["processing_days"] == 15


def test_a_supplement_is_requested_once_then_rechecked_with_guidance_until_it_is_enough(sqlite_admin_api):
    walk = _received(sqlite_admin_api)
    walk.complete("Task_Appraise", SUPPLEMENT_ASKED)
    _supplement(walk, "Bản cam kết an toàn công trình liền kề")
    # Still short: written guidance, the investor supplements again, the agency rechecks (no second appraisal).
    walk.complete("Task_Recheck", {"recheck_result": "guide", "guidance": "Bản vẽ mặt cắt móng chưa có kích thước"})
    _supplement(walk, "Bản vẽ mặt cắt móng có kích thước")
    walk.complete("Task_Recheck", {"recheck_result": "propose_grant"})
    assert walk.offered() == {"Task_Decide": LEADER}
    walk.complete("Task_Decide", GRANTED)
    walk.complete("Task_ReturnPermit", RETURNED)
    assert walk.state == "completed" and walk.ended_at() == ["End_Granted"]
    assert walk.count("Task_Appraise") == 1
    assert walk.count("Task_ReceiveSupplement") == 2 and walk.count("Task_Recheck") == 2


def test_a_dossier_still_short_after_the_supplement_is_refused_in_writing(sqlite_admin_api):
    walk = _received(sqlite_admin_api)
    walk.complete("Task_Appraise", SUPPLEMENT_ASKED)
    _supplement(walk, "Không nộp bản cam kết")
    walk.complete("Task_Recheck", {"recheck_result": "propose_refuse",
                                   "recheck_opinion": "Hồ sơ bổ sung vẫn thiếu bản cam kết an toàn công trình liền kề"})
    assert walk.offered() == {"Task_Decide": LEADER}
    walk.complete("Task_Decide", {"permit_decision": "refuse", "decided_on": "2026-03-19",
                                  "refusal_reason": "Hồ sơ không đáp ứng điều kiện cấp giấy phép sau khi bổ sung"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"returned_on": "2026-03-20", "receiver_full_name": "Phạm Thị Hoa",
                                         "delivery": "buu_chinh"})
    assert walk.state == "completed"
    assert walk.ended_at() == ["End_Refused"]
    assert "Task_ReturnPermit" not in walk.history()


def test_an_incomplete_dossier_is_handed_back_at_the_desk(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    walk = Walk(sqlite_admin_api, CODE)
    walk.complete("Task_Receive", RECEIVED | {"documents_complete": False,
                                              "missing_documents": "Giấy chứng nhận quyền sử dụng đất"})
    assert walk.state == "completed" and walk.offered() == {}
    assert walk.history() == ["StartEvent_Submitted", "Task_Receive", "Gateway_Complete", "End_Returned"]


def test_permit_forms_refuse_invalid_data_with_the_field_named(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    walk = Walk(sqlite_admin_api, CODE)
    assert walk.refused_fields("Task_Receive", RECEIVED | {"investor_phone": "+84 98 345", "floors": 0}) == {
        "investor_phone", "floors"}
    assert walk.refused_fields("Task_Receive", RECEIVED | {"work_type": "cap_I"}) == {"work_type"}
    walk.complete("Task_Receive", RECEIVED)
    without_result = {k: v for k, v in APPRAISED.items() if k != "appraisal_result"}
    assert walk.refused_fields("Task_Appraise", without_result) == {"appraisal_result"}
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.refused_fields("Task_Decide", {"permit_decision": "grant"}) == {"decided_on"}
    walk.refresh()
    assert walk.offered() == {"Task_Decide": LEADER}


def test_the_decision_is_offered_to_the_leaders_lane_only(sqlite_admin_api):
    from tests.conftest import Api, make_user

    walk = _received(sqlite_admin_api)
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.offered() == {"Task_Decide": LEADER}
    [task] = walk.dossier["tasks"]
    client = sqlite_admin_api.client
    app = client.application
    with app.app_context():
        _, officer_token = make_user("canbo", ("officer",))
        _, leader_token = make_user("lanhdao", ("leader",))
    officer, leader = Api(client, officer_token), Api(client, leader_token)
    assert officer.get("/tasks").json["tasks"] == []
    assert officer.get(f"/tasks/{task['id']}").status_code == 403
    refused = officer.post(f"/tasks/{task['id']}/complete", {"data": GRANTED})
    assert refused.status_code == 403 and "leader" in refused.json["message"]
    assert [t["id"] for t in leader.get("/tasks").json["tasks"]] == [task["id"]]
    assert leader.post(f"/tasks/{task['id']}/complete", {"data": GRANTED}).status_code == 200


def test_a_lane_mapped_to_an_unknown_role_is_refused_at_upload(sqlite_admin_api):
    import json

    from tests.process_models import bundled_files

    files = []
    for path in bundled_files("construction_permit_commune"):
        content = path.read_bytes()
        if path.name == "procedure.json":
            meta = json.loads(content)
            meta["lanes"]["Lãnh đạo UBND xã"] = "chairman"
            content = json.dumps(meta, ensure_ascii=False).encode()
        files.append((path.name, content))
    refused = sqlite_admin_api.upload(files)
    assert refused.status_code == 422 and "chairman" in refused.json["details"][0]["message"]
