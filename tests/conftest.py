"""Shared fixtures: an app on real SQLite and real PostgreSQL, API clients with real tokens."""

import gc
import os
import threading
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles

from onestop.app import create_app
from onestop.clock import Clock, ShiftedClock
from onestop.engine import Engine
from onestop.engine.sandbox import Sandbox
from onestop.workdays import to_local
from tests.support import enginewalk
from tests.support.postgres import admin_url_or_skip, create_test_database, drop_test_database
from tests.support.templates import Templates

pytest_plugins = ["tests.support.parallel", "tests.support.routing", "tests.support.jinja"]

ROOT = Path(__file__).resolve().parents[1]
# Each test builds an app: some 5,800 objects that refer to each other in cycles, so only the
# collector frees them, and at CPython's default thresholds (700, 10, 10) it walks the young
# generations thousands of times a test file. Collecting less often (still collecting: memory
# stays bounded by the few apps alive between two passes) cut the test process's CPU by ~20 %
# (tests/admin + tests/web/test_api.py: 22.1-22.3 s -> 17.4 s, alternated). Servers and commands
# the tests start are separate processes and keep Python's defaults, as in production.
gc.set_threshold(20_000, 20, 20)

SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


def pytest_collection_modifyitems(config, items):
    """Tests marked `corpus` need ../shared: skipped on a machine without it, failed in CI."""
    if CONFORMANCE.exists():
        return
    if os.environ.get("ONESTOP_REQUIRE_CORPUS") == "1":
        raise pytest.UsageError(f"ONESTOP_REQUIRE_CORPUS=1 but the conformance corpus is not at {CONFORMANCE}")
    skip = pytest.mark.skip(reason=f"the shared conformance corpus is not at {CONFORMANCE}")
    for item in items:
        if item.get_closest_marker("corpus"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def engine():
    """One engine (and one sandbox worker) for the whole run; closed at the end."""
    # compact_at=1: every step of every test prunes the finished past, so all of them check it.
    eng = Engine(Sandbox(timeout=2.0, memory_mb=256), compact_at=1)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def cold_engine():
    """An engine that keeps no workflow live between steps: every step reloads the stored state,
    as a step handled by another worker process (or after a restart) does."""
    eng = Engine(Sandbox(timeout=2.0, memory_mb=256), live_size=0, compact_at=1)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory):
    """This process's migrated template databases, made on first use, dropped at the end."""
    templates = Templates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, database_templates):
    """A fresh database of each kind with every migration applied (a copy of a migrated template)."""
    if request.param == "sqlite":
        yield database_templates.sqlite(tmp_path / "onestop.db")
        return
    url = database_templates.postgres(admin_url_or_skip())
    yield url
    _close_pool()
    database_templates.drop_later(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A fresh, empty database of each kind: no table at all, for the migrations' own tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'onestop.db'}"
        return
    url = create_test_database(admin_url_or_skip())
    yield url
    _close_pool()
    drop_test_database(url)


@pytest.fixture
def sqlite_url(tmp_path, database_templates):
    """A fresh SQLite database with every migration applied."""
    return database_templates.sqlite(tmp_path / "onestop.db")


enginewalk.install()


@pytest.fixture(autouse=True)
def _engine_rounds_found_what_spiffworkflow_walks():
    """Every engine round of the test listed the tasks SpiffWorkflow's own walk lists (tests/support/enginewalk.py)."""
    enginewalk.take_mismatches()
    yield
    assert enginewalk.take_mismatches() == []


@pytest.fixture(autouse=True)
def _business_time_is_real_again_after_each_test():
    """An app built on a test's clock also binds it to the process (the clock of code that runs
    outside any app). The next test of this worker must not inherit it: a due-date table's clock set
    to January 2026 made a later engine test's "a day ago" lie in the future, and its timer never fired."""
    yield
    from onestop import clock as clocks

    clocks.bind(None)
    clocks.enter(None)


def shift_to_hour(wanted: str | None) -> timedelta:
    """How far ahead of real time the next HH:MM (UTC) lies; none without a wanted time. The suite
    runs at any hour: ONESTOP_TEST_UTC_TIME=18:30 runs every app's business time from the next 18:30
    UTC on (when Vietnam's calendar day is already UTC's next one), as CI does (.ci/run)."""
    if not wanted:
        return timedelta(0)
    hour, minute = (int(part) for part in wanted.split(":"))
    real = Clock().now()
    target = real.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (target - real) % timedelta(days=1)


def clear_of_midnight(clock, minutes: float) -> None:
    """Move a test's clock on (never back) so that no local midnight lies within `minutes` of its
    business time either way: a test that spans a few minutes of one local day (a sitting begun a
    quarter of an hour before the dossier's receipt, tickets counted on "today") must not see Vietnam's
    day change under it when the suite runs around midnight there (17:00 UTC)."""
    local = to_local(clock.now())
    since = local - datetime.combine(local.date(), time(0))
    until = timedelta(days=1) - since
    window = timedelta(minutes=minutes)
    if until < window:
        clock.advance((until + window).total_seconds())
    elif since < window:
        clock.advance((window - since).total_seconds())


@pytest.fixture
def clock():
    """The business time of the test's app: real time (or real time moved on to the hour
    ONESTOP_TEST_UTC_TIME names) until the test `advance()`s it (instead of sleeping until a timer is
    due). It is the app's own (its runtime's): nothing to undo afterwards."""
    return ShiftedClock(shift_to_hour(os.environ.get("ONESTOP_TEST_UTC_TIME")))


# Passwords hashed at argon2's cheapest (the standard costs 0.1-0.6 s a hash on a busy 2-core machine, and
# the sign-in tests hash hundreds); tests/test_app.py checks an app without it hashes at the standard cost.
CHEAP_PASSWORDS = PasswordHasher.from_parameters(profiles.CHEAPEST)


def _make_app(url, tmp_path, engine, **overrides):
    settings = {"home": tmp_path / "home", "database_url": url, "testing": True, "run_timer_thread": False,
                "secret_key": "test-secret", "engine": engine, "password_hasher": CHEAP_PASSWORDS}
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture
def app(database_url, tmp_path, engine, cold_engine, clock):
    # PostgreSQL runs take the cold engine, SQLite runs the warm one: both paths run every test.
    built = _make_app(database_url, tmp_path, cold_engine if database_url.startswith("postgres") else engine,
                      clock=clock)
    yield built
    _close_pool()
    _release(built)


@pytest.fixture
def sqlite_app(sqlite_url, tmp_path, engine, clock):
    built = _make_app(sqlite_url, tmp_path, engine, clock=clock)
    yield built
    _close_pool()
    _release(built)


def _release(app):
    """Let most of a test's finished app be freed as soon as its test ends. Its ~270 URL rules and
    their map refer to each other, and each back-office view's own blueprint keeps the functions
    that registered its rules, which refer back to it: cycles, which only the garbage collector
    frees, after walking them in every collection until then. Emptying them frees ~80 % of the
    app's ~5,600 objects by reference counting (docs/testspeed.md, "The cost of every test").
    The web layer's blueprints are the modules' own, shared by every app: they are not touched."""
    admin = app.extensions.get("onestop.admin")
    for view in getattr(admin, "_views", ()):
        if view.blueprint is not None:  # made for this app by flask-admin (create_blueprint)
            view.blueprint.deferred_functions.clear()
    app.url_map._rules_by_endpoint.clear()
    app.url_map._matcher = None
    app.view_functions.clear()
    app.blueprints.clear()


def _close_pool():
    from onestop.db import database

    if database.obj is not None and not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


class Api:
    """A JSON client for /api/v1 with a bearer token, through the real app."""

    def __init__(self, client, token):
        self.client = client
        self.token = token

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path, **kw):
        return self.client.get("/api/v1" + path, headers=self._headers(), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put("/api/v1" + path, json=json, headers=self._headers(), **kw)

    def delete(self, path, **kw):
        return self.client.delete("/api/v1" + path, headers=self._headers(), **kw)

    def upload(self, files, process_id=None):
        """files: list of (name, bytes) or paths."""
        data = {"files": []}
        for f in files:
            if isinstance(f, Path | str):
                f = (Path(f).name, Path(f).read_bytes())
            import io

            data["files"].append((io.BytesIO(f[1]), f[0]))
        if process_id:
            data["process_id"] = process_id
        return self.client.post("/api/v1/procedures", data=data, headers=self._headers(),
                                content_type="multipart/form-data")


def make_user(username="officer1", roles=("officer",), centre=None, password=None):
    """A user with an API token; returns (user, token)."""
    from onestop.services.users import create_user, issue_token

    user = create_user(username, list(roles), centre=centre, password=password)
    return user, issue_token(user)


@pytest.fixture
def admin_api(app):
    with app.app_context():
        _, token = make_user("admin1", ("admin",))
    return Api(app.test_client(), token)


@pytest.fixture
def sqlite_admin_api(sqlite_app):
    with sqlite_app.app_context():
        _, token = make_user("admin1", ("admin",))
    return Api(sqlite_app.test_client(), token)


@pytest.fixture
def timer_thread(app):
    """The in-process timer worker, polling fast, for tests that wait on BPMN timers."""
    from onestop import timers

    stop = timers.start_thread(0.1)
    yield
    stop.set()
    for thread in threading.enumerate():
        if thread.name in ("onestop-timers", "onestop-connectors"):
            thread.join(timeout=5)


MODELS = Path(__file__).resolve().parent / "models"


def script_model(script, process_id="scripted"):
    """A BPMN file (name, bytes): start -> script task Script_1 -> user task Task_After -> end."""
    from xml.sax.saxutils import escape

    text = (MODELS / "script_template.bpmn.txt").read_text()
    text = text.replace("PROCESS", process_id).replace("SCRIPT", escape(script))
    return (f"{process_id}.bpmn", text.encode())
