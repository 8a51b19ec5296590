"""Drafts edited in the back office: saved with compare-and-set, so a second editor is told and nothing is lost."""

from pathlib import Path

import pytest

from onestop.engine import SourceFile
from onestop.services import drafts
from onestop.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import make_user

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture
def admins(app):
    with app.app_context():
        first, _ = make_user("author1", ("admin",))
        second, _ = make_user("author2", ("admin",))
        yield first, second


def _review_files():
    return [SourceFile("review.bpmn", (MODELS / "review.bpmn").read_bytes())]


def test_a_saved_draft_holds_the_new_file_and_moves_to_the_next_revision(admins):
    first, _ = admins
    draft_id = drafts.create(first, _review_files(), "test")
    revision = drafts.save(first, draft_id, {"extra-schema.json": b'{"type": "object"}'}, 1)
    saved = drafts.state(first, draft_id)
    assert revision == saved.revision == 2
    assert saved.file("extra-schema.json").content == b'{"type": "object"}'
    assert saved.file("review.bpmn") is not None


def test_a_second_administrator_saving_over_an_unseen_revision_is_told_who_saved_and_nothing_changes(admins):
    first, second = admins
    draft_id = drafts.create(first, _review_files(), "test")
    drafts.save(first, draft_id, {"a-schema.json": b'{"title": "first"}'}, 1)
    with pytest.raises(Conflict) as refused:
        drafts.save(second, draft_id, {"a-schema.json": b'{"title": "second"}'}, 1)
    assert "author1" in refused.value.message and refused.value.details["revision"] == 2
    assert drafts.state(first, draft_id).file("a-schema.json").content == b'{"title": "first"}'


def test_a_draft_cannot_lose_its_last_bpmn_model_or_take_a_file_onestop_would_not_read(admins):
    first, _ = admins
    draft_id = drafts.create(first, _review_files(), "test")
    with pytest.raises(Invalid):
        drafts.save(first, draft_id, {"review.bpmn": None}, 1)
    with pytest.raises(Invalid):
        drafts.save(first, draft_id, {"../evil.bpmn": b"<x/>"}, 1)
    with pytest.raises(Invalid):
        drafts.save(first, draft_id, {"notes.exe": b"MZ"}, 1)
    assert drafts.state(first, draft_id).revision == 1


def test_another_centres_draft_is_not_found_and_an_officer_may_not_edit_one(app, admins):
    first, _ = admins
    draft_id = drafts.create(first, _review_files(), "test")
    from onestop.models import Centre

    other = Centre.create(code="xa-khac", name="Xã Khác", level="commune")
    stranger, _ = make_user("stranger", ("admin",), centre=other)
    officer, _ = make_user("clerk", ("officer",))
    with pytest.raises(NotFound):
        drafts.state(stranger, draft_id)
    with pytest.raises(NotFound):
        drafts.save(stranger, draft_id, {"x-schema.json": b"{}"}, 1)
    with pytest.raises(Forbidden):
        drafts.save(officer, draft_id, {"x-schema.json": b"{}"}, 1)
