"""Reusable form blocks: groups of fields every procedure may insert (the applicant's identity, the
applicant's address), kept as SpiffArena-convention forms in the top-level `forms/` folder.

In a checkout `library/` beside this module is a link to `forms/`; a built package holds copies of
its files there (pyproject's package-data), so an installed onestop offers the same blocks.
The address block's province and commune choices come from the `vietnam-provinces` package (the
34 provinces and their communes since 1 July 2025); `python -m onestop.formdefs.blocks` writes
it again after that package is updated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .schema import FormDefinition, check_schema, check_ui

LIBRARY = Path(__file__).with_name("library")
SCHEMA_SUFFIX = "-schema.json"
UI_SUFFIX = "-uischema.json"


def blocks(folder: Path = LIBRARY) -> dict[str, FormDefinition]:
    """The blocks by name (identity, address, ...), each checked as any uploaded form is."""
    found = {}
    for path in sorted(folder.glob(f"*{SCHEMA_SUFFIX}")):
        name = path.name[: -len(SCHEMA_SUFFIX)]
        schema = json.loads(path.read_text(encoding="utf-8"))
        ui_path = path.with_name(name + UI_SUFFIX)
        ui = json.loads(ui_path.read_text(encoding="utf-8")) if ui_path.exists() else {}
        problems = check_schema(path.name, schema) + check_ui(ui_path.name, ui, schema)
        if problems:
            raise ValueError(f"the form block {name} is broken: {problems[0]}")
        found[name] = FormDefinition(name, schema, ui)
    return found


def address_schema() -> dict:
    """The address block's JSON Schema, with the national list of provinces and communes."""
    from vietnam_provinces import Province, Ward

    provinces = sorted(Province.iter_all(), key=lambda p: int(p.code))
    names = {int(p.code): p.name for p in provinces}
    communes = sorted(((w, names[int(w.province_code)]) for p in provinces for w in Ward.iter_by_province(p.code)),
                      key=lambda pair: (int(pair[0].province_code), pair[0].name))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Địa chỉ của người nộp hồ sơ",
        "description": "Khối dùng chung: tỉnh, thành phố; xã, phường, đặc khu (danh mục từ 01/7/2025); số nhà, đường.",
        "type": "object",
        "required": ["applicant_province", "applicant_commune", "applicant_street"],
        "properties": {
            "applicant_province": {"type": "string", "title": "Tỉnh, thành phố",
                                   "oneOf": [{"const": f"{int(p.code):02d}", "title": p.name} for p in provinces]},
            # The commune's name with its province's (unique in the country), as an enum of
            # strings: three thousand oneOf entries would cost seconds in every schema check.
            "applicant_commune": {"type": "string", "title": "Xã, phường, đặc khu",
                                  "enum": [f"{w.name} ({province})" for w, province in communes]},
            "applicant_street": {"type": "string", "title": "Số nhà, đường, thôn, tổ", "minLength": 2,
                                 "maxLength": 200},
        },
    }


def write_address_block(folder: Path = LIBRARY) -> Path:
    """Write address-schema.json from the national list (after vietnam-provinces is updated)."""
    path = folder / f"address{SCHEMA_SUFFIX}"
    text = json.dumps(address_schema(), ensure_ascii=False, indent=1)
    # One choice a line: a list of three thousand communes stays readable in a diff.
    text = re.sub(r'\{\n\s+("const": "[^"]*"),\n\s+("title": "[^"]*")\n\s+\}', r"{\1, \2}", text)
    path.write_text(text + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_address_block())
