"""The side panel's checks (engine/authoring.py) say what the upload and the run will say, and what the panel
writes in each dialect is what the parser reads: a round trip through SpiffArena's and Camunda's words."""

import copy

import pytest
from lxml import etree

from onestop.engine import ModelError, check_condition, check_timer_value, declared_names
from onestop.engine.parsing import SourceFile, parse_model
from tests.conftest import CONFORMANCE
from tests.process_models import bundled_files

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def test_a_condition_is_refused_for_what_the_sandbox_refuses_and_warned_for_names_no_form_fills():
    assert check_condition("amount >").code == "syntax"
    assert check_condition("__import__('os').system('x')").code == "refused"
    assert check_condition("open('/etc/passwd')").code == "refused"
    assert check_condition("   ").code == "empty"
    assert check_condition("${execution.getVariable('x')}").code == "untranslatable"
    juel = check_condition("${amount > 100 && !refused}", ["amount", "refused"])
    assert (juel.code, juel.python, juel.unknown_names) == (None, "amount > 100 and not refused", [])
    names = check_condition("len([p for p in papers if p['pages'] > limit]) > 0 and flag is None", ["papers"])
    assert names.code is None and names.unknown_names == ["flag", "limit"]  # not p, len or None


@pytest.mark.parametrize(("kind", "value", "code"), [
    ("duration", "P3D", None), ("duration", "PT4H", None), ("cycle", "R3/PT10M", None),
    ("date", "2027-01-04T08:00:00+07:00", None), ("duration", "P500Y", "too_far"), ("cycle", "R/PT1S", "too_often"),
    ("date", "P3D", "wrong_kind"), ("duration", "3 ngày", "format"), ("date", "3026-01-01T00:00:00Z", "too_far"),
    ("duration", "", "empty"), ("weekly", "P1W", "wrong_kind"),
])
def test_a_timer_typed_in_the_panel_is_judged_by_the_engines_budgets(kind, value, code):
    assert check_timer_value(kind, value, iso=True).code == code


def test_a_timer_computed_from_the_dossiers_data_is_left_to_run_time():
    computed = check_timer_value("duration", "due_in")
    assert computed.code is None and computed.computed
    assert check_timer_value("duration", '"P3D"').value == "P3D"  # SpiffArena's quoted value


# What panel.js writes, written here with lxml the same way, read back by the parser ----------------------

def _spiff_edit(root, task_id, form, instructions):
    task = root.find(f".//{{{BPMN}}}userTask[@id='{task_id}']")
    ext = task.find(f"{{{BPMN}}}extensionElements")
    props = ext.find(f"{{{SPIFF}}}properties")
    for prop in list(props):
        props.remove(prop)
    etree.SubElement(props, f"{{{SPIFF}}}property", name="formJsonSchemaFilename", value=form)
    etree.SubElement(ext, f"{{{SPIFF}}}instructionsForEndUser").text = instructions


def _timer(root, event_id, kind, body):
    event = root.find(f".//*[@id='{event_id}']")
    definition = event.find(f"{{{BPMN}}}timerEventDefinition")
    for old in list(definition):
        definition.remove(old)
    node = etree.SubElement(definition, f"{{{BPMN}}}{kind}")
    node.set(f"{{{XSI}}}type", "bpmn:tFormalExpression")
    node.text = body


def test_a_spiffarena_model_edited_as_the_panel_writes_it_is_read_with_the_new_values():
    paths = bundled_files("birth_registration")
    files = {p.name: p.read_bytes() for p in paths}
    root = etree.fromstring(files["birth_registration.bpmn"])
    _spiff_edit(root, "Task_Record", "appraise-schema.json", "Ghi **Sổ đăng ký khai sinh**")
    flow = root.find(f".//{{{BPMN}}}sequenceFlow[@id='Flow_Complete']/{{{BPMN}}}conditionExpression")
    flow.text = "documents_complete == True and declarant_relationship != 'uy_quyen'"
    files["birth_registration.bpmn"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    parsed = parse_model([SourceFile(n, c) for n, c in files.items()])
    assert parsed.dialect == "spiff"
    assert parsed.form_refs["Task_Record"]["schema"] == "appraise-schema.json"
    assert parsed.instructions["Task_Record"] == "Ghi **Sổ đăng ký khai sinh**"


@pytest.mark.corpus
@pytest.mark.parametrize(("value", "accepted"), [("PT1M", True), ("P2D", True), ("P500Y", False), ("P1Y2M", True)])
def test_a_timer_the_panel_accepts_is_accepted_at_upload_in_both_dialects_and_one_it_refuses_is_refused(value, accepted):
    assert (check_timer_value("duration", value, iso=True).code is None) is accepted
    original = etree.parse(str(CONFORMANCE / "spiffworkflow" / "camunda" / "MessageBoundary.bpmn")).getroot()
    for dialect in ("camunda", "spiff"):
        root = copy.deepcopy(original)
        # Camunda keeps the bare ISO value; SpiffArena a quoted Python string (panel.js: JSON.stringify).
        _timer(root, "Event_0aqmn5y", "timeDuration", value if dialect == "camunda" else f'"{value}"')
        if dialect == "spiff":
            ext = root.find(f".//{{{BPMN}}}userTask[@id='Activity_Interrupt']/{{{BPMN}}}extensionElements")
            etree.SubElement(ext, f"{{{SPIFF}}}instructionsForEndUser").text = "x"
        files = [SourceFile("MessageBoundary.bpmn", etree.tostring(root))]
        if accepted:
            assert parse_model(files).dialect == dialect
        else:
            with pytest.raises(ModelError) as refused:
                parse_model(files)
            assert "Event_0aqmn5y" in [p.element_id for p in refused.value.problems]


@pytest.mark.corpus
def test_a_camunda_model_edited_as_the_panel_writes_it_keeps_camundas_words_and_is_read():
    root = etree.parse(str(CONFORMANCE / "spiffworkflow" / "camunda" / "MessageBoundary.bpmn")).getroot()
    task = root.find(f".//{{{BPMN}}}userTask[@id='Activity_Interrupt']")
    documentation = etree.Element(f"{{{BPMN}}}documentation")
    documentation.text = "Hỏi lãnh đạo trước khi dừng."
    task.insert(0, documentation)
    throw = root.find(f".//*[@id='Event_0g8w85g']/{{{BPMN}}}messageEventDefinition")
    throw.set(f"{{{CAMUNDA}}}expression", "{'reason': interrupt_task}")
    parsed = parse_model([SourceFile("MessageBoundary.bpmn", etree.tostring(root))])
    assert parsed.dialect == "camunda"
    assert parsed.instructions["Activity_Interrupt"] == "Hỏi lãnh đạo trước khi dừng."
    assert parsed.form_refs["Activity_Interrupt"]["key"] == "Interrupt"


def test_a_spiffarena_folder_keeps_its_process_model_json_when_the_panel_adds_procedure_json():
    # SpiffArena's process_model.json names the process to start; the panel writes lanes and deadlines into
    # onestop's procedure.json beside it (never into SpiffArena's file): both are read, onestop's key by key.
    paths = bundled_files("birth_registration")
    files = [SourceFile(p.name, p.read_bytes()) for p in paths if p.name != "procedure.json"]
    spiffarena = b'{"display_name": "Khai sinh", "primary_process_id": "birth_registration", "lanes": {"x": "leader"}}'
    panel = b'{"lanes": {"B\xe1\xbb\x99 ph\xe1\xba\xadn M\xe1\xbb\x99t c\xe1\xbb\xada": "officer"}, "deadline": {"working_days": 1}}'
    metas = [SourceFile("process_model.json", spiffarena), SourceFile("procedure.json", panel)]
    for listed in (metas, metas[::-1]):
        parsed = parse_model(files + listed)
        assert parsed.metadata["primary_process_id"] == "birth_registration"
        assert parsed.metadata["lanes"] == {"Bộ phận Một cửa": "officer"}
        assert parsed.metadata["deadline"] == {"working_days": 1}


@pytest.mark.corpus
def test_the_names_a_model_sets_itself_are_known_to_its_conditions():
    camunda = (CONFORMANCE / "spiffworkflow" / "camunda" / "MessageBoundary.bpmn").read_bytes()
    scripted = (CONFORMANCE / "spiffworkflow" / "bpmn" / "ScriptTest.bpmn").read_bytes()
    names = declared_names([camunda, scripted, b"<not xml"])
    assert "interrupt_task" in names and "testvar" in names  # a camunda:formField, what a script assigns
    assert check_condition("interrupt_task == 'Yes'", names).unknown_names == []
    assert check_condition("interupt_task == 'Yes'", names).unknown_names == ["interupt_task"]
