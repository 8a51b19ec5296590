"""One calendar for the country: the official days with their notices, inherited by every centre,
a province's own days by its communes; imports are all rows or none; the `holidays` package is the
fallback only."""

import json
from datetime import date, datetime

import holidays
import pytest

from onestop.models import Centre, OfficialDay
from onestop.services import calendar, deadlines
from onestop.services.deadlines import Plan
from onestop.services.errors import Forbidden, Invalid
from onestop.workdays import Deadline, to_local, to_utc
from tests.conftest import make_user

TWO_DAYS = Plan(Deadline(2))


def _due(centre_id, local_received, plan=TWO_DAYS):
    return to_local(deadlines.dossier_due(centre_id, plan, to_utc(local_received)))


def _admin(roles=("system_admin",), centre=None, name="quocgia"):
    return make_user(name, roles, centre=centre)[0]


def test_a_due_date_across_2_january_2026_skips_the_swapped_day_off(sqlite_app):
    """Công văn 12729/VPCP-KGVX: Friday 2 January 2026 off (the `holidays` package alone counts it)."""
    with sqlite_app.app_context():
        centre = Centre.default().id
        assert _due(centre, datetime(2025, 12, 31, 10, 0)) == datetime(2026, 1, 6, 10, 0)


def test_the_saturday_worked_in_exchange_starts_a_clock(sqlite_app):
    with sqlite_app.app_context():
        centre = Centre.default().id
        # received Friday 9 January 2026 after the cut-off: the clock starts on the Saturday worked
        assert _due(centre, datetime(2026, 1, 9, 16, 0), Plan(Deadline(1))) == datetime(2026, 1, 10, 17, 0)


def test_the_shipped_calendar_holds_every_day_off_the_package_knows_and_names_a_source_for_each():
    shipped = json.loads(calendar.SHIPPED.read_text())["days"]
    rows = {r["date"]: r for r in shipped}
    assert all(r["source"] and r["name"] for r in shipped)
    for year in (2025, 2026, 2027):
        for day in holidays.Vietnam(years=year):
            if day.weekday() < 5 and rows.get(day.isoformat(), {}).get("working", True) is not False:
                pytest.fail(f"{day} is off in the holidays package but not in the shipped calendar")
    assert "12729/VPCP-KGVX" in rows["2026-01-02"]["source"] and rows["2026-01-10"]["working"] is True
    assert not rows["2027-02-08"]["confirmed"]  # no notice for Tết 2027 was found: marked, not hidden


def test_migration_31_loads_the_shipped_days(sqlite_app):
    with sqlite_app.app_context():
        assert OfficialDay.select().where(OfficialDay.province.is_null()).count() == len(
            json.loads(calendar.SHIPPED.read_text())["days"])


CSV = ("date,working,name,source,source_date,confirmed\n"
       "2030-01-02,false,Nghỉ hoán đổi,Công văn 1/VPCP-KGVX,2029-12-20,true\n"
       "2030-01-12,true,Làm bù,Công văn 1/VPCP-KGVX,2029-12-20,true\n")


def test_a_file_with_a_bad_row_imports_nothing_and_names_each_bad_row(sqlite_app):
    bad = CSV + "2030-13-01,false,Sai ngày,X,,\n2030-01-02,false,Trùng,X,,\n,false,,X,,\n"
    with sqlite_app.app_context():
        admin = _admin()
        before = OfficialDay.select().count()
        with pytest.raises(Invalid) as refused:
            calendar.import_days(admin, bad.encode(), "days.csv")
        assert [d["row"] for d in refused.value.details] == [3, 4, 5]
        assert "date" in refused.value.details[0]["message"] and "row 1" in refused.value.details[1]["message"]
        assert OfficialDay.select().count() == before


def test_a_file_without_the_required_columns_is_refused_whole(sqlite_app):
    with sqlite_app.app_context(), pytest.raises(Invalid, match="source"):
        calendar.import_days(_admin(), b"date,working,name\n2030-01-02,false,X\n", "days.csv")


def test_an_imported_day_is_seen_by_the_next_due_date_and_a_second_import_replaces_it(sqlite_app):
    with sqlite_app.app_context():
        admin, centre = _admin(), Centre.default().id
        assert _due(centre, datetime(2030, 1, 3, 10, 0), Plan(Deadline(1))) == datetime(2030, 1, 4, 10, 0)
        report = calendar.import_days(admin, CSV.encode(), "days.csv")
        assert (report.added, report.updated) == (2, 0)
        # Friday 11 January 2030 10:00 + 1 working day: Saturday 12 is worked now
        assert _due(centre, datetime(2030, 1, 11, 10, 0), Plan(Deadline(1))) == datetime(2030, 1, 12, 10, 0)
        again = calendar.import_days(admin, json.dumps({"days": [
            {"date": "2030-01-12", "working": False, "name": "Không làm bù", "source": "Công văn 2/VPCP-KGVX"}]}).encode(),
            "days.json")
        assert (again.added, again.updated) == (0, 1)
        assert _due(centre, datetime(2030, 1, 11, 10, 0), Plan(Deadline(1))) == datetime(2030, 1, 14, 10, 0)


def test_years_without_official_data_fall_back_to_the_holidays_package(sqlite_app):
    with sqlite_app.app_context():
        calendar_ = deadlines.calendar_for(Centre.default().id)
        assert not calendar_.is_working_day(date(2031, 9, 2)) and calendar_.is_working_day(date(2031, 9, 4))


def test_only_a_system_administrator_keeps_the_national_calendar(sqlite_app):
    with sqlite_app.app_context():
        centre_admin = _admin(("admin",), name="quantri")
        with pytest.raises(Forbidden):
            calendar.set_day(centre_admin, {"date": "2030-05-02", "working": False, "name": "X", "source": "Y"})


def _province_with_commune():
    province = Centre.create(code="P22", name="Tỉnh Quảng Ninh", level="province")
    commune = Centre.create(code="X1", name="Xã Một", level="commune", parent=province)
    other = Centre.create(code="P01", name="Hà Nội", level="province")
    return province, commune, other


def test_a_provinces_own_day_is_inherited_by_its_communes_and_not_by_another_province(sqlite_app):
    with sqlite_app.app_context():
        province, commune, other = _province_with_commune()
        keeper = _admin(("province_admin",), centre=province, name="tinh")
        day = {"date": "2030-04-29", "working": False, "name": "Ngày giải phóng tỉnh", "source": "Quyết định 5/QĐ-UBND"}
        with pytest.raises(Forbidden):
            calendar.set_day(keeper, day, "P01")
        monday = date(2030, 4, 29)
        calendar.set_day(keeper, day | {"date": monday.isoformat()}, "P22")
        assert not deadlines.calendar_for(commune.id).is_working_day(monday)
        assert not deadlines.calendar_for(province.id).is_working_day(monday)
        assert deadlines.calendar_for(other.id).is_working_day(monday)
        assert deadlines.calendar_for(Centre.default().id).is_working_day(monday)


def test_a_communes_own_closure_stays_its_own(sqlite_app):
    with sqlite_app.app_context():
        province, commune, _ = _province_with_commune()
        keeper = _admin(("admin",), centre=commune, name="xa")
        deadlines.set_day(keeper, date(2030, 3, 5), False, "Sửa trụ sở")
        assert not deadlines.calendar_for(commune.id).is_working_day(date(2030, 3, 5))
        assert deadlines.calendar_for(province.id).is_working_day(date(2030, 3, 5))


def test_a_national_change_is_announced_to_every_process_through_the_calendars_cache_version(sqlite_app):
    from onestop.models import CacheVersion

    with sqlite_app.app_context():
        before = CacheVersion.get_or_none(CacheVersion.kind == "calendars")
        before = before.version if before else 0
        calendar.set_day(_admin(), {"date": "2030-06-03", "working": False, "name": "X", "source": "Y"})
        assert CacheVersion.get(CacheVersion.kind == "calendars").version == before + 1
