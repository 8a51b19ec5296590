"""The form builder's verbs on real drafts: a Camunda form is kept as form-js, a SpiffArena form as
JSON Schema; a refused form writes nothing; names are checked; the save is audited as the draft's."""

import json
from pathlib import Path

import pytest

from onestop.engine import SourceFile
from onestop.models import AuditEvent
from onestop.services import drafts, form_builder
from onestop.services.errors import Invalid, NotFound
from tests.conftest import make_user

MODELS = Path(__file__).resolve().parent.parent / "models"
CAMUNDA = MODELS / "forms" / "camunda"


@pytest.fixture
def author(app):
    with app.app_context():
        user, _ = make_user("author1", ("admin",))
        yield user


def _camunda_draft(user):
    return drafts.create(user, [SourceFile(p.name, p.read_bytes()) for p in (CAMUNDA / "permit.bpmn",
                                                                             CAMUNDA / "apply.form")], "test")


def test_a_camunda_form_opens_as_it_is_and_is_saved_as_form_js(author):
    draft_id = _camunda_draft(author)
    state, found = form_builder.list_forms(author, draft_id)
    assert [(f.name, f.dialect) for f in found] == [("apply.form", "form-js")]
    opened = form_builder.open_form(author, draft_id, "apply.form")
    original = json.loads((CAMUNDA / "apply.form").read_text())
    assert opened.document == original and opened.revision == state.revision == 1
    changed = json.loads(json.dumps(original))
    changed["components"].insert(1, {"type": "textfield", "id": "Field_extra", "key": "extra", "label": "Thêm"})
    assert form_builder.save_form(author, draft_id, "apply.form", changed, 1) == 2
    saved = drafts.state(author, draft_id)
    assert json.loads(saved.file("apply.form").content) == changed
    assert sorted(f.name for f in saved.files) == ["apply.form", "permit.bpmn"]  # no JSON Schema beside it
    event = AuditEvent.select().where(AuditEvent.action == "draft.saved").order_by(AuditEvent.id.desc()).first()
    assert event.detail["files"] == ["apply.form"] and event.detail["draft"] == draft_id


def test_a_refused_form_writes_nothing_and_a_new_form_needs_a_free_plain_name(author):
    draft_id = _camunda_draft(author)
    bad = {"components": [{"type": "select", "id": "s", "key": "kind", "values": []}]}
    with pytest.raises(Invalid) as refused:
        form_builder.save_form(author, draft_id, "apply.form", bad, 1)
    assert refused.value.details[0]["code"] == "no_options"
    assert drafts.state(author, draft_id).revision == 1
    for name in ("Tiếp nhận", "../x", "a.json", ""):
        with pytest.raises(Invalid):
            form_builder.create_form(author, draft_id, name, "", 1)
    assert form_builder.create_form(author, draft_id, "receive", "Tiếp nhận", 1) == 2
    with pytest.raises(Invalid):
        form_builder.create_form(author, draft_id, "receive", "", 2)
    assert json.loads(drafts.state(author, draft_id).file("receive-schema.json").content)["title"] == "Tiếp nhận"
    with pytest.raises(NotFound):
        form_builder.open_form(author, draft_id, "missing")


def test_removing_every_ui_setting_removes_the_ui_schema_file(author):
    draft_id = drafts.create(author, [SourceFile("review.bpmn", (MODELS / "review.bpmn").read_bytes()),
                                      SourceFile("a-schema.json", b'{"type": "object", "properties": {"x": '
                                                                  b'{"type": "string", "title": "X"}}}'),
                                      SourceFile("a-uischema.json", b'{"x": {"ui:widget": "textarea"}}')], "test")
    document = form_builder.open_form(author, draft_id, "a").document
    assert document["components"][0]["type"] == "textarea"
    document["components"][0]["type"] = "textfield"
    form_builder.save_form(author, draft_id, "a", document, 1)
    state = drafts.state(author, draft_id)
    assert state.file("a-uischema.json") is None
    assert json.loads(state.file("a-schema.json").content) == {"type": "object", "properties": {
        "x": {"type": "string", "title": "X"}}}


def test_a_json_schema_onestop_would_refuse_is_not_opened_in_the_builder(author):
    draft_id = drafts.create(author, [SourceFile("review.bpmn", (MODELS / "review.bpmn").read_bytes()),
                                      SourceFile("odd-schema.json", b'{"type": "object", "properties": []}')], "test")
    with pytest.raises(Invalid) as refused:
        form_builder.open_form(author, draft_id, "odd")
    assert "properties must be an object" in refused.value.message


def test_the_papers_of_a_template_are_offered_as_file_fields_whether_named_or_described(author):
    """The templates describe each paper as an object ({"name", "originals", ...}); a bare name works too."""
    from onestop.services import templates

    draft_id = templates.create_draft(author, "appraise_sign_return", "9.000016", "Cấp giấy xác nhận")
    papers = form_builder.open_form(author, draft_id, "application").documents
    assert papers[0] == "Đơn (tờ khai) đề nghị theo mẫu" and len(papers) == 3
    offered = [e["label"] for e in form_builder.palette(papers) if e["kind"] == "document"]
    assert len(offered) == 3 and "Đơn (tờ khai) đề nghị theo mẫu" in offered[0]
