"""Đăng ký biến động đất đai (1.013831): province level, 8 working days not counting the tax office's
time: while the citizen's taxes and fees are assessed and paid the dossier awaits its financial
obligation and its clock stands still; walked through the REST API."""

from datetime import timedelta

from onestop.services import deadlines
from onestop.workdays import to_local
from tests.process_models import Walk, upload_bundled

CODE = "1.013831"
ONE_STOP, LAND, LEADER = "Bộ phận Một cửa", "Văn phòng đăng ký đất đai", "Lãnh đạo Văn phòng đăng ký đất đai"

APPLICATION = {"holder_full_name": "Đặng Văn Long", "holder_citizen_id": "022079002233", "holder_phone": "0903111444",
               "transferor_full_name": "Lưu Thị Nga", "change": "chuyen_nhuong", "certificate_number": "DA 123456",
               "parcel": "Thửa 215, tờ bản đồ 12", "address": "Tổ 7, khu 3, phường Bãi Cháy, tỉnh Quảng Ninh",
               "area_m2": 96.5, "new_certificate": True}
RECEIVED = {"original_certificate": True, "contract_checked": True}
CHECKED = {"eligible": True, "tax_slip_number": "125/PCTT", "tax_office": "Thuế cơ sở 2 tỉnh Quảng Ninh"}
PAID = {"outcome": "da_nop", "personal_income_tax_vnd": 30000000, "registration_fee_vnd": 7500000,
        "receipt_numbers": "0012345, 0012346"}


def _at_the_tax_office(api):
    upload_bundled(api, "land_change_registration")
    walk = Walk(api, CODE, data=APPLICATION)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Check": LAND}
    walk.complete("Task_Check", CHECKED)
    assert walk.offered() == {"Task_Obligation": LAND}
    assert walk.dossier["status"] == "awaiting_financial_obligation"
    return walk


def _back_date_wait(app, code, days):
    with app.app_context():
        from onestop.models import Dossier

        dossier = Dossier.get(Dossier.code == code)
        assert dossier.paused_at is not None
        Dossier.update(paused_at=dossier.paused_at - timedelta(days=days)).where(Dossier.id == dossier.id).execute()
        return Dossier.get_by_id(dossier.id)


def test_the_tax_office_time_moves_the_promised_date_by_exactly_the_wait(app, admin_api):
    walk = _at_the_tax_office(admin_api)
    assert walk.task("Task_Obligation")["due_at"] is None  # outside the legal clock
    before = _back_date_wait(app, walk.code, 7)
    walk.refresh().complete("Task_Obligation", PAID)
    assert walk.dossier["status"] == "processing" and walk.offered() == {"Task_Update": LAND}
    with app.app_context():
        from onestop.models import AuditEvent, Dossier

        after = Dossier.get(Dossier.code == walk.code)
        assert after.paused_at is None
        calendar = deadlines.calendar_for(after.centre_id)
        waited = calendar.office_time(to_local(before.paused_at), to_local(after.updated_at))
        assert waited > timedelta(0)
        assert to_local(after.due_at) == calendar.add(to_local(before.due_at), waited)
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.dossier == after.id).order_by(AuditEvent.id)]
        assert actions.index("dossier.financial_obligation_awaited") < actions.index("dossier.financial_obligation_met")
    walk.complete("Task_Update", {"cadastre_updated": True, "result": "cap_moi", "new_certificate_number": "DB 998877"})
    walk.complete("Task_Sign", {"signer_full_name": "Phạm Quang Vinh", "signed": True})
    assert walk.offered() == {"Task_Return": ONE_STOP} and walk.dossier["status"] == "resolved"
    walk.complete("Task_Return", {"returned_on": "2026-12-15", "receiver_full_name": "Đặng Văn Long", "fee_vnd": 0,
                                  "originals_collected": True})
    assert walk.dossier["status"] == "returned" and walk.ended_at() == ["End_Registered"]


def test_while_the_taxes_are_awaited_no_supplement_can_be_asked_or_recorded(sqlite_admin_api):
    walk = _at_the_tax_office(sqlite_admin_api)
    asked = sqlite_admin_api.post(f"/dossiers/{walk.code}/supplement-request", {"reason": "Bản vẽ tách thửa"})
    assert asked.status_code == 409 and "awaiting_financial_obligation" in asked.json["message"]
    assert sqlite_admin_api.post(f"/dossiers/{walk.code}/supplement", {"note": "x"}).status_code == 409
    walk.complete("Task_Obligation", {"outcome": "mien"})
    assert walk.dossier["status"] == "processing"


def test_an_ineligible_transfer_is_returned_with_the_reason(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "land_change_registration")
    walk = Walk(sqlite_admin_api, CODE, data=APPLICATION)
    walk.complete("Task_Receive", RECEIVED)
    assert walk.refused_fields("Task_Check", {"eligible": False}) == {"refusal_reason"}
    walk.complete("Task_Check", {"eligible": False, "refusal_reason": "Đất đang có tranh chấp, đang bị kê biên"})
    assert walk.offered() == {"Task_NotifyRefusal": ONE_STOP} and walk.dossier["status"] == "processing"
    walk.complete("Task_NotifyRefusal", {"refusal_explained": "Đất đang có tranh chấp (Điều 45 Luật Đất đai)"})
    assert walk.ended_at() == ["End_Refused"]


def test_a_supplement_at_reception_restarts_the_eight_days(sqlite_admin_api):
    upload_bundled(sqlite_admin_api, "land_change_registration")
    walk = Walk(sqlite_admin_api, CODE, data=APPLICATION)
    walk.supplement("Văn bản đồng ý của bên nhận thế chấp")
    walk.complete("Task_Receive", RECEIVED)
    assert walk.offered() == {"Task_Check": LAND}
