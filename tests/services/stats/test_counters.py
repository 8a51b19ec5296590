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
