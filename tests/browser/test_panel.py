"""The modeller's side panel in Chromium, against `onestop serve`.

bpmn-js with onestop's moddle descriptors opens the models SpiffArena's and Camunda's modellers wrote
and saves them unchanged; an administrator sets a user task's form, time allowance and instructions,
a lane's role, a gateway's condition (a wrong one is said at once, by the server's check) and a timer;
the saved model compiles and runs in SpiffWorkflow with those values.

The last test drives the modeller page itself (/admin/modeller/<draft>) and saves through it. The others,
which open many models in turn, put bpmn-js, moddle.js and panel.js on a bare page of the server's
origin (so the panel's questions reach the real server with the administrator's session), with a
stand-in for the page's window.onestopModeller that keeps the files in memory, in the page's order. The
corpus test loads that page once and imports its models in turn into the page's one Modeler, as the
modeller page imports a draft's other diagram (a page load per model would fetch and compile the
bundles again: routing the page turns Chromium's cache off).
"""

import json
import re

import pytest

from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.conftest import CONFORMANCE
from tests.process_models import bundled_files
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"
HARNESS = "/__panel_test__"

# A model bpmn-js cannot keep whatever the descriptors: exported by BonitaSoft, its diagram's shapes name
# elements by ids the file does not define. Said in docs/modeller-panel.md.
BPMN_JS_LOSSES = {"Approvals.bpmn"}

PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>panel</title>
<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/diagram-js.css">
<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/bpmn-js.css"></head>
<body><div style="display:flex"><div id="canvas" style="width:900px;height:700px"></div>
<aside id="onestop-panel" style="width:340px"></aside></div>
<script src="/static/vendor/bpmn-js/bpmn-modeler.production.min.js"></script>
<script src="/static/authoring/moddle.js"></script>
<script>
window.openModel = async function (files, bpmnFile, draftId, csrfToken) {
  // As the modeller page does: one Modeler per page, made with window.onestopModeller before panel.js
  // loads, then each diagram imported into it in turn (a draft's other diagram, here the next model),
  // "onestop:modeller-ready" dispatched after each import. The page loads its bundles once, not per model.
  const first = !window.harnessModeler;
  const modeler = window.harnessModeler ||
    (window.harnessModeler = new BpmnJS({container: "#canvas", moddleExtensions: window.onestopModdleExtensions}));
  const store = Object.assign({}, files);
  window.onestopModeller = {modeler: modeler, draftId: draftId, revision: 1, csrfToken: csrfToken, bpmnFile: bpmnFile,
    getFile: (name) => (name in store ? store[name] : null),
    setFile: (name, text) => { store[name] = text; },
    fileNames: () => Object.keys(store).sort(), lint: () => null};
  window.savedFiles = async function () {
    const saved = await modeler.saveXML({format: true});
    return Object.assign({}, store, {[bpmnFile]: saved.xml});
  };
  if (first) {
    await new Promise((resolve) => {
      const script = document.createElement("script");
      script.src = "/static/authoring/panel.js";
      script.onload = resolve;
      document.body.appendChild(script);
    });
  }
  document.getElementById("onestop-panel").removeAttribute("data-ready");  // set again once this model's panel is ready
  const result = await modeler.importXML(store[bpmnFile]);
  document.dispatchEvent(new CustomEvent("onestop:modeller-ready", {detail: {fileName: bpmnFile}}));
  return result.warnings.map((w) => w.message);
};
</script>
</body></html>"""


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("panel.quantri", "admin", password=PASSWORD))


@pytest.fixture(scope="module")
def admin(server, browser):  # noqa: F811
    """A signed-in administrator's page on the server's origin, with one draft of birth registration."""
    page = browser.new_page(viewport={"width": 1300, "height": 900}, locale="vi-VN")
    page.goto(server + "/admin/onboard/")
    page.get_by_label("Tên đăng nhập").fill("panel.quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    draft_id = _new_draft(page, server)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    page.route(server + HARNESS, lambda route: route.fulfill(status=200, body=PAGE,
                                                             headers={"Content-Type": "text/html; charset=utf-8"}))
    yield page, draft_id, token
    page.close()


def _new_draft(page, server) -> int:
    """A draft of the bundled birth registration, uploaded on the back office's page."""
    page.goto(server + "/admin/onboard/")
    page.locator("#files").set_input_files(files=[
        {"name": p.name, "mimeType": "application/octet-stream", "buffer": p.read_bytes()}
        for p in bundled_files("birth_registration")])
    page.get_by_role("button", name="Kiểm tra").click()
    page.wait_for_url(re.compile(r"/admin/onboard/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def _open(page, server, files, bpmn_file, draft_id=0, token="", fresh=True):
    """The model opened in the panel on a freshly loaded harness page, or (fresh=False) imported into the
    harness page already open, as the modeller page imports a draft's next diagram."""
    if fresh:
        page.goto(server + HARNESS)
    warnings = page.evaluate("([f, b, d, t]) => window.openModel(f, b, d, t)", [files, bpmn_file, draft_id, token])
    page.locator("#onestop-panel[data-ready]").wait_for()
    return warnings


def _select(page, element_id):
    page.evaluate("""(id) => {
        const m = window.onestopModeller.modeler;
        m.get('selection').select(m.get('elementRegistry').get(id));
    }""", element_id)


def _canonical(node):
    from lxml import etree

    if not isinstance(node.tag, str):
        return None
    children = sorted(filter(None, (_canonical(c) for c in node)), key=repr)
    return (etree.QName(node).text, tuple(sorted(node.attrib.items())), (node.text or "").strip(), tuple(children))


def _same(a: bytes, b: bytes) -> bool:
    from lxml import etree

    return _canonical(etree.fromstring(a)) == _canonical(etree.fromstring(b))


@pytest.mark.corpus
def test_models_from_spiffarena_camunda_and_onestop_open_and_save_unchanged(server, admin):
    page, _draft_id, _token = admin
    models = sorted((CONFORMANCE / "spiffworkflow").rglob("*.bpmn")) + sorted(
        (CONFORMANCE / "bpmn-miwg" / "bpmn-io-camunda-modeler").glob("*.bpmn")) + sorted(
        p for p in (bundled_files("birth_registration")[0].parent.parent).glob("*/*.bpmn"))  # onestop's own
    changed, failures = [], []
    page.on("pageerror", lambda error: failures.append(str(error)))
    for number, path in enumerate(models):
        text = path.read_text(encoding="utf-8")
        warnings = _open(page, server, {path.name: text}, path.name, fresh=number == 0)
        # The panel draws every kind of element these tools write without an error, and changes nothing.
        page.evaluate("""() => {
            const m = window.onestopModeller.modeler;
            m.get('elementRegistry').getAll().forEach((e) => m.get('selection').select(e));
        }""")
        saved = page.evaluate("window.savedFiles()")[path.name]
        if path.name in BPMN_JS_LOSSES:
            continue
        # What bpmn-js warns of is kept by the panel (a reference to an id the file does not define).
        assert all(w.startswith("unresolved reference") for w in warnings), (path.name, warnings)
        if not _same(text.encode(), saved.encode()):
            changed.append(path.name)
    assert changed == []
    assert failures == []
    assert len(models) - len(BPMN_JS_LOSSES) >= 28


def test_the_panel_edits_a_spiffarena_model_and_the_saved_model_runs_with_the_values(server, admin, engine):
    page, draft_id, token = admin
    expect = sync_api.expect
    files = {p.name: p.read_text(encoding="utf-8") for p in bundled_files("birth_registration")}
    # The page's CSRF token has expired (an administrator working for more than an hour): the panel
    # fetches a fresh one from the modeller's draft endpoint and asks again.
    assert _open(page, server, files, "birth_registration.bpmn", draft_id, "expired." + token) == []
    assert page.locator("#onestop-panel").get_attribute("data-dialect") == "spiff"

    _select(page, "Task_Record")  # a user task: its form, time allowance and instructions
    page.locator("#panel-form").select_option("appraise-schema.json")
    page.locator("#panel-allowance").fill("2")
    page.locator("#panel-allowance-unit").select_option("working_days")
    page.locator("#panel-allowance").dispatch_event("change")
    page.locator("#panel-instructions").fill("Ghi vào **Sổ đăng ký khai sinh**.\n\n- kiểm tra họ tên")
    page.locator("#panel-instructions").dispatch_event("change")
    expect(page.locator("#panel-instructions-preview strong")).to_have_text("Sổ đăng ký khai sinh")

    _select(page, "Lane_Leader")
    page.locator("#panel-lane-role").select_option("admin")

    _select(page, "Flow_Complete")  # out of the gateway "Hồ sơ đầy đủ, hợp lệ?"
    condition = page.locator("#panel-condition-Flow_Complete")
    condition.fill("documents_complete ==")
    expect(page.locator(".panel-condition-check .panel-check")).to_have_attribute("data-code", "syntax")
    expect(page.locator(".panel-condition-check .panel-check")).to_have_attribute("data-level", "error")
    condition.fill("documents_complete == True and declarant_relationship != 'uy_quyen'")
    expect(page.locator(".panel-condition-check .panel-check")).to_have_attribute("data-level", "ok")

    saved = page.evaluate("window.savedFiles()")
    procedure = json.loads(saved["procedure.json"])
    assert procedure["deadline"]["steps"]["Task_Record"] == {"working_days": 2}
    assert procedure["lanes"]["Lãnh đạo UBND xã"] == "admin"
    model = _compiled(engine, saved)
    assert model.element_forms["Task_Record"] == "appraise-schema.json"
    assert model.instructions["Task_Record"] == "Ghi vào **Sổ đăng ký khai sinh**.\n\n- kiểm tra họ tên"
    original = bundled_files("birth_registration")[0].parent / "birth_registration.bpmn"
    assert not _same(original.read_bytes(), saved["birth_registration.bpmn"].encode())

    # The edited condition decides: a dossier brought by a proxy goes to supplement, not to appraisal.
    step = engine.start(model, {})
    receive = next(t for t in step.ready if t.element_id == "Task_Receive")
    step = engine.complete_task(model, step.state, receive.id, {"documents_complete": True,
                                                               "declarant_relationship": "uy_quyen"})
    assert [t.element_id for t in step.ready] == ["Task_Supplement"]


def _compiled(engine, files: dict):
    from onestop import formdefs
    from onestop.engine import SourceFile

    model = engine.parse([SourceFile(name, text.encode()) for name, text in files.items()])
    assembled = formdefs.assemble(model.forms, model.form_refs)
    assert assembled.problems == []
    model.element_forms = assembled.element_forms
    return model


@pytest.mark.corpus
def test_the_panel_writes_a_camunda_model_in_camundas_own_words(server, admin, engine):
    page, draft_id, token = admin
    path = CONFORMANCE / "spiffworkflow" / "camunda" / "MessageBoundary.bpmn"
    files = {path.name: path.read_text(encoding="utf-8")}
    assert _open(page, server, files, path.name, draft_id, token) == []
    assert page.locator("#onestop-panel").get_attribute("data-dialect") == "camunda"
    _select(page, "Activity_Interrupt")
    expect = sync_api.expect
    expect(page.locator("#panel-form")).to_be_disabled()  # its form is camunda:formData, kept as it is
    page.locator("#panel-instructions").fill("Hỏi lãnh đạo trước khi dừng.")
    page.locator("#panel-instructions").dispatch_event("change")
    _select(page, "Event_0aqmn5y")  # a timer in the other pool
    page.locator("#panel-timer-value").fill("P500Y")
    expect(page.locator(".panel-timer-check .panel-check")).to_have_attribute("data-code", "too_far")
    page.locator("#panel-timer-value").fill("PT1M")
    expect(page.locator(".panel-timer-check .panel-check")).to_have_attribute("data-level", "ok")
    _select(page, "Event_0g8w85g")  # a message thrown
    page.locator("#panel-message-payload").fill("{'reason': interrupt_task}")
    page.locator("#panel-message").select_option("__new__")
    page.locator("#panel-message-new").fill("Yêu cầu dừng")
    page.locator("#panel-message-new").dispatch_event("change")
    expect(page.locator("#panel-message option:checked")).to_have_text("Yêu cầu dừng")
    xml = page.evaluate("window.savedFiles()")[path.name]
    message_id = re.search(r'<bpmn:message id="(Message_\w+)" name="Yêu cầu dừng" />', xml).group(1)
    assert f'messageRef="{message_id}"' in xml
    assert "<bpmn:documentation>Hỏi lãnh đạo trước khi dừng.</bpmn:documentation>" in xml
    assert re.search(r"<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">PT1M</bpmn:timeDuration>", xml)
    assert "camunda:expression=\"{&#39;reason&#39;: interrupt_task}\"" in xml or \
        "camunda:expression=\"{'reason': interrupt_task}\"" in xml
    assert "spiffworkflow" not in xml
    model = _compiled(engine, {path.name: xml})
    assert model.dialect == "camunda"
    assert model.instructions["Activity_Interrupt"] == "Hỏi lãnh đạo trước khi dừng."
    assert "Activity_Interrupt.formData" in model.element_forms.values()
    assert model.messages[message_id] == "Yêu cầu dừng"


def test_on_the_modeller_page_a_task_and_a_condition_are_set_saved_and_the_saved_draft_runs(server, admin, engine,
                                                                                               shots):  # noqa: F811
    page, _draft_id, _token = admin
    expect = sync_api.expect
    draft_id = _new_draft(page, server)
    page.goto(server + "/admin/unit/new/")  # a unit of the centre, for a lane
    page.locator("#code").fill("TP")
    page.locator("#name").fill("Công chức Tư pháp - Hộ tịch")
    page.locator("form input[type=submit]").first.click()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server}/admin/modeller/{draft_id}")
    page.locator("#onestop-panel[data-ready]").wait_for()
    expect(page.locator("#lint-summary")).not_to_be_empty()

    page.locator('.djs-element[data-element-id="Task_Record"]').first.click()
    expect(page.locator("#onestop-panel h2")).to_have_text("Bước do người thực hiện")
    page.locator("#panel-form").select_option("appraise-schema.json")
    page.locator("#panel-allowance").fill("4")
    page.locator("#panel-allowance-unit").select_option("working_hours")
    page.locator("#panel-instructions").fill("Ghi **Sổ đăng ký khai sinh**, đối chiếu bản chính.")
    page.locator("#panel-instructions").blur()
    expect(page.locator("#panel-instructions-preview strong")).to_have_text("Sổ đăng ký khai sinh")
    shots.page(page, "modeller-panel-task.png")

    _select(page, "Lane_CivilStatus")
    page.locator("#panel-lane-role").select_option("officer")
    page.locator("#panel-lane-unit").select_option("TP")

    _select(page, "Flow_Complete")
    condition = page.locator("#panel-condition-Flow_Complete")
    condition.fill("documents_complete = True")
    check = page.locator(".panel-condition-check .panel-check")
    expect(check).to_have_attribute("data-code", "syntax")
    expect(check).to_be_visible()
    shots.page(page, "modeller-panel-condition.png")
    condition.fill("documents_complete == True and declarant_relationship != 'uy_quyen'")
    expect(check).to_have_attribute("data-level", "ok")
    condition.blur()

    expect(page.locator("#dirty")).to_be_visible()
    page.locator("#save").click()
    expect(page.locator("#status")).to_contain_text("Đã lưu")
    files = page.request.get(f"{server}/admin/modeller/{draft_id}/draft").json()["files"]
    procedure = json.loads(files["procedure.json"])
    assert procedure["deadline"]["steps"]["Task_Record"] == {"working_hours": 4}
    assert procedure["lanes"]["Công chức Tư pháp - Hộ tịch"] == "officer@TP"
    model = _compiled(engine, files)
    assert model.element_forms["Task_Record"] == "appraise-schema.json"
    assert model.instructions["Task_Record"] == "Ghi **Sổ đăng ký khai sinh**, đối chiếu bản chính."
    step = engine.start(model, {})
    receive = next(t for t in step.ready if t.element_id == "Task_Receive")
    step = engine.complete_task(model, step.state, receive.id, {"documents_complete": True,
                                                               "declarant_relationship": "cha"})
    assert [t.element_id for t in step.ready] == ["Task_Appraise"]
    assert errors == [], errors
