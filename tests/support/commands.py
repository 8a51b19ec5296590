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
import sys
from pathlib import Path

from tests.support.warm import TAKE_A_RUN, WarmProcess

# The warm process: its imports (the modules named in the JSON of its first argument; with
# `import_modules`, what create_app imports too: a server's web layer), then TAKE_A_RUN
# (tests/support/warm.py); the child runs the command as the script does.
_WARM = r"""
import gc, importlib, json, os, sys
sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[1]))  # the script's folder, not `-c`'s working folder
from onestop.cli import main
for library in json.loads(sys.argv[2]):
    importlib.import_module(library)
if sys.argv[3:] == ["import_modules"]:
    from onestop.app import import_modules
    import_modules(simulators=True)
    del import_modules
gc.freeze()  # what the children share stays out of their collections (and its pages unwritten)
""" + TAKE_A_RUN + r"""
sys.argv = [run["script"], *run["argv"]]
del gc, importlib, json, os, run, library
sys.exit(main())
"""


# Outside libraries the commands import (the engine's, the signing's, the catalogue's): imported once,
# in the warm process (see the module's docstring).
LIBRARIES = ("RestrictedPython", "SpiffWorkflow.bpmn", "SpiffWorkflow.bpmn.parser", "SpiffWorkflow.bpmn.serializer",
             "SpiffWorkflow.spiff.parser", "argon2", "croniter", "cryptography.fernet", "cryptography.x509",
             "dateutil.parser", "defusedxml.ElementTree", "jinja2", "jsonschema", "jsonschema_rs", "lxml.etree",
             "re2", "simpleeval", "standardwebhooks", "vietnam_provinces")


class Commands(WarmProcess):
    """A warm `onestop` process to fork commands from: `run` answers as `subprocess.run` does, `start`
    returns the child at once (a server). `imports`: the modules it imports; `import_modules`: also what
    create_app imports (onestop.app.import_modules, the web layer and the simulators)."""

    def __init__(self, imports: tuple[str, ...] = LIBRARIES, import_modules: bool = False, name="warm onestop"):
        self.script = str(Path(sys.executable).parent / "onestop")
        super().__init__([sys.executable, "-c", _WARM, self.script, json.dumps(imports),
                          *(["import_modules"] if import_modules else [])], name=name)

    def run(self, *args, env: dict, timeout: float = 120):
        """`onestop ARGS...` with the environment `env` in this folder; its stdout and stderr as text.
        Raises subprocess.TimeoutExpired (the command killed) after `timeout` seconds."""
        return super().run(self._request(args, env), [self.script, *args], timeout)

    def start(self, argv: list[str], env: dict, log: Path):
        """`onestop ARGV...` (e.g. ["serve"]) in a child with environment `env`, this working folder, stdin
        from /dev/null, stdout and stderr to the file `log` and a session of its own (its process group is
        its pid, as with `start_new_session`); returns it at once (tests/support/warm.py's `Forked`), running."""
        return self.fork(self._request(argv, env), [self.script, *argv], log, log, session=True)

    def _request(self, argv, env) -> dict:
        return {"argv": [str(a) for a in argv], "env": dict(env), "cwd": os.getcwd(), "script": self.script}
