"""The production queue (huey on a real Redis): a step that leaves a connector call pending puts a
`connector_calls` job on the queue once it has committed, and the job makes the call; the periodic
`national_portal_sync` job sends the national portal the status changes that are due."""

from onestop.models import Dossier, User
from onestop.services import connectors, runtime
from tests.conftest import _make_app, make_user
from tests.services.test_connectors import tax_model
from tests.support.redis import redis_url_or_skip
from tests.support.tax_office import TaxOffice


def test_a_pending_connector_call_is_put_on_the_queue_after_its_step_and_the_job_makes_it(
        sqlite_url, tmp_path, engine, clock):
    app = _make_app(sqlite_url, tmp_path, engine, redis_url=redis_url_or_skip(), clock=clock)
    huey = app.extensions["onestop.runtime"].queue
    huey.flush()
    with app.app_context():
        admin, token = make_user("admin1", ("admin",))
    api, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    with TaxOffice() as office:
        with app.app_context():
            connectors.save_settings(User.get_by_id(admin.id), "127.0.0.1", "")
            connectors.save_secret(User.get_by_id(admin.id), "tax_token", "queue-secret")
        import io

        name, content = tax_model(f"'{office.url}/taxpayers/' + tax_code")
        assert api.post("/api/v1/procedures", data={"files": [(io.BytesIO(content), name)]}, headers=headers,
                        content_type="multipart/form-data").status_code == 201
        code = api.post("/api/v1/dossiers", json={"procedure": "tax_check", "data": {"tax_code": "0101"}},
                        headers=headers).json["code"]
        [job] = [t for t in huey.pending() if t.name == "connector_calls"]
        assert office.requests == []
        runtime.install(app.extensions["onestop.runtime"])  # the worker's process acts in its own runtime
        huey.execute(job)
        with app.app_context():
            dossier = Dossier.get(Dossier.code == code)
        assert dossier.state == "completed" and dossier.data["taxpayer"]["body"]["debt"] == 0
        assert [r["path"] for r in office.requests] == ["/taxpayers/0101"]
    huey.flush()


def test_the_periodic_job_sends_the_national_portal_its_due_status_changes(sqlite_url, tmp_path, engine, clock):
    from tests.support.national_portal import connected

    app = _make_app(sqlite_url, tmp_path, engine, redis_url=redis_url_or_skip(), clock=clock)
    huey = app.extensions["onestop.runtime"].queue
    with connected(app, tmp_path / "portal") as portal:
        with app.app_context():
            _, token = make_user("admin1", ("admin",))
        from tests.conftest import MODELS, Api

        review = [MODELS / "review.bpmn", MODELS / "receive-schema.json"]
        assert Api(app.test_client(), token).upload(review).status_code == 201
        assert portal.push_one("review", "DVC-1")[0] == 201
        assert portal.statuses("DVC-1") == []
        runtime.install(app.extensions["onestop.runtime"])  # the worker's process acts in its own runtime
        huey.execute(huey.onestop_national_portal_sync.s())
        assert portal.statuses("DVC-1") == [(1, 1)]


def test_every_minute_sweep_runs_on_its_own_connection_and_logs_what_it_did(sqlite_url, tmp_path, engine, clock,
                                                                              caplog):
    """The every-minute jobs (timers whose job was lost, merged centres, notifications, webhooks,
    connector calls, payments) each run against the database and say in the log what they did."""
    import logging

    from onestop.models import Notification, utcnow

    app = _make_app(sqlite_url, tmp_path, engine, redis_url=redis_url_or_skip(), clock=clock)
    huey = app.extensions["onestop.runtime"].queue
    runtime.install(app.extensions["onestop.runtime"])
    with app.app_context():
        Notification.create(centre=1, event="received", channel="email", recipient="a@example.vn", subject="s",
                            body="b", next_attempt_at=utcnow())
    periodic = {task.__name__: task for task in huey._registry._periodic_tasks}
    assert {"sweep_timers", "hand_over_merged", "send_notifications", "send_webhooks", "sweep_connector_calls",
            "reconcile_payments", "national_portal_sync"} <= set(periodic)
    with caplog.at_level(logging.INFO, logger="onestop.jobs"):
        for name in sorted(periodic):
            huey.execute(periodic[name]())
    assert "sent 1 notification(s)" in caplog.text
    with app.app_context():
        assert Notification.get().status == "sent"
