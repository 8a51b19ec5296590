"""Đăng ký khai sinh (1.001193): commune level, decided on the spot; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "1.001193"
ONE_STOP = "Bộ phận Một cửa"
CIVIL_STATUS = "Công chức Tư pháp - Hộ tịch"
LEADER = "Lãnh đạo UBND xã"

APPLICANT = {"full_name": "Nguyễn Văn Hùng", "citizen_id": "001085012345", "phone": "0912345678"}
BIRTH_CERTIFICATE = "data:application/pdf;name=giay-chung-sinh.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
APPLICATION = {
    "declarant_full_name": "Nguyễn Văn Hùng", "declarant_citizen_id": "001085012345", "declarant_phone": "0912345678",
    "declarant_relationship": "cha", "child_full_name": "Nguyễn Minh Anh", "child_gender": "nu",
    "child_date_of_birth": "2026-02-20", "child_place_of_birth": "Bệnh viện Phụ sản Hà Nội",
    "mother_full_name": "Trần Thị Lan", "mother_citizen_id": "001190023456", "father_full_name": "Nguyễn Văn Hùng",
    "father_citizen_id": "001085012345", "birth_evidence": "giay_chung_sinh", "birth_evidence_file": BIRTH_CERTIFICATE,
}
RECEIVED = {
    "declarant_full_name": "Nguyễn Văn Hùng",
    "declarant_citizen_id": "001085012345",
    "declarant_relationship": "cha",
    "channel": "truc_tiep",
    "birth_evidence": "giay_chung_sinh",
    "documents_complete": True,
    "received_after_cutoff": False,
    "appointment_date": "2026-03-02",
}
MISSING = RECEIVED | {"documents_complete": False,
                      "missing_documents": "Giấy chứng sinh (bản chính) của Bệnh viện Phụ sản Hà Nội"}
APPRAISED = {
    "child_full_name": "Nguyễn Minh Anh",
    "child_gender": "nu",
    "child_date_of_birth": "2026-02-20",
    "child_place_of_birth": "Bệnh viện Phụ sản Hà Nội, phường Đống Đa, thành phố Hà Nội",
    "child_ethnicity": "Kinh",
    "child_nationality": "Việt Nam",
    "mother_full_name": "Trần Thị Lan",
    "mother_citizen_id": "001190023456",
    "father_full_name": "Nguyễn Văn Hùng",
    "father_citizen_id": "001085012345",
    "parents_marital_status": "da_dang_ky_ket_hon",
    "appraisal_result": "register",
}
RECORDED = {"register_book": "01/2026", "register_entry_number": "125", "registered_on": "2026-03-02",
            "child_personal_id": "001326004567", "copies_requested": 2}
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm"}
RETURNED = {"returned_on": "2026-03-02", "receiver_full_name": "Nguyễn Văn Hùng", "delivery": "truc_tiep",
            "satisfaction": "rat_hai_long"}


def _start(api):
    upload_bundled(api, "birth_registration")
    walk = Walk(api, CODE, applicant=APPLICANT, data=APPLICATION)
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    return walk


def _register_and_return(walk):
    walk.complete("Task_Record", RECORDED)
    assert walk.offered() == {"Task_Sign": LEADER} and walk.dossier["status"] == "processing"
    walk.complete("Task_Sign", SIGNED)
    assert walk.offered() == {"Task_Return": ONE_STOP}
    assert walk.dossier["status"] == "resolved"  # the result is ready to hand over
    walk.complete("Task_Return", RETURNED)
    assert walk.state == "completed" and walk.offered() == {} and walk.dossier["status"] == "returned"
    assert walk.ended_at() == ["End_Registered"]


def test_a_birth_is_registered_on_the_spot_when_the_papers_are_complete(admin_api):
    walk = _start(admin_api)
    procedure = admin_api.get(f"/procedures/{CODE}").json
    assert procedure["name"] == "Thủ tục đăng ký khai sinh"
    assert procedure["metadata"]["decided_on_the_spot"] is True and procedure["metadata"]["fee_vnd"] == 0

    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Appraise": CIVIL_STATUS}
    form = walk.detail("Task_Appraise")["form"]
    assert form["title"] == "Thẩm tra hồ sơ đăng ký khai sinh"
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.offered() == {"Task_Record": CIVIL_STATUS}
    _register_and_return(walk)

    assert walk.history() == [
        "StartEvent_Submitted", "Gateway_Resubmit", "Task_Receive", "Gateway_Complete", "Gateway_ToAppraise",
        "Task_Appraise", "Gateway_Appraisal", "Task_Record", "Task_Sign", "Gateway_Signed", "Task_Return",
        "End_Registered"]
    assert walk.data["child_full_name"] == "Nguyễn Minh Anh"
    assert walk.data["child_personal_id"] == "001326004567"
    assert walk.data["satisfaction"] == "rat_hai_long"
    assert walk.dossier["applicant"] == APPLICANT


def test_missing_papers_are_asked_for_and_the_dossier_is_received_again(admin_api):
    walk = _start(admin_api)
    walk.complete("Task_Receive", MISSING)
    assert walk.offered() == {"Task_Supplement": ONE_STOP}
    walk.complete("Task_Supplement", {"supplement_received": True, "supplement_received_on": "2026-03-03",
                                      "supplemented_documents": "Giấy chứng sinh số 1520/GCS"})
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    walk.complete("Task_Receive", RECEIVED | {"appointment_date": "2026-03-03"})
    assert walk.offered() == {"Task_Appraise": CIVIL_STATUS}
    walk.complete("Task_Appraise", APPRAISED)
    _register_and_return(walk)
    assert walk.count("Task_Receive") == 2 and walk.count("Task_Supplement") == 1
    assert "End_Refused" not in walk.history()


def test_papers_that_cannot_be_supplemented_end_in_a_refusal_notice(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.complete("Task_Receive", MISSING | {"birth_evidence": "giay_cam_doan"})
    walk.complete("Task_Supplement", {"supplement_received": False,
                                      "supplement_note": "Không có người làm chứng, không có giấy tờ chứng minh"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"refusal_reason": "Không bổ sung được giấy tờ chứng minh việc sinh",
                                         "refusal_notice_number": "15/TB-UBND", "notified_on": "2026-03-05"})
    assert walk.state == "completed"
    assert walk.ended_at() == ["End_Refused"]
    assert "Task_Appraise" not in walk.history()


def test_the_civil_status_officer_asks_for_papers_or_refuses_through_the_one_stop_desk(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPRAISED | {
        "appraisal_result": "supplement", "appraisal_note": "Bổ sung văn bản ủy quyền có chứng thực"})
    assert walk.offered() == {"Task_Supplement": ONE_STOP}
    walk.complete("Task_Supplement", {"supplement_received": True, "supplemented_documents": "Văn bản ủy quyền"})
    assert walk.offered() == {"Task_Receive": ONE_STOP}
    walk.complete("Task_Receive", RECEIVED | {"declarant_relationship": "uy_quyen"})
    assert walk.offered() == {"Task_Appraise": CIVIL_STATUS}
    walk.complete("Task_Appraise", APPRAISED | {
        "appraisal_result": "refuse", "appraisal_note": "Việc sinh đã được đăng ký tại UBND phường Láng"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP}
    walk.complete("Task_NotifyRefusal", {"refusal_reason": "Trẻ đã được đăng ký khai sinh tại UBND phường Láng",
                                         "notified_on": "2026-03-04"})
    assert walk.state == "completed" and walk.ended_at() == ["End_Refused"]
    assert walk.count("Task_Appraise") == 2 and "Task_Record" not in walk.history()


def resolved_after_a_send_back(api) -> Walk:
    """A birth registered and handed over after the leader sent the certificate back once (the
    walk keeps the dossier's lookup key, for the citizen's rating)."""
    walk = _start(api)
    walk.key = walk.dossier["lookup_key"]
    walk.complete("Task_Receive", RECEIVED)
    walk.complete("Task_Appraise", APPRAISED)
    walk.complete("Task_Record", RECORDED)
    walk.complete("Task_Sign", {"leader_decision": "return", "leader_note": "Kiểm tra lại nơi sinh"})
    assert walk.offered() == {"Task_Appraise": CIVIL_STATUS}
    assert walk.detail("Task_Appraise")["data"]["leader_note"] == "Kiểm tra lại nơi sinh"
    walk.complete("Task_Appraise", APPRAISED | {"child_place_of_birth": "Trạm y tế xã Đông Anh, thành phố Hà Nội"})
    _register_and_return(walk)
    return walk


def test_the_leader_can_send_the_certificate_back_for_a_new_appraisal(sqlite_admin_api):
    walk = resolved_after_a_send_back(sqlite_admin_api)
    assert walk.count("Task_Sign") == 2
    assert walk.data["child_place_of_birth"] == "Trạm y tế xã Đông Anh, thành phố Hà Nội"


def test_invalid_form_data_is_refused_with_the_field_named(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    assert walk.refused_fields("Task_Receive", RECEIVED | {"declarant_citizen_id": "0010850123"}) == {
        "declarant_citizen_id"}
    without_check = {k: v for k, v in RECEIVED.items() if k != "documents_complete"}
    assert walk.refused_fields("Task_Receive", without_check) == {"documents_complete"}
    assert walk.refused_fields("Task_Receive", RECEIVED | {"channel": "fax"}) == {"channel"}
    walk.complete("Task_Receive", RECEIVED)
    # A date typed the Vietnamese way (dd/mm/yyyy) and an unknown gender are both named.
    assert walk.refused_fields("Task_Appraise", APPRAISED | {"child_date_of_birth": "20/02/2026",
                                                             "child_gender": "khac"}) == {
        "child_date_of_birth", "child_gender"}
    assert walk.refused_fields("Task_Appraise", APPRAISED | {"appraisal_result": "approve"}) == {"appraisal_result"}
    walk.complete("Task_Appraise", APPRAISED)
    assert walk.refused_fields("Task_Record", RECORDED | {"copies_requested": -1}) == {"copies_requested"}
    walk.refresh()
    assert walk.offered() == {"Task_Record": CIVIL_STATUS}
    assert "Task_Record" not in walk.history()


def test_the_application_needs_the_birth_evidence_and_the_fathers_id_when_a_father_is_named(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "birth_registration")
    incomplete = {k: v for k, v in APPLICATION.items() if k not in ("birth_evidence_file", "father_citizen_id")}
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": incomplete})
    assert refused.status_code == 422
    assert {d["field"] for d in refused.json["details"]} == {"birth_evidence_file", "father_citizen_id"}


def test_the_birth_certificate_is_kept_as_an_attachment_not_in_the_data(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    assert walk.data["birth_evidence_file"].startswith("attachment:sha256:")
    assert "base64" not in str(walk.data)
