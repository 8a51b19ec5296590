"""Đăng ký thành lập hộ kinh doanh (1.001612): commune level, 3 working days; once signed, the result is
returned while the tax office is informed, in parallel; walked through the REST API."""

from tests.process_models import Walk, upload_bundled

CODE = "1.001612"
ONE_STOP, REGISTRAR, LEADER = "Bộ phận Một cửa", "Cơ quan đăng ký kinh doanh cấp xã", "Lãnh đạo UBND xã"

APPLICATION = {"owner_full_name": "Ngô Thị Lan", "owner_citizen_id": "022185003344", "owner_phone": "0356789012",
               "business_name": "Hộ kinh doanh Bánh cuốn Bà Lan", "address": "Số 12 phố Cao Thắng, phường Hạ Long",
               "lines": [{"line_name": "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động"}],
               "capital_vnd": 150000000, "employees": 3}
REVIEWED = {"name_unique": True, "lines_allowed": True, "conditions_met": True, "household_business_number": "22A8001234"}


def _start(api):
    upload_bundled(api, "household_business_registration")
    walk = Walk(api, CODE, data=APPLICATION)
    walk.complete("Task_Receive", {"fee_paid": True})
    assert walk.offered() == {"Task_Review": REGISTRAR}
    return walk


def test_the_certificate_is_returned_while_the_tax_office_is_informed(admin_api):
    walk = _start(admin_api)
    walk.complete("Task_Review", REVIEWED)
    assert walk.offered() == {"Task_Sign": LEADER}
    walk.complete("Task_Sign", {"signer_full_name": "Đinh Văn Tú", "signed": True})
    assert walk.offered() == {"Task_NotifyTax": REGISTRAR, "Task_Return": ONE_STOP}
    assert walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", {"returned_on": "2026-12-03", "receiver_full_name": "Ngô Thị Lan"})
    assert walk.state == "active" and walk.offered() == {"Task_NotifyTax": REGISTRAR}
    assert walk.dossier["status"] == "returned"  # the citizen has the result; the tax office is told after
    walk.complete("Task_NotifyTax", {"tax_office": "Thuế cơ sở 1 tỉnh Quảng Ninh", "sent_on": "2026-12-03"})
    assert walk.state == "completed" and walk.dossier["status"] == "returned"
    assert walk.ended_at() == ["End_Registered"]


def test_a_name_already_taken_gets_a_notice_of_what_to_amend(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    not_met = {"name_unique": False, "lines_allowed": True, "conditions_met": False}
    assert walk.refused_fields("Task_Review", not_met) == {"amendments"}
    walk.complete("Task_Review", not_met | {"amendments": "Tên hộ kinh doanh trùng với hộ đã đăng ký trong xã"})
    assert walk.offered() == {"Task_NotifyAmendment": ONE_STOP}
    assert walk.detail("Task_NotifyAmendment")["data"]["amendments"].startswith("Tên hộ kinh doanh trùng")
    walk.complete("Task_NotifyAmendment", {"notified_on": "2026-12-02"})
    assert walk.ended_at() == ["End_Amend"]


def test_the_name_must_say_household_business_and_a_line_is_needed(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "household_business_registration")
    refused = sqlite_admin_api.post("/dossiers", {"procedure": CODE, "data": APPLICATION | {
        "business_name": "Bánh cuốn Bà Lan", "lines": []}})
    assert refused.status_code == 422
    assert {d["field"] for d in refused.json["details"]} == {"business_name", "lines"}


def test_a_supplement_restarts_the_three_days(sqlite_admin_api):
    walk = _start(sqlite_admin_api)
    walk.supplement("Văn bản ủy quyền của các thành viên")
    walk.complete("Task_Review", REVIEWED)
    assert walk.offered() == {"Task_Sign": LEADER}


def test_the_household_members_certified_authorisation_is_attached_to_the_application(sqlite_admin_api):
    """The record asks a certified copy of the household members' authorisation when they register
    together: the online form takes it as a file (so a citizen can attach one kept for them)."""
    import base64

    upload_bundled(sqlite_admin_api, "household_business_registration")
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    walk = Walk(sqlite_admin_api, CODE, data=APPLICATION | {
        "authorisation_copy": "data:application/pdf;name=uy-quyen.pdf;base64," + base64.b64encode(pdf).decode()})
    [attached] = [a for a in walk.dossier["attachments"] if a["field"] == "authorisation_copy"]
    assert attached["name"] == "uy-quyen.pdf" and attached["media_type"] == "application/pdf"
