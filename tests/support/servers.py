"""Starting real server processes in tests: free ports and waiting until they answer."""

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.support.commands import LIBRARIES, Commands

# `onestop serve` forked from a warm process (a "zygote", tests/support/commands.py's `Commands`) instead
# of started from the script.
#
# A test server's master spent most of its start importing: Python, `onestop.cli`, the engine's and the
# web layer's libraries (~1.2 of its 1.1-1.9 CPU-s on the loaded test machine), and a one-worker server's
# web worker another ~0.5 s importing the web layer after the fork. The suite starts some 30 servers.
# The zygote is one process per test process (xdist worker) that has done those imports once; for each
# server it forks a child, which takes the server's environment, working folder and log and then does
# what the `onestop` script does: `sys.exit(main())` with `sys.argv` = [the script, "serve"]. From
# there on it is the server the script would run: the CLI's `serve` reads its settings from that
# environment, migrates, makes the first administrator, and gunicorn's master forks its workers.
#
# What the child differs in: it did not start Python nor import the modules itself (nothing onestop
# imports reads the environment: only `config.load_settings`, called by `serve`, does), and its hash
# seed is the zygote's. Tests that need the start itself run the real script
# (`onestop_serve(..., executable=True)`: tests/test_cli.py, and the commands of tests/test_boot.py).
#
# The child is a server in a session of its own, so a test stops it with `os.killpg` as before. It is
# the zygote's child, not the test's: the zygote reaps it and reports its exit code, and the child's
# handle (tests/support/warm.py's `Forked`) answers `poll` and `wait` as `subprocess.Popen` does.
#
# What the servers import, beyond `onestop.cli` and what `import_modules` imports (the web layer,
# its extensions and the simulators: what a server of several workers imports before forking them):
# the commands' libraries (the engine's: the bundled procedures are parsed at a first start; the
# password hasher, the signing's...), gunicorn's master and its threaded worker, and the outside modules
# a server's master and web worker were seen importing later (their new modules listed at exit).
# onestop's own modules that a server imports later, in a function, are left to it (as commands.py
# does): a server that forgot one of its imports still fails in the tests. A module missing here is
# imported by the server itself, as it would be anyway.
SERVER_IMPORTS = (*LIBRARIES, "cryptography.hazmat.backends.openssl", "jinja2.ext", "werkzeug.middleware.dispatcher",
                  "gunicorn.app.base", "gunicorn.arbiter", "gunicorn.workers.gthread", "gunicorn.glogging")
_zygote: list[Commands] = []
_starting = threading.Lock()


def zygote() -> Commands:
    """This test process's server zygote, started at its first use (a forked test process starts its own)."""
    with _starting:
        if not _zygote or _zygote[0].owner != os.getpid() or not _zygote[0].alive:
            _zygote[:] = [Commands(SERVER_IMPORTS, import_modules=True, name="server zygote")]
            atexit.register(_zygote[0].close)
        return _zygote[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base, process, log_path, seconds=60):
    """Poll base/healthz until it answers 200; raise with the server's log if it dies or never does."""
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(log_path.read_text()[-3000:]) from None
            time.sleep(0.05)  # a server starts in 1-3 s: a finer poll saves a fraction of a second each


def stop(process, first=signal.SIGINT):
    """Stop a server started in its own session: politely, then by force after 20 seconds."""
    if process.poll() is None:
        os.killpg(process.pid, first)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def onestop_serve(folder, executable=False, **env_overrides):
    """`onestop serve` on a free port with ONESTOP_HOME under folder (plus any ONESTOP_* overrides);
    yields (base URL, home, environment, log path) once /healthz answers, and stops it afterwards.
    The server is forked from this test process's warm zygote (`zygote`, above: the same
    `serve`, without paying Python's start and the imports again); `executable`: started from the
    `onestop` script itself, for the tests of a real start."""
    port, home, log_path = free_port(), folder / "home", folder / "server.log"
    env = dict(os.environ, ONESTOP_HOME=str(home), ONESTOP_PORT=str(port), **env_overrides)
    if executable:
        with open(log_path, "wb") as log:
            process = subprocess.Popen([str(Path(sys.executable).parent / "onestop"), "serve"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    else:
        process = zygote().start(["serve"], env, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log_path)
        yield base, home, env, log_path
    finally:
        stop(process, signal.SIGTERM)


@contextlib.contextmanager
def embedded_server(folder, *commands):
    """`onestop serve` on the embedded default (SQLite under ONESTOP_HOME, one web worker), after
    each of `commands` (argument lists of the `onestop` CLI, e.g. ("user", "create", ...)) has run
    against it; yields the base URL. The browser tests' server."""
    with onestop_serve(folder, ONESTOP_WEB_WORKERS="1", ONESTOP_DATABASE_URL="") as (base, _home, env, _log):
        if commands:
            done = run_commands(env, *commands)
            assert done.returncode == 0, done.stderr
        yield base


# Runs each argument list through the CLI's own entry point, in order, stopping at the first that fails.
_COMMANDS = """
import json, sys
from onestop.cli import main
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    if code:
        sys.exit(code)
"""


def run_commands(env, *commands) -> subprocess.CompletedProcess:
    """Several `onestop` CLI commands (argument lists) run by the CLI's `main` in ONE process, in order,
    with the environment `env`, as `onestop A; onestop B; ...` would (stopping at the first failure):
    each command costs its work, not a Python start and the CLI's imports again (~0.6 s of CPU)."""
    return subprocess.run([sys.executable, "-c", _COMMANDS, json.dumps([list(c) for c in commands])], env=env,
                          capture_output=True, text=True)


def user(name, *roles, password, centre=None) -> tuple:
    """The CLI command creating a user with a password (for embedded_server)."""
    return ("user", "create", name, *[arg for role in roles for arg in ("--role", role)], "--password", password,
            *(("--centre", centre) if centre else ()))


def admin_token(home) -> str:
    """The API token of the administrator `onestop serve` created on its first start."""
    return [line.split(": ", 1)[1] for line in (Path(home) / "admin-token.txt").read_text().splitlines()
            if line.startswith("api token")][0]
