"""The per-process caches of rows: a hit costs no query, and a version bumped in the database by
another process empties this process's cache of that kind within STAMP_CHECK_SECONDS."""

import logging
import time

from onestop.db import write_transaction
from onestop.models import CacheVersion, Centre, Unit
from onestop.services import codes, runtime, units


class _Queries(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        self.count += 1


def _queries_of(action):
    logger, handler = logging.getLogger("peewee"), _Queries()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        action()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.count


def _another_process_bumps(kind):
    """What another process's write does: its change and the kind's version, in one transaction,
    without touching this process's memory."""
    with write_transaction():
        CacheVersion.insert(kind=kind, version=1).on_conflict(
            conflict_target=[CacheVersion.kind], update={CacheVersion.version: CacheVersion.version + 1}).execute()


def test_a_thousand_agency_lookups_cost_at_most_one_query_a_second(app):
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        codes.agency_of(centre.id)
        started = time.monotonic()
        queries = _queries_of(lambda: [codes.agency_of(centre.id) for _ in range(1000)])
        assert queries <= 1 + int(time.monotonic() - started) // runtime.STAMP_CHECK_SECONDS


def test_an_agency_code_changed_by_another_process_is_used_after_the_stamp_check(app, monkeypatch):
    monkeypatch.setattr(runtime, "STAMP_CHECK_SECONDS", 0.05)
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        assert codes.agency_of(centre.id) == codes.DEFAULT_AGENCY
        with write_transaction():
            Centre.update(agency_code="H15.50.05.13").where(Centre.id == centre.id).execute()
        _another_process_bumps("agency")
        time.sleep(0.1)
        assert codes.agency_of(centre.id) == "H15.50.05.13"


def test_a_unit_created_by_another_process_is_seen_after_the_stamp_check(app, monkeypatch):
    monkeypatch.setattr(runtime, "STAMP_CHECK_SECONDS", 0.05)
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        assert units.ids(centre.id) == {}
        Unit.create(centre=centre.id, code="TP", name="Tiếp nhận", kind="counter")
        assert units.ids(centre.id) == {}  # cached: no query until the stamp moves
        _another_process_bumps("units")
        time.sleep(0.1)
        assert set(units.ids(centre.id)) == {"TP"}


def test_a_committed_change_bumps_the_stamp_and_a_rolled_back_one_does_not(app):
    def version():
        row = CacheVersion.get_or_none(CacheVersion.kind == "agency")
        return row.version if row else 0

    with app.app_context():
        first = version()
        with write_transaction():
            codes.changed()
        assert version() == first + 1
        try:
            with write_transaction():
                codes.changed()
                raise RuntimeError("the write failed")
        except RuntimeError:
            pass
        assert version() == first + 1


def test_the_first_lookup_after_the_caches_are_forgotten_reads_the_database(app):
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        runtime.forget_caches()
        assert _queries_of(lambda: codes.agency_of(centre.id)) == 2  # the stamps, then the centre's code


def test_a_calendar_changed_by_another_process_is_used_after_the_stamp_check(app, monkeypatch):
    from datetime import date

    from onestop.models import CalendarDay
    from onestop.services import deadlines

    monkeypatch.setattr(runtime, "STAMP_CHECK_SECONDS", 0.05)
    saturday = date(2027, 1, 9)
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        assert not deadlines.calendar_for(centre.id).is_working_day(saturday)
        with write_transaction():
            CalendarDay.create(centre=centre.id, day=saturday, working=True, note="làm bù")
        time.sleep(0.1)
        assert not deadlines.calendar_for(centre.id).is_working_day(saturday)  # no version moved: still cached
        _another_process_bumps("calendars")
        time.sleep(0.1)
        assert deadlines.calendar_for(centre.id).is_working_day(saturday)


def test_a_centre_code_changed_by_another_process_is_used_after_the_stamp_check(app, monkeypatch):
    from onestop.services import centres

    monkeypatch.setattr(runtime, "STAMP_CHECK_SECONDS", 0.05)
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        assert centres.code_of(centre.id) == "default"
        with write_transaction():
            Centre.update(code="renamed").where(Centre.id == centre.id).execute()
        assert centres.code_of(centre.id) == "default"  # cached: no query until the stamp moves
        _another_process_bumps("centres")
        time.sleep(0.1)
        assert centres.code_of(centre.id) == "renamed"
