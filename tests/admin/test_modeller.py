"""The modeller's back-office endpoints through real HTTP: the page and the draft it loads, saving with
the revision (a second administrator is told who saved, and keeps their work as a new draft), the live
check of unsaved files, publishing, and who may see which draft."""

import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from onestop.engine import SourceFile
from onestop.models import Centre, Draft, ProcedureVersion
from onestop.services import centres, drafts
from tests.conftest import CONFORMANCE, make_user
from tests.process_models import bundled_files
from tests.web.pages import sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _signed_in(app, username, roles=("admin",), centre=None):
    with app.app_context():
        make_user(username, roles, centre=centre, password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 303
    return client


def _draft(app, username, folder="copy_certification", change=None):
    with app.app_context():
        from onestop.models import User

        actor = User.get(User.username == username)
        files = []
        for path in bundled_files(folder):
            content = path.read_bytes()
            files.append(SourceFile(path.name, change(path.name, content) if change else content))
        return drafts.create(actor, files, "test")


def _token(client, draft_id):
    page = client.get(f"/admin/modeller/{draft_id}").get_data(as_text=True)
    return re.search(r'data-csrf-token="([^"]+)"', page).group(1)


def _post(client, path, body, token):
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def test_the_page_embeds_the_vendored_modeller_and_the_panel_contract(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    page = admin.get(f"/admin/modeller/{draft_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    ours = [s.split("?v=")[0] for s in scripts if s.startswith("/static/")]  # each with its version (web/assets.py)
    panel = ["/static/authoring/panel.js"] if (Path(sqlite_app.static_folder) / "authoring/panel.js").is_file() else []
    assert ours == ["/static/vendor/bpmn-js/bpmn-modeler.production.min.js", "/static/authoring/moddle.js",
                    "/static/authoring/modeller.js", *panel]
    assert '<aside id="onestop-panel"></aside>' in html
    assert not re.search(r"https?://(?!localhost)", " ".join(scripts))  # no CDN
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ours[:3] + ["/static/authoring/modeller.css", "/static/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css",
                            "/static/vendor/bpmn-js/assets/bpmn-font/font/bpmn.woff2"]:
        with admin.get(path) as served:
            assert served.status_code == 200, path


def test_the_draft_loads_with_its_files_revision_and_last_editor(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    loaded = admin.get(f"/admin/modeller/{draft_id}/draft").json
    assert loaded["revision"] == 1 and loaded["edited_by"] == "quantri" and loaded["edited_at"]
    assert "copy_certification.bpmn" in loaded["files"] and "procedure.json" in loaded["files"]
    assert loaded["files"]["copy_certification.bpmn"].startswith("<?xml")


def test_a_save_with_the_revision_writes_the_files_and_the_next_revision(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    renamed = xml.replace('name="Ký, đóng dấu bản sao"', 'name="Ký và đóng dấu"')
    assert renamed != xml
    token = _token(admin, draft_id)
    saved = _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "copy_certification.bpmn": renamed}}, token)
    assert saved.status_code == 200 and saved.json["revision"] == 2 and saved.json["edited_by"] == "quantri"
    again = admin.get(f"/admin/modeller/{draft_id}/draft").json
    assert again["revision"] == 2 and "Ký và đóng dấu" in again["files"]["copy_certification.bpmn"]


def test_a_save_without_the_csrf_token_is_refused_and_changes_nothing(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    refused = admin.post(f"/admin/modeller/{draft_id}/save", json={"revision": 1, "files": {"x.bpmn": "<a/>"}})
    assert refused.status_code == 400 and refused.json["error"] == "csrf"
    assert admin.get(f"/admin/modeller/{draft_id}/draft").json["revision"] == 1


def test_the_second_administrator_saving_the_same_draft_is_told_who_saved_and_keeps_their_work(sqlite_app):
    first = _signed_in(sqlite_app, "quantri.mot")
    second = _signed_in(sqlite_app, "quantri.hai")
    draft_id = _draft(sqlite_app, "quantri.mot")
    xml = first.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    theirs = xml.replace('name="Ký, đóng dấu bản sao"', 'name="Bước của người thứ nhất"')
    mine = xml.replace('name="Ký, đóng dấu bản sao"', 'name="Bước của người thứ hai"')
    token_two = _token(second, draft_id)  # both opened revision 1
    assert _post(first, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "copy_certification.bpmn": theirs}}, _token(first, draft_id)).status_code == 200
    refused = _post(second, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "copy_certification.bpmn": mine}}, token_two)
    assert refused.status_code == 409
    assert refused.json["conflict"] is True and refused.json["edited_by"] == "quantri.mot"
    assert "quantri.mot" in refused.json["message"] and refused.json["revision"] == 2
    watched = second.get(f"/admin/modeller/{draft_id}/revision").json
    assert (watched["revision"], watched["edited_by"]) == (2, "quantri.mot")
    stored = second.get(f"/admin/modeller/{draft_id}/draft").json
    assert "Bước của người thứ nhất" in stored["files"]["copy_certification.bpmn"]  # theirs stands

    kept = _post(second, f"/admin/modeller/{draft_id}/copy", {"files": {"copy_certification.bpmn": mine}},
                 refused.json["csrf_token"])
    assert kept.status_code == 200 and kept.json["url"] == f"/admin/modeller/{kept.json['draft_id']}"
    copy = second.get(f"/admin/modeller/{kept.json['draft_id']}/draft").json
    assert "Bước của người thứ hai" in copy["files"]["copy_certification.bpmn"]  # nothing typed is lost
    assert set(copy["files"]) == set(stored["files"]) and copy["edited_by"] == "quantri.hai"


def test_the_check_reports_the_unsaved_drawing_with_element_ids_and_saves_nothing(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    token = _token(admin, draft_id)
    clean = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {}}, token)
    assert clean.status_code == 200 and clean.json["findings"] == [] and clean.json["publishable"] is True
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    dangling = xml.replace('targetRef="Task_Sign"', 'targetRef="Task_Nowhere"')
    broken = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": dangling}},
                   token).json
    assert broken["compiled"] is False and broken["publishable"] is False
    assert [(f["level"], f["element_id"]) for f in broken["findings"]] == [("error", "Flow_Attested")]
    assert broken["findings"][0]["message"].startswith("Luồng Flow_Attested đi tới 'Task_Nowhere'")
    not_xml = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": xml[:-40]}},
                    token).json
    assert not_xml["findings"][0]["file"] == "copy_certification.bpmn"
    assert "không phải XML hợp lệ" in not_xml["findings"][0]["message"]
    with sqlite_app.app_context():
        assert Draft.get_by_id(draft_id).revision == 1  # nothing half-saved


def test_the_check_names_an_unsupported_element_and_a_dead_end_in_vietnamese(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    token = _token(admin, draft_id)
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    complex_gateway = xml.replace("bpmn:exclusiveGateway", "bpmn:complexGateway")
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": complex_gateway}},
                  token).json["findings"]
    assert found[0]["element_id"] == "Gateway_Certifiable" and "chưa được hỗ trợ" in found[0]["message"]
    two_ways_out = xml.replace('<bpmn:sequenceFlow id="Flow_Attested"', '<bpmn:task id="Task_Loose" />'
                                                                         '<bpmn:sequenceFlow id="Flow_Loose" '
                                                                         'sourceRef="Task_Sign" targetRef="Task_Loose" />'
                                                                         '<bpmn:sequenceFlow id="Flow_Attested"')
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": two_ways_out}},
                  token).json["findings"]
    assert found[0]["element_id"] == "Task_Sign" and "một luồng ra" in found[0]["message"]
    dead_end = xml.replace('<bpmn:sequenceFlow id="Flow_Attested"', '<bpmn:task id="Task_Loose" />'
                                                                     '<bpmn:sequenceFlow id="Flow_Attested"').replace(
        'targetRef="Task_Sign"', 'targetRef="Task_Loose"')
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": dead_end}},
                  token).json["findings"]
    assert ("error", "Task_Loose") in [(f["level"], f["element_id"]) for f in found]
    assert all(not f["message"].startswith("Trình kiểm tra báo") for f in found)  # each one said in Vietnamese


def test_publishing_is_blocked_with_the_reasons_while_errors_remain_then_succeeds(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri", change=lambda name, content: content.replace(
        b'"fee_vnd"', b'"fee_none"') if name == "procedure.json" else content)
    token = _token(admin, draft_id)
    blocked = _post(admin, f"/admin/modeller/{draft_id}/publish", {}, token)
    assert blocked.status_code == 422 and blocked.json["publishable"] is False
    assert any(f["level"] == "error" and "lệ phí" in f["message"] for f in blocked.json["findings"])
    with sqlite_app.app_context():
        assert ProcedureVersion.select().count() == 0
    procedure = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["procedure.json"]
    assert _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "procedure.json": procedure.replace('"fee_none"', '"fee_vnd"')}}, token).status_code == 200
    published = _post(admin, f"/admin/modeller/{draft_id}/publish", {}, token)
    assert published.status_code == 200 and published.json["version"] == 1
    frozen = _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 2, "files": {
        "procedure.json": procedure}}, token)
    assert frozen.status_code == 409 and frozen.json["published_version"] == 1


def test_the_current_version_opens_as_a_new_draft_in_the_modeller(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    token = _token(admin, draft_id)
    assert _post(admin, f"/admin/modeller/{draft_id}/publish", {}, token).status_code == 200
    listing = admin.get("/admin/modeller/").get_data(as_text=True)
    assert "/admin/modeller/open/2.000815" in listing and 'href="/admin/modeller/new"' in listing
    confirm = admin.get("/admin/modeller/open/2.000815")
    assert confirm.status_code == 200
    with sqlite_app.app_context():
        before = Draft.select().count()
    assert before == 1  # asking does not create a draft
    opened = admin.post("/admin/modeller/open/2.000815", data={"csrf_token": re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)})
    assert opened.status_code == 303
    new_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    assert new_id != draft_id and admin.get(f"/admin/modeller/{new_id}/draft").json["revision"] == 1
    assert admin.get("/admin/modeller/open/no-such-code").status_code == 404
    missing = admin.post("/admin/modeller/open/no-such-code", data={"csrf_token": re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', confirm.get_data(as_text=True)).group(1)})
    assert missing.status_code == 404


def test_an_officer_is_refused_and_another_centres_draft_is_not_found(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        ours, theirs = Centre.get(Centre.code == "W07090"), Centre.get(Centre.code == "W07093")
    _signed_in(app, "ben.quantri", ("admin",), centre=theirs)
    foreign = _draft(app, "ben.quantri")
    admin = _signed_in(app, "xa.quantri", ("admin",), centre=ours)
    own = _draft(app, "xa.quantri")
    token = _token(admin, own)
    assert admin.get(f"/admin/modeller/{foreign}").status_code == 404
    assert admin.get(f"/admin/modeller/{foreign}/draft").status_code == 404
    assert admin.get(f"/admin/modeller/{foreign}/revision").status_code == 404
    assert admin.get(f"/admin/modeller/{foreign}/download").status_code == 404
    for path in ("save", "check", "publish", "copy"):
        body = {"revision": 1, "files": {}} if path == "save" else {"files": {}}
        assert _post(admin, f"/admin/modeller/{foreign}/{path}", body, token).status_code == 404, path
    officer = _signed_in(app, "canbo", ("officer",), centre=ours)
    assert officer.get(f"/admin/modeller/{own}").status_code == 403
    assert officer.get(f"/admin/modeller/{own}/draft").status_code == 403
    assert officer.post(f"/admin/modeller/{own}/save", json={"revision": 1, "files": {}}).status_code == 403


@pytest.mark.parametrize("body", [{"revision": "1", "files": {}}, {"revision": 1, "files": {"a.bpmn": 3}},
                                  {"revision": 1, "files": []}, ["not", "an", "object"]])
def test_a_malformed_save_is_a_400_and_changes_nothing(sqlite_app, body):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    assert _post(admin, f"/admin/modeller/{draft_id}/save", body, _token(admin, draft_id)).status_code == 400
    assert admin.get(f"/admin/modeller/{draft_id}/draft").json["revision"] == 1


def test_the_procedure_list_and_the_review_page_link_to_the_modeller(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    review = admin.get(f"/admin/onboard/{draft_id}").get_data(as_text=True)
    assert f'href="/admin/modeller/{draft_id}"' in review
    assert 'href="/admin/modeller/new"' in admin.get("/admin/onboard/").get_data(as_text=True)
    assert _post(admin, f"/admin/modeller/{draft_id}/publish", {}, _token(admin, draft_id)).status_code == 200
    listed = admin.get("/admin/procedure/").get_data(as_text=True)
    assert 'href="/admin/modeller/open/2.000815"' in listed


def test_a_drawing_without_a_start_event_is_said_in_vietnamese_on_its_process(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    no_start = re.sub(r'<bpmn:startEvent .*?</bpmn:startEvent>', "", xml, flags=re.S)
    no_start = re.sub(r'<bpmn:sequenceFlow id="Flow_Presented".*?(/>|</bpmn:sequenceFlow>)', "", no_start, flags=re.S)
    no_start = no_start.replace("<bpmn:incoming>Flow_Presented</bpmn:incoming>", "")
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": no_start}},
                  _token(admin, draft_id)).json
    assert found["compiled"] is False
    assert [(f["element_id"], f["message"]) for f in found["findings"]] == [
        ("copy_certification", "Quy trình chưa có sự kiện bắt đầu: thêm một sự kiện bắt đầu.")]


def test_a_camunda_model_saved_through_the_modeller_still_compiles_and_runs(sqlite_app, sqlite_admin_api):
    if not CONFORMANCE.exists():
        pytest.skip(f"the shared conformance corpus is not at {CONFORMANCE}")
    admin = _signed_in(sqlite_app, "quantri")
    model = CONFORMANCE / "spiffworkflow/camunda/subWorkflowComplex.bpmn"
    with sqlite_app.app_context():
        from onestop.models import User

        draft_id = drafts.create(User.get(User.username == "quantri"),
                                 [SourceFile(model.name, model.read_bytes())], "test")
    token = _token(admin, draft_id)
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"][model.name]
    renamed = xml.replace('name="FormA"', 'name="Điền mẫu A"')
    assert renamed != xml
    assert _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {model.name: renamed}},
                 token).status_code == 200
    checked = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {}}, token).json
    assert checked["compiled"] is True and checked["code"] == "SubWorkflow"
    assert {f["element_id"] for f in checked["findings"] if f["level"] == "error"} == {None}  # procedure.json only
    saved = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]
    assert sqlite_admin_api.upload([(n, t.encode()) for n, t in saved.items()],
                                   process_id="SubWorkflow").status_code == 201
    dossier = sqlite_admin_api.post("/dossiers", {"procedure": "SubWorkflow"}).json
    for step, field in (("Activity_A", "FieldA"), ("Activity_A1", "FieldA1"), ("Activity_A2", "FieldA2"),
                        ("Activity_B", "FieldB")):
        task = next(t for t in dossier["tasks"] if t["element_id"] == step)
        dossier = sqlite_admin_api.post(f"/tasks/{task['id']}/complete", {"data": {field: field[5:]}}).json
    assert dossier["state"] == "completed"


def test_every_finding_of_the_compliance_lint_is_said_in_vietnamese(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    token = _token(admin, draft_id)
    files = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]
    meta = json.loads(files["procedure.json"])
    for key in ("documents", "fee_vnd", "deadline"):
        meta.pop(key)
    del meta["lanes"]["Lãnh đạo UBND xã"]
    script = ('<bpmn:scriptTask id="Script_Total"><bpmn:script>total = 1</bpmn:script></bpmn:scriptTask>'
              '<bpmn:userTask id="Task_Sign"')
    bpmn = files["copy_certification.bpmn"].replace('<bpmn:userTask id="Task_Sign"', script, 1)
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {
        "procedure.json": json.dumps(meta, ensure_ascii=False), "copy_certification.bpmn": bpmn}}, token).json
    assert found["compiled"] is True, found
    details = {f["detail"].split(" ")[0] for f in found["findings"]}
    assert {"its", "procedure.json", "the"} <= details  # a lane without a role, documents, fee, time, scripts
    untranslated = [f["detail"] for f in found["findings"] if f["message"].startswith("Trình kiểm tra báo")]
    assert untranslated == []


def test_a_lane_mapped_to_an_unknown_role_is_said_in_vietnamese(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    meta = json.loads(admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["procedure.json"])
    meta["lanes"]["Lãnh đạo UBND xã"] = "nobody"
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {
        "procedure.json": json.dumps(meta, ensure_ascii=False)}}, _token(admin, draft_id)).json["findings"]
    assert [f["message"].split(";")[0] for f in found] == [
        "procedure.json \"lanes\": làn 'Lãnh đạo UBND xã' gắn với vai trò 'nobody' không có"]


@pytest.mark.parametrize(("change", "element_id", "said"), [
    (lambda x: x.replace('value="application-schema.json"', 'value="missing-schema.json"'), "StartEvent_Presented",
     "Bước này dùng biểu mẫu 'missing-schema.json' nhưng bản nháp không có tệp đó."),
    (lambda x: re.sub(r'(<bpmn:conditionExpression[^>]*>)[^<]*', r'\1__import__("os")', x, count=1),
     "Flow_NotCertifiable", "Biểu thức '__import__(\"os\")' dùng điều không được phép"),
    (lambda x: re.sub(r'<bpmn:conditionExpression[^>]*>[^<]*</bpmn:conditionExpression>', "", x, count=1),
     "Flow_NotCertifiable", "Nhánh ra khỏi cổng chưa có điều kiện"),
], ids=["missing form", "forbidden expression", "branch without condition"])
def test_common_drawing_mistakes_are_said_in_vietnamese_on_their_element(sqlite_app, change, element_id, said):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    xml = admin.get(f"/admin/modeller/{draft_id}/draft").json["files"]["copy_certification.bpmn"]
    assert change(xml) != xml
    found = _post(admin, f"/admin/modeller/{draft_id}/check", {"files": {"copy_certification.bpmn": change(xml)}},
                  _token(admin, draft_id)).json["findings"]
    assert [(f["element_id"], f["message"][:len(said)]) for f in found] == [(element_id, said)]


def test_a_file_the_draft_would_not_keep_is_refused_in_vietnamese_and_nothing_is_saved(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    token = _token(admin, draft_id)
    refused = _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "copy_certification.bpmn": "<x/>", "notes.txt": "ghi chú"}}, token)
    assert refused.status_code == 422
    assert refused.json["message"] == "Chưa lưu: Bản nháp chỉ giữ tệp BPMN, DMN và JSON, không giữ 'notes.txt'."
    emptied = _post(admin, f"/admin/modeller/{draft_id}/save", {"revision": 1, "files": {
        "copy_certification.bpmn": None}}, token)
    assert emptied.json["message"] == "Chưa lưu: Bản nháp cần ít nhất một sơ đồ BPMN."
    loaded = admin.get(f"/admin/modeller/{draft_id}/draft").json
    assert loaded["revision"] == 1 and loaded["files"]["copy_certification.bpmn"].startswith("<?xml")


def test_the_saved_draft_downloads_as_a_zip_of_its_files(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    with admin.get(f"/admin/modeller/{draft_id}/download") as reply:
        assert reply.status_code == 200 and reply.mimetype == "application/zip"
        assert reply.headers["Content-Disposition"] == f"attachment; filename=ban-nhap-{draft_id}-luu-1.zip"
        with zipfile.ZipFile(io.BytesIO(reply.get_data())) as archive:
            names = set(archive.namelist())
            bpmn = archive.read("copy_certification.bpmn")
    assert names == {p.name for p in bundled_files("copy_certification")}
    assert bpmn == next(p for p in bundled_files("copy_certification") if p.suffix == ".bpmn").read_bytes()
