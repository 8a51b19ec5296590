"""Local simulators of the outside systems a connected centre talks to (the national public service
portal, the identity provider, the payment gateway): small real HTTP services speaking the published
protocol, so that the tests, the demo and `python3 dev.py serve` work on a laptop with no network.

Each module here defines `create_app(home: pathlib.Path) -> WSGI application`, keeping what it needs
under `home`. The embedded default (`onestop serve`) mounts every simulator under
`/simulators/<name>/` of its own server (setting `ONESTOP_SIMULATORS`, on by default there, off in
production); `onestop simulator NAME --port P` runs one alone. The adapters (services that call an
outside system) never know they talk to a simulator: switching to the real endpoint is setting its
URL. A simulator is never mounted unless asked for: it would accept forged payments and identities.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from pathlib import Path


def names() -> list[str]:
    """The simulators this installation has (the modules of this package), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def create(name: str, home: Path):
    """The WSGI application of the simulator `name`, keeping its state under `home`."""
    if name not in names():
        raise LookupError(f"no simulator named {name!r}; there are: {', '.join(names()) or 'none'}")
    home.mkdir(parents=True, exist_ok=True)
    return importlib.import_module(f"{__name__}.{name}").create_app(home)


class _OnFirstRequest:
    """A simulator's WSGI application, made (with its state under home, its key for the identity provider)
    when its first request comes: most servers that mount the simulators never call them, and making
    them cost each web process ~45 ms of CPU at its start (the master ~0.13 s more on a first start,
    where it made their state)."""

    def __init__(self, name: str, home: Path):
        self.name, self.home = name, home
        self._app = None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        app = self._app
        if app is None:
            with self._lock:  # one app per process, even when its first requests come at once
                if self._app is None:
                    self._app = create(self.name, self.home)
                app = self._app
        return app(environ, start_response)


def mount(app, home: Path) -> None:
    """Serve every simulator under `/simulators/<name>` of `app` (a Flask app), state under `home`;
    each is made at its first request."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    mounts = {f"/simulators/{name}": _OnFirstRequest(name, home / name) for name in names()}
    if mounts:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)


def run(name: str, home: Path, host: str, port: int) -> None:
    """Serve the simulator `name` alone on host:port until interrupted (`onestop simulator`)."""
    from werkzeug.serving import run_simple

    run_simple(host, port, create(name, home), threaded=True)
