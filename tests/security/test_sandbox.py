"""Hostile expressions and scripts from issue 14: each stops with a named error within its budget,
the server keeps answering, one centre's slow scripts do not hold up another's, and no memory
address reaches a model's code."""

import dataclasses
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from xml.sax.saxutils import escape

import pytest
import requests

from onestop.engine.sandbox import (
    ExpressionBudget,
    ExpressionLimitError,
    Sandbox,
    ScriptError,
    evaluate_expression,
)
from tests.conftest import Api, _close_pool, _make_app, _release, make_user, script_model
from tests.support.health import HealthProbe, assert_kept_answering
from tests.support.postgres import postgres_admin_url
from tests.support.sandbox import start_workers
from tests.support.servers import admin_token, onestop_serve

# Expressions that took 10-18 s and 1-2.6 GB in the web process before they had a budget; every
# one stays inside the size checks that existed then (strings <= 100,000 characters, sequences
# <= 10,000 items, comprehensions <= 10,000 rounds).
HOSTILE_EXPRESSIONS = [
    '["x" * 99990 + str(i) for i in range(10000)]',
    "[sorted(range(10000)) for i in range(10000)]",
    "[list(range(10000)) for i in range(10000)]",
    "[str(list(range(2000))) for i in range(10000)]",
    '[("y" * 50000).replace("y", "zz") for i in range(10000)]',
    '[" ".join([str(i)] * 9000) for i in range(10000)]',
    "[dict(zip(range(5000), range(5000))) for i in range(10000)]",
    "[tuple(range(10000)) for i in range(10000)]",
    "[[str(j) * 5000 for j in range(99)] for i in range(99)]",
    # One value held many times: small in memory, huge as text or as stored JSON, and slow to
    # compare: [[c] * 1000] * 1000 built with comprehensions.
    "len([[c for i in range(1000)] for c in [[j for j in range(1000)] for k in range(3)]])",
    '[s for i in range(10000)]',
    # No allocation at all, just work: time is the limit.
    '[int("9" * 4000) % 7 for i in range(10000)]',
    "[max(r) + min(r) + sum(r) for r in [range(9999)] for i in range(9999)]",
]
DATA = {"s": "x" * 100_000}
# The default budget (32 MB of built values, a million steps) with a shorter time limit than the
# default 1 s: each of these would run 10-18 s unbounded, so whether it stops at 0.4 s or at 1 s is
# the same property (the limit holds), and the 13 of them take 5-8 s less.
HOSTILE_BUDGET = dataclasses.replace(ExpressionBudget(), seconds=0.4)


# Not `alone`: the time limit is read from the wall clock, so a busy neighbour makes an expression stop
# after less work, not later. What runs past the limit (the step in progress, the unwinding, freeing the
# values) is bounded in CPU, not in wall time: at 98 % CPU pressure one took 2.06 s of wall against 1.9.
# So the bound of 1.5 s past the limit is on this thread's CPU time (the expression runs in it), which no
# neighbour inflates; unbounded, each of these spends 10-18 s of CPU. The wall time only has to show that
# it stopped (10 s: unbounded, each ran 10-18 s on a quiet machine). The memory budget counts built values,
# which no neighbour changes.
@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS)
def test_a_hostile_expression_stops_with_a_named_error_within_its_budget(expression):
    tracemalloc.start()
    started, cpu_started = time.monotonic(), time.thread_time()
    try:
        with pytest.raises(ExpressionLimitError, match="^expression stopped: "):
            evaluate_expression(expression, DATA, budget=HOSTILE_BUDGET)
        elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu_started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 0.4 s and 32 MB of built values (tracing makes each step slower, so the time limit, checked
    # every 16 steps, may be what stops it); the same 1.5 s of slack as with the default 1 s.
    assert cpu < HOSTILE_BUDGET.seconds + 1.5
    assert elapsed < 10
    assert peak < 100 * 1024 * 1024


@pytest.mark.parametrize(
    "expression",
    ['str("a".upper)', 'f"{d.get}"', '"%s" % (d.get,)', "str([d.get])", "str(len)", "str(datetime.now)"],
)
def test_an_expression_cannot_turn_a_function_into_text_with_its_address(expression):
    with pytest.raises(ScriptError, match="only data can be turned into text"):
        evaluate_expression(expression, {"d": {}})


ADDRESS_LEAKS = {
    "repr": "def f():\n    pass\nx = repr(f)",
    "str": "def f():\n    pass\nx = str(f)",
    "f-string": "def f():\n    pass\nx = f'{f}'",
    "percent": "def f():\n    pass\nx = '%s' % (f,)",
    "in-place percent": "def f():\n    pass\nx = '%s'\nx %= (f,)",
    "bound method": "x = str([].copy)",
    "iterator": "x = str(reversed([1]))",
    "generator": "x = str((i for i in [1]))",
    "lambda": "x = repr(lambda: 1)",
    "caught exception": "def f():\n    pass\ntry:\n    [].index(f)\nexcept ValueError as e:\n    x = str(e)",
    "exception args": "def f():\n    pass\ntry:\n    [].index(f)\nexcept ValueError as e:\n    x = e.args[0]",
}


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    yield box
    box.close()


@pytest.mark.parametrize("script", ADDRESS_LEAKS.values(), ids=ADDRESS_LEAKS.keys())
def test_no_memory_address_reaches_a_script(sandbox, script):
    text = sandbox.execute(script, {})["x"]
    assert " at 0x" not in text and text.startswith("<") or "is not in list" in text


def test_an_uncaught_error_names_the_object_without_its_address(sandbox):
    with pytest.raises(ScriptError) as caught:
        sandbox.execute("def f():\n    pass\n[].index(f)", {})
    assert "<function f> is not in list" in caught.value.message


@pytest.mark.parametrize("call", ["id([])", "hash('a')", "vars()", "dir()", "globals()", "locals()"])
def test_id_hash_vars_and_dir_are_refused_in_scripts_and_expressions(sandbox, call):
    with pytest.raises(ScriptError, match=r"calling \w+\(\) is not allowed in scripts"):
        sandbox.execute(f"x = {call}", {})
    with pytest.raises(ScriptError, match=r"calling \w+\(\) is not allowed in expressions"):
        sandbox.evaluate(call, {})


def test_a_script_still_checks_types_with_str_and_formats_numbers():
    with Sandbox() as box:
        result = box.execute("a = isinstance('x', str)\nb = f'{n:>5}|{n:.2f}'\nc = '%05d' % n\nd = str(b'ab', 'ascii')\n"
                             "e = str.upper('x')", {"n": 42})
    assert result == {"n": 42, "a": True, "b": "   42|42.00", "c": "00042", "d": "ab", "e": "X"}


# --------------------------------------------------------------------------- over HTTP

_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_{id}"
  targetNamespace="http://onestop.test">
  <bpmn:process id="{id}" isExecutable="true">
    <bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="{first}" />
    {body}
    <bpmn:userTask id="Task_Done" name="Xong"><bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_End</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Task_Done" targetRef="End_1" />
    <bpmn:endEvent id="End_1"><bpmn:incoming>Flow_End</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def gateway_model(expression):
    body = f"""<bpmn:exclusiveGateway id="Gateway" default="Flow_2"><bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing><bpmn:outgoing>Flow_3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Gateway" targetRef="Task_Done" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Gateway" targetRef="End_Other">
      <bpmn:conditionExpression>{escape(expression)}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:endEvent id="End_Other"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>"""
    return [("hostile_gateway.bpmn", _BPMN.format(id="hostile_gateway", first="Gateway", body=body).encode())]


def timer_model(expression):
    body = f"""<bpmn:intermediateCatchEvent id="Timer"><bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing><bpmn:timerEventDefinition id="TimerDef">
      <bpmn:timeDuration>{escape(expression)}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer" targetRef="Task_Done" />"""
    return [("hostile_timer.bpmn", _BPMN.format(id="hostile_timer", first="Timer", body=body).encode())]


def dmn_model(expression):
    body = """<bpmn:businessRuleTask id="Rules" name="Quy tắc"><bpmn:extensionElements>
      <spiffworkflow:calledDecisionId>hostile_decision</spiffworkflow:calledDecisionId></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Rules" targetRef="Task_Done" />"""
    dmn = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_dmn" name="DRD"
  namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="hostile_decision" name="hostile_decision">
    <decisionTable id="Table">
      <input id="Input" label="q"><inputExpression id="InputExpression" typeRef="string">
        <text>1</text></inputExpression></input>
      <output id="Output" label="a" name="answer" typeRef="string" />
      <rule id="Rule"><inputEntry id="Entry"><text></text></inputEntry>
        <outputEntry id="Out"><text>{escape(expression)}</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""
    return [("hostile_dmn.bpmn", _BPMN.format(id="hostile_dmn", first="Rules", body=body).encode()),
            ("hostile.dmn", dmn.encode())]


# A budget-exhausting expression of each kind; the timer's must also yield a duration text.
HANG = '["x" * 99990 + str(i) for i in range(10000)]'
MODELS = {
    "gateway": (gateway_model(f"len({HANG}) > 0"), "hostile_gateway", "Gateway"),
    "timer": (timer_model(f'"PT" + str(len({HANG})) + "S"'), "hostile_timer", "Timer"),
    "dmn": (dmn_model(f"len({HANG})"), "hostile_dmn", "Rules"),
    "slow gateway": (gateway_model("len([max(r) + min(r) + sum(r) for r in [range(9999)] for i in range(9999)]) > 0"),
                     "hostile_gateway", "Gateway"),
}


@pytest.fixture(scope="module", autouse=True)
def _ready_before_the_lock(tmp_path_factory, database_templates, engine):
    """The first app of this process and PostgreSQL's cluster and migrated template, made in the
    module's first setup: that of its first `alone` test, which runs beside the other workers' tests.
    Left to the five slow scripts' own setups, which follow other `alone` tests under the exclusive lock
    held from one to the next (tests/support/parallel.py), they held every other worker for 4.0 s
    (SQLite: the web layer's first import) and 5.8 s (PostgreSQL) in a run of the four `alone` files."""
    folder = tmp_path_factory.mktemp("ready")
    _release(_make_app(database_templates.sqlite(folder / "onestop.db"), folder, engine))
    _close_pool()
    admin_url = postgres_admin_url()
    if admin_url:  # without a server, the PostgreSQL run of the five slow scripts skips on its own
        database_templates.drop_later(database_templates.postgres(admin_url))


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_templates):
    folder = tmp_path_factory.mktemp("hostile")
    # The expressions' time limit shortened from 1 s to 0.4 s, as for the hostile expressions above;
    # SQLite as in the embedded default, a copy of the migrated template instead of migrated at start.
    with onestop_serve(folder, ONESTOP_DATABASE_URL=database_templates.sqlite(folder / "onestop.db"),
                       ONESTOP_TIMER_POLL_SECONDS="0.5",
                       ONESTOP_EXPRESSION_TIMEOUT=str(HOSTILE_BUDGET.seconds)) as (base, home, _env, log):
        token = admin_token(home)
        yield base, {"Authorization": f"Bearer {token}"}, log


@pytest.mark.alone
@pytest.mark.parametrize("kind", MODELS)
def test_a_hostile_expression_in_an_uploaded_model_ends_in_a_named_error_while_healthz_answers(server, kind):
    base, headers, log = server
    files, code, element = MODELS[kind]
    upload = requests.post(base + "/api/v1/procedures", headers=headers, timeout=30,
                           files=[("files", (name, content)) for name, content in files])
    assert upload.status_code in (200, 201), upload.text
    with HealthProbe(base) as probe:
        started = time.monotonic()
        response = requests.post(base + "/api/v1/dossiers", headers=headers, json={"procedure": code}, timeout=30)
        elapsed = time.monotonic() - started
        time.sleep(0.2)  # a few answers after the step too
    assert response.status_code == 201, response.text
    dossier = response.json()
    assert elapsed < 5
    assert dossier["state"] == "error"
    assert dossier["error"]["element_id"] == element
    assert "expression stopped: " in dossier["error"]["message"]
    assert_kept_answering(probe)
    assert "Traceback" not in log.read_text()


# Not `alone`: how promptly the 0.05 s limit stops the expression is bounded on this thread's CPU time
# (the work done, stop included; on the wall clock before, under the exclusive lock), which no neighbour
# changes: a neighbour only makes the wall-clock limit come after less work.
def test_the_budget_is_per_sandbox_and_names_what_ran_out():
    with Sandbox(expression_timeout=0.05) as box:
        cpu_started = time.thread_time()
        with pytest.raises(ExpressionLimitError, match="time limit of 0.05 s"):
            box.evaluate("[max(r) + min(r) + sum(r) for r in [range(9999)] for i in range(9999)]", DATA)
        assert time.thread_time() - cpu_started < 0.5
    with Sandbox(expression_memory_mb=1) as box, pytest.raises(ExpressionLimitError, match="more than 1 MB"):
        box.evaluate("[list(range(1000)) for i in range(100)]", {})


# --------------------------------------------------------------------------- the pool


SLOW = "x = 0\nwhile True:\n    x = x + 1"
QUEUED_LIMIT = 0.3  # seconds: the slow scripts that wait for a worker, once the timing is over


@pytest.mark.alone
def test_five_slow_scripts_of_one_centre_neither_fail_nor_delay_another_centres_script(app, admin_api, monkeypatch):
    """The app's sandbox as configured by default: 4 workers, at most 2 for one centre; its script
    time limit shortened from 2 s to 1.5 s for this test: the first two slow scripts run to it, under
    the exclusive lock (`alone`), the three queued behind them to 0.3 s once the other centre's script
    is done. Its workers are started first (``start_workers``): the other centre's
    script then ended at most 0.31 s after the slow ones began on the loaded machine (up to 0.68 s with
    a Python start beside their busy loops); with two more busy loops beside the test, up to 0.94 s (1.2 s
    failed once at 99.6 % CPU pressure, hence 1.5 s)."""
    from onestop.models import Centre

    with app.app_context():
        busy = Centre.create(code="xa-ban", name="UBND xã Bận")
        _, busy_token = make_user("busy_admin", ("admin",), centre=busy)
    busy_api = Api(app.test_client(), busy_token)
    assert busy_api.upload([script_model(SLOW, "slow")]).status_code == 201
    assert admin_api.upload([script_model("fee = 50000", "quick")]).status_code == 201
    sandbox = app.extensions["onestop.engine"].sandbox
    assert (sandbox.pool_size, sandbox.per_tenant, sandbox.timeout) == (4, 2, 2.0)
    limit = 1.5
    monkeypatch.setattr(sandbox, "timeout", limit)
    start_workers(sandbox, ["warm-1", "warm-1", "warm-2", "warm-2"])

    slow_results = []

    def start_slow():
        client = Api(app.test_client(), busy_token)
        slow_results.append(client.post("/dossiers", {"procedure": "slow"}))

    threads = [threading.Thread(target=start_slow) for _ in range(5)]
    slow_began = time.monotonic()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while sandbox._gate.held(busy.id) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox._gate.held(busy.id) == 2  # the busy centre's share is in use, three more wait
    started = time.monotonic()
    quick = admin_api.post("/dossiers", {"procedure": "quick"})
    quick_ended = time.monotonic()
    elapsed = quick_ended - started
    # What is timed is over. The three slow scripts still waiting for the busy centre's share run to a
    # shorter limit (read as each one starts): they show that a queued script waits for a worker and
    # is not refused as busy, which takes no 1.5 s each (3.6 s of busy loops less per database).
    monkeypatch.setattr(sandbox, "timeout", QUEUED_LIMIT)
    for thread in threads:
        thread.join(30)

    assert quick.status_code == 201, quick.json
    assert quick.json["state"] == "active"
    assert admin_api.get(f"/dossiers/{quick.json['code']}").json["data"]["fee"] == 50000
    # It neither waited for a slow script to reach its limit nor was refused as busy: it was done
    # before the first slow script (begun after slow_began) could have run its 1.5 s.
    assert quick_ended - slow_began < limit, f"the other centre's script took {elapsed:.2f} s"
    assert sorted(r.status_code for r in slow_results) == [201] * 5
    # Each slow script ran to its own time limit: none was refused because the pool was busy. The
    # two that held the busy centre's share while the other centre's script ran, to the full 1.5 s.
    messages = sorted(r.json["error"]["message"] for r in slow_results)
    assert messages == sorted([f"script stopped: time limit of {QUEUED_LIMIT:g} s exceeded"] * 3
                              + [f"script stopped: time limit of {limit:g} s exceeded"] * 2), messages


def test_the_memory_a_stopped_expression_built_goes_back_to_the_system():
    # In a fresh interpreter: eight threads (each with its own malloc arena, like a web process's
    # request threads) each run a budget-exhausting expression; the process ends about where it began.
    program = f"""
import threading
from onestop.engine.sandbox import ExpressionLimitError, evaluate_expression

def rss_kb():
    return int([line for line in open("/proc/self/status") if line.startswith("VmRSS")][0].split()[1])

def hostile():
    try:
        evaluate_expression({HANG!r}, {{}})
    except ExpressionLimitError:
        pass

hostile()
before = rss_kb()
for _ in range(2):
    threads = [threading.Thread(target=hostile) for _ in range(8)]
    for thread in threads:
        thread.start()
        thread.join()
print(rss_kb() - before)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 24 * 1024, f"{int(result.stdout) // 1024} MB kept"
