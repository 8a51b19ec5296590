"""A centre's working calendar through the API: read by anyone of the centre, changed by its
administrators, and what a change does to deadlines."""

from datetime import date, datetime

from onestop.services import deadlines
from onestop.workdays import Deadline, to_local, to_utc
from tests.conftest import Api, make_user


def _days(api, start, end):
    reply = api.get(f"/calendar?from={start}&to={end}")
    assert reply.status_code == 200, reply.json
    return {d["date"]: d for d in reply.json["days"]}


def test_the_calendar_says_which_days_are_off_and_why(sqlite_admin_api):
    days = _days(sqlite_admin_api, "2027-02-03", "2027-02-12")  # Tết Đinh Mùi: 4 to 10 February 2027
    assert not days["2027-02-06"]["working"] and days["2027-02-06"]["source"] == "national"
    assert days["2027-02-06"]["why"] == "Tết Nguyên Đán"  # the holiday's name, in Vietnamese
    assert days["2027-02-03"]["working"] and days["2027-02-03"]["why"] == ""
    assert days["2027-02-11"]["working"] and not days["2027-02-10"]["working"]
    reply = sqlite_admin_api.get("/calendar?from=2027-02-03&to=2027-02-03").json
    assert reply["office_hours"] == [["07:30", "11:30"], ["13:30", "17:00"]] and reply["cutoff"] == "15:00"


def test_an_administrator_adds_a_working_saturday_and_an_extra_closure_and_deadlines_follow(sqlite_app, sqlite_admin_api):
    saturday, friday = "2026-12-05", "2026-12-04"
    assert not _days(sqlite_admin_api, saturday, saturday)[saturday]["working"]
    worked = sqlite_admin_api.put(f"/calendar/days/{saturday}", {"working": True, "note": "Làm bù ngày 2/1"})
    assert worked.status_code == 200
    closed = sqlite_admin_api.put(f"/calendar/days/{friday}", {"working": False, "note": "Sáp nhập trụ sở"})
    assert closed.status_code == 200
    days = _days(sqlite_admin_api, friday, saturday)
    assert days[saturday] == {"date": saturday, "working": True, "source": "centre", "why": "Làm bù ngày 2/1"}
    assert days[friday]["working"] is False and days[friday]["why"] == "Sáp nhập trụ sở"
    with sqlite_app.app_context():
        from onestop.models import Centre

        centre = Centre.select().first()
        plan = deadlines.Plan(Deadline(1))
        received = to_utc(datetime(2026, 12, 3, 9, 0))  # Thursday morning: one working day is Saturday now
        assert to_local(deadlines.dossier_due(centre.id, plan, received)).date() == date(2026, 12, 5)
    assert sqlite_admin_api.delete(f"/calendar/days/{saturday}").status_code == 204
    assert _days(sqlite_admin_api, saturday, saturday)[saturday] | {"why": ""} == {
        "date": saturday, "working": False, "source": "national", "why": ""}


def test_office_hours_and_the_cut_off_are_set_by_an_administrator_and_checked(sqlite_admin_api):
    changed = sqlite_admin_api.put("/calendar/hours", {"office_hours": [["08:00", "12:00"], ["13:00", "17:00"]],
                                                       "cutoff": "16:00"})
    assert changed.status_code == 200 and changed.json["cutoff"] == "16:00"
    assert changed.json["office_hours"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    for bad in ({"office_hours": [["12:00", "08:00"]]}, {"office_hours": "all day"}, {"office_hours": [["8", "x"]]},
                {}):
        reply = sqlite_admin_api.put("/calendar/hours", bad)
        assert reply.status_code == 422 and "office hours" in reply.json["message"], bad


def test_only_administrators_change_the_calendar_and_bad_dates_are_refused(sqlite_app, sqlite_admin_api):
    with sqlite_app.app_context():
        _, token = make_user("officer9", ("officer",))
    officer = Api(sqlite_app.test_client(), token)
    assert officer.get("/calendar").status_code == 200
    assert officer.put("/calendar/days/2026-12-05", {"working": True}).status_code == 403
    assert officer.delete("/calendar/days/2026-12-05").status_code == 403
    assert sqlite_admin_api.put("/calendar/days/05-12-2026", {"working": True}).status_code == 422
    assert sqlite_admin_api.put("/calendar/days/2026-12-05", {"working": "yes"}).status_code == 422
    assert sqlite_admin_api.get("/calendar?from=2026-01-01&to=2028-01-01").status_code == 422
    assert sqlite_admin_api.get("/calendar?from=2026-02-30").status_code == 422
