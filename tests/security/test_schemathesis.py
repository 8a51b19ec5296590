"""schemathesis against the real server's /api/v1/openapi.json: no generated request makes a 5xx,
and every answer conforms to the document (status, media type, schema).

The run is bounded (the coverage phase's cases, then a fixed number of fuzzed examples per
operation from a fixed seed) so that it takes the same time and tries the same requests on every
machine. Each database has its own seed: the coverage phase (every operation's boundaries, wrong
types, missing parts) is the same on both, the fuzzed examples differ, so the two passes together
try about twice as many different fuzzed requests as one (with deterministic generation the second
pass made the same draws as the first, only the seeded identifiers differing). It uses the
administrator's token so that the authenticated operations are exercised beyond their 401, and
each operation the administrator may not use is given the credentials it needs instead of
answering 403 to every request: the external-task operations a worker token of the seeded
external task's topic, the national operations (coverage, rollouts, the national calendar) a
system administrator's token, and the national portal's pushes are signed with the server's shared
secret (tests/security/schemathesis_hooks.py). The path parameters draw most of the time from real procedures,
dossiers, tasks and external tasks (seeded first) so that the requests reach the handlers' logic
instead of stopping at a 404.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import MODELS
from tests.services.test_external_tasks import tax_model
from tests.support.servers import admin_token, onestop_serve, run_commands
from tests.support.warm import EXIT_AS_PYTHON, TAKE_A_RUN, WarmProcess

# The `schemathesis` command, run in a process of its own forked from one warm client process per
# worker (tests/support/warm.py): the client's Python start and imports (hypothesis, schemathesis and
# what a run loads lazily: ~0.85 s of CPU) are paid once for both databases instead of once for each.
# The forked child runs the command as the `schemathesis` script would, from a process that has
# imported modules and nothing else: it has not loaded the hooks file, made any strategy, read the
# configuration or touched hypothesis's storage, and everything local to a run (hypothesis's state,
# schemathesis's caches) starts empty in each child. It ends as the interpreter would (non-daemon
# threads waited for, atexit handlers run, the streams flushed: EXIT_AS_PYTHON) without tearing the interpreter down
# (clearing ~1,500 modules and collecting a heap of ~170 MB, for nothing).
# Three changes to how the client spends its CPU, none to what it generates, sends or checks (the same
# requests, statuses and verdicts, operation by operation; the figures in docs/testspeed.md):
# - No cyclic garbage collector: schemathesis and hypothesis allocate millions of short-lived objects
#   while generating, and many survive a while (strategies, caches), so each young-generation pass
#   walked thousands of them: 0.40 s of a pass's CPU in 234 collections, for a one-shot process that
#   ends in ~20 s. Reference counting still frees what is not in a cycle; the rest (peak 111 -> 165-170
#   MB) goes with the process.
# - Each operation's settings resolved once: schemathesis merges the configuration's layers (the
#   [[operations]] blocks of schemathesis.toml, the phase's, the project's) again for every
#   generated case and every response it validates (phases_for, generation_for, checks_config_for:
#   4,670 calls, 0.81 s of a pass's ~9 s of CPU; 0.10 s cached); they depend only on the operation
#   and the phase, and the configuration does not change once the run has begun (schemathesis caches
#   its own per-operation blocks the same way, OperationsConfig.get_for_operation). If a later
#   schemathesis renames them, the run goes on unchanged, only without the cache.
# - Its HTTP sessions do not trust the environment: requests otherwise reads the proxy variables and
#   looks for ~/.netrc on every request (about a tenth of the client's time in sending), and the test
#   gives it neither (the environment is cut to what it needs, below), so the same requests go out.
CLIENT = """
import gc, importlib, json, os, pkgutil, sys
gc.disable()
import requests
_session_init = requests.Session.__init__
def _init(self, *args, **kwargs):
    _session_init(self, *args, **kwargs)
    self.trust_env = False
requests.Session.__init__ = _init
def _resolved_once(name):
    from schemathesis.config._projects import ProjectConfig
    resolve = getattr(ProjectConfig, name)
    known = {}
    def resolved(self, *, operation=None, **phase):
        if operation is None:
            return resolve(self, operation=operation, **phase)
        key = (id(self), operation, phase.get("phase"))
        if key not in known:  # kept with its config, whose id no other config can then take
            known[key] = (self, resolve(self, operation=operation, **phase))
        return known[key][1]
    setattr(ProjectConfig, name, resolved)
try:
    for _name in ("phases_for", "generation_for", "checks_config_for"):
        _resolved_once(_name)
except (ImportError, AttributeError):
    pass
from schemathesis.cli import schemathesis
def _preload(packages, modules):  # the run's lazy imports, done once; one that fails (an extra not
    # installed, a module a later version renamed) is left to the run, as before
    for package in packages:
        try:
            found = [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
        except ImportError:
            continue
        modules = [*found, *modules]
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
_preload(*json.loads(sys.argv[1]))
del _preload
""" + TAKE_A_RUN + EXIT_AS_PYTHON + """
sys.argv = ["schemathesis", *run["argv"]]
_exit_as_python(schemathesis)
"""
# What a run imports after the command's own modules (measured: 0.05 of 0.55 s left to the run).
PRELOAD = (("schemathesis.specs.openapi", "schemathesis.engine", "schemathesis.core", "schemathesis.generation",
            "schemathesis.transport", "schemathesis.openapi"),
           ("hypothesis.strategies", "hypothesis.stateful", "rich.progress", "rich.live", "rich.table", "asyncio",
            "multiprocessing.pool", "anyio", "pyrate_limiter", "werkzeug", "sqlite3", "http.server", "harfile", "netrc",
            "standardwebhooks"))
# Fuzzed examples per operation and database, after the coverage phase's ~2,060 requests (every
# operation's boundaries, wrong types, missing parts). Each example costs the client ~8 ms of
# hypothesis and schemathesis CPU; 15 a database (~800 requests, 9 s of the client's 13 s) were
# drawn when ~850 of the requests a database went to operations answering only 401/403 for want of
# credentials. With each operation given its credentials, 5 (from a different seed on each database)
# still fuzz every operation on both databases, and more requests reach the handlers than before.
EXAMPLES = 5
SEEDS = {"sqlite": 1, "postgresql": 2}  # a different draw of fuzzed requests on each database
DOSSIERS = 8
EXTERNAL = 4  # dossiers waiting at an external task of the worker's topic
TOPIC = "tax-check"
# Every check schemathesis has: no 5xx; every answer with a documented status, its documented media
# type and headers, fitting the response schema the document publishes (declared beside the
# presenters, web/present.py); schema-valid requests accepted, invalid ones refused; a 405 with Allow;
# no authentication ignored; deleted resources gone and created ones there.
CHECKS = "all"
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


@pytest.fixture(scope="module")
def hypothesis_storage():
    """Where hypothesis keeps what it derives once (its tables of the Unicode categories and of the
    characters UTF-8 can encode, 1-2 s of CPU to build): kept in the machine's temporary folder from
    one run of the suite to the next instead of rebuilt in every run. The tables depend only on the
    Unicode version (hypothesis names its files after it) and are written atomically, so runs side
    by side share them safely. It holds no examples: the runs keep no example database
    (--generation-database none)."""
    folder = Path(tempfile.gettempdir()) / "onestop-hypothesis-tables"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def client(hypothesis_storage):
    """The warm schemathesis client of this module's runs (CLIENT), in the environment a run gets but the hooks'."""
    warm = WarmProcess([sys.executable, "-c", CLIENT, json.dumps(PRELOAD)], name="warm schemathesis",
                       env=_environment(hypothesis_storage))
    yield warm
    warm.close()


@pytest.fixture
def served(database_url, tmp_path):
    # One web worker (gthread, eight request threads): the one schemathesis client keeps one
    # connection alive, so a second worker only cost its start (the app imported and built again).
    with onestop_serve(tmp_path, ONESTOP_DATABASE_URL=database_url, ONESTOP_TIMER_THREAD="0",
                       ONESTOP_WEB_WORKERS="1") as (base, home, env, log):
        token = admin_token(home)
        portal_secret = (home / "national_portal_secret").read_text().strip()  # made on the server's start
        yield base, token, dict(_credentials(env), portal=portal_secret), log


def _credentials(env) -> dict:
    """Tokens for the operations the administrator may not use, made by the CLI (one process): a
    worker token of TOPIC (external tasks) and a system administrator's API token (the nation)."""
    made = run_commands(env, ("user", "create", "tax.robot", "--role", "integration", "--topic", TOPIC),
                        ("user", "create", "national", "--role", "system_admin", "--token"))
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    tokens = [lines[n + 1] for n, line in enumerate(lines) if "shown once" in line]
    assert len(tokens) == 2, made.stdout
    return {"worker": tokens[0], "national": tokens[1]}


def _seed(base, token, worker) -> dict:
    """A procedure with a form and a few dossiers waiting at their first task, and one whose dossiers
    wait at an external task of the worker's topic: their codes and ids."""
    headers = {"Authorization": f"Bearer {token}"}
    files = [("files", (p.name, p.read_bytes())) for p in (MODELS / "review.bpmn", MODELS / "receive-schema.json")]
    uploaded = requests.post(f"{base}/api/v1/procedures", files=files, headers=headers, timeout=60)
    assert uploaded.status_code == 201, uploaded.text
    uploaded = requests.post(f"{base}/api/v1/procedures", files=[("files", ("tax_check.bpmn", tax_model(topic=TOPIC)))],
                             headers=headers, timeout=60)
    assert uploaded.status_code == 201, uploaded.text
    dossiers, tasks = [], []
    for procedure, data, count in (("review", {"fee": 100}, DOSSIERS), ("tax_check", {"fee": 1.5}, EXTERNAL)):
        for _ in range(count):
            started = requests.post(f"{base}/api/v1/dossiers", json={"procedure": procedure, "data": data},
                                    headers=headers, timeout=60)
            assert started.status_code == 201, started.text
            dossiers.append(started.json()["code"])
            tasks += [t["id"] for t in started.json()["tasks"]]
    procedures = [p["code"] for p in requests.get(f"{base}/api/v1/procedures", headers=headers, timeout=60)
                  .json()["procedures"]]
    pending = requests.get(f"{base}/api/v1/external-task", headers={"Authorization": f"Bearer {worker}"}, timeout=60)
    assert pending.status_code == 200 and len(pending.json()) == EXTERNAL, pending.text
    return {"dossiers": dossiers, "tasks": tasks, "procedures": procedures,
            "external_tasks": [t["id"] for t in pending.json()]}


def _config(known: dict, credentials: dict) -> str:
    """schemathesis.toml: real identifiers for the path parameters, 80 % of the time, and the
    credentials of the operations the administrator's token (given to all) may not use."""
    def values(name):
        return f"[dictionaries.{name}]\nvalues = {json.dumps(known[name])}\n"

    def bind(path_regex, parameter, name):
        return (f'[[operations]]\ninclude-path-regex = "{path_regex}"\n'
                f'parameters = {{ "{parameter}" = {{ dictionary = "{name}", probability = 0.8 }} }}\n')

    def bearer(path_regex, token):
        return (f'[[operations]]\ninclude-path-regex = "{path_regex}"\n'
                f'headers = {{ Authorization = "Bearer {token}" }}\n')

    # A request that fits the schema may still break a rule the schema cannot say (a period too long,
    # a model file that does not compile, a task at another step): 422 with the details is right.
    statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
    accepted = f'[checks.positive_data_acceptance]\nexpected-statuses = {json.dumps(statuses)}\n'
    # The external-task operations speak Camunda 7: a task locked by another worker (or by none) is a
    # 400 not_locked_by_worker (docs/external-tasks.md), a rule about the task's state the schema cannot say.
    lock_holder = ('[[operations]]\ninclude-path-regex = "^/external-task/[{]task_id[}]/(complete|failure|bpmnError|extendLock)$"\n'
                   f'checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses + ["400"])}\n')
    return "\n".join([accepted, values("dossiers"), values("tasks"), values("procedures"), values("external_tasks"),
                      bind("^/dossiers/", "path.code", "dossiers"),
                      bind("^/(procedures|coverage)/", "path.code", "procedures"),
                      bind("^/tasks/", "path.id", "tasks"),
                      bind("^/external-task/", "path.task_id", "external_tasks"),
                      bind("^/dossiers$", "body.procedure", "procedures"),
                      bearer("^/external-task", credentials["worker"]),
                      bearer("^/(coverage/|rollouts$|calendar/national)", credentials["national"]), lock_holder])


def _environment(hypothesis_storage) -> dict:
    """What schemathesis needs of the environment and nothing more (requests read every variable of
    it for its proxy settings on each request); a run adds the hooks that sign the portal's pushes
    (the warm process, which has not loaded them, goes without)."""
    kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    return dict(kept, HYPOTHESIS_STORAGE_DIRECTORY=str(hypothesis_storage))


def test_no_generated_request_makes_a_server_error_or_an_answer_the_document_does_not_describe(
        served, client, database_url, tmp_path, hypothesis_storage):
    base, token, credentials, log = served
    (tmp_path / "schemathesis.toml").write_text(_config(_seed(base, token, credentials["worker"]), credentials))
    began = time.monotonic()
    # One worker: with two, hypothesis inside schemathesis now and then failed on its own threads
    # ("AST constructor recursion depth mismatch"), a failure of the tool and not of the API.
    argv = ["run", f"{base}/api/v1/openapi.json",
            "--checks", CHECKS, "--header", f"Authorization: Bearer {token}",
            "--max-examples", str(EXAMPLES), "--seed", str(SEEDS["postgresql" if database_url.startswith("postgres") else "sqlite"]),
            "--generation-database", "none",
            "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "20", "--no-color"]
    env = dict(_environment(hypothesis_storage), SCHEMATHESIS_HOOKS=str(HOOKS),
               ONESTOP_NATIONAL_PORTAL_SECRET=credentials["portal"])
    result = client.run({"argv": argv, "env": env, "cwd": str(tmp_path)}, ["schemathesis", *argv], timeout=600)
    took = time.monotonic() - began
    server_log = log.read_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + "\n" + server_log[-4000:]
    assert "unexpected error" not in server_log and "Traceback" not in server_log, server_log[-4000:]
    tested = [line for line in result.stdout.splitlines() if "generated" in line and "passed" in line]
    assert tested, result.stdout[-2000:]
    print(f"schemathesis: {tested[-1].strip()} in {took:.0f} s")
