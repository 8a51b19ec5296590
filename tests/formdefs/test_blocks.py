"""The reusable form blocks in forms/: valid forms whose keys the dossier reads its applicant from,
the address block up to date with the national list, and shipped inside the built package."""

import json
import shutil
import subprocess
import sys
import time

from onestop.formdefs.blocks import LIBRARY, address_schema, blocks
from onestop.services.dossiers import applicant_from
from tests.conftest import ROOT


def test_the_identity_block_fills_the_dossiers_applicant_and_the_address_block_lists_every_commune():
    found = blocks()
    assert set(found) == {"identity", "address"}
    identity = found["identity"].schema["properties"]
    assert identity["applicant_citizen_id"]["pattern"] == "^[0-9]{12}$"
    data = {"applicant_full_name": "Lê Thị Hoa", "applicant_citizen_id": "001203004567",
            "applicant_phone": "0912345678", "applicant_email": "hoa@example.vn"}
    assert applicant_from({}, data) == {"name": "Lê Thị Hoa", "citizen_id": "001203004567", "phone": "0912345678",
                                        "email": "hoa@example.vn"}
    address = found["address"].schema["properties"]
    assert len(address["applicant_province"]["oneOf"]) == 34
    assert len(address["applicant_commune"]["enum"]) == len(set(address["applicant_commune"]["enum"])) > 3000
    assert "Phường Hoàn Kiếm (Thành phố Hà Nội)" in address["applicant_commune"]["enum"]
    assert {"const": "01", "title": "Thành phố Hà Nội"} in address["applicant_province"]["oneOf"]


def test_the_blocks_are_checked_in_well_under_a_second():
    started = time.perf_counter()
    blocks()
    assert time.perf_counter() - started < 1.0  # with three thousand oneOf entries it took two seconds


def test_the_address_block_is_what_the_vietnam_provinces_package_lists_today():
    stored = json.loads((LIBRARY / "address-schema.json").read_text(encoding="utf-8"))
    assert stored == address_schema(), "run: python -m onestop.formdefs.blocks"


def test_the_built_package_carries_the_blocks(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("platform", "admin", "forms"):
        shutil.copytree(ROOT / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "vendor"))
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "-d",
                           str(tmp_path / "built")], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = tmp_path / "built" / "onestop" / "formdefs" / "library"
    assert not shipped.is_symlink()
    assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in LIBRARY.glob("*.json"))
    assert (shipped / "identity-schema.json").read_bytes() == (LIBRARY / "identity-schema.json").read_bytes()
