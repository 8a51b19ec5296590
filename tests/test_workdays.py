"""Working time: the cases an officer computes by hand, and properties of the arithmetic."""

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onestop.workdays import Calendar, Deadline, national_day_off

CAL = Calendar()
DAYS = lambda n: Deadline(n, "working_days")  # noqa: E731
HOURS = lambda n: Deadline(n, "working_hours")  # noqa: E731

# (received, processing time, due, why) — as an officer at the counter would work it out.
CASES = [
    (datetime(2026, 12, 7, 9, 0), DAYS(3), datetime(2026, 12, 10, 9, 0),
     "Monday morning + 3 working days: Thursday at the same hour"),
    (datetime(2026, 12, 11, 10, 0), DAYS(1), datetime(2026, 12, 14, 10, 0),
     "Friday + 1 working day skips the weekend"),
    (datetime(2026, 12, 7, 15, 30), DAYS(0), datetime(2026, 12, 8, 17, 0),
     "decided on the spot but received after 15:00: by the close of the next working day"),
    (datetime(2026, 12, 7, 14, 59), DAYS(0), datetime(2026, 12, 7, 17, 0),
     "decided on the spot, received before 15:00: by the close of the same day"),
    (datetime(2026, 12, 7, 15, 0), DAYS(1), datetime(2026, 12, 8, 15, 0),
     "received at 15:00 sharp: not after 15 giờ (NĐ 23/2015 Điều 7), the clock runs from then"),
    (datetime(2026, 12, 7, 15, 0, 1), DAYS(1), datetime(2026, 12, 8, 17, 0),
     "received at 15:00:01: after the cut-off, the clock starts Tuesday's opening"),
    (datetime(2026, 12, 5, 9, 0), DAYS(1), datetime(2026, 12, 7, 17, 0),
     "received on a Saturday: the clock starts Monday's opening"),
    (datetime(2026, 2, 13, 16, 0), DAYS(3), datetime(2026, 2, 25, 17, 0),
     "the Friday afternoon before Tết 2026 (16-20 Feb off): the clock starts Monday 23 Feb, 3 days end Wed 25"),
    (datetime(2026, 2, 13, 10, 0), DAYS(5), datetime(2026, 2, 27, 10, 0),
     "the Friday morning before Tết + 5 working days: 23, 24, 25, 26 and 27 Feb"),
    (datetime(2026, 8, 21, 10, 0), DAYS(1), datetime(2026, 8, 22, 10, 0),
     "Saturday 22 Aug 2026 is worked, in exchange for Monday 31 Aug"),
    (datetime(2026, 8, 28, 10, 0), DAYS(1), datetime(2026, 9, 3, 10, 0),
     "Friday 28 Aug + 1: 31 Aug (exchanged) and 1-2 Sep (National Day) are off"),
    (datetime(2026, 11, 23, 10, 0), DAYS(1), datetime(2026, 11, 25, 10, 0),
     "24 Nov, Vietnam Culture Day, is a day off from 2026"),
    (datetime(2026, 12, 7, 9, 0), HOURS(4), datetime(2026, 12, 7, 15, 0),
     "4 working hours from 9:00: 2.5 h before the lunch break, 1.5 h after 13:30"),
]


@pytest.mark.parametrize(("received", "deadline", "due", "why"), CASES, ids=[c[3][:70] for c in CASES])
def test_the_due_instant_is_what_an_officer_computes(received, deadline, due, why):
    assert CAL.due(received, deadline) == due, why


def test_tet_and_the_substituted_days_come_from_the_national_calendar():
    assert national_day_off(date(2026, 2, 17)) and not CAL.is_working_day(date(2026, 2, 17))
    assert CAL.is_working_day(date(2026, 8, 22)) and not CAL.is_working_day(date(2026, 8, 31))


def test_a_centres_own_closures_and_working_days_override_the_nation():
    cal = Calendar(days_off=frozenset({date(2026, 12, 9)}), days_on=frozenset({date(2026, 12, 12)}))
    assert cal.due(datetime(2026, 12, 8, 10, 0), DAYS(1)) == datetime(2026, 12, 10, 10, 0)
    assert cal.due(datetime(2026, 12, 11, 10, 0), DAYS(1)) == datetime(2026, 12, 12, 10, 0)


def test_a_pause_moves_the_deadline_by_the_office_time_waited():
    due = CAL.due(datetime(2026, 12, 7, 9, 0), DAYS(3))  # Thu 10 Dec 09:00
    # paused Tuesday 10:00, the citizen supplements Friday 10:00: 3 working days waited
    assert CAL.extended(due, datetime(2026, 12, 8, 10, 0), datetime(2026, 12, 11, 10, 0)) == \
        datetime(2026, 12, 15, 9, 0)


def test_office_hours_are_validated():
    with pytest.raises(ValueError):
        Calendar(periods=((time(13, 0), time(12, 0)),))
    with pytest.raises(ValueError):
        Deadline(-1)


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31))
amounts = st.timedeltas(min_value=timedelta(), max_value=timedelta(days=40))
deadlines = st.one_of(st.integers(0, 60).map(DAYS), st.integers(0, 200).map(HOURS))


@settings(max_examples=300, deadline=None)
@given(instants, instants, deadlines)
def test_a_later_receipt_is_never_due_earlier(a, b, deadline):
    first, second = sorted((a, b))
    assert CAL.due(first, deadline) <= CAL.due(second, deadline)


@settings(max_examples=300, deadline=None)
@given(instants, deadlines)
def test_a_due_instant_never_falls_on_a_day_off_or_outside_office_hours(received, deadline):
    due = CAL.due(received, deadline)
    assert CAL.is_working_day(due.date())
    assert any(datetime.combine(due.date(), a) <= due <= datetime.combine(due.date(), b) for a, b in CAL.periods)


@settings(max_examples=300, deadline=None)
@given(instants, amounts, amounts)
def test_adding_office_time_in_two_pieces_is_adding_it_at_once(start, x, y):
    assert CAL.add(CAL.add(start, x), y) == CAL.add(start, x + y)


@settings(max_examples=200, deadline=None)
@given(instants, instants, instants, instants, deadlines)
def test_two_pauses_move_the_deadline_as_much_as_their_sum(received, p1, p2, p3, deadline):
    due = CAL.due(received, deadline)
    a, b, c = sorted((p1, p2, p3))
    twice = CAL.extended(CAL.extended(due, a, b), b, c)
    assert twice == CAL.extended(due, a, c)


@settings(max_examples=200, deadline=None)
@given(instants, amounts)
def test_the_office_time_between_a_start_and_what_adding_gives_is_what_was_added(start, amount):
    begin = CAL.clock_start(start)
    assert CAL.office_time(begin, CAL.add(begin, amount)) == amount


NEW_YEAR_2026 = Calendar(official={date(2026, 1, 2): False, date(2026, 1, 10): True})


def test_an_official_day_decides_before_the_holidays_package_and_a_centres_exception_before_both():
    assert CAL.is_working_day(date(2026, 1, 2))  # the package alone misses the swap
    assert not NEW_YEAR_2026.is_working_day(date(2026, 1, 2)) and NEW_YEAR_2026.is_working_day(date(2026, 1, 10))
    assert not NEW_YEAR_2026.is_working_day(date(2026, 1, 1))  # silent official data: the package decides
    opened = Calendar(days_on=frozenset({date(2026, 1, 2)}), official=NEW_YEAR_2026.official)
    assert opened.is_working_day(date(2026, 1, 2))


@pytest.mark.parametrize(("received", "days", "due"), [
    (datetime(2026, 3, 2, 10, 0), 15, datetime(2026, 3, 17, 17, 0)),   # ends on a Tuesday
    (datetime(2026, 3, 6, 10, 0), 15, datetime(2026, 3, 23, 17, 0)),   # ends Saturday 21: Monday's close
    (datetime(2026, 3, 2, 15, 0, 1), 1, datetime(2026, 3, 4, 17, 0)),  # after the cut-off: counted from Tuesday
])
def test_calendar_days_end_at_the_close_of_the_last_day_or_of_the_next_working_day(received, days, due):
    assert CAL.due(received, Deadline(days, "calendar_days")) == due


def test_calendar_days_are_whole_days():
    with pytest.raises(ValueError):
        Deadline(1.5, "calendar_days")
