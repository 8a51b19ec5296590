"""The kept figures stay exact when many units of work add to one key at once, and on PostgreSQL a
unit that has written its figures but not yet committed does not hold back the next one's."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest

from onestop import db, sql
from onestop.models import Centre, Procedure, User, utcnow
from onestop.services import stats
from onestop.services.stats import counters
from onestop.services.stats.scope import local_day, next_month
from tests.conftest import MODELS
from tests.support.threads import held_back

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
LANE = "Một cửa"


def _scope(app, admin_api):
    assert admin_api.upload([MODELS / "review.bpmn", MODELS / "receive-schema.json"]).status_code == 201
    with app.app_context():
        centre = Centre.get(Centre.code == "default")
        procedure = Procedure.get(Procedure.code == "review")
        actor = User.get(User.username == "admin1")
        # A dossier of no stored history (id 0): its figures are what this test adds, nothing else.
        return SimpleNamespace(id=0, received_by_id=None, centre_id=centre.id, procedure_id=procedure.id), actor.id


def _step(dossier, actor_id, n: int):
    """One unit's figures: a dossier received online, a step of the unit done (every other one late)
    and a rating given."""
    at = utcnow()
    counters.count(dossier.centre_id, dossier.procedure_id, at, received=1, online=1)
    counters.count_steps(dossier, [("Task_check", "Kiểm tra", LANE, at - timedelta(minutes=30), at,
                                    at - timedelta(minutes=1) if n % 2 else None, actor_id)])
    counters.count_rating(dossier, "hai_long", at)


def _unit(app, work):
    with app.app_context():
        db.run_write(work)


def test_eighty_units_of_eight_threads_at_once_add_up_to_exactly_eighty_on_every_figure(app, admin_api):
    dossier, actor_id = _scope(app, admin_api)
    start = threading.Barrier(8)
    errors = []

    def writer(w):
        try:
            start.wait(30)
            for n in range(10):
                _unit(app, lambda n=n: _step(dossier, actor_id, w * 10 + n))
        except Exception as exc:  # reported below: a thread's exception would pass unnoticed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with app.app_context():
        day = local_day(utcnow())
        _expect_eighty(dossier, day)
        rows = _rows()
        if counters.shards() > 1:  # the threads' counts went to several rows of each key, read back as one
            assert all(1 < n <= 8 for n in rows.values()), rows
        else:
            assert rows == dict.fromkeys(rows, 1)
        # Folded as if a month had passed: one row per key again, every figure the same.
        others = sum(_rows('WHERE "shard" <> 0').values())
        assert counters.fold(next_month(day.replace(day=1))) == others
        assert _rows() == dict.fromkeys(rows, 1)
        _expect_eighty(dossier, day)


def _rows(where="") -> dict:
    return {table: sql.run(f'SELECT COUNT(*) FROM "{table}" {where}').fetchone()[0]
            for table in ("dayfigure", "dayunit", "daystep", "monthstep")}


def _expect_eighty(dossier, day):
    """Every figure of the 80 units, read back over the day (days) and over its month (months)."""
    month = day.replace(day=1)
    public = stats.figures([dossier.centre_id], day, day + timedelta(days=1), [dossier.procedure_id])
    assert (public.received, public.online, public.ratings["hai_long"]) == (80, 80, 80)
    assert [(u["name"], u["done"], u["late"], u["ratings"]["hai_long"]) for u in public.units] == [
        (LANE, 80, 40, 0)]  # the rating went to no unit: the dossier had no completed step stored
    for start_day, end_day in ((day, day + timedelta(days=1)), (month, next_month(month))):
        detail = stats.figures([dossier.centre_id], start_day, end_day, [dossier.procedure_id], detail=True)
        assert [(s["element"], s["done"], s["late"], s["rework"]) for s in detail.steps] == [
            ("Task_check", 80, 40, 0)]
        assert [(o["done"], o["late"]) for o in detail.officials] == [(80, 40)]


@ON_POSTGRESQL
def test_a_unit_paused_after_writing_its_figures_does_not_hold_back_the_next_one_of_the_same_day_and_unit(
        app, admin_api):
    dossier, actor_id = _scope(app, admin_api)
    holding, release = threading.Event(), threading.Event()

    def hold():  # runs after the figures' writes (a later rank): they have run when it reads
        sql.run("SELECT 1").fetchone()
        holding.set()
        release.wait(60)

    def first_unit():
        _step(dossier, actor_id, 1)
        db.defer((db.LOCK_AUDIT, 0), hold)

    first = threading.Thread(target=_unit, args=(app, first_unit))
    second = threading.Thread(target=_unit, args=(app, lambda: _step(dossier, actor_id, 2)))
    assert not held_back(first, second, holding, release)  # it did not wait for the first one's commit
    with app.app_context():
        day = local_day(utcnow())
        figures = stats.figures([dossier.centre_id], day, day + timedelta(days=1), [dossier.procedure_id])
        assert (figures.received, figures.units[0]["done"], figures.units[0]["late"]) == (2, 2, 1)


def test_a_units_figures_go_in_the_lock_order_in_one_statement_on_postgresql_until_a_row_comes_again(
        app, admin_api, monkeypatch):
    """A unit's figure rows are written by table, then by key: on SQLite one upsert each, on PostgreSQL
    as few statements as one statement changing a row once allows (the day's figure row, added to
    twice by a received dossier and its rating, starts a second one). The figures add up alike."""
    dossier, actor_id = _scope(app, admin_api)
    sent = []
    run = sql.run
    monkeypatch.setattr(sql, "run", lambda text, params=(): sent.append(text) or run(text, params))
    _unit(app, lambda: _step(dossier, actor_id, 1))
    tables = [[t for t in ("dayfigure", "dayunit", "daystep", "monthstep", "dayrating") if f'"{t}" (' in text]
              for text in sent if "ON CONFLICT" in text]
    with app.app_context():
        if counters.shards() > 1:
            assert tables == [["dayfigure"], ["dayfigure", "dayunit", "daystep", "monthstep"]]
            assert [sent[-1].index(f'"{t}" (') for t in tables[1]] == sorted(sent[-1].index(f'"{t}" (') for t in tables[1])
        else:
            assert tables == [["dayfigure"], ["dayfigure"], ["dayunit"], ["daystep"], ["monthstep"]]
        day = local_day(utcnow())
        figures = stats.figures([dossier.centre_id], day, day + timedelta(days=1), [dossier.procedure_id])
        assert (figures.received, figures.ratings["hai_long"], figures.units[0]["done"]) == (1, 1, 1)


@ON_POSTGRESQL
def test_a_statement_of_a_units_figures_takes_their_rows_in_the_lock_order(app, admin_api, database_url):
    """Within the one statement of a unit's figures the rows are locked table after table as before: while
    another transaction holds the unit's month row, the unit has taken its day rows and waits there."""
    import psycopg2
    import psycopg2.errors

    dossier, actor_id = _scope(app, admin_api)
    url = database_url
    done = threading.Event()
    go = threading.Event()
    errors = []

    def writer():  # one thread: its units add to the same shard of each key
        try:
            _unit(app, lambda: _step(dossier, actor_id, 1))  # the rows exist from here on
            done.set()
            assert go.wait(60)
            _unit(app, lambda: _step(dossier, actor_id, 2))
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    assert done.wait(60)
    blocker = psycopg2.connect(url)
    watcher = psycopg2.connect(url)
    try:
        blocker.cursor().execute('SELECT 1 FROM "monthstep" FOR UPDATE')
        go.set()
        pause = threading.Event()  # (never set: a sleep)
        held = None
        for _ in range(400):  # until the unit waits for the month's row
            cursor = watcher.cursor()
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                held = {}
                for table in ("dayunit", "daystep"):
                    try:
                        cursor.execute(f'SELECT 1 FROM "{table}" FOR UPDATE NOWAIT')
                        held[table] = False
                    except psycopg2.errors.LockNotAvailable:
                        held[table] = True
                    watcher.rollback()
                break
            watcher.rollback()
            pause.wait(0.05)
        assert held == {"dayunit": True, "daystep": True}, held
    finally:
        blocker.rollback()
        blocker.close()
        watcher.close()
        go.set()
        thread.join(60)
    assert errors == []
    with app.app_context():
        day = local_day(utcnow())
        figures = stats.figures([dossier.centre_id], day, day + timedelta(days=1), [dossier.procedure_id])
        assert (figures.received, figures.units[0]["done"], figures.units[0]["late"]) == (2, 2, 1)
