"""bench/ scripts run in processes of their own, each forked from a warm one that has imported onestop.

`python bench/NAME.py` starts Python, which puts bench/ first on sys.path and runs the file as `__main__`;
nearly every script then imports onestop's app, services and engine (Flask, peewee, SpiffWorkflow, the
database drivers; those that build the app, its web layer and back office too): ~0.8-1.2 s of CPU at each
of the tiny runs, a third of the CPU of most of them, and the same imports every time. A test module
starts one `WarmScripts` process that has done those imports, and forks it for each script. The child does what the interpreter does next: it takes the run's
arguments, environment, working folder and standard streams, puts the script's folder first on
sys.path and runs the whole file as `__main__` (runpy), and exits as Python does: the exit status, a
traceback on stderr for an uncaught exception, non-daemon threads waited for, atexit handlers run, the standard
streams flushed; then it leaves without tearing down the interpreter's modules (os._exit), which the warm
process's imports made ~65 ms of CPU a run.
Everything the script does, it does in the child: its own imports (a module it names that does not
exist still fails), database, servers and subprocesses (these start cold, as in a real run). What it
cannot show is a fault of the cold start itself (a script that uses a module of onestop it never
imports would find it imported): test_the_performance_page_shows_the_recorded_runs runs bench/report.py
cold, and a real run of any script runs it cold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.warm import EXIT_AS_PYTHON, TAKE_A_RUN, WarmProcess

# What the scripts import (directly or through onestop's app), imported once here; each a module that
# exists in this checkout or an installed package. Nothing of bench/ (the scripts import it themselves).
# Then what create_app imports (onestop.app.import_modules, as a server's master does before forking).
PRELOAD = ("onestop.app", "onestop.cli", "onestop.engine", "onestop.services.procedures", "onestop.services.dossiers",
           "SpiffWorkflow.bpmn", "SpiffWorkflow.spiff.parser.process", "psycopg2", "urllib3")

# The warm process: its imports, then TAKE_A_RUN (tests/support/warm.py); the child runs the script as
# `python SCRIPT ARGS` would, and ends as it would (EXIT_AS_PYTHON).
_WARM = r"""
import importlib, json, os, sys
del sys.path[0]  # `-c`'s working folder: a script's run puts its own folder there instead
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
if "onestop.app" in sys.modules:
    from onestop.app import import_modules
    import_modules(simulators=True)  # what create_app imports (the web layer, the back office, the simulators)
import gc
gc.freeze()  # the imports out of the children's collections, as `onestop serve` keeps its start-up
""" + TAKE_A_RUN + EXIT_AS_PYTHON + r"""
import runpy, tempfile
tempfile.tempdir = None  # chosen again from this run's TMPDIR
sys.argv = [run["script"], *run["argv"]]
sys.path.insert(0, os.path.dirname(os.path.realpath(run["script"])))
script = run["script"]
del importlib, json, run
_exit_as_python(lambda: runpy.run_path(script, run_name="__main__"))
"""


class WarmScripts(WarmProcess):
    """A warm process to fork bench/ scripts from; `run` answers as `subprocess.run(capture_output=True, text=True)`.

    `env` is the environment the warm process starts with (its PYTHONPATH decides where onestop is imported
    from); each run gives its own environment and working folder. `preload`: the modules it imports (with
    onestop.app among them, what create_app imports too)."""

    def __init__(self, env: dict, preload: tuple[str, ...] = PRELOAD):
        super().__init__([sys.executable, "-c", _WARM, json.dumps(preload)], name="warm bench", env=env)

    def run(self, script: Path, *args, env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        """`python SCRIPT ARGS...` with the environment `env` in folder `cwd`; its stdout and stderr as text.
        Raises subprocess.TimeoutExpired (the run killed) after `timeout` seconds."""
        request = {"script": str(script), "argv": [str(a) for a in args], "env": dict(env), "cwd": str(cwd)}
        return super().run(request, [str(script), *args], timeout, started_within=60)
