"""BPMN unit tests (SpiffArena's test_<model>.json and onestop's superset) run in the engine's sandbox and budgets."""

import json
import time
from pathlib import Path

from onestop.engine import SourceFile, classify, read_test_file, run_cases
from onestop.engine.parsing import parse_model
from tests.conftest import script_model
from tests.security.budget_models import endless_loop

ROOT = Path(__file__).resolve().parents[2]
COPY = ROOT / "process_models" / "copy_certification"
START = {"requester_full_name": "Nguyễn Văn A", "requester_citizen_id": "001090012345"}
CERTIFIED = {
    "StartEvent_Presented": {"data": [START]},
    "Task_Receive": {"data": [{"original_presented": True, "certifiable": True, "total_pages": 3}],
                     "lane": "Bộ phận Một cửa", "role": "officer"},
    "Task_Attest": {"data": [{"attested": True}]},
    "Task_Sign": {"data": [{"signed": True}], "role": "leader"},
    "Task_Return": {"data": [{"returned": True}]},
}
REFUSED = {
    "StartEvent_Presented": {"data": [START]},
    "Task_Receive": {"data": [{"original_presented": True, "certifiable": False, "refusal_ground": "hu_hong"}]},
    "Task_NotifyRefusal": {"data": [{"refusal_reason": "Bản chính cũ nát"}]},
}


def _copy_model(engine):
    return engine.parse([SourceFile(p.name, p.read_bytes()) for p in sorted(COPY.iterdir())])


def _cases(body: dict, name="test_copy_certification.json"):
    read = read_test_file(name, json.dumps(body).encode())
    assert read.problem is None, read.problem
    return read.cases


def _final(tasks):
    data = {}
    for task in tasks.values():
        data.update(task["data"][0])
    return data


def test_a_case_that_walks_the_model_to_its_expected_end_and_data_passes_and_lists_what_it_reached(engine):
    model = _copy_model(engine)
    [result] = run_cases(engine, model, _cases({"certified": {
        "tasks": CERTIFIED, "expected_end_event": "End_Certified", "expected_output_json": _final(CERTIFIED)}}))
    assert result.passed, result.reason
    assert result.end_event == "End_Certified"
    assert {"StartEvent_Presented", "Task_Receive", "Gateway_Certifiable", "Task_Attest", "Task_Sign",
            "Task_Return", "End_Certified"} <= set(result.reached)
    assert "Task_NotifyRefusal" not in result.reached


def test_both_branches_of_a_bundled_procedure_pass_as_two_cases_of_one_file(engine):
    model = _copy_model(engine)
    results = run_cases(engine, model, _cases({
        "certified": {"tasks": CERTIFIED, "expected_end_event": "End_Certified"},
        "refused": {"tasks": REFUSED, "expected_end_event": "End_Refused", "expected_output_json": _final(REFUSED)}}))
    assert [(r.case, r.passed) for r in results] == [("certified", True), ("refused", True)]
    assert "Task_NotifyRefusal" in results[1].reached and "Task_Attest" not in results[1].reached


def test_a_wrong_expected_output_fails_saying_which_value_differs(engine):
    model = _copy_model(engine)
    expected = _final(CERTIFIED) | {"total_pages": 4}
    [result] = run_cases(engine, model, _cases({"wrong": {"tasks": CERTIFIED, "expected_output_json": expected}}))
    assert not result.passed
    assert result.reason["kind"] == "output"
    assert result.reason["differences"] == ["total_pages: expected 4, got 3"]


def test_a_wrong_lane_or_role_fails_naming_the_task_and_what_was_expected_and_got(engine):
    model = _copy_model(engine)
    tasks = json.loads(json.dumps(CERTIFIED))
    tasks["Task_Sign"]["role"] = "officer"
    [result] = run_cases(engine, model, _cases({"roles": {"tasks": tasks}}))
    assert not result.passed
    assert (result.reason["kind"], result.reason["element_id"]) == ("role", "Task_Sign")
    assert (result.reason["expected"], result.reason["got"]) == ("officer", "leader")


def test_a_wrong_end_event_fails_naming_where_the_process_ended(engine):
    model = _copy_model(engine)
    [result] = run_cases(engine, model, _cases({"end": {"tasks": REFUSED, "expected_end_event": "End_Certified"}}))
    assert not result.passed
    assert result.reason["kind"] == "end_event" and result.reason["got"] == "End_Refused"


def test_a_user_task_the_case_gives_no_data_for_fails_with_the_task_named(engine):
    model = _copy_model(engine)
    tasks = {k: v for k, v in CERTIFIED.items() if k != "Task_Attest"}
    [result] = run_cases(engine, model, _cases({"missing": {"tasks": tasks}}))
    assert not result.passed
    assert (result.reason["kind"], result.reason["element_id"]) == ("no_data", "Task_Attest")


def test_spiffarena_keys_prefixed_with_the_process_id_find_their_task(engine):
    model = _copy_model(engine)
    tasks = {("copy_certification:" + k if k.startswith("Task") else k): v for k, v in CERTIFIED.items()}
    [result] = run_cases(engine, model, _cases({"prefixed": {"tasks": tasks, "expected_end_event": "End_Certified"}}))
    assert result.passed, result.reason


def test_a_script_model_checks_its_output_as_spiffarena_does(engine):
    model = engine.parse([SourceFile(*script_model("fee = 2000 * 3"))])
    results = run_cases(engine, model, _cases({
        "right": {"tasks": {"Task_After": {"data": [{}]}}, "expected_output_json": {"fee": 6000}},
        "wrong": {"tasks": {"Task_After": {"data": [{}]}}, "expected_output_json": {"fee": 5000}}}))
    assert [r.passed for r in results] == [True, False]
    assert results[1].reason["differences"] == ["fee: expected 5000, got 6000"]


def test_an_endless_loop_in_the_model_is_stopped_by_the_budgets_and_fails_its_case_naming_the_element(engine):
    model = engine.parse([SourceFile("hostile.bpmn", endless_loop())])
    started = time.monotonic()
    [result] = run_cases(engine, model, _cases({"loop": {"expected_output_json": {}}}))
    assert time.monotonic() - started < engine.budgets.max_step_seconds + 5
    assert not result.passed
    assert result.reason["kind"] == "error" and result.reason["element_id"] in ("Loop", "Again")
    assert "limit" in result.reason["message"]


def test_a_script_building_huge_data_is_stopped_by_the_sandbox_and_fails_its_case(engine):
    model = engine.parse([SourceFile(*script_model("big = 'x' * 10 ** 9"))])
    [result] = run_cases(engine, model, _cases({"huge": {"tasks": {"Task_After": {"data": [{}]}}}}))
    assert not result.passed
    assert (result.reason["kind"], result.reason["element_id"]) == ("error", "Script_1")


def test_a_case_that_loops_a_task_forever_with_endless_data_stops_at_the_step_limit_or_the_run_time(engine):
    model = _copy_model(engine)
    loop = {"Task_Receive": {"data": [{"certifiable": True}] * 5}}
    results = run_cases(engine, model, _cases({"a": {"tasks": loop}, "b": {"tasks": loop}}), seconds=0.0)
    assert [r.reason["kind"] for r in results] == ["time", "time"]


def test_a_task_reached_more_often_than_the_case_gives_data_fails_counting_the_calls(engine):
    model = engine.parse([SourceFile(*script_model("n = 1"))])
    [result] = run_cases(engine, model, _cases({"empty": {"tasks": {"Task_After": {"data": []}}}}))
    assert (result.reason["kind"], result.reason["expected"], result.reason["got"]) == ("data_exhausted", 0, 1)


def test_malformed_test_files_are_refused_with_the_case_named():
    assert "case 'x'" in read_test_file("test_a.json", b'{"x": {"tasks": []}}').problem
    assert read_test_file("test_a.json", b"[1]").problem
    assert read_test_file("test_a.json", b"{").problem
    assert read_test_file("test_a.json", json.dumps({str(i): {} for i in range(101)}).encode()).problem


def test_test_files_are_told_from_forms_and_left_out_of_the_model_and_its_content_hash():
    assert classify("test_copy_certification.json") == "test"
    assert classify("folder/test_x.json") == "test"
    assert classify("receive-schema.json") == "form"
    files = [SourceFile(p.name, p.read_bytes()) for p in sorted(COPY.iterdir())]
    with_tests = files + [SourceFile("test_copy_certification.json", b'{"c": {}}')]
    plain, tested = parse_model(files), parse_model(with_tests)
    assert tested.content_hash == plain.content_hash
    assert "test_copy_certification.json" not in tested.forms
