"""Packs, templates and rollout: a province hands its communes a verified pack of procedures; each
adopts it, keeps what it changed locally, and running the rollout again changes nothing."""

import hashlib
import io
import json
import zipfile

import pytest

from onestop.models import AuditEvent, Centre, LocalOverride, Procedure, ProcedureVersion, WorkItem
from onestop.services import centres, dossiers, procedures, rollout
from onestop.services.errors import Forbidden, Invalid
from tests.conftest import make_user
from tests.process_models import bundled_files

FOLDERS = ("copy_certification", "marriage_registration")


def pack_of(folders=FOLDERS, edit=None, extra=None) -> bytes:
    """A pack built by hand from bundled folders; `edit(folder, name, bytes) -> bytes` changes a file."""
    manifest, buffer = {"format": "onestop-pack/1", "procedures": []}, io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for folder in folders:
            files = {}
            for path in bundled_files(folder):
                content = path.read_bytes()
                files[path.name] = hashlib.sha256(content).hexdigest()
                if edit:
                    content = edit(folder, path.name, content)
                archive.writestr(f"{folder}/{path.name}", content)
            manifest["procedures"].append({"folder": folder, "files": files})
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
        archive.writestr("manifest.json", json.dumps(manifest))
    return buffer.getvalue()


def rehashed(data: bytes) -> bytes:
    """The same pack with its manifest's hashes made to match its files (an honest new version)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(source.read("manifest.json"))
    for item in manifest["procedures"]:
        item["files"] = {n: hashlib.sha256(source.read(f"{item['folder']}/{n}")).hexdigest() for n in item["files"]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in source.namelist():
            archive.writestr(member, json.dumps(manifest) if member == "manifest.json" else source.read(member))
    return buffer.getvalue()


@pytest.fixture
def province(app):
    with app.app_context():
        system, _ = make_user("system", ("system_admin",))
        centres.import_units(system, [22])
        qn = Centre.get(Centre.code == "P22")
        admin, _ = make_user("qn.admin", ("province_admin", "admin"), centre=qn)
        yield admin


def _versions():
    return ProcedureVersion.select().count()


def test_a_province_rolls_a_pack_out_to_its_communes_and_running_it_again_changes_nothing(app, province):
    with app.app_context():
        report = rollout.rollout_pack(province, pack_of(), "province:22/*")
        assert report.counts() == {"adopted": 54 * 2}
        assert Procedure.select().where(Procedure.code == "2.000815").count() == 1 + 54
        adopted = ProcedureVersion.select().join(Procedure).where(
            (Procedure.code == "2.000815") & ProcedureVersion.template_version.is_null(False))
        assert adopted.count() == 54 and all(v.compiled is None for v in adopted)  # the model is not stored 54 times
        before = (_versions(), AuditEvent.select().count())
        again = rollout.rollout_pack(province, pack_of(), "province:22/*")
        assert again.counts() == {"unchanged": 54 * 2}
        assert (_versions(), AuditEvent.select().count() - 1) == before  # only the publication is recorded


def test_a_dossier_runs_at_a_commune_on_the_adopted_model(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(), "W07090")
        officer, _ = make_user("canbo", ("officer",), centre=Centre.get(Centre.code == "W07090"))
        data = {"requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
                "papers": [{"paper_name": "Bằng tốt nghiệp", "pages": 1, "copies": 2}]}
        dossier = dossiers.start_dossier(officer, "2.000815", data)
        assert dossier.centre_id == officer.centre_id
        [task] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        assert task.element_id == "Task_Receive" and task.role == "officer"
        done = dossiers.complete_task(officer, task.id, {"original_presented": True, "certifiable": True,
                                                         "total_pages": 1})
        assert done.state == "active"


def test_a_communes_local_override_survives_the_next_template_version(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(), "province:22/*")
        commune = Centre.get(Centre.code == "W07090")
        commune_admin, _ = make_user("xa.admin", ("admin",), centre=commune)
        rollout.set_override(commune_admin, "2.000815", {"lanes": {"Công chức Tư pháp - Hộ tịch": "leader"},
                                                         "fee_vnd": "Miễn phí cho người có công"})
        changed = pack_of(edit=lambda folder, name, content: content.replace(
            "Kiểm tra bản chính".encode(), "Kiểm tra bản chính, đối chiếu".encode()) if name == "receive-schema.json"
            else content)
        second = rollout.rollout_pack(province, rehashed(changed), "province:22/*")
        assert second.counts() == {"adopted": 53, "kept_override": 1, "unchanged": 54}  # marriage did not change
        mine = [o for o in second.outcomes if o.centre == "W07090" and o.code == "2.000815"]
        assert mine[0].outcome == "kept_override" and mine[0].version == 2
        entry, _ = procedures.catalogue_entry(commune_admin, "2.000815")
        assert entry.fee == "Miễn phí cho người có công" and entry.version == 2
        officer, _ = make_user("canbo", ("officer",), centre=commune)
        data = {"requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
                "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]}
        dossier = dossiers.start_dossier(officer, "2.000815", data)
        [task] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        dossiers.complete_task(officer, task.id, {"original_presented": True, "certifiable": True, "total_pages": 1})
        [attest] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        assert attest.element_id == "Task_Attest" and attest.role == "leader"  # the commune's own mapping
        assert LocalOverride.select().count() == 1


def test_a_centres_own_version_is_a_conflict_unless_forced(app, province):
    with app.app_context():
        commune = Centre.get(Centre.code == "W07090")
        commune_admin, _ = make_user("xa.admin", ("admin",), centre=commune)
        own = [procedures.Upload(p.name, p.read_bytes()) for p in bundled_files("copy_certification")]
        own = [u if u.name != "sign-schema.json" else procedures.Upload(u.name, u.content.replace(
            "Ký, đóng dấu".encode(), "Ký số".encode())) for u in own]
        procedures.upload_procedure(commune_admin, own)
        report = rollout.rollout_pack(province, pack_of(("copy_certification",)), "W07090,W07093")
        outcome = {o.centre: o for o in report.outcomes}
        assert outcome["W07090"].outcome == "conflict" and "uploaded by the centre itself" in outcome["W07090"].detail
        assert outcome["W07093"].outcome == "adopted"
        offered = rollout.offered(commune_admin, "2.000815")
        assert offered["current_version"] == 1 and not offered["adopted"]
        assert offered["diff"]["forms"]["fields"] == {} and offered["diff"]["forms"]["changed"] == ["sign-schema.json"]
        # the same fields, a reworded form: the step that shows it is changed, and why
        assert offered["diff"]["elements"]["what"] == {"Task_Sign": ["form_content"]}
        assert offered["diff"]["same_model"] is False
        forced = rollout.adopt(commune_admin, "2.000815", force=True)
        assert forced.outcome == "adopted" and forced.version == 2


def test_a_tampered_or_broken_pack_is_refused_whole_and_changes_nothing(app, province):
    with app.app_context():
        before = (Procedure.select().count(), _versions())
        tampered = pack_of(edit=lambda f, name, content: content + b" " if name == "procedure.json" else content)
        with pytest.raises(Invalid) as refused:
            rollout.rollout_pack(province, tampered, "province:22/*")
        assert {d["message"] for d in refused.value.details} == {
            "its sha256 differs from the manifest's: altered or damaged"}
        assert len(refused.value.details) == 2  # one per procedure, both named
        broken = rehashed(pack_of(edit=lambda f, name, content: content.replace(b'targetRef="Task_Sign"', b'targetRef="Nowhere"')
                                  if f == "marriage_registration" and name.endswith(".bpmn") else content))
        with pytest.raises(Invalid) as refused:
            rollout.rollout_pack(province, broken, "province:22/*")
        assert any(d["file"].startswith("marriage_registration") for d in refused.value.details)
        with pytest.raises(Invalid, match="not listed"):
            rollout.rollout_pack(province, pack_of(extra={"evil/run.py": b"import os"}), "province:22/*")
        with pytest.raises(Invalid, match="manifest"):
            rollout.rollout_pack(province, b"PK\x03\x04 not a zip", "province:22/*")
        assert (Procedure.select().count(), _versions()) == before


def test_a_province_cannot_roll_out_beyond_its_communes(app, province):
    with app.app_context():
        system, _ = make_user("system2", ("system_admin",))
        centres.import_units(system, [1])
        before = (Procedure.select().count(), _versions())
        with pytest.raises(Forbidden):
            rollout.rollout_pack(province, pack_of(), "province:1/*")
        assert (Procedure.select().count(), _versions()) == before  # nothing published, nothing adopted


def test_the_ministry_sees_which_communes_run_the_newest_template(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(("copy_certification",)), "W07090,W07093")
        ministry, _ = make_user("ministry", ("system_admin",))
        rows = {r["province"]: r for r in rollout.coverage(ministry, "2.000815")}
        # published at P22, the template is the province centre's own version too
        assert rows["P22"] | {"name": ""} == {"province": "P22", "name": "", "communes": 54, "current": 2,
                                              "older": 0, "missing": 52, "province_centre": "current"}
        [mine] = rollout.coverage(province, "2.000815")
        assert mine["province"] == "P22"


def test_an_exported_pack_reads_back_and_rolls_out(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(), "W07090")
        commune_admin, _ = make_user("xa.admin", ("admin",), centre=Centre.get(Centre.code == "W07090"))
        exported = rollout.export_pack(commune_admin)  # an adopted version exports its template's files
        entries = rollout.read_pack(exported)
        assert sorted(procedures.procedure_code(e.parsed) for e in entries) == ["1.000894", "2.000815"]
        report = rollout.rollout_pack(province, exported, "W07093")
        assert report.counts() == {"adopted": 2}


def test_a_commune_gives_a_lane_to_one_of_its_units(app, province):
    from onestop.services import units, worklist
    from onestop.services.errors import Forbidden as NotYours

    with app.app_context():
        rollout.rollout_pack(province, pack_of(("copy_certification",)), "W07090")
        commune = Centre.get(Centre.code == "W07090")
        admin, _ = make_user("xa.admin", ("admin",), centre=commune)
        with pytest.raises(Invalid, match="units: none yet"):
            rollout.set_override(admin, "2.000815", {"lanes": {"Công chức Tư pháp - Hộ tịch": "officer@TP"}})
        units.create_unit(admin, "TP", "Phòng Tư pháp - Hộ tịch")
        units.create_unit(admin, "VP", "Văn phòng UBND")
        rollout.set_override(admin, "2.000815", {"lanes": {"Công chức Tư pháp - Hộ tịch": "officer@TP"}})
        justice, _ = make_user("tu.phap", ("officer",), centre=commune)
        office, _ = make_user("van.phong", ("officer",), centre=commune)
        justice = units.assign(admin, "tu.phap", "TP")
        office = units.assign(admin, "van.phong", "VP")
        dossier = dossiers.start_dossier(office, "2.000815", {
            "requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
            "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]})
        [receive] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        assert receive.unit_id is None  # the one-stop lane: any officer
        dossiers.complete_task(office, receive.id, {"original_presented": True, "certifiable": True, "total_pages": 1})
        [attest] = WorkItem.select().where(WorkItem.dossier == dossier.id)
        assert attest.unit.code == "TP" and attest.role == "officer"
        assert [r.element_id for r in worklist.worklist(justice).rows] == ["Task_Attest"]
        assert worklist.worklist(office).rows == []
        with pytest.raises(NotYours, match="another unit"):
            dossiers.complete_task(office, attest.id, {"copies_match": True, "register_book": "01", "register_entry_number": "1",
                                                       "attested_pages": 1})
        dossiers.complete_task(justice, attest.id, {"copies_match": True, "register_book": "01",
                                                    "register_entry_number": "1", "attested_pages": 1})


def test_a_dossier_names_its_receiving_centre_and_its_competent_authority(app, province):
    with app.app_context():
        rollout.rollout_pack(province, pack_of(("copy_certification",)), "W07090")
        commune = Centre.get(Centre.code == "W07090")
        admin, token = make_user("xa.admin", ("admin", "officer"), centre=commune)
        data = {"requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
                "papers": [{"paper_name": "Bằng", "pages": 1, "copies": 1}]}
        national = dossiers.start_dossier(admin, "2.000815", data)
        assert national.authority.startswith("UBND cấp xã")  # procedure.json's "agency"
        rollout.set_override(admin, "2.000815", {"agency": "UBND phường Hà Tu"})
        local = dossiers.start_dossier(admin, "2.000815", data)
        assert local.authority == "UBND phường Hà Tu"
    from tests.conftest import Api

    api = Api(app.test_client(), token)
    shown = api.get(f"/dossiers/{local.code}").json
    assert shown["centre"] == "W07090" and shown["authority"] == "UBND phường Hà Tu"
