"""A warm Python process that forks a child for each run asked of it: the one fork-server of the tests.

Its users: tests/support/commands.py (`onestop` commands, and the test servers' `onestop serve`),
tests/bench/warm.py (bench/ scripts) and tests/security/test_schemathesis.py (the schemathesis client).
The warm process has done its imports once; each run is a fork that takes the run's environment,
working folder and standard streams (files the parent reads back), then does what its own code says.

The protocol is asynchronous, because test servers run side by side: one JSON line a run on the warm
process's stdin; it answers "pid N" at once, and "exit N CODE" whenever a child ends (any child, in
any order). `WarmProcess.fork` returns a `Forked` child as soon as its pid is answered, to wait for
later or not at all; `WarmProcess.run` is the synchronous call (start, wait, read the output back).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

# Python source a warm process runs after its imports: it waits for runs, forks a child for each and
# answers "pid N" at once, and "exit N CODE" when a child ends (on SIGCHLD, through the wakeup pipe).
# It writes its answers with os.write: nothing sits in sys.stdout's buffer for a child to inherit. It
# ignores ^C (for the tests and the children, which get back Python's handler). The child leaves the
# loop with `run` (the JSON request) and its environment, working folder and standard streams already
# the run's (stdout and stderr one file if they name the same; a session of its own if `session`).
TAKE_A_RUN = r"""
def _next_run():
    import json, os, select, signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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
            os._exit(0)  # the test process is gone or done: children still running are left to init
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                os.close(wake_r)
                os.close(wake_w)
                run = json.loads(line)
                if run.get("session"):
                    os.setsid()
                os.environ.clear()
                os.environ.update(run["env"])
                os.chdir(run["cwd"])
                null = os.open(os.devnull, os.O_RDONLY)
                out = os.open(run["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                err = out if run["stderr"] == run["stdout"] else os.open(
                    run["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                for fd, opened in ((0, null), (1, out), (2, err)):
                    os.dup2(opened, fd)
                for opened in {null, out, err}:
                    os.close(opened)
                return run
            os.write(1, f"pid {pid}\n".encode())


run = _next_run()
del _next_run
"""

# Python source a child may use to run its work and end as the interpreter would, `_exit_as_python(work)`:
# the exit status (sys.exit's argument read as the interpreter reads it; an uncaught exception's traceback
# on stderr and 1), then Python's exit up to the point where it tears the interpreter down: non-daemon
# threads waited for, atexit handlers (weakref finalizers, multiprocessing's children, logging) run, the
# standard streams flushed. The teardown itself, clearing the warm process's ~1,500 modules (and
# collecting its heap), would cost each run ~65 ms of CPU or more for nothing: it leaves with os._exit.
EXIT_AS_PYTHON = r"""
def _exit_as_python(work):
    import atexit, os, sys, threading, traceback
    try:
        work()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
"""


class Forked:
    """A child forked by a warm process, seen as `subprocess.Popen` shows a child: pid, poll, wait, kill."""

    def __init__(self, warm: WarmProcess, pid: int, args: list[str]):
        self.warm, self.pid, self.args = warm, pid, args
        self.returncode = None

    def poll(self) -> int | None:
        """The exit code if the child has ended, else None."""
        self.returncode = self.warm.reported(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; its exit code. Raises subprocess.TimeoutExpired after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout)
            self.warm.wait_for_news(self.pid, left)
        return self.returncode

    def kill(self):
        """SIGKILL to the child if it still runs."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def kill_group(self):
        """SIGKILL to the child's process group (a child forked with `session`: its own), whatever of it still runs."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # nothing of it is left
            pass


class WarmProcess:
    """The parent's side: starts the warm process (`argv`, `env`), asks it for runs, reads its answers."""

    def __init__(self, argv: list[str], name: str, env: dict | None = None):
        self.name = name
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.owner = os.getpid()
        self.folder = tempfile.TemporaryDirectory(prefix=f"onestop-{name.replace(' ', '-')}-runs-")
        self.numbers = itertools.count()
        self.changed = threading.Condition()
        self.started: list[int] = []  # pids answered, not yet taken by the request that asked
        self.exits: dict[int, int] = {}
        self.alive = True
        self.asking = threading.Lock()  # one request at a time: the pids come in the requests' order
        self.reader = threading.Thread(target=self._read, name=f"{name} answers", daemon=True)
        self.reader.start()

    def fork(self, request: dict, args: list[str], stdout: Path, stderr: Path, session: bool = False,
              timeout: float = 120) -> Forked:
        """A child for `request` (env, cwd and what the warm code reads), its standard streams to the files
        `stdout` and `stderr` (the same path: one file), in a session of its own if `session`; returns it
        as soon as it is forked. `args` only names it (in TimeoutExpired)."""
        line = json.dumps({**request, "stdout": str(stdout), "stderr": str(stderr), "session": session}).encode()
        line = memoryview(line + b"\n")
        with self.asking:
            while line:
                line = line[self.process.stdin.write(line):]
            with self.changed:
                if not self.changed.wait_for(lambda: self.started or not self.alive, timeout):
                    raise RuntimeError(f"the {self.name} process did not fork within {timeout} s")
                if not self.started:
                    raise RuntimeError(f"the {self.name} process ended (exit {self.process.wait()})")
                return Forked(self, self.started.pop(0), args)

    def run(self, request: dict, args: list[str], timeout: float, started_within: float = 30
            ) -> subprocess.CompletedProcess:
        """One run of `request`, waited for; answers as `subprocess.run(args, capture_output=True, text=True)`
        does. Raises subprocess.TimeoutExpired (the run killed) after `timeout` seconds."""
        number = next(self.numbers)
        out, err = Path(self.folder.name, f"{number}.out"), Path(self.folder.name, f"{number}.err")
        # In a session of its own, so that a run killed for its time takes what it started with it (a server's
        # workers would be left running, orphaned, past the test run).
        child = self.fork(request, args, out, err, session=True, timeout=started_within)
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill_group()
            child.wait(30)
            raise subprocess.TimeoutExpired(args, timeout) from None
        if code == -1 and not self.alive:
            raise RuntimeError(f"the {self.name} process ended (exit {self.process.wait()})")
        # Read back as subprocess.run(text=True) decodes a pipe: the locale's encoding, universal newlines.
        try:
            return subprocess.CompletedProcess(args, code, out.read_text(), err.read_text())
        finally:
            out.unlink()
            err.unlink()

    def reported(self, pid: int) -> int | None:
        """The child's exit code as the warm process reported it, None while it runs. If the warm process
        itself ended, the child went to init: its end is seen by its pid alone, its exit code unknown (-1)."""
        with self.changed:
            if pid in self.exits or self.alive:
                return self.exits.get(pid)
        return None if _running(pid) else -1

    def wait_for_news(self, pid: int, timeout: float | None):
        """Wait until the warm process reports the child's end (or itself ends: then a short while)."""
        with self.changed:
            if self.changed.wait_for(lambda: pid in self.exits or not self.alive, timeout) and pid in self.exits:
                return
        time.sleep(0.05 if timeout is None else max(0, min(0.05, timeout)))

    def _read(self):
        """The reader thread: the warm process's answers, to their end."""
        pending = b""
        while chunk := os.read(self.process.stdout.fileno(), 4096):
            *lines, pending = (pending + chunk).split(b"\n")
            with self.changed:
                for line in lines:
                    kind, pid, *code = line.split()
                    if kind == b"pid":
                        self.started.append(int(pid))
                    else:
                        self.exits[int(pid)] = int(code[0])
                self.changed.notify_all()
        with self.changed:
            self.alive = False
            self.changed.notify_all()

    def close(self):
        """End the warm process (its stdin closed); children still running are left to init."""
        self.process.stdin.close()
        self.process.wait(30)
        self.reader.join(30)  # it reads the answers to their end before the pipe is closed
        self.process.stdout.close()
        self.folder.cleanup()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
