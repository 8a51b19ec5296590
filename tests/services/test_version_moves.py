"""Running dossiers and a new version: pinned by default; carried over on request only where
nothing they already reached has changed."""

import json

from tests.process_models import Walk, bundled_files

APPLICATION = {"requester_full_name": "Đỗ Thị Mai", "requester_citizen_id": "022190054321",
               "papers": [{"paper_name": "Bằng tốt nghiệp", "pages": 1, "copies": 2}]}
RECEIVED = {"original_presented": True, "certifiable": True, "total_pages": 2}


def _files(attest_extra=None):
    files = []
    for path in bundled_files("copy_certification"):
        content = path.read_bytes()
        if path.name == "attest-schema.json" and attest_extra:
            schema = json.loads(content)
            schema["properties"] |= attest_extra
            schema["required"] = schema.get("required", []) + list(attest_extra)
            content = json.dumps(schema, ensure_ascii=False).encode()
        files.append((path.name, content))
    return files


def test_a_dossier_that_has_not_reached_a_changed_step_moves_and_one_that_has_stays(admin_api):
    assert admin_api.upload(_files()).status_code == 201
    early = Walk(admin_api, "2.000815", data=APPLICATION)
    later = Walk(admin_api, "2.000815", data=APPLICATION)
    later.complete("Task_Receive", RECEIVED).complete("Task_Attest", {
        "copies_match": True, "register_book": "01/2026", "register_entry_number": "7", "attested_pages": 2})
    assert later.offered() == {"Task_Sign": "Lãnh đạo UBND xã"}
    seal = {"seal_number": {"type": "string", "title": "Số hiệu con dấu", "minLength": 1}}
    assert admin_api.upload(_files(seal)).json["version"] == 2

    pinned = admin_api.get(f"/dossiers/{early.code}").json
    assert pinned["version"] == 1  # nothing moves by itself

    reply = admin_api.post("/procedures/2.000815/migrate", {})
    assert reply.status_code == 200
    outcome = {d["code"]: d for d in reply.json["dossiers"]}
    assert outcome[early.code] == {"code": early.code, "migrated": True, "reason": ""}
    assert outcome[later.code]["migrated"] is False and "Task_Attest" in outcome[later.code]["reason"]

    early.refresh()
    assert early.dossier["version"] == 2 and early.offered() == {"Task_Receive": "Bộ phận Một cửa"}
    early.complete("Task_Receive", RECEIVED)
    attested = {"copies_match": True, "register_book": "01/2026", "register_entry_number": "8", "attested_pages": 2}
    assert early.refused_fields("Task_Attest", attested) == {"seal_number"}  # the new version's form
    early.complete("Task_Attest", attested | {"seal_number": "UBND-05"})
    later.refresh()
    assert later.dossier["version"] == 1
    later.complete("Task_Sign", {"signer_full_name": "Lê Văn Tâm", "signed": True})  # finishes on its own version
    again = admin_api.post("/procedures/2.000815/migrate", {"dossiers": [later.code]}).json["dossiers"]
    assert again[0]["migrated"] is False
    events = [e["action"] for e in admin_api.get(f"/dossiers/{early.code}").json["events"]]
    assert "dossier.migrated" in events
