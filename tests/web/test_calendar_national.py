"""The national calendar through the API: read by anyone signed in, kept by a system administrator
(one day, or a file: all rows or none), a province's own days by its administrator."""

import io

from onestop.models import Centre
from tests.conftest import Api, make_user


def _api(app, username, roles, centre=None):
    with app.app_context():
        return Api(app.test_client(), make_user(username, roles, centre=centre)[1])


def test_the_national_calendar_lists_the_shipped_notices(sqlite_admin_api):
    reply = sqlite_admin_api.get("/calendar/national?year=2026")
    assert reply.status_code == 200
    days = {d["date"]: d for d in reply.json["days"]}
    assert not days["2026-01-02"]["working"] and "12729/VPCP-KGVX" in days["2026-01-02"]["source"]
    assert days["2026-01-10"]["working"] and days["2026-01-10"]["source_date"] == "2025-12-25"
    assert sqlite_admin_api.get("/calendar/national?year=mười").status_code == 422


def test_a_system_administrator_sets_and_drops_a_day_and_every_centre_sees_it(sqlite_app, sqlite_admin_api):
    nation = _api(sqlite_app, "quocgia", ("system_admin",))
    day = {"working": False, "name": "Nghỉ đặc biệt", "source": "Quyết định 9/QĐ-TTg", "source_date": "2030-03-01"}
    assert sqlite_admin_api.put("/calendar/national/2030-03-05", day).status_code == 403  # a centre's admin
    stored = nation.put("/calendar/national/2030-03-05", day)
    assert stored.status_code == 200 and stored.json["source"] == "Quyết định 9/QĐ-TTg"
    seen = sqlite_admin_api.get("/calendar?from=2030-03-05&to=2030-03-05").json["days"][0]
    assert not seen["working"] and seen["source"] == "national" and "9/QĐ-TTg" in seen["why"]
    assert nation.delete("/calendar/national/2030-03-05").status_code == 204
    assert sqlite_admin_api.get("/calendar?from=2030-03-05&to=2030-03-05").json["days"][0]["working"]
    assert nation.put("/calendar/national/2030-03-06", {"working": False}).status_code == 422


def test_an_import_with_a_bad_row_answers_each_row_and_imports_nothing(sqlite_app):
    nation = _api(sqlite_app, "quocgia", ("system_admin",))
    bad = b"date,working,name,source\n2030-03-09,false,A,B\n2030-02-30,false,C,D\n"
    reply = nation.client.post("/api/v1/calendar/national/import", headers=nation._headers(),
                               data={"file": (io.BytesIO(bad), "days.csv")}, content_type="multipart/form-data")
    assert reply.status_code == 422 and reply.json["details"] == [
        {"row": 2, "message": "date must be a date YYYY-MM-DD"}]
    assert nation.get("/calendar/national?year=2030").json["days"] == []
    good = nation.client.post("/api/v1/calendar/national/import", headers=nation._headers(),
                              data={"file": (io.BytesIO(bad.split(b"\n2030-02-30")[0]), "days.csv")},
                              content_type="multipart/form-data")
    assert good.status_code == 200 and good.json == {"added": 1, "updated": 0}


def test_a_province_administrator_keeps_the_provinces_days_only(sqlite_app):
    with sqlite_app.app_context():
        province = Centre.create(code="P22", name="Quảng Ninh", level="province")
        Centre.create(code="P01", name="Hà Nội", level="province")
    keeper = _api(sqlite_app, "tinh", ("province_admin",), centre=province)
    day = {"working": False, "name": "Ngày truyền thống của tỉnh", "source": "Nghị quyết 1/NQ-HĐND"}
    assert keeper.put("/calendar/national/2030-03-05", day).status_code == 403
    assert keeper.put("/calendar/provinces/P01/2030-03-05", day).status_code == 403
    assert keeper.put("/calendar/provinces/P22/2030-03-05", day).status_code == 200
    assert [d["date"] for d in keeper.get("/calendar/provinces/P22").json["days"]] == ["2030-03-05"]
    assert keeper.get("/calendar/provinces/P99").status_code == 404
