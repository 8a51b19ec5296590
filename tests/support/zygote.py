"""`onestop serve` forked from a warm process (a "zygote") instead of started from the script.

A test server's master spent most of its start importing: Python, `onestop.cli`, the engine's and the
web layer's libraries (~1.2 of its 1.1-1.9 CPU-s on the loaded test machine), and a one-worker server's
web worker another ~0.5 s importing the web layer after the fork. The suite starts some 30 servers.
The zygote is one process per test process (xdist worker) that has done those imports once; for each
server it forks a child, which takes the server's environment, working folder and log and then does
what the `onestop` script does: `sys.exit(main())` with `sys.argv` = [the script, "serve"]. From
there on it is the server the script would run: the CLI's `serve` reads its settings from that
environment, migrates, makes the first administrator, and gunicorn's master forks its workers.

What the child differs in: it did not start Python nor import the modules itself (nothing onestop
imports reads the environment: only `config.load_settings`, called by `serve`, does), and its hash
seed is the zygote's. Tests that need the start itself run the real script
(`onestop_serve(..., executable=True)`: tests/test_cli.py, and the commands of tests/test_boot.py).

The child is a server in a session of its own (its process group is its pid, as with
`start_new_session`), so a test stops it with `os.killpg` as before. It is the zygote's child, not
the test's: the zygote reaps it and reports its exit code, and `ForkedServer` answers `poll` and
`wait` as `subprocess.Popen` does from those reports.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.commands import LIBRARIES

# The zygote: the script's folder first on the path (as when the script runs), its imports, then a
# loop forking a child per request (a JSON line on stdin) and reporting "pid N" at once and "exit N
# CODE" when the child ends (on SIGCHLD, through the wakeup pipe). It writes its answers with os.write:
# nothing sits in sys.stdout's buffer for a child to inherit. The child leaves the loop with the
# request and runs the command at the top level, as the script does.
_ZYGOTE = r"""
import gc, importlib, json, os, select, signal, sys
sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[1]))
from onestop.cli import main
for name in sys.argv[2:]:
    importlib.import_module(name)
from onestop.app import import_modules
import_modules(simulators=True)
gc.freeze()  # what the children share stays out of their collections (and its pages unwritten)


def _next_server():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C is for the tests and the servers, not the zygote
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b""
    while True:
        ready = select.select([0, wake_r], [], [])[0]
        if wake_r in ready:
            os.read(wake_r, 512)
        while True:  # reap every child that ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            os.write(1, f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            os._exit(0)  # the test process is gone or done: its servers are stopped or reaped by init
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            pid = os.fork()
            if pid == 0:
                os.setsid()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                os.close(wake_r)
                os.close(wake_w)
                return json.loads(line)
            os.write(1, f"pid {pid}\n".encode())


run = _next_server()
os.environ.clear()
os.environ.update(run["env"])
os.chdir(run["cwd"])
null = os.open(os.devnull, os.O_RDONLY)
log = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for fd, opened in ((0, null), (1, log), (2, log)):
    os.dup2(opened, fd)
os.close(null)
os.close(log)
sys.argv = [sys.argv[1], *run["argv"]]
del _next_server, gc, importlib, json, select, signal, null, log, fd, opened, name, run, import_modules
sys.exit(main())
"""

# What the servers import, beyond `onestop.cli` and what `import_modules` imports (the web layer,
# its extensions and the simulators: what a server of several workers imports before forking them):
# the commands' libraries (the engine's: the bundled procedures are parsed at a first start; the
# password hasher, the signing's...), gunicorn's master and its threaded worker, and the outside modules
# a server's master and web worker were seen importing later (their new modules listed at exit).
# onestop's own modules that a server imports later, in a function, are left to it (as commands.py
# does): a server that forgot one of its imports still fails in the tests. A module missing here is
# imported by the server itself, as it would be anyway.
IMPORTS = (*LIBRARIES, "cryptography.hazmat.backends.openssl", "jinja2.ext", "werkzeug.middleware.dispatcher",
           "gunicorn.app.base", "gunicorn.arbiter", "gunicorn.workers.gthread", "gunicorn.glogging")


class ForkedServer:
    """A server forked by the zygote, seen as `subprocess.Popen` shows a child: pid, poll, wait."""

    def __init__(self, zygote: ServerZygote, pid: int, args: list[str]):
        self.zygote, self.pid, self.args = zygote, pid, args
        self.returncode = None

    def poll(self):
        """The exit code if the server has ended, else None."""
        self.returncode = self.zygote.reported(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the server to end; its exit code. Raises subprocess.TimeoutExpired after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self.zygote.wait_for_news(self.pid, left)
        return self.returncode


class ServerZygote:
    """The test process's side of a zygote: starts it, asks it for servers, reads its reports."""

    def __init__(self):
        self.script = str(Path(sys.executable).parent / "onestop")
        self.process = subprocess.Popen([sys.executable, "-c", _ZYGOTE, self.script, *IMPORTS],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.owner = os.getpid()
        self.changed = threading.Condition()
        self.started: list[int] = []  # pids answered, not yet taken by the request that asked
        self.exits: dict[int, int] = {}
        self.alive = True
        self.asking = threading.Lock()  # one request at a time: the answers come in the requests' order
        self.reader = threading.Thread(target=self._read, name="server-zygote-reports", daemon=True)
        self.reader.start()

    def start(self, argv: list[str], env: dict, log: Path, timeout: float = 120) -> ForkedServer:
        """`onestop ARGV...` (e.g. ["serve"]) in a child with environment `env`, this working folder, stdin
        from /dev/null and stdout and stderr to the file `log`; returns at once, the child running."""
        import json

        line = json.dumps({"argv": argv, "env": dict(env), "cwd": os.getcwd(), "log": str(log)}).encode() + b"\n"
        with self.asking, self.changed:
            self.process.stdin.write(line)
            if not self.changed.wait_for(lambda: self.started or not self.alive, timeout):
                raise RuntimeError(f"the server zygote did not fork within {timeout} s")
            if not self.started:
                raise RuntimeError(f"the server zygote ended (exit {self.process.wait()})")
            return ForkedServer(self, self.started.pop(0), [self.script, *argv])

    def reported(self, pid: int) -> int | None:
        """The child's exit code as the zygote reported it, None while it runs. If the zygote itself
        ended, the child went to init: its end is seen by its pid alone, its exit code unknown (-1)."""
        with self.changed:
            if pid in self.exits or self.alive:
                return self.exits.get(pid)
        return None if _running(pid) else -1

    def wait_for_news(self, pid: int, timeout: float | None):
        """Wait until the zygote reports the child's end (or itself ends: then a short while)."""
        with self.changed:
            if self.changed.wait_for(lambda: pid in self.exits or not self.alive, timeout) and pid in self.exits:
                return
        time.sleep(0.05 if timeout is None else max(0, min(0.05, timeout)))

    def _read(self):
        for line in self.process.stdout:
            kind, pid, *code = line.split()
            with self.changed:
                if kind == b"pid":
                    self.started.append(int(pid))
                else:
                    self.exits[int(pid)] = int(code[0])
                self.changed.notify_all()
        with self.changed:
            self.alive = False
            self.changed.notify_all()

    def close(self):
        """End the zygote (its stdin closed); servers still running are left to init."""
        self.process.stdin.close()
        self.process.wait(30)
        self.reader.join(30)  # it reads the reports to their end before the pipe is closed
        self.process.stdout.close()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_zygote: list[ServerZygote] = []
_starting = threading.Lock()


def zygote() -> ServerZygote:
    """This test process's zygote, started at its first use (a forked test process starts its own)."""
    with _starting:
        if not _zygote or _zygote[0].owner != os.getpid() or not _zygote[0].alive:
            _zygote[:] = [ServerZygote()]
            atexit.register(_zygote[0].close)
        return _zygote[0]
