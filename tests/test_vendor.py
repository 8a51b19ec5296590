"""The vendored browser libraries are the pinned ones, unaltered, with their licences beside them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "platform" / "onestop" / "static" / "vendor"


def test_every_vendored_file_matches_the_hash_recorded_when_it_was_fetched():
    result = subprocess.run([sys.executable, "dev.py", "vendor", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_changed_vendored_file_is_caught_by_the_check(tmp_path):
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    manifest = json.loads((copy / "VENDOR.json").read_text())
    name, pin = next(iter(manifest["packages"].items()))
    dest = next(iter(pin["sha256"]))
    with (copy / name / dest).open("ab") as target:
        target.write(b"/* altered */")
    result = subprocess.run([sys.executable, "dev.py", "vendor", "--check", str(copy)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"{name}/{dest}" in result.stderr


def test_each_vendored_package_is_pinned_with_its_integrity_and_ships_its_licence():
    manifest = json.loads((VENDOR / "VENDOR.json").read_text())
    assert {"bpmn-js", "@bpmn-io/form-js", "axe-core"} <= set(manifest["packages"])
    for name, pin in manifest["packages"].items():
        assert pin["version"][0].isdigit() and pin["integrity"].startswith("sha512-")
        assert pin["licence"]
        assert (VENDOR / name / "LICENSE").read_text().strip()
