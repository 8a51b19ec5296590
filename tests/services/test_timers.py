"""BPMN timers fire on their own within seconds of being due, exactly once, also after a restart."""

import threading
import time

from onestop.clock import ShiftedClock
from onestop.models import Dossier, HistoryEntry
from onestop.services import runtime, timer_firing
from tests.conftest import MODELS, _make_app


def _start_timer_dossier(api):
    assert api.upload([MODELS / "timer.bpmn"]).status_code == 201
    dossier = api.post("/dossiers", {"procedure": "reminder"}).json
    assert [w["type"] for w in dossier["waiting"]] == ["timer"]
    assert dossier["waiting"][0]["element_id"] == "Timer_Expired" and dossier["waiting"][0]["due_at"]
    return dossier


def test_a_due_timer_fires_exactly_once_when_many_workers_race_for_it(app, admin_api, clock):
    dossier = _start_timer_dossier(admin_api)
    clock.advance(1.1)
    barrier = threading.Barrier(4)
    moved = []

    def worker():
        barrier.wait()
        with app.app_context():
            moved.append(timer_firing.fire_due_timers())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(moved) == 1, moved
    after = admin_api.get(f"/dossiers/{dossier['code']}").json
    assert [t["element_id"] for t in after["tasks"]] == ["Task_Expired"]
    assert after["waiting"] == []
    with app.app_context():
        fired = HistoryEntry.select().where(HistoryEntry.element_id == "Timer_Expired").count()
        assert fired == 1
        assert Dossier.get(Dossier.code == dossier["code"]).next_timer_at is None
    assert [e["action"] for e in after["events"]].count("timers.fired") == 1


def test_a_timer_not_yet_due_does_not_fire(app, admin_api):
    dossier = _start_timer_dossier(admin_api)
    with app.app_context():
        assert timer_firing.fire_due_timers() == 0
    assert admin_api.get(f"/dossiers/{dossier['code']}").json["tasks"][0]["element_id"] == "Task_Wait"


def test_a_timer_fires_after_a_restart_of_the_server(database_url, tmp_path, engine):
    from tests.conftest import Api, make_user

    first = _make_app(database_url, tmp_path, engine)
    with first.app_context():
        _, token = make_user("admin1", ("admin",))
    dossier = _start_timer_dossier(Api(first.test_client(), token))
    del first  # the server goes away before the timer is due

    # The restarted server's business time is already past the timer's due time (instead of waiting
    # out its real second): its own timer thread, started with the app, must find and fire it.
    later = ShiftedClock()
    later.advance(1.1)
    second = _make_app(database_url, tmp_path, engine, run_timer_thread=True, testing=False, timer_poll_seconds=0.2,
                       clock=later)
    try:
        api = Api(second.test_client(), token)
        deadline = time.time() + 8
        while time.time() < deadline:
            after = api.get(f"/dossiers/{dossier['code']}").json
            if after["tasks"] and after["tasks"][0]["element_id"] == "Task_Expired":
                break
            time.sleep(0.2)
        assert after["tasks"][0]["element_id"] == "Task_Expired"
    finally:
        second.extensions["onestop.timer_stop"].set()
        for thread in threading.enumerate():
            if thread.name in ("onestop-timers", "onestop-connectors"):
                thread.join(timeout=5)


def test_a_separate_worker_process_fires_timers_for_the_web_app(app, admin_api, database_url, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    dossier = _start_timer_dossier(admin_api)
    env = dict(os.environ, ONESTOP_HOME=str(tmp_path / "worker"), ONESTOP_DATABASE_URL=database_url,
               ONESTOP_TIMER_POLL_SECONDS="0.2")
    worker = subprocess.Popen([str(Path(sys.executable).parent / "onestop"), "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            after = admin_api.get(f"/dossiers/{dossier['code']}").json
            if after["tasks"][0]["element_id"] == "Task_Expired":
                break
            time.sleep(0.2)
        assert after["tasks"][0]["element_id"] == "Task_Expired"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0].decode()
    assert "firing due timers" in output and "Traceback" not in output


def test_a_queue_that_cannot_be_reached_does_not_fail_the_step(app, admin_api):
    from onestop import jobs

    # This app's timer queue: one on Redis where nothing listens.
    app.extensions["onestop.runtime"].scheduler = jobs.scheduler(jobs.build("redis://127.0.0.1:1/0"))
    dossier = _start_timer_dossier(admin_api)
    assert dossier["state"] == "active"
    with app.app_context():
        assert Dossier.get(Dossier.code == dossier["code"]).next_timer_at is not None


def test_a_dossier_whose_timers_cannot_be_fired_stops_in_error_and_holds_up_no_other(app, admin_api, clock, caplog):
    broken = _start_timer_dossier(admin_api)
    healthy = admin_api.post("/dossiers", {"procedure": "reminder"}).json
    with app.app_context():
        # A stored state the engine cannot read (the serial moves on, as any write does, so no cached copy is used).
        Dossier.update(workflow='{"not": "a workflow"}', serial=Dossier.serial + 1).where(
            Dossier.code == broken["code"]).execute()
    clock.advance(1.1)
    with app.app_context():
        assert timer_firing.fire_due_timers() == 1  # the healthy one; the broken one came first
        stopped = Dossier.get(Dossier.code == broken["code"])
        assert stopped.state == "error" and "timers could not be fired" in stopped.error_message
        assert stopped.next_timer_at is None
        assert timer_firing.fire_due_timers() == 0  # it is not tried again on every round
    assert [t["element_id"] for t in admin_api.get(f"/dossiers/{healthy['code']}").json["tasks"]] == ["Task_Expired"]
    events = admin_api.get(f"/dossiers/{broken['code']}").json["events"]
    assert events[-1]["action"] == "dossier.error"
    assert "could not be fired" in caplog.text


def test_a_dossier_moved_by_someone_else_while_its_timers_are_fired_is_left_for_the_next_round(
        app, admin_api, clock, caplog, monkeypatch):
    """A completion that commits between the timer worker's read of the dossier and the engine's read
    of its state is a race, not a broken dossier: nothing is logged as an error, the dossier stays
    active, and its timer fires on the next round (found by a traceback in a live server's log)."""
    dossier = _start_timer_dossier(admin_api)
    clock.advance(1.1)
    real_model_for = timer_firing.model_for

    def moved_meanwhile(version):
        monkeypatch.setattr(timer_firing, "model_for", real_model_for)  # once
        Dossier.update(serial=Dossier.serial + 1).where(Dossier.code == dossier["code"]).execute()
        return real_model_for(version)

    with app.app_context():
        runtime.engine().forget([Dossier.get(Dossier.code == dossier["code"]).id])  # its state is read, not kept
        monkeypatch.setattr(timer_firing, "model_for", moved_meanwhile)
        assert timer_firing.fire_due_timers() == 0
        assert Dossier.get(Dossier.code == dossier["code"]).state == "active"
        assert "ERROR" not in [record.levelname for record in caplog.records], caplog.text
        assert timer_firing.fire_due_timers() == 1  # the next round fires it
    assert [t["element_id"] for t in admin_api.get(f"/dossiers/{dossier['code']}").json["tasks"]] == ["Task_Expired"]


def test_a_background_round_keeps_sqlites_connection_for_the_next_and_gives_postgresqls_back_to_the_pool(app):
    """Opening a SQLite connection runs its pragmas: the timer, connector and portal threads poll every second,
    and reopening it each round cost about half of an idle round's CPU."""
    from peewee import SqliteDatabase

    from onestop import timers
    from onestop.db import database

    with app.app_context():
        opened = []
        for round_ in (timers.run_once, timers.run_connector_calls, timers.run_portal_sync, timers.run_once):
            round_()
            opened.append(None if database.is_closed() else database.connection())
        if isinstance(database.obj, SqliteDatabase):
            assert opened[0] is not None and all(conn is opened[0] for conn in opened)
        else:
            assert opened == [None] * 4
