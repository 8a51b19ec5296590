"""A warm Python process that forks a child for each run asked of it: the common part of
tests/support/commands.py (`onestop` commands) and tests/bench/warm.py (bench/ scripts).

The warm process has done its imports once; each run is a fork that takes the run's environment,
working folder and standard streams (files the parent reads back), then does what its own code says.
The protocol is one JSON line a run on the warm process's stdin; it answers the child's pid, then its
exit code, a line each.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
from pathlib import Path

# Python source a warm process runs after its imports: it waits for runs, forks a child for each and
# answers the child's pid, then its exit code. The child leaves the loop with `run` (the JSON request)
# and its environment, working folder and standard streams already the run's.
TAKE_A_RUN = r"""
def _next_run():
    for line in sys.stdin:
        run = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return run
        print(pid, flush=True)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    sys.exit(0)

run = _next_run()
os.environ.clear()
os.environ.update(run["env"])
os.chdir(run["cwd"])
for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, run["stdout"], os.O_WRONLY | os.O_TRUNC),
                        (2, run["stderr"], os.O_WRONLY | os.O_TRUNC)):
    opened = os.open(path, flags)
    os.dup2(opened, fd)
    os.close(opened)
del _next_run
"""


class WarmProcess:
    """The parent's side: starts the warm process (`argv`, `env`) and asks it for runs."""

    def __init__(self, argv: list[str], name: str, env: dict | None = None):
        self.name = name
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.answers = b""
        self.folder = tempfile.TemporaryDirectory(prefix=f"onestop-{name.replace(' ', '-')}-runs-")

    def run(self, request: dict, args: list[str], timeout: float, started_within: float = 30
            ) -> subprocess.CompletedProcess:
        """One run of `request` (argv, env, cwd and what the warm code reads); answers as
        `subprocess.run(args, capture_output=True, text=True)` does. Raises subprocess.TimeoutExpired
        (the run killed) after `timeout` seconds."""
        out, err = Path(self.folder.name, "stdout"), Path(self.folder.name, "stderr")
        out.write_bytes(b"")
        err.write_bytes(b"")
        line = memoryview(json.dumps({**request, "stdout": str(out), "stderr": str(err)}).encode() + b"\n")
        while line:
            line = line[self.process.stdin.write(line):]
        pid = int(self._line(timeout=started_within))
        try:
            code = int(self._line(timeout))
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self._line(timeout=30)
            raise subprocess.TimeoutExpired(args, timeout) from None
        # Read back as subprocess.run(text=True) decodes a pipe: the locale's encoding, universal newlines.
        return subprocess.CompletedProcess(args, code, out.read_text(), err.read_text())

    def _line(self, timeout) -> str:
        """The warm process's next answer line, waiting at most `timeout` seconds for it."""
        while b"\n" not in self.answers:
            if not select.select([self.process.stdout], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.name, timeout)
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the {self.name} process ended (exit {self.process.wait()})")
            self.answers += chunk
        line, self.answers = self.answers.split(b"\n", 1)
        return line.decode()

    def close(self):
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()
        self.folder.cleanup()
