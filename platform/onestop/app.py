"""The application factory: the one place that wires the layers together.

`assemble.build_runtime(settings)` builds everything a running onestop holds (services/runtime.py:
the database, the clock, the engine, the attachment store, the timer queue, the senders, the rate
limiter's counts, the audit keys, the caches); `create_app` and the CLI both call it. The app holds
its runtime in `app.extensions["onestop.runtime"]` and makes it the active one whenever its context
is pushed, so services find it through `services.runtime.current()`.
"""

import atexit
import functools
import logging
import threading
from importlib.metadata import entry_points
from inspect import CO_COROUTINE
from types import FunctionType, MethodType

from flask import Flask, Response, request_tearing_down
from flask.ctx import AppContext
from werkzeug.routing import Map, Rule
from werkzeug.routing.matcher import StateMachineMatcher

from . import db, migrations, timers
from .assemble import build_runtime
from .config import Settings, load_settings
from .services import audit, runtime
from .services.users import ensure_default_centre


class RuntimeAppContext(AppContext):
    """Flask's app context, in whose life the app's runtime is the active one: pushed right after
    Flask pushed the context, and the runtime active before it given back right after Flask popped it
    (its teardown functions, which give the request's connection back, still run in the app's).

    This is what receivers of Flask's `appcontext_pushed` and `appcontext_popped` signals did, at the
    same two points; signals cost every request two blinker sends to a receiver (its lookup by
    sender, a weak reference, `inspect.iscoroutinefunction`) and a `current_app` look-up: ~45 k
    instructions, nearly 1 % of a submission."""

    def push(self) -> None:
        super().push()
        runtime.push(self.app.extensions.get("onestop.runtime"))

    def pop(self, *exc) -> None:  # (Flask's default for exc: none given, the one being handled)
        super().pop(*exc)
        runtime.pop()


def _not_compiled(rule, **_values):
    raise AssertionError("compiled on first use")  # never runs: LazyBuilderRule.compile() drops it


def _builder_compiled_later(_append_unknown: bool = True):
    """Stands in for werkzeug's Rule._compile_builder while LazyBuilderRule.compile() runs."""
    return _not_compiled


class LazyBuilderRule(Rule):
    """werkzeug's URL rule, whose two URL builders (the code `url_for` runs) are compiled the first
    time they are used instead of when the rule is added. werkzeug writes and compiles Python code for
    both builders of every rule as it is added; an app has some 270 rules (the back office's views add
    most), and compiling their builders was ~70 % of building an app (~70 ms of CPU in each server
    process, command and worker that builds one) while a process builds URLs with few of them. What
    is compiled, and how requests are matched, is werkzeug's own."""

    def compile(self) -> None:
        self._compile_builder = _builder_compiled_later  # (this instance only, while werkzeug compiles)
        try:
            super().compile()
        finally:
            del self._compile_builder
        self.__dict__.pop("_build", None)
        self.__dict__.pop("_build_unknown", None)

    def __getattr__(self, name):  # only for attributes not set: the builders before their first use
        if name in ("_build", "_build_unknown"):
            # Two threads building at once each compile the same code, and either result is kept.
            builder = self._compile_builder(name == "_build_unknown").__get__(self, None)
            setattr(self, name, builder)
            return builder
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class LazyMatcher(StateMachineMatcher):
    """werkzeug's state machine that matches a request's path to a URL rule, built when the first
    path is matched instead of as each rule is added. An app adds its ~270 rules when it is built,
    but a command, a timer worker or a test that only calls services never matches a URL: building
    the machine cost them ~1.3 ms of CPU and ~1,200 objects (a quarter of an app's) that the garbage
    collector walks for as long as the app lives. Rules are added to the machine by werkzeug's own
    `add`, in the order they were added to the map, then sorted by its `update`: what matches is
    werkzeug's own."""

    def __init__(self, merge_slashes: bool) -> None:
        super().__init__(merge_slashes)
        self._waiting: list[Rule] = []
        self._building = threading.Lock()

    def add(self, rule: Rule) -> None:
        self._waiting.append(rule)

    def update(self) -> None:
        if not self._waiting:  # (rules still waiting are sorted when they are added, in match())
            super().update()

    def match(self, domain: str, path: str, method: str, websocket: bool):
        """werkzeug's match, once every rule added so far is in the machine."""
        if self._waiting:
            self._add_waiting()
        return super().match(domain, path, method, websocket)

    def _add_waiting(self) -> None:
        with self._building:  # a second thread matching meanwhile waits for the whole machine
            if not self._waiting:
                return
            for rule in self._waiting:
                super().add(rule)  # werkzeug's own, in the order the rules came
            super().update()
            self._waiting = []


class LazyMatcherMap(Map):
    """werkzeug's URL map with a `LazyMatcher`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._matcher = LazyMatcher(self._matcher.merge_slashes)


class WholeResponse(Response):
    """Flask's response, handed to the WSGI server as one list of bytes when its body is already in
    memory (JSON, pages, messages); a body that is not (a file, a generator) is still streamed.

    Flask hands the server an iterator for every answer, so granian streams each one: it sends the
    headers, then pulls each piece of the body from its blocking thread through a channel to its
    HTTP thread (a wake-up of that thread, the GIL released and taken back, a StopIteration per
    answer). Given a list, granian sends headers and body at once from the bytes (its
    `response_bytes`); gunicorn writes a list's one piece as it wrote the iterator's."""

    def get_app_iter(self, environ):
        """The body for the WSGI server: one piece in a list if it is in memory, else Flask's iterator.
        The response's close (what `call_on_close` registered) runs once the piece is joined."""
        app_iter = super().get_app_iter(environ)
        if not self.is_sequence:
            return app_iter
        try:
            return [b"".join(app_iter)]
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()


class OnestopFlask(Flask):
    """Flask whose URL rules compile their builders on first use (`LazyBuilderRule`) and whose
    URL map builds its matcher on first use (`LazyMatcherMap`), which tells a plain function
    from a coroutine function itself (`ensure_sync`), whose answers reach the WSGI server in
    one piece when they can (`WholeResponse`), whose app context acts in the app's runtime
    (`RuntimeAppContext`) and whose request teardown is skipped when nothing is registered for it."""

    url_rule_class = LazyBuilderRule
    url_map_class = LazyMatcherMap
    response_class = WholeResponse

    def app_context(self) -> RuntimeAppContext:
        """Flask's app context, acting in this app's runtime while it is pushed (`RuntimeAppContext`):
        every request's context pushes one through this method, as do `with app.app_context()` and the CLI."""
        return RuntimeAppContext(self)

    def do_teardown_request(self, *exc) -> None:
        """Flask's, skipped where it has nothing to do: no `teardown_request` function registered (for the app
        or any blueprint) and no receiver of the `request_tearing_down` signal, which is onestop's case. Flask
        would still read the request's blueprints through its proxy and send the signal to no one (~20 k
        instructions a request); any function or receiver registered is run exactly as by Flask."""
        if any(self.teardown_request_funcs.values()) or request_tearing_down.receivers:
            super().do_teardown_request(*exc)

    def ensure_sync(self, func):
        """Flask's, answered from the code's flags for a plain function: Flask asks it of every hook
        and view of every request (8-10 a request), and `inspect.iscoroutinefunction` unwraps methods
        and partials before it reads the same flag (~1 us each, ~0.4 % of a completion's CPU). A
        function marked as a coroutine function (Python 3.12's `inspect.markcoroutinefunction`),
        a partial or any other callable goes to Flask as before; a bound method (Flask-Login's hook) is
        answered from its function's flags, as inspect unwraps it."""
        plain = func.__func__ if type(func) is MethodType else func
        if type(plain) is FunctionType and not plain.__code__.co_flags & CO_COROUTINE \
                and "_is_coroutine_marker" not in plain.__dict__:
            return func
        return super().ensure_sync(func)


@functools.cache
def _extensions() -> tuple:
    """The installed packages' app extensions (the back office is one), found once per process:
    reading every installed distribution's entry points costs about 10 ms, and they cannot change
    while the process runs."""
    return tuple(extension.load() for extension in entry_points(group="onestop.extensions"))


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the Flask app from settings (environment by default, a dict of overrides in tests)."""
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    settings.home.mkdir(parents=True, exist_ok=True)
    app = OnestopFlask(__name__)
    if settings.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind that many reverse proxies: the client's address is the one they report.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxies, x_proto=settings.proxies, x_host=settings.proxies)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        ONESTOP=settings,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    built = app.extensions["onestop.runtime"] = runtime.install(build_runtime(settings))
    if settings.engine is None:  # built for this app: closed with the process (a test's shared engine is the test's)
        atexit.register(built.engine.close)
    app.extensions["onestop.engine"] = built.engine
    if built.queue is not None:
        app.extensions["onestop.jobs"] = built.queue
    with app.app_context():
        db.database.connect(reuse_if_open=True)
        try:
            migrations.migrate()
            if not audit.key_fits():
                logging.getLogger("onestop.audit").error(
                    "the last audit event does not verify under this audit key: the key is not the one the trail "
                    "was written with (set ONESTOP_AUDIT_KEY to it on every machine), or the trail was tampered "
                    "with; run `onestop audit verify`")
            ensure_default_centre(settings.agency_code)
        finally:
            db.database.close()
    db.init_app(app)

    from .web import init_app as init_web

    init_web(app)
    for install in _extensions():
        install(app)
    if settings.simulators:
        from . import simulators

        simulators.mount(app, settings.home / "simulators")

    if settings.run_timer_thread and not settings.testing:
        app.extensions["onestop.timer_stop"] = timers.start_thread(settings.timer_poll_seconds,
                                                                   settings.audit_checkpoint_seconds, built)
    return app


def import_modules(simulators: bool = False) -> None:
    """Import what `create_app` imports (the web layer, the app extensions and, if asked, the
    simulators) without building an app. A server's master calls it before forking its workers:
    they then share these modules instead of each importing them again (~0.4 s of CPU a worker)."""
    import importlib

    from . import web  # noqa: F401

    _extensions()
    if simulators:
        from . import simulators as package

        for name in package.names():
            importlib.import_module(f"{package.__name__}.{name}")
