"""Due dates of the bundled procedures against a table written from their legal texts
(../shared/reference/procedures.json and README.md), computed by the platform through the REST API: a
dossier is received at an exact instant, optionally waits on a supplement, and its promised return is
read back.

The rules the table applies (a centre with the default hours 07:30-11:30, 13:30-17:00):
- "ngày làm việc" is working days, N of them N office-days after the receipt; "ngày" (the construction
  permits' 15 / 20 days) is calendar days, the first day not counted, ending at the close of office of
  the N-th day or of the next working day (Bộ luật Dân sự 2015, Điều 147.1 and 148.5);
- received after 15:00 counts from the next working day; 15:00:00 is not after 15 giờ (NĐ 23/2015/NĐ-CP
  Điều 7; the national database's hộ tịch steps, 1.001193);
- 1 January 2026 off, Friday 2 January off and Saturday 10 January worked (Công văn 12729/VPCP-KGVX);
  Tết Bính Ngọ: 16-20 February 2026 off, 14-22 February with the weekends;
- a supplement "restart"s the clock («kể từ ngày nhận đủ hồ sơ hợp lệ») or, for 1.004873, "pause"s it
  (the office time waited is added).
"""

from datetime import datetime, timedelta

import pytest

from onestop.clock import Clock
from onestop.workdays import to_local, to_utc
from tests.process_models import Walk, upload_bundled
from tests.process_models import test_birth_registration as birth
from tests.process_models import test_copy_certification as copy
from tests.process_models import test_driving_licence_exchange as driving
from tests.process_models import test_household_business_registration as household
from tests.process_models import test_judicial_record as judicial
from tests.process_models import test_land_change_registration as land
from tests.process_models import test_land_plot_subdivision as subdivision
from tests.process_models import test_llc_registration as llc
from tests.process_models import test_marital_status_certificate as marital
from tests.process_models import test_marriage_foreign_registration as foreign_marriage
from tests.process_models import test_marriage_registration as marriage
from tests.process_models import test_poor_household_recognition as poor
from tests.process_models import test_social_protection_admission as social
from tests.process_models import test_transaction_certification as transaction
from tests.process_models import test_transport_business_licence as transport

# the online application of the procedures that have one (the same as their own walks send)
APPLICATIONS = {"birth_registration": birth.APPLICATION, "copy_certification": copy.APPLICATION,
                "driving_licence_exchange": driving.APPLICATION, "household_business_registration": household.APPLICATION,
                "land_change_registration": land.APPLICATION, "llc_registration": llc.APPLICATION,
                "marital_status_certificate": marital.APPLICATION, "marriage_registration": marriage.APPLICATION}
# the procedures built from a template, by folder
TEMPLATED = {module.PROCEDURE.folder: module.PROCEDURE
             for module in (foreign_marriage, transaction, judicial, subdivision, transport, poor, social)}
APPLICATIONS.update({folder: procedure.application for folder, procedure in TEMPLATED.items()})


class SetClock(Clock):
    """Business time standing at the instant a row of the table names (the cut-off is to the second)."""

    def __init__(self):
        self.instant = to_utc(datetime(2025, 12, 1, 8, 0))

    def now(self):
        return self.instant

    def at(self, wall_seconds):
        return self.instant

    def set(self, local: datetime) -> None:
        self.instant = to_utc(local)


@pytest.fixture
def clock():
    return SetClock()


def _local(iso: str) -> datetime:
    return to_local(datetime.fromisoformat(iso.removesuffix("Z")))


def _due(walk) -> datetime:
    return _local(walk.refresh().dossier["due_at"])


# folder, received (local), expected due (local), what the legal text says
RECEIPTS = [
    # 1.001193: «nếu tiếp nhận hồ sơ sau 15 giờ thì ... trả kết quả ... trong ngày làm việc tiếp theo»
    ("birth_registration", datetime(2026, 3, 2, 15, 0, 0), datetime(2026, 3, 2, 17, 0),
     "1.001193 same day: 15:00:00 is not after 15 giờ"),
    ("birth_registration", datetime(2026, 3, 2, 15, 0, 1), datetime(2026, 3, 3, 17, 0),
     "1.001193 after 15 giờ: the next working day"),
    ("birth_registration", datetime(2025, 12, 31, 15, 30), datetime(2026, 1, 5, 17, 0),
     "1.001193 after 15 giờ on 31 Dec: 1 Jan holiday, 2 Jan swapped off, the weekend: Monday 5 Jan"),
    ("birth_registration", datetime(2026, 2, 13, 16, 0), datetime(2026, 2, 23, 17, 0),
     "1.001193 after 15 giờ the Friday before Tết: Monday 23 Feb"),
    # 1.000894: "1" (unit lost in the crawl), kept as 1 working day
    ("marriage_registration", datetime(2026, 3, 2, 15, 0, 0), datetime(2026, 3, 3, 15, 0),
     "1.000894 1 working day from 15:00:00: the clock runs from receipt"),
    ("marriage_registration", datetime(2026, 3, 2, 15, 0, 1), datetime(2026, 3, 3, 17, 0),
     "1.000894 1 working day from 15:00:01: from Tuesday's opening"),
    ("marriage_registration", datetime(2026, 1, 9, 10, 0), datetime(2026, 1, 10, 10, 0),
     "1.000894 Friday 9 Jan + 1 working day: Saturday 10 Jan is worked"),
    # 1.004873: "3" (unit lost), 03 ngày làm việc in its steps
    ("marital_status_certificate", datetime(2026, 2, 13, 10, 0), datetime(2026, 2, 25, 10, 0),
     "1.004873 3 working days across Tết: Mon 23, Tue 24, Wed 25 Feb"),
    # 2.000815: «ngay trong ngày ... hoặc trong ngày làm việc tiếp theo, nếu tiếp nhận yêu cầu sau 15 giờ»
    ("copy_certification", datetime(2026, 1, 10, 9, 0), datetime(2026, 1, 10, 17, 0),
     "2.000815 same day on Saturday 10 Jan 2026, a worked Saturday"),
    ("copy_certification", datetime(2026, 1, 2, 9, 0), datetime(2026, 1, 5, 17, 0),
     "2.000815 received on Friday 2 Jan 2026, swapped off: Monday 5 Jan"),
    ("copy_certification", datetime(2026, 3, 6, 15, 0, 1), datetime(2026, 3, 9, 17, 0),
     "2.000815 Friday after 15 giờ: Monday"),
    # 1.001612: 03 ngày làm việc
    ("household_business_registration", datetime(2025, 12, 31, 10, 0), datetime(2026, 1, 7, 10, 0),
     "1.001612 3 working days from 31 Dec 2025: Mon 5, Tue 6, Wed 7 Jan"),
    # 2.001583: 03 ngày làm việc
    ("llc_registration", datetime(2026, 1, 8, 14, 0), datetime(2026, 1, 12, 14, 0),
     "2.001583 3 working days from Thu 8 Jan 2026: Fri 9, Sat 10 (worked), Mon 12"),
    # 1.013236: 20 "ngày" = calendar days «kể từ ngày nhận đủ hồ sơ hợp lệ»
    ("construction_permit_province", datetime(2025, 12, 31, 10, 0), datetime(2026, 1, 20, 17, 0),
     "1.013236 20 calendar days from 31 Dec 2025: Tuesday 20 Jan"),
    ("construction_permit_province", datetime(2026, 1, 26, 10, 0), datetime(2026, 2, 23, 17, 0),
     "1.013236 20 calendar days end Sunday 15 Feb; Tết follows: Monday 23 Feb"),
    # 1.013831: không quá 08 ngày làm việc (the tax office's time not counted)
    ("land_change_registration", datetime(2026, 2, 9, 10, 0), datetime(2026, 2, 26, 10, 0),
     "1.013831 8 working days from Mon 9 Feb across Tết: Thursday 26 Feb"),
    # 3.000347: 05 ngày làm việc
    ("driving_licence_exchange", datetime(2025, 12, 29, 10, 0), datetime(2026, 1, 7, 10, 0),
     "3.000347 5 working days from Mon 29 Dec 2025: Tue 30, Wed 31, Mon 5, Tue 6, Wed 7 Jan"),
    ("driving_licence_exchange", datetime(2026, 1, 6, 15, 0, 1), datetime(2026, 1, 12, 17, 0),
     "3.000347 from Wed 7 Jan's opening: Wed, Thu, Fri, Sat 10 (worked), Mon 12 Jan"),
    # 2.000806: 05 ngày làm việc (NĐ 120/2025/NĐ-CP Phụ lục I.1.b)
    ("marriage_foreign_registration", datetime(2025, 12, 31, 10, 0), datetime(2026, 1, 9, 10, 0),
     "2.000806 5 working days from 31 Dec 2025: Mon 5 to Fri 9 Jan"),
    # 2.001035: không quá 02 ngày làm việc
    ("transaction_certification", datetime(2026, 1, 8, 15, 0, 0), datetime(2026, 1, 10, 15, 0),
     "2.001035 2 working days from Thu 8 Jan 15:00:00: Saturday 10 Jan (worked) 15:00"),
    ("transaction_certification", datetime(2026, 1, 8, 15, 0, 1), datetime(2026, 1, 10, 17, 0),
     "2.001035 2 working days from Fri 9 Jan's opening: Saturday 10 Jan's close"),
    # 3.000333: 10 "Ngày" = calendar days
    ("judicial_record", datetime(2025, 12, 31, 10, 0), datetime(2026, 1, 10, 17, 0),
     "3.000333 10 calendar days from 31 Dec 2025 end Saturday 10 Jan, a worked day"),
    ("judicial_record", datetime(2026, 1, 6, 10, 0), datetime(2026, 1, 16, 17, 0),
     "3.000333 10 calendar days from Tue 6 Jan: Friday 16 Jan"),
    ("judicial_record", datetime(2026, 2, 5, 10, 0), datetime(2026, 2, 23, 17, 0),
     "3.000333 10 calendar days end Sunday 15 Feb; Tết follows: Monday 23 Feb"),
    # 1.012784: không quá 12 ngày làm việc
    ("land_plot_subdivision", datetime(2026, 2, 2, 10, 0), datetime(2026, 2, 25, 10, 0),
     "1.012784 12 working days from Mon 2 Feb across Tết: Wednesday 25 Feb"),
    # 1.000703: 04 ngày làm việc
    ("transport_business_licence", datetime(2025, 12, 30, 10, 0), datetime(2026, 1, 7, 10, 0),
     "1.000703 4 working days from Tue 30 Dec 2025: Wed 31, Mon 5, Tue 6, Wed 7 Jan"),
    # 1.011607: 15 "Ngày" = calendar days
    ("poor_household_recognition", datetime(2026, 1, 2, 9, 0), datetime(2026, 1, 20, 17, 0),
     "1.011607 received Fri 2 Jan (swapped off): from Mon 5 Jan, 15 calendar days: Tuesday 20 Jan"),
    # 2.000286: 25 ngày làm việc (10 at the commune + 15 at the province)
    ("social_protection_admission", datetime(2026, 2, 2, 10, 0), datetime(2026, 3, 16, 10, 0),
     "2.000286 25 working days from Mon 2 Feb, Tết not counted: Monday 16 March"),
]


@pytest.mark.parametrize(("folder", "received", "due", "rule"), RECEIPTS, ids=[r[3][:70] for r in RECEIPTS])
def test_a_dossier_received_then_is_due_when_the_legal_text_says(sqlite_admin_api, clock, folder, received,
                                                                  due, rule):
    version = upload_bundled(sqlite_admin_api, folder)
    clock.set(received)
    data = APPLICATIONS.get(folder)
    if data and "child_date_of_birth" in data:  # born before the day of registration (a later birth is refused)
        data = data | {"child_date_of_birth": (received - timedelta(days=10)).date().isoformat()}
    walk = Walk(sqlite_admin_api, version["code"], data=data)
    assert _local(walk.dossier["received_at"]) == received
    assert _due(walk) == due, rule


# 1.013225: «15 ngày đối với nhà ở riêng lẻ», 20 ngày for other grade III/IV works, from a complete dossier
HOUSE = {"investor_full_name": "Phạm Thị Hoa", "investor_citizen_id": "036188007654",
         "construction_address": "Thôn Đông, xã Yên Phong, tỉnh Bắc Ninh", "work_type": "nha_o_rieng_le",
         "documents_complete": True}
PERMITS = [
    ("nha_o_rieng_le", datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 17, 17, 0),
     "a house: 15 calendar days from Monday 2 March: Tuesday 17 March"),
    ("cap_III", datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 23, 17, 0),
     "grade III works: 20 calendar days end Sunday 22 March: Monday 23"),
    ("nha_o_rieng_le", datetime(2026, 2, 5, 10, 0), datetime(2026, 2, 23, 17, 0),
     "a house: 15 days end Friday 20 February, in Tết: Monday 23"),
    ("cap_IV", datetime(2026, 2, 5, 10, 0), datetime(2026, 2, 25, 17, 0),
     "grade IV works: 20 days from 5 February: Wednesday 25"),
    ("nha_o_rieng_le", datetime(2026, 3, 6, 15, 0, 0), datetime(2026, 3, 23, 17, 0),
     "a house received Friday 15:00:00: 15 days end Saturday 21 March: Monday 23"),
    ("nha_o_rieng_le", datetime(2026, 3, 6, 15, 0, 1), datetime(2026, 3, 24, 17, 0),
     "a house received Friday 15:00:01: counted from Monday 9 March: Tuesday 24"),
]


@pytest.mark.parametrize(("work_type", "received", "due", "rule"), PERMITS, ids=[r[3][:70] for r in PERMITS])
def test_a_construction_permit_is_due_by_the_kind_of_works(sqlite_admin_api, clock, work_type, received, due, rule):
    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    clock.set(received)
    walk = Walk(sqlite_admin_api, "1.013225")
    clock.set(received.replace(hour=16, minute=30, second=0))  # the desk records the kind of works later that day
    walk.complete("Task_Receive", HOUSE | {"work_type": work_type})
    assert _due(walk) == due, rule
    assert walk.task("Task_Appraise")["due_at"] is not None
    assert _local(walk.task("Task_Appraise")["due_at"]) <= due


def _supplement_action(api, clock, walk, asked: datetime, arrived: datetime):
    """The platform's supplement verb: asked then, the papers arrive then."""
    clock.set(asked)
    assert api.post(f"/dossiers/{walk.code}/supplement-request", {"reason": "Bổ sung giấy tờ"}).status_code == 200
    clock.set(arrived)
    assert api.post(f"/dossiers/{walk.code}/supplement", {"note": "Đã nộp bổ sung"}).status_code == 200


# folder, received, supplement asked, supplement arrived, due after it, the rule
SUPPLEMENTS = [
    ("birth_registration", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 4, 16, 0),
     datetime(2026, 3, 5, 17, 0), "1.001193 restart: the papers come after 15 giờ, decided the next working day"),
    ("marriage_registration", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 5, 9, 0),
     datetime(2026, 3, 6, 9, 0), "1.000894 restart: 1 working day from the supplement"),
    ("marital_status_certificate", datetime(2026, 2, 11, 9, 0), datetime(2026, 2, 11, 10, 0),
     datetime(2026, 2, 24, 10, 0), datetime(2026, 2, 27, 9, 0),
     "1.004873 pause: due Mon 23 Feb 09:00, plus the 4 office days waited across Tết (Wed 11 10:00 to Tue 24 10:00)"),
    ("copy_certification", datetime(2026, 1, 9, 9, 0), datetime(2026, 1, 9, 9, 30), datetime(2026, 1, 10, 14, 0),
     datetime(2026, 1, 10, 17, 0), "2.000815 restart: the papers come Saturday 10 Jan (worked), decided that day"),
    ("household_business_registration", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0),
     datetime(2026, 3, 3, 15, 0, 1), datetime(2026, 3, 6, 17, 0),
     "1.001612 restart after 15 giờ: 3 working days from Wednesday's opening"),
    ("llc_registration", datetime(2025, 12, 29, 9, 0), datetime(2025, 12, 29, 10, 0), datetime(2025, 12, 31, 10, 0),
     datetime(2026, 1, 7, 10, 0), "2.001583 restart on 31 Dec: 3 working days over the New Year swap"),
    ("construction_permit_province", datetime(2026, 1, 5, 9, 0), datetime(2026, 1, 9, 9, 0),
     datetime(2026, 1, 26, 10, 0), datetime(2026, 2, 23, 17, 0),
     "1.013236 restart: 20 calendar days from 26 Jan end Sunday 15 Feb, then Tết: Monday 23"),
    ("land_change_registration", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 4, 9, 0),
     datetime(2026, 3, 16, 9, 0), "1.013831 restart: 8 working days from Wed 4 March"),
    ("driving_licence_exchange", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 9, 0), datetime(2026, 3, 4, 9, 0),
     datetime(2026, 3, 11, 9, 0), "3.000347 restart: 5 working days from Wed 4 March"),
]


@pytest.mark.parametrize(("folder", "received", "asked", "arrived", "due", "rule"), SUPPLEMENTS,
                         ids=[r[5][:70] for r in SUPPLEMENTS])
def test_a_supplement_moves_the_due_date_as_the_legal_text_says(sqlite_admin_api, clock, folder, received, asked,
                                                                 arrived, due, rule):
    version = upload_bundled(sqlite_admin_api, folder)
    clock.set(received)
    walk = Walk(sqlite_admin_api, version["code"], data=APPLICATIONS.get(folder))
    _supplement_action(sqlite_admin_api, clock, walk, asked, arrived)
    assert _due(walk) == due, rule


def test_the_permits_own_supplement_loop_restarts_the_days_for_a_house(admin_api, clock):
    """1.013225: the appraising unit asks once, in writing; the 15 days run again «kể từ ngày nhận đủ hồ sơ
    hợp lệ», in calendar days, from the day the papers arrive."""
    upload_bundled(admin_api, "construction_permit_commune")
    clock.set(datetime(2026, 3, 2, 10, 0))
    walk = Walk(admin_api, "1.013225")
    walk.complete("Task_Receive", HOUSE)
    assert _due(walk) == datetime(2026, 3, 17, 17, 0)
    clock.set(datetime(2026, 3, 4, 10, 0))
    walk.complete("Task_Appraise", {"appraisal_result": "supplement", "planning_compliant": True,
                                    "site_inspected_on": "2026-03-04",
                                    "supplement_request": "Bổ sung bản cam kết an toàn công trình liền kề"})
    assert walk.dossier["status"] == "supplement_requested"
    clock.set(datetime(2026, 3, 16, 10, 0))
    walk.complete("Task_ReceiveSupplement", {"supplement_notice_sent_on": "2026-03-04", "supplement_received": True,
                                             "supplement_received_on": "2026-03-16",
                                             "supplemented_documents": "Bản cam kết"})
    assert walk.dossier["status"] == "processing"
    assert _due(walk) == datetime(2026, 3, 31, 17, 0)  # 15 days from Monday 16 March


# the model's own supplement loop (the templates' Task_Supplement): folder, received, asked, arrived, due, rule
MODEL_LOOPS = [
    ("marriage_foreign_registration", datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 3, 10, 0),
     datetime(2026, 3, 5, 15, 0, 1), datetime(2026, 3, 12, 17, 0),
     "2.000806 restart after 15 giờ: 5 working days from Friday 6 March's opening"),
    ("judicial_record", datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 3, 10, 0), datetime(2026, 3, 9, 10, 0),
     datetime(2026, 3, 19, 17, 0), "3.000333 restart: 10 calendar days from Monday 9 March"),
    ("poor_household_recognition", datetime(2026, 2, 2, 9, 0), datetime(2026, 2, 4, 10, 0),
     datetime(2026, 2, 9, 10, 0), datetime(2026, 2, 24, 17, 0),
     "1.011607 restart: 15 calendar days from Monday 9 February, across Tết"),
    ("transport_business_licence", datetime(2025, 12, 29, 9, 0), datetime(2025, 12, 29, 14, 0),
     datetime(2025, 12, 31, 10, 0), datetime(2026, 1, 8, 10, 0),
     "1.000703 restart on 31 Dec: 4 working days over the New Year: Thursday 8 Jan"),
    ("transaction_certification", datetime(2026, 1, 8, 9, 0), datetime(2026, 1, 8, 10, 0),
     datetime(2026, 1, 9, 15, 0, 1), datetime(2026, 1, 12, 17, 0),
     "2.001035 restart after 15 giờ on Fri 9 Jan: 2 working days from Saturday 10 Jan (worked): Monday 12"),
    ("land_plot_subdivision", datetime(2026, 2, 9, 9, 0), datetime(2026, 2, 10, 10, 0), datetime(2026, 2, 13, 10, 0),
     datetime(2026, 3, 10, 10, 0), "1.012784 restart on Fri 13 Feb: 12 working days after Tết: Tuesday 10 March"),
    ("social_protection_admission", datetime(2026, 1, 5, 9, 0), datetime(2026, 1, 6, 9, 0),
     datetime(2026, 1, 20, 15, 0, 1), datetime(2026, 3, 3, 17, 0),
     "2.000286 restart after 15 giờ on 20 Jan: 25 working days from Wed 21 Jan (3 in Jan, 15 in Feb outside "
     "Tết 14-22, 2 in March): Tuesday 3 March"),
]


@pytest.mark.parametrize(("folder", "received", "asked", "arrived", "due", "rule"), MODEL_LOOPS,
                         ids=[r[5][:70] for r in MODEL_LOOPS])
def test_the_models_supplement_loop_moves_the_due_date_as_the_legal_text_says(sqlite_admin_api, clock, folder,
                                                                               received, asked, arrived, due, rule):
    procedure = TEMPLATED[folder]
    upload_bundled(sqlite_admin_api, folder)
    clock.set(received)
    walk = Walk(sqlite_admin_api, procedure.code, data=procedure.application)
    walk.complete("Task_Receive", procedure.received)
    clock.set(asked)
    walk.complete("Task_Appraise", {"appraisal_result": "supplement", "appraisal_note": "Thiếu giấy tờ"})
    assert walk.dossier["status"] == "supplement_requested"
    clock.set(arrived)
    walk.complete("Task_Supplement", {"supplement_received": True, "supplemented_documents": "Giấy tờ bổ sung"})
    assert walk.dossier["status"] == "processing"
    assert _due(walk) == due, rule


def test_a_supplement_asked_before_the_kind_of_works_is_known_counts_the_house_from_the_supplement(
        sqlite_admin_api, clock):
    """The desk asks for a missing paper (the platform's action) before it records the kind of works: the
    full period restarts when the paper arrives, and the house's 15 days count from then, not from receipt."""
    upload_bundled(sqlite_admin_api, "construction_permit_commune")
    clock.set(datetime(2026, 3, 2, 10, 0))
    walk = Walk(sqlite_admin_api, "1.013225")
    _supplement_action(sqlite_admin_api, clock, walk, datetime(2026, 3, 2, 10, 30), datetime(2026, 3, 6, 9, 0))
    assert _due(walk) == datetime(2026, 3, 26, 17, 0)  # 20 days (the kind not yet known) from Friday 6 March
    clock.set(datetime(2026, 3, 6, 9, 30))
    walk.complete("Task_Receive", HOUSE)
    assert _due(walk) == datetime(2026, 3, 23, 17, 0)  # 15 days from 6 March end Saturday 21: Monday 23
