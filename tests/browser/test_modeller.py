"""The modeller in a real browser (Debian's Chromium, Playwright) against `onestop serve`: an
administrator opens a draft in bpmn-js, renames a task on the canvas, sees the live check mark a broken
drawing, saves, and finds the rename after a reload; a second administrator saving the same draft is
told who saved and keeps their drawing as a new draft. Screenshots for the docs are taken when
$ONESTOP_SCREENSHOTS names a folder to keep them in."""

import re

import pytest
from lxml import etree

from tests.browser.test_journey import ONESTOP, browser, shots  # noqa: F401 (the journey's fixtures, shared)
from tests.conftest import CONFORMANCE
from tests.process_models import Walk, bundled_files
from tests.process_models.test_copy_certification import APPLICATION, ATTESTED, RECEIVED, RETURNED, SIGNED
from tests.support.servers import user

sync_api = pytest.importorskip("playwright.sync_api")
PASSWORD = "Mật-khẩu-2026"


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server(user("quantri.mot", "admin", password=PASSWORD),
                            user("quantri.hai", "admin", password=PASSWORD))


def _files(paths=None):
    return [{"name": p.name, "mimeType": "application/octet-stream", "buffer": p.read_bytes()}
            for p in (paths or bundled_files("copy_certification"))]


class Administrators:
    """Each administrator's browser context, signed in once for the file (its cookies kept), and the
    pages the tests open in them. The file's first page of an administrator signs in through the form;
    the next ones start signed in, as that person's next tab would, without the sign-in page, its post
    and the server's password check again (~0.45 CPU-s each, five of the file's seven). What each test
    checks is the modeller's, on a page of its own."""

    def __init__(self, browser, server):  # noqa: F811
        self.browser, self.server, self.contexts, self.pages = browser, server, {}, []

    def page(self, username):
        """A new page of `username`'s context on the back office's upload page, and the list the
        Content-Security-Policy's refusals on it go to."""
        fresh = username not in self.contexts
        if fresh:
            self.contexts[username] = self.browser.new_context(viewport={"width": 1400, "height": 950},
                                                               locale="vi-VN")
        page = self.contexts[username].new_page()
        self.pages.append(page)
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(self.server + "/admin/onboard/")
        if fresh:
            page.get_by_label("Tên đăng nhập").fill(username)
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(re.compile(r"/admin/onboard/$"))
        return page, refused


@pytest.fixture(scope="module")
def signed_in(server, browser):  # noqa: F811
    return Administrators(browser, server)


@pytest.fixture
def admins(signed_in):
    """The file's administrators; the pages a test opened are closed when it ends (the contexts, with
    every page, when the file ends: the journey's `browser`)."""
    yield signed_in
    while signed_in.pages:
        signed_in.pages.pop().close()


def _upload_draft(page, paths=None):
    page.locator("#files").set_input_files(files=_files(paths))
    page.get_by_role("button", name="Kiểm tra").click()
    page.wait_for_url(re.compile(r"/admin/onboard/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def _open(page, server, draft_id):
    page.evaluate("() => { window.__ready = false; }")
    page.goto(f"{server}/admin/modeller/{draft_id}")
    # The ready event of the panel's contract, then the first check's answer.
    page.wait_for_function("() => window.onestopModeller && window.onestopModeller.bpmnFile !== null")
    sync_api.expect(page.locator("#lint-summary")).not_to_be_empty()


def _rename(page, element_id, name):
    page.locator(f'.djs-element[data-element-id="{element_id}"]').first.dblclick()
    editor = page.locator(".djs-direct-editing-parent")
    sync_api.expect(editor).to_be_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type(name)
    page.locator("#canvas").click(position={"x": 15, "y": 15})  # a click elsewhere ends the editing


def test_an_administrator_renames_a_task_sees_a_broken_drawing_marked_saves_and_finds_it_again(
        server, admins, shots):  # noqa: F811
    expect = sync_api.expect
    page, refused = admins.page("quantri.mot")
    draft_id = _upload_draft(page)
    ready = []
    page.expose_function("noteReady", lambda: ready.append(True))
    page.add_init_script("document.addEventListener('onestop:modeller-ready', () => window.noteReady())")
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _open(page, server, draft_id)
    assert ready == [True]
    expect(page.locator("#lint-summary")).to_have_text("(không có vấn đề)")
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark (licence)

    _rename(page, "Task_Sign", "Ký số bản sao")
    expect(page.locator("#dirty")).to_be_visible()
    # A broken drawing: a second way out of a task (a branch needs a gateway); the check marks the task.
    page.locator('.djs-element[data-element-id="Task_Sign"]').first.click()
    page.locator('.djs-context-pad .entry[data-action="append.append-task"]').click()
    page.locator("#canvas").click(position={"x": 15, "y": 15})
    expect(page.locator('.djs-element.onestop-lint-error[data-element-id="Task_Sign"]')).to_be_visible()
    expect(page.locator('.onestop-lint-note[data-element-id="Task_Sign"]')).to_contain_text("một luồng ra")
    expect(page.locator("#lint .finding-error").first).to_contain_text("Một bước chỉ được có một luồng ra")
    shots.page(page, "modeller-lint.png")
    page.locator('#lint .lint-element[data-element-id="Task_Sign"]').click()
    expect(page.locator('.djs-element.selected[data-element-id="Task_Sign"]')).to_be_visible()

    page.locator("#undo").click()  # the appended task goes; the drawing is whole again
    expect(page.locator("#lint-summary")).to_have_text("(không có vấn đề)")
    expect(page.locator(".djs-element.onestop-lint-error")).to_have_count(0)
    page.locator("#save").click()
    expect(page.locator("#status")).to_contain_text("Đã lưu")
    expect(page.locator("#dirty")).to_be_hidden()
    expect(page.locator("#edited-by")).to_have_text("quantri.mot")

    page.reload()
    page.wait_for_function("() => window.onestopModeller && window.onestopModeller.bpmnFile !== null")
    expect(page.locator('.djs-element[data-element-id="Task_Sign"] text').first).to_contain_text("Ký số bản sao")
    expect(page.locator("#revision")).to_have_text("2")
    page.locator("#publish").click()
    expect(page.locator("#status")).to_contain_text(re.compile(r"Đã công bố 2\.000815 phiên bản \d+"))
    page.reload()
    expect(page.locator("#frozen")).to_contain_text("đã được công bố")  # frozen: opening it again makes a new draft
    shots.page(page, "modeller-published.png")
    assert refused == [], refused
    assert errors == [], errors


def test_a_second_administrator_saving_the_same_draft_is_told_and_keeps_the_drawing_as_a_new_draft(
        server, admins, shots):  # noqa: F811
    expect = sync_api.expect
    first, _ = admins.page("quantri.mot")
    draft_id = _upload_draft(first)
    second, refused = admins.page("quantri.hai")
    _open(first, server, draft_id)
    _open(second, server, draft_id)

    _rename(first, "Task_Sign", "Bản của người thứ nhất")
    first.locator("#save").click()
    expect(first.locator("#status")).to_contain_text("Đã lưu")

    _rename(second, "Task_Sign", "Bản của người thứ hai")
    second.evaluate("() => window.dispatchEvent(new Event('focus'))")  # back to this window: who saved is said
    expect(second.locator("#others")).to_contain_text("quantri.mot đã lưu bản nháp này lúc")
    second.locator("#save").click()
    expect(second.locator("#conflict")).to_be_visible()
    expect(second.locator("#conflict-message")).to_contain_text("quantri.mot đã lưu bản nháp này lúc")
    shots.page(second, "modeller-conflict.png")
    second.get_by_role("button", name="Lưu thành bản nháp mới").click()
    second.wait_for_url(lambda url: re.search(r"/admin/modeller/\d+$", url) and not url.endswith(f"/{draft_id}"))
    second.wait_for_function("() => window.onestopModeller && window.onestopModeller.bpmnFile !== null")
    expect(second.locator('.djs-element[data-element-id="Task_Sign"] text').first).to_contain_text(
        "Bản của người thứ hai")  # nothing typed is lost
    expect(second.locator("#edited-by")).to_have_text("quantri.hai")
    assert refused == [], refused


def _shape(node, renamed):
    """An element as its meaning, not its spelling: namespaces by URI (not prefix), attributes sorted,
    text trimmed; the DI (where things are drawn) left out, and the renamed elements' names."""
    if not isinstance(node.tag, str):
        return None
    attributes = dict(node.attrib)
    if node.get("id") in renamed:
        attributes.pop("name", None)
    children = [c for c in (_shape(child, renamed) for child in node
                            if isinstance(child.tag, str) and "BPMN/20100524/DI" not in child.tag) if c is not None]
    return node.tag, tuple(sorted(attributes.items())), (node.text or "").strip(), tuple(children)


def _equivalent(before: bytes, after: bytes, renamed: dict):
    """The saved model holds the same elements with the same extensions; only the renamed names changed."""
    old, new = etree.fromstring(before), etree.fromstring(after)
    ids = {e.get("id"): e for e in old.iter() if isinstance(e.tag, str) and e.get("id")}
    saved = {e.get("id"): e for e in new.iter() if isinstance(e.tag, str) and e.get("id")}
    assert set(saved) == set(ids)
    for element_id, name in renamed.items():
        assert saved[element_id].get("name") == name
    semantic = [c for c in old if isinstance(c.tag, str) and "BPMN/20100524/DI" not in c.tag]
    for element in semantic:
        assert _shape(saved[element.get("id")], renamed) == _shape(element, renamed), element.get("id")


@pytest.mark.parametrize("dialect", ["spiffarena", "camunda"])
def test_a_spiffarena_and_a_camunda_model_are_edited_saved_and_still_run(
        server, admins, sqlite_admin_api, dialect):  # noqa: F811
    expect = sync_api.expect
    if dialect == "spiffarena":
        paths, bpmn, task, name = bundled_files("copy_certification"), "copy_certification.bpmn", "Task_Sign", "Ký số"
    else:
        if not CONFORMANCE.exists():
            pytest.skip(f"the shared conformance corpus is not at {CONFORMANCE}")
        paths = [CONFORMANCE / "spiffworkflow/camunda/subWorkflowComplex.bpmn"]
        bpmn, task, name = "subWorkflowComplex.bpmn", "Activity_A", "Điền mẫu A"
    page, refused = admins.page("quantri.mot")
    draft_id = _upload_draft(page, paths)
    _open(page, server, draft_id)
    _rename(page, task, name)
    page.locator("#save").click()
    expect(page.locator("#status")).to_contain_text("Đã lưu")
    saved = page.request.get(f"{server}/admin/modeller/{draft_id}/draft").json()["files"]
    original = next(p for p in paths if p.name == bpmn).read_bytes()
    _equivalent(original, saved[bpmn].encode(), {task: name})
    assert refused == [], refused

    files = [(n, text.encode()) for n, text in saved.items()]
    if dialect == "spiffarena":  # the whole procedure, as an officer would walk it
        assert sqlite_admin_api.upload(files).status_code == 201
        walk = Walk(sqlite_admin_api, "2.000815", data=APPLICATION)
        for step, data in (("Task_Receive", RECEIVED), ("Task_Attest", ATTESTED), ("Task_Sign", SIGNED),
                           ("Task_Return", RETURNED)):
            walk.complete(step, data)
        assert walk.state == "completed" and walk.ended_at() == ["End_Certified"]
    else:  # the corpus's scenario: every form filled, in the order SpiffWorkflow's own test gives
        assert sqlite_admin_api.upload(files, process_id="SubWorkflow").status_code in (200, 201)
        dossier = sqlite_admin_api.post("/dossiers", {"procedure": "SubWorkflow"}).json
        for step, field in (("Activity_A", "FieldA"), ("Activity_A1", "FieldA1"), ("Activity_A2", "FieldA2"),
                            ("Activity_B", "FieldB")):
            ready = [t for t in dossier["tasks"] if t["element_id"] == step]
            assert ready, (step, dossier["tasks"])
            dossier = sqlite_admin_api.post(f"/tasks/{ready[0]['id']}/complete", {"data": {field: field[5:]}}).json
        assert dossier["state"] == "completed"
        dossier = sqlite_admin_api.get(f"/dossiers/{dossier['code']}").json  # the step's answer is lean
        assert {k: dossier["data"][k] for k in ("FieldA", "FieldA1", "FieldA2", "FieldB")} == {
            "FieldA": "A", "FieldA1": "A1", "FieldA2": "A2", "FieldB": "B"}


def test_a_draft_with_two_diagrams_edits_each_and_saves_both(server, admins):  # noqa: F811
    expect = sync_api.expect
    second_model = next(p for p in bundled_files("birth_registration") if p.suffix == ".bpmn")
    page, refused = admins.page("quantri.hai")
    draft_id = _upload_draft(page, bundled_files("copy_certification") + [second_model])
    _open(page, server, draft_id)
    expect(page.locator("#bpmn-file")).to_be_visible()
    page.locator("#bpmn-file").select_option("copy_certification.bpmn")
    expect(page.locator('.djs-element[data-element-id="Task_Attest"]')).to_be_visible()
    _rename(page, "Task_Sign", "Ký trên sơ đồ thứ nhất")
    page.locator("#bpmn-file").select_option("birth_registration.bpmn")
    expect(page.locator('.djs-element[data-element-id="Task_Supplement"]')).to_be_visible()
    _rename(page, "Task_Supplement", "Bổ sung trên sơ đồ thứ hai")
    page.locator("#save").click()
    expect(page.locator("#status")).to_contain_text("Đã lưu")
    saved = page.request.get(f"{server}/admin/modeller/{draft_id}/draft").json()["files"]
    assert 'name="Ký trên sơ đồ thứ nhất"' in saved["copy_certification.bpmn"]
    assert 'name="Bổ sung trên sơ đồ thứ hai"' in saved["birth_registration.bpmn"]
    assert refused == [], refused


def test_a_model_without_a_drawing_is_said_not_shown(server, admins):  # noqa: F811
    expect = sync_api.expect
    undrawn = bundled_files("copy_certification")[0].parents[2] / "tests" / "models" / "review.bpmn"
    page, refused = admins.page("quantri.hai")
    draft_id = _upload_draft(page, [undrawn])
    page.goto(f"{server}/admin/modeller/{draft_id}")
    expect(page.locator("#status")).to_contain_text("không có phần hình vẽ")
    expect(page.locator("#save")).to_be_disabled()  # nothing to save over the stored model
    assert refused == [], refused
