"""The counter floor's queue on real SQLite and PostgreSQL: numbers per group and day, never shared
by two kiosks at once; priority tickets called first; bookings within the centre's hours and
capacity; counters calling, recalling, skipping and serving; the screen's version moving with each
call; the figures of the waits."""

import threading
from datetime import datetime, time, timedelta

import pytest

from onestop.models import Centre, QueueTicket, local_today
from onestop.services import deadlines, queue, stats
from onestop.services.errors import Conflict, Invalid, NotFound
from onestop.workdays import to_local
from tests.conftest import clear_of_midnight, make_user


def _open_floor(groups=(("A", "Hộ tịch", 0), ("B", "Đất đai", 2)), counters=(("1", "AB"), ("2", "A"))):
    """The default centre open all day today and tomorrow, with its groups and counters; (admin, {letter: group})."""
    admin = make_user("quantri", ("admin",))[0]
    deadlines.set_office_hours(admin, [("00:00", "23:59")], None)
    for day in (local_today(), local_today() + timedelta(days=1)):
        deadlines.set_day(admin, day, True, "test: open")
    made = {letter: queue.save_group(admin, letter, name, slot_minutes=60, slot_capacity=capacity)
            for letter, name, capacity in groups}
    for number, letters in counters:
        queue.save_counter(admin, number, f"Quầy {number}", [made[x].id for x in letters])
    return admin, made


def _counter(number):
    return next(c for c in queue.counters(Centre.default().id) if c.number == number)


def test_numbers_carry_the_groups_letter_and_count_up_per_group(app):
    with app.app_context():
        _, groups = _open_floor()
        labels = [queue.issue("default", groups[x].id).label for x in "AABA"]
        assert labels == ["A001", "A002", "B001", "A003"]


def test_two_kiosks_at_once_never_get_the_same_number(app):
    with app.app_context():
        _, groups = _open_floor()
        group_id = groups["A"].id
    labels, errors, start = [], [], threading.Barrier(8)

    def kiosk():
        try:
            with app.app_context():
                start.wait()
                for _ in range(5):
                    labels.append(queue.issue("default", group_id).label)
        except Exception as exc:  # noqa: BLE001 (collected and shown by the assertion)
            errors.append(repr(exc))

    threads = [threading.Thread(target=kiosk) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(labels) == [f"A{n:03d}" for n in range(1, 41)]


def test_a_centre_not_working_today_gives_no_number(app):
    with app.app_context():
        admin, groups = _open_floor()
        deadlines.set_day(admin, local_today(), False, "closed for the test")
        with pytest.raises(Conflict):
            queue.issue("default", groups["A"].id)


def test_an_unknown_group_or_priority_is_refused(app):
    with app.app_context():
        _, groups = _open_floor()
        with pytest.raises(NotFound):
            queue.issue("default", 999_999)
        with pytest.raises(Invalid):
            queue.issue("default", groups["A"].id, priority="vip")


def test_priority_tickets_are_called_before_ordinary_ones_then_in_order(app):
    with app.app_context():
        admin, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        first = queue.issue("default", groups["A"].id)
        second = queue.issue("default", groups["A"].id)
        elderly = queue.issue("default", groups["A"].id, priority="elderly")
        assert queue.ticket_status(second.token)["ahead"] == 2  # the elderly person is ahead of them
        assert queue.ticket_status(elderly.token)["ahead"] == 0
        counter = _counter("2")
        queue.open_counter(officer, counter.id)
        called = [queue.call_next(officer, counter.id).label for _ in range(3)]
        assert called == [elderly.label, first.label, second.label]
        assert queue.call_next(officer, counter.id) is None


def test_two_counters_calling_at_once_never_call_the_same_person(app):
    with app.app_context():
        _, groups = _open_floor()
        officers = [make_user(f"canbo{i}", ("officer",))[0] for i in (1, 2)]
        for _ in range(6):
            queue.issue("default", groups["A"].id)
        counters = [_counter("1"), _counter("2")]
        for officer, counter in zip(officers, counters, strict=True):
            queue.open_counter(officer, counter.id)
    called, start = [], threading.Barrier(2)

    def desk(officer, counter):
        with app.app_context():
            start.wait()
            for _ in range(3):
                called.append(queue.call_next(officer, counter.id).label)

    threads = [threading.Thread(target=desk, args=pair) for pair in zip(officers, counters, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(called) == [f"A{n:03d}" for n in range(1, 7)]


def test_a_skipped_no_show_is_called_again_later_and_each_call_moves_the_screen(app):
    with app.app_context():
        _, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        ticket = queue.issue("default", groups["A"].id)
        counter = _counter("1")
        queue.open_counter(officer, counter.id)
        before = queue.board_version(Centre.default().id)
        queue.call_next(officer, counter.id)
        queue.recall(officer, counter.id)
        assert queue.skip(officer, counter.id).state == "skipped"
        assert [t.label for t in queue.counter_page(officer, counter.id)["skipped"]] == [ticket.label]
        again = queue.call_ticket(officer, counter.id, ticket.id)
        assert (again.state, again.calls) == ("called", 3)
        assert queue.board_version(Centre.default().id) == before + 3  # call, recall, call again
        shown = queue.screen("default")
        assert shown["calls"][0] | {"at": None} == {"id": ticket.id, "label": "A001", "counter": "1", "calls": 3,
                                                     "at": None}
        assert queue.ticket_status(ticket.token)["counter"] == "1"


def test_an_officer_needs_the_counter_open_in_their_name_and_a_colleague_cannot_take_it(app):
    with app.app_context():
        _open_floor()
        one, two = (make_user(f"canbo{i}", ("officer",))[0] for i in (1, 2))
        counter = _counter("1")
        with pytest.raises(Conflict):
            queue.call_next(one, counter.id)
        queue.open_counter(one, counter.id)
        with pytest.raises(Conflict):
            queue.open_counter(two, counter.id)


def test_another_centres_officer_finds_neither_the_counter_nor_the_ticket(app):
    with app.app_context():
        _, groups = _open_floor()
        other = Centre.create(code="khac", name="Trung tâm khác")
        stranger = make_user("nguoila", ("officer",), centre=other)[0]
        ticket = queue.issue("default", groups["A"].id)
        with pytest.raises(NotFound):
            queue.open_counter(stranger, _counter("1").id)
        with pytest.raises(NotFound):
            queue.attach_dossier(stranger, ticket.id, "anything")


def test_serving_then_the_next_call_finishes_the_ticket_and_the_figures_count_its_wait(app, clock):
    clear_of_midnight(clock, 20)
    with app.app_context():
        _, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        first = queue.issue("default", groups["A"].id)
        queue.issue("default", groups["A"].id)
        counter = _counter("1")
        queue.open_counter(officer, counter.id)
        clock.advance(600)
        queue.call_next(officer, counter.id)
        assert queue.serve(officer, counter.id).state == "serving"
        clock.advance(300)
        queue.call_next(officer, counter.id)
        done = QueueTicket.get_by_id(first.id)
        assert done.state == "done" and done.finished_at > done.served_at
        figures = stats.queue_report(officer, local_today(), local_today() + timedelta(days=1))
        assert figures["total"]["tickets"] == 2 and figures["total"]["served"] == 1
        assert 9.9 <= figures["total"]["longest_wait_minutes"] <= 15.5
        assert figures["total"]["average_service_minutes"] == pytest.approx(5, abs=0.2)
        assert [line["name"] for line in figures["counters"]] == ["1"]
        assert figures["total"]["tickets_per_hour"] == 1


def test_the_wait_is_estimated_from_the_groups_recent_services(app, clock):
    clear_of_midnight(clock, 5)
    with app.app_context():
        _, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        counter = _counter("2")
        queue.open_counter(officer, counter.id)
        queue.issue("default", groups["A"].id)
        queue.call_next(officer, counter.id)
        queue.serve(officer, counter.id)
        clock.advance(120)
        queue.finish(officer, counter.id)
        tickets = [queue.issue("default", groups["A"].id) for _ in range(4)]
        status = queue.ticket_status(tickets[-1].token)
        assert status["ahead"] == 3 and status["wait_minutes"] == 6  # three people of two minutes, one counter open


def test_a_slot_is_booked_up_to_its_capacity_and_numbered_in_its_days_line(app):
    with app.app_context():
        _, groups = _open_floor()
        tomorrow = local_today() + timedelta(days=1)
        free = queue.slots("default", groups["B"].id, tomorrow)
        assert free[0]["start"] == datetime.combine(tomorrow, time(0, 0)) and free[0]["free"] == 2
        start = free[3]["start"]
        tickets = [queue.book("default", groups["B"].id, start) for _ in range(2)]
        assert [t.label for t in tickets] == ["B001", "B002"] and tickets[0].day == tomorrow
        with pytest.raises(Conflict):
            queue.book("default", groups["B"].id, start)
        assert queue.slots("default", groups["B"].id, tomorrow)[3]["free"] == 0
        assert queue.ticket_status(tickets[0].token)["booked_for"] == start
        with pytest.raises(Invalid):  # a group without booking, or a time that is no slot
            queue.book("default", groups["A"].id, start)
        with pytest.raises(Invalid):
            queue.book("default", groups["B"].id, start + timedelta(minutes=7))


def test_the_last_place_of_a_slot_goes_to_one_of_two_bookings_at_once(app):
    with app.app_context():
        _, groups = _open_floor(groups=(("C", "Chứng thực", 1),), counters=(("1", "C"),))
        group_id = groups["C"].id
        start = queue.slots("default", group_id, local_today() + timedelta(days=1))[5]["start"]
    outcomes, go = [], threading.Barrier(4)

    def book():
        with app.app_context():
            go.wait()
            try:
                outcomes.append(queue.book("default", group_id, start).label)
            except Conflict:
                outcomes.append("full")

    threads = [threading.Thread(target=book) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["C001", "full", "full", "full"]


def test_a_booked_ticket_is_not_called_before_its_slot(app):
    with app.app_context():
        _, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        later = next(s for s in queue.slots("default", groups["B"].id, local_today() + timedelta(days=1)))
        queue.book("default", groups["B"].id, later["start"])
        queue.open_counter(officer, _counter("1").id)
        assert queue.call_next(officer, _counter("1").id) is None
        assert to_local(datetime(2026, 1, 1)).year == 2026


def test_numbers_start_again_at_one_the_next_working_day(app, clock):
    with app.app_context():
        admin, groups = _open_floor()
        assert [queue.issue("default", groups["A"].id).label for _ in range(2)] == ["A001", "A002"]
        clock.advance(24 * 3600)
        deadlines.set_day(admin, local_today(), True, "test: open")
        assert queue.issue("default", groups["A"].id).label == "A001"


def test_every_call_is_an_audit_event_on_the_centres_chain_and_the_chain_still_verifies(app):
    from onestop.models import AuditEvent
    from onestop.services import audit

    with app.app_context():
        _, groups = _open_floor()
        officer = make_user("canbo1", ("officer",))[0]
        queue.issue("default", groups["A"].id)
        counter = _counter("1")
        queue.open_counter(officer, counter.id)
        queue.call_next(officer, counter.id)
        queue.recall(officer, counter.id)
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.actor == officer.id).order_by(AuditEvent.id)]
        assert actions == ["queue.counter_opened", "queue.called", "queue.recalled"]
        assert audit.verify().broken is None
