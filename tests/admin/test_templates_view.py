""""New procedure" from a template (/admin/modeller/new) and versions side by side (the review page and
/admin/modeller/diff/<code>), through real HTTP."""

import re

import pytest

from onestop.models import Centre, Draft
from onestop.services import centres, drafts, onboarding
from tests.conftest import make_user
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"
CODE = "1.004567"


def _signed_in(app, username, roles=("admin",), centre=None):
    with app.app_context():
        make_user(username, roles, centre=centre, password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, username, PASSWORD).status_code == 303
    return client


def _create(client, template="appraise_sign_return", code=CODE, name="Cấp giấy xác nhận thử nghiệm"):
    token = csrf(client.get("/admin/modeller/new/"))
    return client.post("/admin/modeller/new/", data={"csrf_token": token, "template": template, "code": code,
                                                     "name": name})


def _draft_id(reply) -> int:
    assert reply.status_code == 303, reply.get_data(as_text=True)[:2000]
    match = re.fullmatch(r"(?:http://localhost)?/admin/modeller/(\d+)", reply.headers["Location"])
    assert match, reply.headers["Location"]
    return int(match.group(1))


def test_the_page_offers_every_template_with_its_diagram_and_the_upload(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    page = admin.get("/admin/modeller/new/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for title in ("Giải quyết ngay", "Tiếp nhận - thẩm định - ký - trả kết quả", "Có lấy ý kiến cơ quan khác",
                  "Có chờ thực hiện nghĩa vụ tài chính", "Có thẩm định thực tế"):
        assert title in text
    assert text.count('<svg class="diagram"') == 5
    assert 'action="/admin/onboard/"' in text and 'name="files"' in text
    assert admin.get("/admin/modeller/new").status_code == 200  # the address links use, without a redirect


def test_a_template_becomes_a_draft_under_the_new_code_and_opens_in_the_modeller(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft_id(_create(admin, "other_agency_opinion"))
    review = admin.get(f"/admin/onboard/{draft_id}").get_data(as_text=True)
    assert f"{CODE} — Cấp giấy xác nhận thử nghiệm" in review
    assert 'id="publish"' in review and "<strong>Lỗi</strong>" not in review
    assert "still holds the template&#39;s placeholder" in review  # what is left to write is said
    assert "Thủ tục mới ở trung tâm này." in review
    with sqlite_app.app_context():
        assert Draft.get_by_id(draft_id).code == CODE


@pytest.mark.parametrize(("code", "name", "message"), [
    ("1.0045 67", "Tên", "Mã thủ tục chỉ gồm chữ cái không dấu"),
    ("mã-số", "Tên", "Mã thủ tục chỉ gồm chữ cái không dấu"),
    ("", "Tên", "Nhập mã thủ tục."),
    (CODE, "   ", "Nhập tên thủ tục."),
    (CODE, "x" * 1001, "Tên thủ tục dài quá 1000 ký tự."),
])
def test_a_bad_code_or_name_is_said_in_vietnamese_next_to_the_field_and_nothing_is_created(sqlite_app, code, name,
                                                                                        message):
    admin = _signed_in(sqlite_app, "quantri")
    reply = _create(admin, code=code, name=name)
    text = reply.get_data(as_text=True)
    assert reply.status_code == 422 and message in text
    assert 'aria-invalid="true"' in text
    assert 'value="appraise_sign_return" id="template-appraise_sign_return" checked' in text  # the choice is kept
    with sqlite_app.app_context():
        assert Draft.select().count() == 0


def test_no_template_chosen_or_an_unknown_one_is_refused(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    assert "Chọn một mẫu quy trình." in _create(admin, template="").get_data(as_text=True)
    assert _create(admin, template="../process_models").status_code == 422


def test_a_code_the_centre_already_has_is_refused_with_a_pointer_to_its_version_in_force(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft_id(_create(admin))
    token = csrf(admin.get(f"/admin/onboard/{draft_id}"))
    assert admin.post(f"/admin/onboard/{draft_id}/publish", data={"csrf_token": token}).status_code == 303
    again = _create(admin, "on_the_spot")
    assert again.status_code == 422 and f"Trung tâm đã có thủ tục mã {CODE}" in again.get_data(as_text=True)


def test_an_officer_may_not_create_and_another_centres_draft_and_versions_are_not_found(sqlite_app):
    with sqlite_app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        ours, theirs = Centre.get(Centre.code == "W07090"), Centre.get(Centre.code == "W07093")
    officer = _signed_in(sqlite_app, "canbo", ("officer",), centre=ours)
    assert officer.get("/admin/modeller/new/").status_code == 403
    other = _signed_in(sqlite_app, "ben.admin", centre=theirs)
    foreign_draft = _draft_id(_create(other))
    token = csrf(other.get(f"/admin/onboard/{foreign_draft}"))
    assert other.post(f"/admin/onboard/{foreign_draft}/publish", data={"csrf_token": token}).status_code == 303
    assert other.get(f"/admin/modeller/diff/{CODE}").status_code == 200
    admin = _signed_in(sqlite_app, "xa.admin", centre=ours)
    assert admin.get(f"/admin/onboard/{foreign_draft}").status_code == 404
    assert admin.get(f"/admin/modeller/diff/{CODE}").status_code == 404
    mine = _draft_id(_create(admin))  # the same code is free at our centre: codes are per centre
    assert mine != foreign_draft


def _published_then_renamed(app, admin_client):
    """Version 1 from a template, and a draft of it with a step renamed and another's condition changed."""
    draft_id = _draft_id(_create(admin_client))
    token = csrf(admin_client.get(f"/admin/onboard/{draft_id}"))
    assert admin_client.post(f"/admin/onboard/{draft_id}/publish", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        actor = Draft.get_by_id(draft_id).created_by
        second = drafts.open_version(actor, CODE)
        state = drafts.state(actor, second)
        [bpmn] = [f for f in state.files if f.name.endswith(".bpmn")]
        changed = bpmn.content.replace('name="Thẩm định hồ sơ"'.encode(), 'name="Thẩm định, xác minh"'.encode())
        changed = changed.replace(b"documents_complete == True", b"documents_complete")
        drafts.save(actor, second, {bpmn.name: changed}, state.revision)
    return second


def test_the_review_page_draws_the_draft_beside_the_version_in_force_and_lists_what_changed(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _published_then_renamed(sqlite_app, admin)
    page = admin.get(f"/admin/onboard/{draft_id}").get_data(as_text=True)
    old = page[page.index('id="diff-old"'):page.index('id="diff-new"')]
    new = page[page.index('id="diff-new"'):page.index('id="diff"')]
    for side in (old, new):
        assert 'data-element="Task_Appraise" data-diff="changed"' in side
        assert 'data-element="Gateway_Complete" data-diff="changed"' in side
        assert "Sửa: " in side  # each marked element's title says what happened to it
    assert 'id="diff-legend"' in page
    listing = page[page.index('id="diff"'):]
    assert "Thẩm định, xác minh <code>Task_Appraise</code> —" in listing and "tên" in listing
    assert "<code>documents_complete == True</code> → <code>documents_complete</code>" in listing


def test_two_published_versions_are_compared_with_additions_on_the_new_diagram_and_removals_on_the_old(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    _draft_id(_create(admin))
    with sqlite_app.app_context():
        draft = Draft.select().first()
        actor = draft.created_by
        onboarding.publish(actor, draft.id)
        from onestop.services import templates

        richer = templates.renamed(templates.files("site_inspection"), CODE, "Cấp giấy xác nhận thử nghiệm")
        onboarding.publish(actor, drafts.create(actor, richer, "test"))
    page = admin.get(f"/admin/modeller/diff/{CODE}?from=1&to=2")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    old = text[text.index('id="diff-old"'):text.index('id="diff-new"')]
    new = text[text.index('id="diff-new"'):text.index('id="diff"')]
    assert 'data-element="Task_Inspect" data-diff="added"' in new and "Task_Inspect" not in old
    assert 'data-diff="added"' not in old and 'data-diff="removed"' not in new
    assert 'data-element="Gateway_Appraisal" data-diff="changed"' in old
    backwards = admin.get(f"/admin/modeller/diff/{CODE}?from=2&to=1").get_data(as_text=True)
    assert 'data-element="Task_Inspect" data-diff="removed"' in backwards
    assert 'data-element="Flow_Inspected" data-diff="removed"' in backwards  # its flows too
    assert admin.get(f"/admin/modeller/diff/{CODE}?from=1&to=7").status_code == 404
    assert admin.get(f"/admin/modeller/diff/{CODE}?from=x").status_code == 404
    listed = admin.get("/admin/modeller/diff/").get_data(as_text=True)
    assert f'href="/admin/modeller/diff/{CODE}"' in listed
    assert f'href="/admin/modeller/diff/{CODE}">so sánh</a>' in admin.get("/admin/procedure/").get_data(as_text=True)


def test_the_new_procedure_page_gives_every_element_its_own_id(sqlite_app):
    """A template's radio button and its diagram once shared an id (template-<name>)."""
    admin = _signed_in(sqlite_app, "quantri")
    html = admin.get("/admin/modeller/new/").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert ids and sorted(i for i in set(ids) if ids.count(i) > 1) == []


def test_a_template_draft_opens_in_the_modeller_linked_to_its_forms_tests_and_review_and_said_in_vietnamese(
        sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft_id(_create(admin))
    page = admin.get(f"/admin/modeller/{draft_id}").get_data(as_text=True)
    assert f'<span id="draft-code">{CODE}</span>' in page
    for target in (f"/admin/modeller/{draft_id}/forms", f"/admin/modeller/{draft_id}/tests",
                   f"/admin/onboard/{draft_id}"):
        assert f'href="{target}"' in page, target
        assert admin.get(target).status_code == 200, target
    forms = admin.get(f"/admin/modeller/{draft_id}/forms?format=json").json["forms"]
    assert {f["name"] for f in forms} >= {"application", "receive", "appraise", "sign", "return"}
    prefilled = admin.get(f"/admin/modeller/{draft_id}/forms?name=task_check").get_data(as_text=True)
    assert re.search(r'id="new-form-name"[^>]*value="task_check"', prefilled)  # the panel's "new form" link
    token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
    checked = admin.post(f"/admin/modeller/{draft_id}/check", json={"files": {}}, headers={"X-CSRFToken": token}).json
    placeholders = [f for f in checked["findings"] if "placeholder" in f["detail"]]
    assert placeholders and all(not f["message"].startswith("Trình kiểm tra báo") for f in placeholders)


def test_the_review_page_says_the_checks_findings_in_vietnamese_with_the_english_kept_as_their_title(sqlite_app):
    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft_id(_create(admin))
    page = admin.get(f"/admin/onboard/{draft_id}").get_data(as_text=True)
    findings = re.search(r'<ul id="findings">(.*?)</ul>', page, re.S).group(1)
    shown = re.sub(r'title="[^"]*"', "", findings)
    assert "vẫn còn chữ của mẫu" in shown and "chưa được thử lần nào" in shown
    assert "still holds" not in shown and "never tried" not in shown and "Trình kiểm tra báo" not in shown
    assert "never tried" in findings  # the checker's own words, for whoever needs them (title)
