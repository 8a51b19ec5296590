"""Procedure templates: each compiles and passes the compliance lint, is renamed to the procedure's
code and name, becomes a draft of the administrator's centre, ships in the package and is never
published by the bundle loader."""

import json
from importlib import resources

import pytest
from lxml import etree

from onestop import cli
from onestop.models import Procedure
from onestop.services import drafts, onboarding, templates
from onestop.services.errors import Invalid, NotFound
from onestop.services.procedures import checked_model
from tests.conftest import make_user

NAMES = ["on_the_spot", "appraise_sign_return", "other_agency_opinion", "financial_obligation", "site_inspection"]
BPMN = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
DI = {"bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}


@pytest.fixture
def admin(sqlite_app):
    with sqlite_app.app_context():
        user, _ = make_user("quantri", ("admin",))
        yield user


def _bpmn(files):
    [model] = [f for f in files if f.name.endswith(".bpmn")]
    return etree.fromstring(model.content)


def test_the_five_patterns_are_offered_in_order_with_vietnamese_titles():
    offered = templates.all_templates()
    assert [t.name for t in offered] == NAMES
    assert offered[0].title == "Giải quyết ngay" and offered[0].days == 0
    assert all(t.summary and t.steps for t in offered)


def test_the_templates_ship_inside_the_package_beside_no_procedure_folder():
    folder = resources.files("onestop").joinpath("procedure_templates")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(NAMES)
    assert folder.joinpath("index.json").is_file()
    assert cli.BUNDLED.name == "process_models" and "procedure_templates" not in str(cli.BUNDLED)


@pytest.mark.parametrize("name", NAMES)
def test_a_template_compiles_as_shipped_and_renamed_and_lints_with_no_error(admin, name):
    for files in (templates.files(name), templates.renamed(templates.files(name), "1.000999", "Thủ tục thử")):
        model = checked_model(files)
        assert model.warnings == []
        findings = onboarding.lint(model)
        assert findings and all(f.level == "warning" and "placeholder" in f.message for f in findings)
        assert model.dialect == "spiff" and not model.has_scripts
        assert model.diagram and model.diagram["shapes"]


def _filled_in(files):
    """The template's files with procedure.json's placeholders written, as an administrator would."""
    out = []
    for f in files:
        content = f.content
        if f.name == "procedure.json":
            meta = json.loads(content)
            meta.update({"field": "Hộ tịch", "agency": "Ủy ban nhân dân cấp xã", "fee_vnd": 0,
                         "result": "Giấy xác nhận", "legal_basis": ["Luật Hộ tịch 60/2014/QH13"]})
            content = json.dumps(meta, ensure_ascii=False).encode()
        out.append(type(f)(f.name, content))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_the_lint_names_each_placeholder_left_and_nothing_once_they_are_written(admin, name):
    model = checked_model(templates.files(name))
    warned = {f.message.split('"')[1] for f in onboarding.lint(model)}
    assert warned == {"field", "agency", "fee_vnd", "result", "legal_basis[1]"}
    assert onboarding.lint(checked_model(_filled_in(templates.files(name)))) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_lane_maps_to_a_role_and_every_user_task_has_a_form_and_an_instruction(name):
    files = templates.files(name)
    meta = json.loads(next(f for f in files if f.name == "procedure.json").content)
    root = _bpmn(files)
    lanes = {lane.get("name") for lane in root.iterfind(".//bpmn:lane", BPMN)}
    assert set(meta["lanes"]) == lanes and set(meta["lanes"].values()) <= {"officer", "leader"}
    names = {f.name for f in files}
    for task in root.iterfind(".//bpmn:userTask", BPMN):
        form = task.find(".//{http://spiffworkflow.org/bpmn/schema/1.0/core}property").get("value")
        assert form in names, (name, task.get("id"))
        assert task.findtext("bpmn:documentation", namespaces=BPMN), (name, task.get("id"))
    assert meta["documents"] and "fee_vnd" in meta and meta["deadline"]["steps"]
    assert set(meta["deadline"]["not_counted"]) >= {"Task_Return", "Task_NotifyRefusal"}


@pytest.mark.parametrize("name", NAMES)
def test_every_flow_node_is_in_exactly_one_lane_and_every_element_is_drawn(name):
    root = _bpmn(templates.files(name))
    [process] = root.iterfind("bpmn:process", BPMN)
    nodes = [n.get("id") for n in process if not n.tag.endswith(("laneSet", "sequenceFlow", "documentation"))]
    refs = [r.text for r in root.iterfind(".//bpmn:lane/bpmn:flowNodeRef", BPMN)]
    assert sorted(refs) == sorted(nodes)
    drawn = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", DI)}
    lanes = {lane.get("id") for lane in root.iterfind(".//bpmn:lane", BPMN)}
    assert set(nodes) | lanes <= drawn
    flows = {f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", BPMN)}
    assert {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", DI)} == flows


def test_the_financial_obligation_template_stops_the_clock_while_the_tax_is_paid():
    meta = json.loads(next(f for f in templates.files("financial_obligation") if f.name == "procedure.json").content)
    assert meta["deadline"]["financial_obligation"] == ["Task_Obligation"]
    assert "Task_Obligation" not in meta["deadline"]["steps"]


def test_renaming_writes_the_code_and_name_into_procedure_json_and_the_process():
    files = templates.renamed(templates.files("appraise_sign_return"), " 1.004567 ", "Cấp  giấy phép  thử")
    meta = json.loads(next(f for f in files if f.name == "procedure.json").content)
    assert (meta["code"], meta["name"]) == ("1.004567", "Cấp giấy phép thử")
    root = _bpmn(files)
    [process] = root.iterfind("bpmn:process", BPMN)
    assert process.get("id") == "Process_1_004567" and process.get("name") == "Cấp giấy phép thử"
    [participant] = root.iterfind(".//bpmn:participant", BPMN)
    assert participant.get("processRef") == "Process_1_004567" and participant.get("name") == "Cấp giấy phép thử"
    untouched = {f.name: f.content for f in templates.files("appraise_sign_return") if f.name.endswith("-schema.json")}
    assert {f.name: f.content for f in files if f.name.endswith("-schema.json")} == untouched


@pytest.mark.parametrize("code", ["", "   ", "1.00 45", "-1.0045", "mã/số", "x" * 129])
def test_a_code_the_catalogue_would_not_take_is_refused(code):
    with pytest.raises(Invalid):
        templates.renamed(templates.files("on_the_spot"), code, "Tên")


def test_a_missing_name_is_refused_and_an_unknown_template_is_not_found():
    with pytest.raises(Invalid):
        templates.renamed(templates.files("on_the_spot"), "1.0045", "  ")
    with pytest.raises(NotFound):
        templates.files("../process_models")


def test_a_draft_from_a_template_belongs_to_the_centre_and_compiles_to_the_new_code(admin):
    draft_id = templates.create_draft(admin, "site_inspection", "1.004567", "Cấp giấy chứng nhận đủ điều kiện")
    state = drafts.state(admin, draft_id)
    assert state.revision == 1 and state.edited_by == "quantri"
    review = onboarding.review(admin, draft_id)
    assert review.code == "1.004567" and review.name == "Cấp giấy chứng nhận đủ điều kiện"
    assert review.publishable and review.diff is None
    assert all(f.level == "warning" for f in review.findings)
    assert Procedure.select().count() == 0  # nothing is published until the administrator publishes
    onboarding.publish(admin, draft_id)
    with pytest.raises(Invalid, match="already exists"):
        templates.create_draft(admin, "on_the_spot", "1.004567", "Trùng mã")


def test_a_draft_from_a_template_knows_its_code_before_any_review(admin):
    """The modeller's heading and the list of drafts name the procedure from the first moment."""
    draft_id = templates.create_draft(admin, "appraise_sign_return", "9.000016", "Cấp giấy xác nhận")
    assert drafts.state(admin, draft_id).code == "9.000016"


def test_the_bundle_loader_publishes_no_template(admin):
    cli.load_bundled(admin)
    codes = {p.code for p in Procedure.select()}
    assert codes and not any(c.startswith("MAU.") or c.startswith("Process_") for c in codes)
    assert {t.name for t in templates.all_templates()}.isdisjoint(codes)
