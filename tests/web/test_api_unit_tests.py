"""POST /api/v1/procedures answers the run of the test_*.json files uploaded with the model."""

import io
import zipfile
from pathlib import Path

from tests.web.test_contract import Conformance

FOLDER = Path(__file__).resolve().parents[1] / "models" / "spiffarena_branch"


def _zip() -> tuple:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(FOLDER.iterdir()):
            archive.writestr(f"choose-branch/{path.name}", path.read_bytes())
    return ("choose-branch.zip", buffer.getvalue())


def test_an_uploaded_spiffarena_folder_is_answered_with_its_tests_pass_or_fail_per_case(sqlite_app, sqlite_admin_api):
    conformance = Conformance(sqlite_app)
    reply = sqlite_admin_api.upload([_zip()])
    assert reply.status_code == 201, reply.json
    tests = reply.json["tests"]
    assert (tests["passed"], tests["failed"]) == (2, 1)
    wrong = next(c for c in tests["cases"] if not c["passed"])
    assert wrong["case"] == "expects_the_wrong_branch" and "chosen_branch: expected 'B', got 'A'" in wrong["reason"]
    assert conformance.violations == []


def test_an_upload_without_test_files_is_answered_as_before(sqlite_app, sqlite_admin_api):
    conformance = Conformance(sqlite_app)
    files = [(p.name, p.read_bytes()) for p in sorted(FOLDER.iterdir()) if not p.name.startswith("test_")]
    reply = sqlite_admin_api.upload(files)
    assert reply.status_code == 201 and "tests" not in reply.json
    assert conformance.violations == []
