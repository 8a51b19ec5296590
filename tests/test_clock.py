"""One clock: what the app factory binds is the business time of services, pages and stored rows."""

from datetime import UTC, datetime, timedelta

from onestop import clock as clocks
from onestop.clock import Clock, ShiftedClock
from onestop.models import local_today, utcnow
from tests.conftest import MODELS


def test_today_is_vietnams_calendar_day_whatever_the_time_in_greenwich():
    real = Clock().now()
    evening_in_greenwich = datetime.combine(real.date() + timedelta(days=1), datetime.min.time()) + timedelta(hours=18)
    clock = ShiftedClock(evening_in_greenwich - real)
    assert clock.now().date() == evening_in_greenwich.date()
    assert clock.today() == evening_in_greenwich.date() + timedelta(days=1)  # 01:00 the next morning at UTC+7


def test_a_library_stamp_is_read_on_the_same_clock():
    clock = ShiftedClock(timedelta(days=2))
    stamp = datetime.now(UTC).timestamp()
    assert abs(clock.at(stamp) - clock.now()) < timedelta(seconds=1)


def test_the_models_clock_follows_the_clock_the_app_factory_binds(app, clock):
    assert clocks.current() is clock
    before = local_today()
    clock.advance(2 * 86_400)
    assert local_today() == before + timedelta(days=2) == clock.today()
    assert abs(utcnow() - clock.now()) < timedelta(seconds=1)


def test_pages_and_stored_rows_take_their_time_from_the_bound_clock(app, clock, admin_api):
    clock.advance(40 * 86_400)
    month = admin_api.client.get("/api/v1/stats/provinces").json
    assert month["from"] == clock.today().replace(day=1).isoformat()
    assert admin_api.upload([MODELS / "timer.bpmn"]).status_code == 201
    code = admin_api.post("/dossiers", {"procedure": "reminder"}).json["code"]
    dossier = admin_api.get(f"/dossiers/{code}").json
    received = datetime.fromisoformat(dossier["received_at"].removesuffix("Z"))
    assert abs(received.replace(tzinfo=None) - clock.now()) < timedelta(minutes=1)
    due = datetime.fromisoformat(dossier["waiting"][0]["due_at"].removesuffix("Z"))
    assert abs(due.replace(tzinfo=None) - clock.now()) < timedelta(minutes=1)  # the timer's 1 s, on the same clock
