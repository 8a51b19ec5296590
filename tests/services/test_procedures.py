"""Procedures uploaded with their procedure.json: what its rules may say."""

import json

import pytest

from onestop.models import WorkItem
from onestop.services import dossiers, onboarding, procedures, units
from onestop.services.errors import Invalid
from tests.conftest import make_user
from tests.process_models import bundled_files


def _copy_certification(lanes: dict):
    uploads = []
    for path in bundled_files("copy_certification"):
        content = path.read_bytes()
        if path.name == "procedure.json":
            meta = json.loads(content)
            meta["lanes"].update(lanes)
            content = json.dumps(meta, ensure_ascii=False).encode()
        uploads.append(procedures.Upload(path.name, content))
    return uploads


def test_a_lane_in_procedure_json_may_name_the_unit_of_the_centre_that_does_its_tasks(app):
    with app.app_context():
        admin, _ = make_user("quantri", ("admin",))
        units.create_unit(admin, "TP", "Công chức Tư pháp - Hộ tịch")
        procedures.upload_procedure(admin, _copy_certification({"Công chức Tư pháp - Hộ tịch": "officer@TP"}))
        clerk, _ = make_user("mot.cua", ("officer",))
        dossier = dossiers.start_dossier(clerk, "2.000815", {
            "requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
            "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]})
        [receive] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        dossiers.complete_task(clerk, receive.id, {"original_presented": True, "certifiable": True, "total_pages": 1})
        [attest] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        assert attest.unit.code == "TP" and attest.role == "officer"


def test_a_lane_mapped_to_an_unknown_role_is_refused_and_a_units_lane_passes_the_lint(app):
    with app.app_context():
        admin, _ = make_user("quantri", ("admin",))
        with pytest.raises(Invalid) as refused:
            procedures.upload_procedure(admin, _copy_certification({"Công chức Tư pháp - Hộ tịch": "chief@TP"}))
        assert "role@UNIT" in str(refused.value.details)
        review = onboarding.submit(admin, _copy_certification({"Công chức Tư pháp - Hộ tịch": "officer@TP"}))
        assert review.model is not None
        assert not [f for f in review.findings if "maps to no role" in f.message]


def test_a_versions_model_is_asked_of_the_engine_once_per_version_object_and_engine(app, monkeypatch):
    """A request asks model_for four or five times of one version object: the engine's cache is asked once; another
    version object, or a version object naming another model, asks it again."""
    from onestop.models import ProcedureVersion
    from onestop.services.runtime import engine

    with app.app_context():
        admin, _ = make_user("quantri", ("admin",))
        procedures.upload_procedure(admin, _copy_certification({}))
        version = ProcedureVersion.select().get()
        asked = []
        cache = engine()
        real = type(cache).model
        monkeypatch.setattr(type(cache), "model", lambda self, key, load: asked.append(key) or real(self, key, load))
        first = procedures.model_for(version)
        assert all(procedures.model_for(version) is first for _ in range(4)) and len(asked) == 1
        again = ProcedureVersion.get_by_id(version.id)
        assert procedures.model_for(again) is first and len(asked) == 2
        again.start_id = "Process_other"  # names another model: the engine is asked for that one
        procedures.model_for(again)
        assert asked[2] == f"{version.content_hash}:Process_other"
