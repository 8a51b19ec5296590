"""Every model of the field corpus (tests/field_corpus: real models from SpiffArena, Camunda,
Flowable, Activiti and bpmn-io repositories) uploaded to the real server over real HTTP.

Each one must run or be refused in plain words naming the element at fault: never a 5xx, no hang,
no exception text. Its outcome must be the one recorded in tests/field_corpus/MANIFEST.json (or a
better one); models that still show a defect are listed there under `known_defects` and tolerated
until fixed. `python3 -m tests.field_corpus.tally --update` records today's outcomes.
"""

import hashlib

import pytest

from tests.field_corpus.runner import (
    HERE,
    Result,
    _leak,
    load_manifest,
    names_in,
    reason_class,
    run_model,
    verdict,
)
from tests.field_corpus.tally import live_server

MANIFEST = load_manifest()
MODELS = MANIFEST["models"]
KNOWN_DEFECTS = MANIFEST.get("known_defects", {})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("field-corpus")) as (base, token, log):
        yield base, token, log


@pytest.mark.parametrize("model", MODELS, ids=[m["id"] for m in MODELS])
def test_every_field_model_runs_or_is_refused_in_plain_words_as_recorded(server, model):
    base, token, _log = server
    result = run_model(base, token, model)
    problem = verdict(model, result, KNOWN_DEFECTS)
    assert problem is None, problem


def test_the_server_logged_no_traceback_while_the_corpus_ran(server):
    # Runs after the models (pytest keeps a file's order; xdist sends a whole file to one worker).
    _base, _token, log = server
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def test_the_corpus_is_broad_and_every_file_is_what_the_manifest_says():
    sources = {m["source"] for m in MODELS}
    assert len(MODELS) >= 150 and len(sources) >= 6
    assert set(MANIFEST["sources"]) == sources
    for name, source in MANIFEST["sources"].items():
        assert all((HERE / f).is_file() for f in source["licence_files"]), name
        assert source["licence_files"] or name == "bpmn-js-examples"  # MIT by its README; it has no licence file
    size = 0
    for model in MODELS:
        for f in model["files"]:
            blob = (HERE / f["file"]).read_bytes()
            size += len(blob)
            assert hashlib.sha256(blob).hexdigest() == f["sha256"], f["file"]
            assert f["repository"] and len(f["commit"]) == 40 and f["path"] and f["license"]
        assert model.get("outcome"), f"{model['id']} has no recorded outcome (run the tally with --update)"
    assert size < 10 * 1024 * 1024
    listed = {str(p.relative_to(HERE)) for m in MODELS for p in [HERE / f["file"] for f in m["files"]]}
    on_disk = {str(p.relative_to(HERE)) for p in HERE.glob("*/*/*") if p.is_file()}
    assert on_disk == listed


def test_every_known_defect_is_a_model_recorded_with_a_defect():
    recorded = {m["id"]: m.get("outcome", "") for m in MODELS}
    for ident, text in KNOWN_DEFECTS.items():
        assert recorded.get(ident, "").startswith("defect") and text, ident


def test_exception_text_in_a_response_is_a_defect_but_a_scripts_own_error_is_not():
    assert _leak("upload", 422, {"message": "the model was refused",
                                 "details": [{"message": "TypeError: Object of type ServiceTask is not JSON serializable"}]})
    assert _leak("start", 201, {"state": "error", "error": {"message": "'NoneType' object has no attribute 'x'"}})
    assert _leak("upload", 422, {"message": "KeyError: '{http://camunda.org/schema/1.0/bpmn}decisionRef'"})
    assert _leak("upload", 422, {"message": "Cannot resolve dataOutputAssociation <Element targetRef at 0x7f02ba>"})
    assert _leak("start", 201, {"state": "error", "error": {
        "element_id": "Activity_1", "message": "TypeError: can only concatenate str (not \"int\") to str (line 1)"}}) is None
    assert _leak("upload", 422, {"message": "the model was refused", "details": [
        {"element_id": "Task_1", "message": "scriptTask Task_1: syntax error: invalid syntax (line 1)"}]}) is None


def test_a_refusal_must_name_an_element_field_or_file_of_the_model(tmp_path):
    model = {"id": "x/y", "source": "x", "files": []}
    bpmn = (b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="Process_7">'
            b'<serviceTask id="Call_Tax" name="Ask the tax office"/></process></definitions>')
    known = names_in([("tax.bpmn", bpmn), ("form.json", b'{"properties": {"fee": {}}}')])
    assert {"Process_7", "Call_Tax", "Ask the tax office", "tax.bpmn", "fee"} <= known
    from tests.field_corpus.runner import _refusal

    named = _refusal("upload", 422, {"message": "the model was refused", "details": [
        {"element_id": "Call_Tax", "message": "serviceTask Call_Tax calls a Java class"}]}, known)
    assert named.outcome == "refused: service task"
    # the class comes from what is wrong before the kind of element it is about
    assert reason_class("serviceTask CallLogger: A multiinstance task must specify a cardinality") == "multi-instance or loop"
    assert reason_class("businessRuleTask Rule_1: There is no support implemented for this task type.") == "decision (dmn)"
    anonymous = _refusal("upload", 422, {"message": "the model was refused"}, known)
    assert anonymous.defect
    assert verdict(model, anonymous, {}) is not None
    assert verdict(model | {"outcome": anonymous.outcome}, anonymous, {"x/y": "the model was refused"}) is None
    assert _refusal("upload", 500, {"message": "internal error"}, known).defect
    assert verdict(model | {"outcome": "runs"}, named, {}) is not None  # a model that ran no longer does
    assert verdict(model | {"outcome": "refused: timer"}, named, {}) is not None  # another reason
    assert verdict(model | {"outcome": named.outcome}, Result("runs"), {}) is None  # better: recorded by --update
    assert verdict(model | {"outcome": "stops in error: service task"}, named, {}) is None  # refused before it runs
    assert verdict(model | {"outcome": named.outcome}, Result("stops in error: service task"), {}) is not None
