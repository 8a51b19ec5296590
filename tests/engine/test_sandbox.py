"""The script/expression sandbox: real worker processes, real SpiffWorkflow runs, no mocks."""

import datetime
import threading
import time

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from onestop.engine.sandbox import (
    ExpressionBudget,
    ExpressionLimitError,
    Sandbox,
    SandboxEnvironment,
    ScriptError,
    _FairGate,
    check_expression,
    check_script,
    evaluate_expression,
    make_script_engine,
)
from tests.support.sandbox import start_workers


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox for the module (a worker start costs ~0.1 s); closed at the end."""
    box = Sandbox(timeout=2.0, memory_mb=256, pool_size=2)
    yield box
    box.close()


@pytest.fixture
def quick_sandbox():
    """A sandbox with a short time limit, for the tests that hit it."""
    box = Sandbox(timeout=0.5, memory_mb=256)
    yield box
    box.close()


DATA = {
    "x": "a",
    "quantity": -1,
    "value": "",
    "done": False,
    "NeedClarification": "Yes",
    "item": {"x": 7},
    "question": "X",
    "items": [1, 2, 3],
    "a": True,
    "b": False,
    "c": True,
    "d": {"k": "v"},
}


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("x == 'a'", True),
        ("quantity < 0", True),
        ('value == ""', True),
        ("not done", True),
        ("NeedClarification == 'Yes'", True),
        ("False", False),
        ("3", 3),
        ('"PT1S"', "PT1S"),
        ("'R6/P1D'", "R6/P1D"),
        ("item['x']", 7),
        ("(question) == (\"X\")", True),
        ("x in [1, 2]", False),
        ("len(items) > 2", True),
        ("a and (b or c)", True),
        ("d.get('k')", "v"),
        ("d.get('missing', 0)", 0),
        ('f"{x}-{quantity}"', "a--1"),
        ("sum(items) + max(items)", 9),
        ("[i * 2 for i in items if i > 1]", [4, 6]),
        ("'A-' + str(len(items))", "A-3"),
        ("x.upper() == 'A'", True),
        ("  \n x == 'a'\n ", True),
    ],
)
def test_conditions_from_real_models_evaluate_like_python(sandbox, expression, expected):
    assert sandbox.evaluate(expression, DATA) == expected


def test_a_dmn_input_expression_is_read_from_extra_names(sandbox):
    assert sandbox.evaluate("dmninputexpr >= 6", {}, {"dmninputexpr": 7}) is True


def test_task_data_wins_over_extra_names_like_in_spiffworkflow(sandbox):
    assert sandbox.evaluate("v", {"v": 1}, {"v": 2}) == 1


def test_datetime_helpers_work_as_constructors(sandbox):
    assert sandbox.evaluate("date(2024, 1, 30) + timedelta(days=2)", {}).isoformat() == "2024-02-01"
    assert sandbox.evaluate("datetime.now().year >= 2024", {}) is True


def test_an_undefined_name_raises_a_name_error_naming_the_variable(sandbox):
    with pytest.raises(NameError, match="name 'missing' is not defined"):
        sandbox.evaluate("missing == 1", DATA)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "__import__('os').getpid() > 0",
        "().__class__.__base__.__subclasses__()",
        "len(().__class__.__base__.__subclasses__()) > 0",
        "open('/etc/passwd')",
        "eval('1')",
        "type(x)",
        "getattr(x, 'upper')",
        "x.format(1)",
        "lambda: 1",
    ],
)
def test_a_hostile_expression_is_refused_at_upload_and_at_run_time(sandbox, expression):
    assert check_expression(expression) is not None
    with pytest.raises(ScriptError):
        sandbox.evaluate(expression, DATA)


@pytest.mark.parametrize(
    "expression",
    [
        "'a' * 10**9",
        "9**9**9",
        "2 ** 10**7",
        "[0] * 10**9",
        "str([[0] * 10000] * 10000)",
        "'x'.ljust(10**9)",
        "('a' * 10000).replace('a', 'a' * 10000)",
        "round(5, -10**9)",
        "f'{x:>999999999}'",
        "'%0999999999d' % 1",
        "'%*d' % (10**9, 1)",
        "list(range(10**9))",
        "[i for i in items for j in items for k in range(10000)]",
    ],
)
# Not `alone`: refused in milliseconds of its 0.5 s (at most 0.18 s at CPU pressure 98 %, load 16 on 2
# cores); a neighbour only slows it, so a bomb that were computed would fail all the more.
def test_a_size_bomb_in_an_expression_is_refused_quickly(sandbox, expression):
    start = time.perf_counter()
    with pytest.raises(ScriptError):
        sandbox.evaluate(expression, DATA)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("expression", ["datetime.mro()", "d.k", "len.x", "items.pop()", "date.today().time().hour"])
def test_an_attribute_outside_the_allow_list_is_refused_at_run_time(sandbox, expression):
    with pytest.raises(ScriptError, match="is not available"):
        sandbox.evaluate(expression, DATA)


def test_evaluating_an_expression_cannot_change_task_data(sandbox):
    data = {"items": [1]}
    with pytest.raises(ScriptError, match="append"):
        sandbox.evaluate("items.append(2) or True", data)
    assert data == {"items": [1]}


# --------------------------------------------------------------------------- scripts


@pytest.mark.parametrize(
    "script",
    [
        "__import__('os').system('id')",
        "x = ().__class__.__base__.__subclasses__()",
        "x = open('/etc/passwd').read()",
    ],
)
def test_a_hostile_script_is_refused_at_upload_and_at_run_time(sandbox, script):
    assert check_script(script) is not None
    with pytest.raises(ScriptError):
        sandbox.execute(script, {})


def test_a_script_that_imports_os_is_refused(sandbox):
    with pytest.raises(ScriptError, match="import") as caught:
        sandbox.execute("import os\nx = os.listdir('/')", {})
    assert caught.value.line == 1


# Not `alone`: the limit is a deadline on the wall clock, which a busy neighbour cannot move; what runs past
# it (killing and reaping the worker) takes milliseconds, against 1 s of slack (0.52 s seen on the loaded
# machine).
def test_an_endless_loop_is_stopped_and_the_next_script_runs_in_a_new_worker(quick_sandbox):
    quick_sandbox.execute("x = 1", {})
    start = time.perf_counter()
    with pytest.raises(ScriptError, match="time limit"):
        quick_sandbox.execute("while True:\n    pass", {})
    assert time.perf_counter() - start < 1.5
    assert quick_sandbox.execute("y = x + 1", {"x": 1}) == {"x": 1, "y": 2}


@pytest.mark.parametrize("script", ["x = 'a' * (10**10)", "b = [0] * (10**9)"])
def test_a_script_that_exhausts_memory_is_stopped_and_the_parent_is_unharmed(sandbox, script):
    with pytest.raises(ScriptError, match="memory"):
        sandbox.execute(script, {})
    assert sandbox.execute("z = [i for i in range(3)]", {}) == {"z": [0, 1, 2]}
    assert len("a" * 10**6) == 10**6  # the parent has no such limit


def test_functions_and_comprehensions_work_and_functions_are_not_kept(sandbox):
    script = (
        "def double(n):\n"
        "    return n * 2\n"
        "testvar['new'] = 'Test'\n"
        "sample = [x['y'] for x in testvar2 if x['x'] > 1]\n"
        "twice = double(testvar['a'])\n"
    )
    data = {
        "testvar": {"a": 1, "b": 2},
        "testvar2": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}, {"x": 3, "y": "c"}],
    }
    result = sandbox.execute(script, data)
    assert result == {
        "testvar": {"a": 1, "b": 2, "new": "Test"},
        "testvar2": data["testvar2"],
        "sample": ["b", "c"],
        "twice": 2,
    }
    assert data["testvar"] == {"a": 1, "b": 2}  # the caller's dict is not touched


def test_print_in_a_script_works_and_prints_nothing(sandbox):
    assert sandbox.execute('print("x")\nprint("y", 1, sep="")\nz = 1', {}) == {"z": 1}


def test_augmented_assignment_works(sandbox):
    assert sandbox.execute("u += v", {"u": 1, "v": 2}) == {"u": 3, "v": 2}


def test_deleting_a_variable_in_a_script_removes_it_from_task_data(sandbox):
    environment = SandboxEnvironment(sandbox)
    context = {"keep": 1, "drop": 2}
    assert environment.execute("del drop\nkeep += 1", context) is True
    assert context == {"keep": 2}


def test_dates_come_back_as_iso_text_and_sets_are_refused_by_name(sandbox):
    result = sandbox.execute("due = date(2024, 3, 1) + timedelta(days=1)\npair = (1, 2)", {})
    assert result == {"due": "2024-03-02", "pair": [1, 2]}
    with pytest.raises(ScriptError, match="'tags'"):
        sandbox.execute("tags = {'a', 'b'}", {})


def test_extra_names_are_readable_but_not_written_back(sandbox):
    assert sandbox.execute("y = helper + 1", {}, {"helper": 1}) == {"y": 2}


def test_a_runtime_error_reports_its_line_and_an_undefined_name_is_a_name_error(sandbox):
    with pytest.raises(ScriptError, match="ZeroDivisionError") as caught:
        sandbox.execute("a = 1\nb = a / 0\n", {})
    assert caught.value.line == 2
    with pytest.raises(NameError, match="name 'nope' is not defined"):
        sandbox.execute("a = nope", {})


def test_eight_threads_running_scripts_at_once_all_get_their_own_results(sandbox):
    results = {}
    errors = []

    def run(n):
        try:
            for i in range(5):
                out = sandbox.execute("total = sum([n * k for k in range(i + 1)])", {"n": n, "i": i})
                assert out["total"] == n * i * (i + 1) // 2
                assert sandbox.evaluate("n * 2", {"n": n}) == n * 2
            results[n] = out["total"]
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {n: n * 10 for n in range(8)}


# --------------------------------------------------------------------------- static checks


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("import os", "import is not allowed in scripts (line 1)"),
        ("x = 1\nfrom os import path", "import is not allowed in scripts (line 2)"),
        ("x = eval('1')", "eval()"),
        ("exec('x = 1')", "exec()"),
        ("x = getattr(a, 'b')", "getattr()"),
        ("x = a.__class__", "__class__"),
        ("_x = 1", "_x"),
        ("x = vars()", "vars()"),
        ("class A:\n    pass", "class"),
        ("x = (", "syntax error"),
        ("d['k'] += 1", "line 1"),
        ("x = '{}'.format(1)", "f-string"),
    ],
)
def test_the_script_check_names_the_problem(script, words):
    problem = check_script(script)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "script",
    [
        "x = 1",
        "testvar['new'] = 'Test'",
        "total = sum([i['n'] for i in items])",
        "def f(a):\n    return a + 1\ny = f(1)",
        "for _ in range(3):\n    print(_)",
        "msg = f'{name} has {count} items'",
        "due = datetime.now() + timedelta(days=5)",
        "if x > 1:\n    y = 'big'\nelse:\n    y = 'small'",
        "type = 'a'",  # a variable may be called type; only calling it is refused
    ],
)
def test_the_script_check_accepts_ordinary_scripts(script):
    assert check_script(script) is None


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("x = 1", "syntax error"),
        ("__import__('os')", "__import__"),
        ("a.__class__", "__class__"),
        ("open('f')", "open()"),
        ("(y := 1)", ":="),
        ("{i for i in x}", "set comprehension"),
        ("f(*x)", "*"),
        ("x" + " + x" * 1000, "too"),
    ],
)
def test_the_expression_check_names_the_problem(expression, words):
    problem = check_expression(expression)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "expression",
    ["x == 'a'", "quantity < 0", "not done", "len(items) > 2", "d.get('k')", "'R6/P1D'", "type == 'b'"],
)
def test_the_expression_check_accepts_ordinary_conditions(expression):
    assert check_expression(expression) is None


# --------------------------------------------------------------------------- SpiffWorkflow


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs"
    targetNamespace="http://example.org/onestop">
  <bpmn:process id="tiny" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gateway" default="to_small">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>to_big</bpmn:outgoing><bpmn:outgoing>to_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="big"><bpmn:incoming>to_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="small"><bpmn:incoming>to_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gateway"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gateway" targetRef="big">
      <bpmn:conditionExpression>size == 'big'</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gateway" targetRef="small"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(script, sandbox, data):
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(BPMN.replace("SCRIPT", script).encode()))
    workflow = BpmnWorkflow(parser.get_spec("tiny"), script_engine=make_script_engine(sandbox))
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    return workflow


@pytest.mark.parametrize(("count", "branch"), [(5, "big"), (1, "small")])
def test_a_workflow_runs_its_script_task_and_gateway_in_the_sandbox(sandbox, count, branch):
    workflow = _workflow("size = 'big' if count &gt; 3 else 'small'\nlabel = f'{count} items'", sandbox,
                         {"count": count})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    end = workflow.get_tasks(spec_name=branch)[0]
    assert end.state == TaskState.COMPLETED
    assert end.data == {"count": count, "size": branch, "label": f"{count} items"}
    other = "small" if branch == "big" else "big"
    assert workflow.get_tasks(spec_name=other, state=TaskState.COMPLETED) == []


def test_a_failing_script_raises_a_workflow_task_exception_naming_the_problem(sandbox):
    workflow = _workflow("size = 'big'\nratio = count / 0", sandbox, {"count": 1})
    with pytest.raises(WorkflowTaskException, match="ZeroDivisionError") as caught:
        workflow.do_engine_steps()
    assert caught.value.line_number == 2
    assert caught.value.error_line == "ratio = count / 0"


def test_a_refused_script_in_a_workflow_says_why(sandbox):
    workflow = _workflow("import os", sandbox, {})
    with pytest.raises(WorkflowTaskException, match="import is not allowed"):
        workflow.do_engine_steps()


def test_a_bad_gateway_condition_says_why(sandbox):
    workflow = _workflow("sise = 'big'", sandbox, {})
    with pytest.raises(WorkflowTaskException, match="name 'size' is not defined") as caught:
        workflow.do_engine_steps()
    assert "Did you mean 'sise'?" in str(caught.value)


def test_an_undefined_variable_in_a_script_task_gets_a_did_you_mean_hint(sandbox):
    workflow = _workflow("size = cuont", sandbox, {"count": 1})
    with pytest.raises(WorkflowTaskException, match="name 'cuont' is not defined") as caught:
        workflow.do_engine_steps()
    assert "Did you mean 'count'?" in str(caught.value)


def test_an_unbound_local_variable_gives_a_readable_error(sandbox):
    script = "def f():\n    y = y + 1\n    return y\nz = f()"
    with pytest.raises(ScriptError, match="UnboundLocalError") as caught:
        sandbox.execute(script, {})
    assert caught.value.line == 2
    workflow = _workflow(script, sandbox, {})
    with pytest.raises(WorkflowTaskException, match="UnboundLocalError") as caught:
        workflow.do_engine_steps()
    assert "local variable 'y'" in str(caught.value)


def test_service_tasks_are_refused_with_a_clear_message(sandbox):
    with pytest.raises(ScriptError, match="service tasks are not supported"):
        SandboxEnvironment(sandbox).call_service({}, operation_name="x")


# --------------------------------------------------------------------------- budgets


def test_ordinary_conditions_fit_in_a_tiny_budget():
    tiny = ExpressionBudget(seconds=0.5, memory_bytes=4096, steps=100)
    assert evaluate_expression("len(items) > 2 and d.get('k') == 'v' and x.upper() == 'A'", DATA, budget=tiny)
    assert evaluate_expression("[i * 2 for i in items if i > 1]", DATA, budget=tiny) == [4, 6]


def test_an_expression_over_its_steps_stops_naming_them():
    with pytest.raises(ExpressionLimitError, match="^expression stopped: more than 50 steps$"):
        evaluate_expression("[i for i in range(1000)]", {}, budget=ExpressionBudget(steps=50))


def test_a_value_held_many_times_counts_each_time_it_is_held():
    # 1,000 references to one 10,000-character text: 80 KB in memory, 10 MB as text or JSON.
    budget = ExpressionBudget(memory_bytes=1024 * 1024)
    with pytest.raises(ExpressionLimitError, match="more than 1 MB of values"):
        evaluate_expression("[t for i in range(1000)]", {"t": "x" * 10_000}, budget=budget)
    assert len(evaluate_expression("[t for i in range(50)]", {"t": "x" * 10_000}, budget=budget)) == 50


def test_reading_big_task_data_costs_nothing_but_copying_it_does():
    data = {"big": list(range(100_000))}
    budget = ExpressionBudget(memory_bytes=1024 * 1024)
    assert evaluate_expression("len(big) > 10 and big[5] == 5", data, budget=budget) is True
    with pytest.raises(ExpressionLimitError):
        evaluate_expression("big[:]", data, budget=budget)


# Not `alone`: the expression runs in this thread, so the work done before the stop, and the stop itself,
# is bounded on this thread's CPU time (as on the wall clock before, under the exclusive lock), which no
# neighbour changes: a neighbour only makes the wall-clock limit come after less work. Unbounded, the
# expression takes seconds of CPU.
def test_the_time_limit_holds_for_work_that_builds_nothing():
    cpu_started = time.thread_time()
    with pytest.raises(ExpressionLimitError, match="time limit of 0.1 s exceeded"):
        evaluate_expression("[max(r) for r in [range(9999)] for i in range(9999)]", {},
                            budget=ExpressionBudget(seconds=0.1))
    assert time.thread_time() - cpu_started < 0.5


def test_the_budget_error_keeps_nothing_the_expression_built():
    with pytest.raises(ExpressionLimitError) as caught:
        evaluate_expression("[list(range(5000)) for i in range(9000)]", {})
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    frames = []
    trace = caught.value.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame.f_code.co_name)
        trace = trace.tb_next
    # Raised by evaluate_expression itself: none of the evaluator's frames (and their values) kept.
    assert frames[-1] == "evaluate_expression" and "run" not in frames


def test_the_budget_reaches_spiffworkflow_as_a_task_error(sandbox):
    with Sandbox(expression_timeout=0.1) as box:
        environment = SandboxEnvironment(box)
        with pytest.raises(ExpressionLimitError):
            environment.evaluate("[max(r) for r in [range(9999)] for i in range(9999)]", {})


def test_an_impossible_budget_is_refused():
    with pytest.raises(ValueError):
        ExpressionBudget(seconds=0)
    with pytest.raises(ValueError):
        Sandbox(pool_size=2, per_tenant=3)


# --------------------------------------------------------------------------- the pool


def test_the_pool_defaults_to_four_workers_and_half_of_them_per_tenant():
    with Sandbox() as box:
        assert (box.pool_size, box.per_tenant) == (4, 2)
    with Sandbox(pool_size=1) as box:
        assert box.per_tenant == 1


def test_a_freed_slot_goes_to_the_waiting_tenant_that_runs_the_fewest():
    gate = _FairGate(size=2, per_tenant=2)
    assert gate.acquire("A", 1) and gate.acquire("A", 1)
    order = []

    def wait(tenant):
        assert gate.acquire(tenant, 5)
        order.append(tenant)

    first = threading.Thread(target=wait, args=("A",))
    first.start()
    time.sleep(0.1)  # A's third request queues before B's
    second = threading.Thread(target=wait, args=("B",))
    second.start()
    time.sleep(0.1)
    gate.release("A")
    time.sleep(0.1)
    assert order == ["B"]  # B ran nothing, A still ran one
    gate.release("A")
    first.join(5)
    second.join(5)
    assert order == ["B", "A"]


# Not `alone`: the time it asserts is a lower bound (the refusal waited its 0.2 s), which a busy machine
# cannot break.
def test_one_tenant_never_holds_more_than_its_share():
    gate = _FairGate(size=3, per_tenant=2)
    assert gate.acquire("A", 1) and gate.acquire("A", 1)
    started = time.monotonic()
    assert not gate.acquire("A", 0.2)  # a slot is free, but not for A
    assert time.monotonic() - started >= 0.2
    assert gate.acquire("B", 0.2)
    assert gate.held("A") == 2 and gate.held("B") == 1


# A script time limit of 0.5 s (it was 1 s): A's three scripts run to it one after another, under the
# exclusive lock. With both workers started first, B's script ended at most 0.03 s after A's began on the
# loaded machine, also with two more busy loops beside it (starting its worker beside A's busy loop, up
# to 0.39 s).
@pytest.mark.alone
def test_a_tenants_slow_scripts_leave_another_tenant_a_worker():
    with Sandbox(timeout=0.5, pool_size=2, per_tenant=1, wait_timeout=5) as box:
        results = []

        def slow():
            with box.on_behalf_of("A"):
                try:
                    box.execute("while True:\n    pass", {})
                except ScriptError as err:
                    results.append(err.message)

        start_workers(box, ["A", "B"])
        threads = [threading.Thread(target=slow) for _ in range(3)]
        slow_began = time.monotonic()
        for thread in threads:
            thread.start()
        deadline = slow_began + 5
        while (box._gate.held("A") < 1 or len(box._gate._waiting) < 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert box._gate.held("A") == 1 and len(box._gate._waiting) == 2  # one of A's runs, two wait
        with box.on_behalf_of("B"):
            assert box.execute("y = 2", {}) == {"y": 2}
        # Before A's first script (begun after slow_began) could have reached its limit.
        assert time.monotonic() - slow_began < box.timeout
        for thread in threads:
            thread.join(10)
    assert len(results) == 3 and all("time limit" in r for r in results)


def test_a_script_that_finds_no_worker_in_time_names_the_busy_sandbox():
    with Sandbox(timeout=1.0, pool_size=1, wait_timeout=0.2) as box:
        thread = threading.Thread(target=lambda: pytest.raises(ScriptError, box.execute, "while True:\n    pass", {}))
        thread.start()
        time.sleep(0.3)
        with pytest.raises(ScriptError, match=r"the script sandbox is busy \(no worker free within 0.2 s\)"):
            box.execute("y = 1", {})
        thread.join(5)


def test_data_and_its_views_still_turn_into_text():
    text = evaluate_expression("str(d.keys()) + str(d.values()) + f'{d.items()}|{day}|{None}|{ {1} }|{2.5}'",
                               {"d": {"a": 1}, "day": datetime.date(2024, 1, 2)})
    assert text == "dict_keys(['a'])dict_values([1])dict_items([('a', 1)])|2024-01-02|None|{1}|2.5"
