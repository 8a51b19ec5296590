"""Every bundled procedure folder: valid without warnings, lanes for every task, a diagram, catalogue metadata
that matches the reference record, and imported by `onestop serve`'s loader."""

import json

import pytest
from lxml import etree

from onestop.engine.parsing import SourceFile
from onestop.services.templates import placeholders
from tests.conftest import SHARED, make_user
from tests.process_models import BUNDLED, bundled_files, bundled_folders

FOLDERS = bundled_folders()
REFERENCE = SHARED / "reference" / "procedures.json"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
FLOW_NODES = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
              "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "exclusiveGateway", "inclusiveGateway",
              "parallelGateway", "eventBasedGateway", "complexGateway")
CATALOGUE_KEYS = {"code", "name", "name_en", "field", "level", "agency", "processing_days", "processing_unit",
                  "fee_vnd", "documents", "decided_on_the_spot", "legal_basis", "source"}
RECORD_NOTES = {"processing_note", "fee_note", "level_history"}


def _parse(engine, folder):
    return engine.parse([SourceFile(p.name, p.read_bytes()) for p in bundled_files(folder)])


def _bpmn(folder):
    [path] = [p for p in bundled_files(folder) if p.suffix == ".bpmn"]
    return etree.parse(str(path)).getroot()


def test_there_are_bundled_procedures():
    assert {"birth_registration", "construction_permit_commune", "construction_permit_province"} <= set(FOLDERS)
    assert len(FOLDERS) >= 10


@pytest.mark.parametrize("folder", FOLDERS)
def test_a_bundled_procedure_validates_with_no_problems_and_no_warnings(engine, folder):
    parsed = _parse(engine, folder)
    assert parsed.warnings == []
    assert parsed.dialect == "spiff" and parsed.start_kind == "process" and not parsed.has_scripts
    assert parsed.metadata["code"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_user_task_of_a_bundled_model_has_a_lane_and_a_form(engine, folder):
    parsed = _parse(engine, folder)
    user_tasks = [s for s in parsed.spec.task_specs.values() if getattr(s, "manual", False)]
    assert user_tasks
    for spec in user_tasks:
        assert spec.lane, f"{folder}: user task {spec.bpmn_id} has no lane"
        form = (spec.extensions or {}).get("properties", {}).get("formJsonSchemaFilename")
        assert form in parsed.forms, f"{folder}: user task {spec.bpmn_id} has no form"
        assert parsed.forms[form]["title"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_flow_node_is_in_exactly_one_lane_and_drawn(folder):
    root = _bpmn(folder)
    nodes = [n.get("id") for tag in FLOW_NODES for n in root.iterfind(f".//bpmn:process/bpmn:{tag}", NS)]
    refs = [r.text for r in root.iterfind(".//bpmn:lane/bpmn:flowNodeRef", NS)]
    assert sorted(refs) == sorted(nodes)
    assert all(lane.get("name") for lane in root.iterfind(".//bpmn:lane", NS))
    drawn = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    lanes = {lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS)}
    assert set(nodes) | lanes <= drawn
    flows = {f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
    assert {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)} == flows


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_lane_maps_to_a_role(folder):
    lanes = {lane.get("name") for lane in _bpmn(folder).iterfind(".//bpmn:lane", NS)}
    mapping = json.loads((BUNDLED / folder / "procedure.json").read_text())["lanes"]
    assert set(mapping) == lanes and set(mapping.values()) <= {"officer", "leader"}


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_deadline_plan_names_only_steps_and_lanes_the_model_has(folder):
    from onestop.services.deadlines import plan

    root = _bpmn(folder)
    elements = {n.get("id") for tag in FLOW_NODES for n in root.iterfind(f".//bpmn:process/bpmn:{tag}", NS)}
    lanes = {lane.get("name") for lane in root.iterfind(".//bpmn:lane", NS)}
    deadline = plan(json.loads((BUNDLED / folder / "procedure.json").read_text()))
    assert set(deadline.steps) <= elements | lanes and deadline.not_counted <= elements


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_exclusive_gateway_that_decides_has_a_default_flow(folder):
    root = _bpmn(folder)
    for gateway in root.iterfind(".//bpmn:exclusiveGateway", NS):
        if len(gateway.findall("bpmn:outgoing", NS)) > 1:
            assert gateway.get("default"), f"{folder}: {gateway.get('id')} can leave a dossier stuck"


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared reference data is not on this machine")
@pytest.mark.parametrize("folder", FOLDERS)
def test_the_catalogue_metadata_is_the_reference_record(folder):
    meta = json.loads((BUNDLED / folder / "procedure.json").read_text())
    assert CATALOGUE_KEYS <= set(meta) <= CATALOGUE_KEYS | RECORD_NOTES | {
        "lanes", "deadline", "return_step", "applicant", "online_level", "result", "payment"}
    [record] = [r for r in json.loads(REFERENCE.read_text()) if r["code"] == meta["code"]]
    assert meta["name"] == record["name_vi"]
    for key in ("name_en", "field", "agency", "processing_days", "processing_unit", "fee_vnd",
                "legal_basis", "source"):
        assert meta[key] == record[key], key
    # a record without documents (2.000286) keeps a placeholder the review page warns about, never invented papers
    assert meta["documents"] == record["documents"] or (
        not record["documents"] and placeholders({"documents": meta["documents"]}) == ["documents[0].name"])
    for key in RECORD_NOTES:  # the record's notes travel with the procedure when it has them
        assert meta.get(key) == (record.get(key) or None), key
    # "commune + province (liên thông)": both levels perform it, as a list
    levels = [level for level in ("commune", "province", "district") if level in record["level"]]
    assert meta["level"] == (levels if len(levels) > 1 else levels[0])


def test_the_server_imports_every_bundled_folder_once(app):
    from onestop.cli import load_bundled
    from onestop.models import Procedure

    with app.app_context():
        actor, _ = make_user("system", ("admin",))
        assert load_bundled(actor, BUNDLED) == len(FOLDERS)
        assert load_bundled(actor, BUNDLED) == len(FOLDERS)  # unchanged files keep their version
        codes = {p.code: p.latest_version for p in Procedure.select()}
    assert codes == {json.loads((BUNDLED / f / "procedure.json").read_text())["code"]: 1 for f in FOLDERS}


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared reference data is not on this machine")
def test_every_reference_procedure_in_force_is_bundled():
    """All 18 records: each one with a code is a bundled folder; the one without (P09, the district version
    of 1.001612 before 1 July 2025) is history, not a procedure a centre performs (docs/reference.md)."""
    records = json.loads(REFERENCE.read_text())
    bundled = {json.loads((BUNDLED / f / "procedure.json").read_text())["code"] for f in FOLDERS}
    assert {r["code"] for r in records if r["code"]} <= bundled
    assert [r["id"] for r in records if not r["code"]] == ["P09"]
