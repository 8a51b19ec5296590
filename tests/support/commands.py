"""`onestop` commands run in processes of their own, each forked from a warm one.

The `onestop` script starts Python, imports `onestop.cli` and calls `sys.exit(main())`. The first two
cost ~0.2 s of CPU at every command (the interpreter, peewee with both PostgreSQL drivers, the CLI)
and tell a test nothing new after the first: a test module that runs dozens of commands starts
one `Commands` process that has done them once, and forks it for each command. The child then does
what the script does next, at the top level as the script does: it takes the command's arguments,
environment, working folder and standard streams, and runs `sys.exit(main())` — a command of
its own (its own database connections, runtime and caches, nothing of the one before), with
Python's own exit: the exit status, a traceback on stderr for an uncaught exception, atexit
handlers and non-daemon threads waited for. What it cannot show is a fault of the start itself
(the script, `import onestop.cli` under another environment): tests of those run the real
`onestop` (tests/test_cli.py's `onestop init` and start-up tests).

The warm process has also imported the outside libraries the commands use (SpiffWorkflow,
RestrictedPython, cryptography, lxml, jsonschema...: `LIBRARIES`) and keeps them out of the
collector: importing them was most of a command's CPU (a `validate` 0.8 -> 0.3 s), the same work
at every command. onestop's own modules are still imported by each command, as the script does,
so a command that forgets to import one of them fails here as it would for the administrator.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

# The warm process: reads one command a line from its stdin, forks a child for it and answers the
# child's pid, then its exit code. The child leaves the loop and runs the command as the script does.
_WARM = r"""
import gc, importlib, json, os, sys
sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[1]))  # the script's folder, not `-c`'s working folder
from onestop.cli import main
for library in sys.argv[2:]:
    importlib.import_module(library)
gc.freeze()  # what the children share stays out of their collections (and its pages unwritten)

def _next_command():
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return command
        print(pid, flush=True)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    sys.exit(0)

command = _next_command()
os.environ.clear()
os.environ.update(command["env"])
os.chdir(command["cwd"])
for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, command["stdout"], os.O_WRONLY | os.O_TRUNC),
                        (2, command["stderr"], os.O_WRONLY | os.O_TRUNC)):
    opened = os.open(path, flags)
    os.dup2(opened, fd)
    os.close(opened)
sys.argv = [command["script"], *command["argv"]]
del gc, importlib, json, os, _next_command, command, library
sys.exit(main())
"""


# Outside libraries the commands import (the engine's, the signing's, the catalogue's): imported once,
# in the warm process (see the module's docstring).
LIBRARIES = ("RestrictedPython", "SpiffWorkflow.bpmn", "SpiffWorkflow.bpmn.parser", "SpiffWorkflow.bpmn.serializer",
             "SpiffWorkflow.spiff.parser", "argon2", "croniter", "cryptography.fernet", "cryptography.x509",
             "dateutil.parser", "defusedxml.ElementTree", "jinja2", "jsonschema", "jsonschema_rs", "lxml.etree",
             "re2", "simpleeval", "standardwebhooks", "vietnam_provinces")


class Commands:
    """A warm `onestop` process to fork commands from; `run` answers as `subprocess.run` does."""

    def __init__(self):
        self.script = str(Path(sys.executable).parent / "onestop")
        self.process = subprocess.Popen([sys.executable, "-c", _WARM, self.script, *LIBRARIES], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, bufsize=0)
        self.answers = b""
        self.folder = tempfile.TemporaryDirectory(prefix="onestop-commands-")

    def run(self, *args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
        """`onestop ARGS...` with the environment `env` in this folder; its stdout and stderr as text.
        Raises subprocess.TimeoutExpired (the command killed) after `timeout` seconds."""
        out, err = Path(self.folder.name, "stdout"), Path(self.folder.name, "stderr")
        out.write_bytes(b"")
        err.write_bytes(b"")
        request = {"argv": [str(a) for a in args], "env": dict(env), "cwd": os.getcwd(), "script": self.script,
                   "stdout": str(out), "stderr": str(err)}
        line = memoryview(json.dumps(request).encode() + b"\n")
        while line:
            line = line[self.process.stdin.write(line):]
        pid = int(self._line(timeout=30))
        try:
            code = int(self._line(timeout))
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self._line(timeout=30)
            raise subprocess.TimeoutExpired([self.script, *args], timeout) from None
        # Read back as subprocess.run(text=True) decodes a pipe: the locale's encoding, universal newlines.
        return subprocess.CompletedProcess([self.script, *args], code, out.read_text(), err.read_text())

    def _line(self, timeout) -> str:
        """The warm process's next answer line, waiting at most `timeout` seconds for it."""
        while b"\n" not in self.answers:
            if not select.select([self.process.stdout], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired("onestop", timeout)
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the warm onestop process ended (exit {self.process.wait()})")
            self.answers += chunk
        line, self.answers = self.answers.split(b"\n", 1)
        return line.decode()

    def close(self):
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()
        self.folder.cleanup()
