"""The form builder through real HTTP: a draft's forms listed, one opened as form-js, previewed as
onestop renders it, saved into the draft at its revision; bad forms refused in Vietnamese next to
the field, with nothing written; another centre's draft is not there at all."""

import json
import re

from onestop.engine import SourceFile
from onestop.formdefs.formjs import to_form_js
from onestop.models import Centre
from onestop.services import centres, drafts
from tests.conftest import make_user
from tests.process_models import bundled_files
from tests.web.pages import sign_in

PASSWORD = "mật-khẩu-quản-trị"


def _admin(app, username="quantri", centre=None):
    with app.app_context():
        user, _ = make_user(username, ("admin",), centre=centre, password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 303
    return client, user


def _draft(app, user, folder="birth_registration"):
    with app.app_context():
        return drafts.create(user, [SourceFile(p.name, p.read_bytes()) for p in bundled_files(folder)], "test")


def _page_data(client, url):
    page = client.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    # Under the back office's Content-Security-Policy: every script carries this answer's nonce.
    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'", page.headers["Content-Security-Policy"]).group(1)
    assert all(f'nonce="{nonce}"' in s for s in re.findall(r"<script\b[^>]*>", text))
    assert not re.search(r"<[a-z]+\b[^>]*\sstyle=", text)
    match = re.search(r'<script type="application/json" id="form-builder-data"[^>]*>(.*?)</script>', text, re.S)
    data = json.loads(match.group(1))
    assert data["styleNonce"] == nonce
    return data


def _post(client, url, body, token):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": token})


def _stored(app, user, draft_id, name):
    with app.app_context():
        found = drafts.state(user, draft_id).file(name)
        return json.loads(found.content) if found else None


def test_the_draft_lists_its_forms_for_the_modeller_and_links_each_to_its_builder(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    listed = client.get(f"/admin/modeller/{draft_id}/forms?format=json").json
    names = [f["name"] for f in listed["forms"]]
    assert names == sorted(["application", "appraise", "receive", "record", "refusal", "return", "sign", "supplement"])
    application = next(f for f in listed["forms"] if f["name"] == "application")
    assert application["url"] == f"/admin/modeller/{draft_id}/forms/application"
    assert application["title"] == "Tờ khai đăng ký khai sinh" and application["dialect"] == "json-schema"
    assert (application["file"], application["ui_file"]) == ("application-schema.json", "application-uischema.json")
    assert next(f for f in listed["forms"] if f["name"] == "appraise")["ui_file"] is None
    page = client.get(f"/admin/modeller/{draft_id}/forms").get_data(as_text=True)
    assert f'href="/admin/modeller/{draft_id}/forms/appraise"' in page


def test_an_opened_form_saves_back_unchanged_and_moves_the_draft_to_its_next_revision(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    before_schema = _stored(sqlite_app, user, draft_id, "application-schema.json")
    before_ui = _stored(sqlite_app, user, draft_id, "application-uischema.json")
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/application")
    assert data["revision"] == 1
    saved = _post(client, data["saveUrl"], {"document": data["document"], "revision": 1}, data["csrfToken"])
    assert saved.status_code == 200 and saved.json["revision"] == 2
    assert _stored(sqlite_app, user, draft_id, "application-schema.json") == before_schema
    assert _stored(sqlite_app, user, draft_id, "application-uischema.json") == before_ui


def test_a_field_added_in_the_builder_is_stored_as_json_schema_and_shown_in_the_preview(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/appraise")
    document = data["document"]
    document["components"].append({"type": "textfield", "id": "Field_new", "key": "inspector_note",
                                   "label": "Ghi chú của người thẩm tra", "description": "Ghi ngắn gọn",
                                   "validate": {"required": True, "maxLength": 300}})
    preview = _post(client, data["previewUrl"], {"document": document}, data["csrfToken"])
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'name="inspector_note"' in html and "Ghi chú của người thẩm tra" in html and 'maxlength="300"' in html
    assert 'id="inspector_note-hint"' in html  # onestop's own _form.html: the help text tied to its field
    assert _post(client, data["saveUrl"], {"document": document, "revision": 1}, data["csrfToken"]).status_code == 200
    schema = _stored(sqlite_app, user, draft_id, "appraise-schema.json")
    assert schema["properties"]["inspector_note"] == {"type": "string", "title": "Ghi chú của người thẩm tra",
                                                      "maxLength": 300, "description": "Ghi ngắn gọn"}
    assert "inspector_note" in schema["required"] and schema["required"][:6] == [
        "child_full_name", "child_gender", "child_date_of_birth", "child_place_of_birth", "mother_full_name",
        "appraisal_result"]


def test_a_duplicate_key_is_refused_in_vietnamese_next_to_its_field_and_nothing_is_saved(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    before = _stored(sqlite_app, user, draft_id, "appraise-schema.json")
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/appraise")
    document = data["document"]
    document["components"].append({"type": "textfield", "id": "Field_twin", "key": "child_full_name",
                                   "label": "Tên trẻ (lần nữa)"})
    answer = _post(client, data["saveUrl"], {"document": document, "revision": 1}, data["csrfToken"])
    assert answer.status_code == 422
    problem = answer.json["problems"][0]
    assert (problem["code"], problem["component"], problem["key"]) == ("duplicate_key", "Field_twin", "child_full_name")
    assert problem["message"] == "Khóa “child_full_name” trùng với một trường khác: mỗi trường cần một khóa riêng."
    assert _stored(sqlite_app, user, draft_id, "appraise-schema.json") == before
    with sqlite_app.app_context():
        assert drafts.state(user, draft_id).revision == 1


def test_an_empty_key_a_pattern_re2_refuses_and_a_choice_without_options_are_each_named(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/appraise")
    document = data["document"]
    document["components"] += [
        {"type": "textfield", "id": "Field_nokey", "key": "", "label": "Không khóa"},
        {"type": "textfield", "id": "Field_lookaround", "key": "code", "label": "Mã",
         "validate": {"pattern": "^(?=[0-9])[0-9]{3}$"}},
        {"type": "select", "id": "Field_empty", "key": "kind", "label": "Loại", "values": []},
    ]
    answer = _post(client, data["saveUrl"], {"document": document, "revision": 1}, data["csrfToken"])
    assert answer.status_code == 422
    found = {p["component"]: p["code"] for p in answer.json["problems"]}
    assert found == {"Field_nokey": "empty_key", "Field_empty": "no_options"}  # the structure first
    document["components"] = [c for c in document["components"] if c["id"] not in ("Field_nokey", "Field_empty")]
    answer = _post(client, data["previewUrl"], {"document": document}, data["csrfToken"])
    assert answer.status_code == 422
    [problem] = answer.json["problems"]
    assert (problem["code"], problem["component"]) == ("bad_pattern", "Field_lookaround")
    assert problem["message"].startswith("Mẫu kiểm tra (biểu thức chính quy) của trường không dùng được")


def test_a_second_administrator_saving_over_an_unseen_revision_is_told_who_saved(sqlite_app):
    first, first_user = _admin(sqlite_app, "quantri.mot")
    with sqlite_app.app_context():
        first_user.display_name = "Nguyễn Văn Một"
        first_user.save()
    second, _ = _admin(sqlite_app, "quantri.hai")
    draft_id = _draft(sqlite_app, first_user)
    mine = _page_data(first, f"/admin/modeller/{draft_id}/forms/receive")
    theirs = _page_data(second, f"/admin/modeller/{draft_id}/forms/receive")
    assert _post(first, mine["saveUrl"], {"document": mine["document"], "revision": 1},
                 mine["csrfToken"]).status_code == 200
    late = _post(second, theirs["saveUrl"], {"document": theirs["document"], "revision": 1}, theirs["csrfToken"])
    assert late.status_code == 409
    assert late.json["edited_by"] == "Nguyễn Văn Một" and "Nguyễn Văn Một đã lưu bản nháp này" in late.json["message"]


def test_a_new_form_is_created_empty_and_opens_in_the_builder(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    listing = client.get(f"/admin/modeller/{draft_id}/forms")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', listing.get_data(as_text=True)).group(1)
    made = client.post(f"/admin/modeller/{draft_id}/forms/new",
                       data={"csrf_token": token, "name": "kiem_tra", "title": "Kiểm tra thực địa", "revision": "1"})
    assert made.status_code == 303 and made.headers["Location"].endswith(f"/admin/modeller/{draft_id}/forms/kiem_tra")
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/kiem_tra")
    assert data["document"]["components"] == [] and data["document"]["onestop"]["schema"]["title"] == "Kiểm tra thực địa"
    again = client.post(f"/admin/modeller/{draft_id}/forms/new",
                        data={"csrf_token": token, "name": "kiem_tra", "title": "", "revision": "2"},
                        follow_redirects=True)
    assert "Bản nháp đã có biểu mẫu tên kiem_tra" in again.get_data(as_text=True)


def test_the_palette_offers_the_shared_blocks_and_a_file_field_per_paper_of_the_procedure(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/application")
    entries = {e["id"]: e for e in data["palette"]}
    identity_keys = [c["key"] for c in entries["block_identity"]["components"]]
    assert identity_keys == ["applicant_full_name", "applicant_date_of_birth", "applicant_citizen_id",
                             "applicant_phone", "applicant_email"]
    assert {"block_address", "citizen_id", "phone", "text", "number", "date", "choice", "file"} <= set(entries)
    papers = [e for e in data["palette"] if e["kind"] == "document"]
    assert len(papers) == 9 and papers[2]["components"][0]["type"] == "filepicker"
    assert papers[2]["label"].startswith("Giấy chứng sinh")


def test_another_centres_draft_is_not_found_on_any_builder_address(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        theirs = Centre.get(Centre.code == "W07093")
        ours = Centre.get(Centre.code == "W07090")
    _other_client, other = _admin(app, "ben.quantri", centre=theirs)
    draft_id = _draft(app, other, "copy_certification")
    client, _user = _admin(app, "xa.quantri", centre=ours)
    own = _page_data(client, f"/admin/modeller/{_draft(app, _user, 'copy_certification')}/forms/receive")
    assert client.get(f"/admin/modeller/{draft_id}/forms").status_code == 404
    assert client.get(f"/admin/modeller/{draft_id}/forms/receive").status_code == 404
    with app.app_context():
        document = to_form_js({"type": "object", "properties": {"a": {"type": "string"}}})
    for action, body in (("preview", {"document": document}), ("save", {"document": document, "revision": 1})):
        answer = _post(client, f"/admin/modeller/{draft_id}/forms/receive/{action}", body, own["csrfToken"])
        assert answer.status_code == 404
    with app.app_context():
        assert drafts.state(other, draft_id).revision == 1


def test_a_json_post_without_the_page_token_changes_nothing(sqlite_app):
    client, user = _admin(sqlite_app)
    draft_id = _draft(sqlite_app, user)
    data = _page_data(client, f"/admin/modeller/{draft_id}/forms/receive")
    answer = _post(client, data["saveUrl"], {"document": data["document"], "revision": 1}, "forged")
    assert answer.status_code == 400
    with sqlite_app.app_context():
        assert drafts.state(user, draft_id).revision == 1
