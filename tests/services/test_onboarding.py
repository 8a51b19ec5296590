"""Onboarding's review said of files not yet stored (the modeller's live check): the same report as
the review of a stored draft, and nothing written."""

import pytest

from onestop.engine import SourceFile
from onestop.models import AuditEvent, Draft
from onestop.services import drafts, onboarding
from tests.conftest import make_user
from tests.process_models import bundled_files


@pytest.fixture
def admin(sqlite_app):
    with sqlite_app.app_context():
        user, _ = make_user("author1", ("admin",))
        yield user


def _files(change=None):
    return [SourceFile(p.name, change(p.name, p.read_bytes()) if change else p.read_bytes())
            for p in bundled_files("copy_certification")]


def _said(result):
    return (result.code, result.name, result.problems, [(f.level, f.message, f.element_id) for f in result.findings],
            result.publishable, result.current_version)


@pytest.mark.parametrize("change", [
    None,
    lambda name, content: content.replace(b'"fee_vnd"', b'"fee_none"') if name == "procedure.json" else content,
    lambda name, content: content.replace(b'targetRef="Task_Sign"', b'targetRef="Task_Nowhere"')
    if name.endswith(".bpmn") else content,
], ids=["clean", "no fee", "dangling flow"])
def test_files_not_yet_stored_are_reviewed_as_their_stored_draft_would_be(admin, change):
    draft_id = drafts.create(admin, _files(change), "test")
    stored = onboarding.review(admin, draft_id)
    events, drafts_before = AuditEvent.select().count(), Draft.select().count()
    unsaved = onboarding.review_files(admin, _files(change), draft_id=draft_id)
    assert _said(unsaved) == _said(stored)
    assert (AuditEvent.select().count(), Draft.select().count()) == (events, drafts_before)
