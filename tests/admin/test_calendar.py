"""The official calendar page of the back office, through real HTTP without a browser: a system
administrator adds a day with its notice, sees a bad file refused row by row, and drops the day."""

import io

from tests.admin.test_back_office import _signed_in, _token
from tests.web.pages import csrf

PAGE = "/admin/official-calendar/"


def test_only_system_and_province_administrators_open_the_page(sqlite_app):
    assert _signed_in(sqlite_app, "quantri", ("admin",)).get(PAGE).status_code == 403
    page = _signed_in(sqlite_app, "quocgia", ("system_admin",)).get(PAGE + "?year=2026").get_data(as_text=True)
    assert "12729/VPCP-KGVX" in page and "10/01/2026" in page


def test_a_system_administrator_adds_a_day_sees_a_bad_file_refused_and_drops_the_day(sqlite_app):
    admin = _signed_in(sqlite_app, "quocgia", ("system_admin",))
    token = csrf(admin.get(PAGE))
    added = admin.post(PAGE, data={"day-csrf_token": token, "day-day": "2030-03-05", "day-working": "0",
                                   "day-name": "Nghỉ đặc biệt", "day-source": "Quyết định 9/QĐ-TTg",
                                   "day-confirmed": "y"})
    assert added.status_code == 302
    listed = admin.get(PAGE + "?year=2030").get_data(as_text=True)
    assert "Quyết định 9/QĐ-TTg" in listed and "Nghỉ đặc biệt" in listed
    bad = b"date,working,name,source\n2030-04-01,false,A,B\n2030-04-31,false,C,D\n"
    refused = admin.post(PAGE, data={"import-csrf_token": csrf(admin.get(PAGE)),
                                     "import-file": (io.BytesIO(bad), "days.csv")}, content_type="multipart/form-data")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Dòng 2" in text and "2030-04-01" not in admin.get(PAGE + "?year=2030").get_data(as_text=True)
    dropped = admin.post(PAGE + "clear/2030-03-05", data={"csrf_token": csrf(admin.get(PAGE + "?year=2030"))})
    assert dropped.status_code == 302 and "Nghỉ đặc biệt" not in admin.get(PAGE + "?year=2030").get_data(as_text=True)


def test_a_province_administrator_keeps_the_provinces_own_days_on_the_same_page(sqlite_app):
    from onestop.models import Centre

    with sqlite_app.app_context():
        province = Centre.create(code="P22", name="Quảng Ninh", level="province")
    keeper = _signed_in(sqlite_app, "tinh", ("province_admin",), centre=province)
    page = keeper.get(PAGE + "?year=2030").get_data(as_text=True)
    assert "Lịch riêng của tỉnh P22" in page and "12729/VPCP-KGVX" not in page
    added = keeper.post(PAGE, data={"day-csrf_token": _token(keeper), "day-day": "2030-04-29",
                                    "day-working": "0", "day-name": "Ngày truyền thống", "day-source": "NQ 1/NQ-HĐND"})
    assert added.status_code == 302 and "NQ 1/NQ-HĐND" in keeper.get(PAGE + "?year=2030").get_data(as_text=True)
    with sqlite_app.app_context():
        from onestop.models import OfficialDay

        assert OfficialDay.get(OfficialDay.name == "Ngày truyền thống").province_id == province.id
