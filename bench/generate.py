"""Fill a migrated onestop database with a province's worth of realistic rows, fast.

    generate(database_url, dossiers=1_000_000, open_tasks=100_000, centres=1, seed=1) -> dict

What goes in (see bench/README.md):

* centres, officers (``services.users.create_user``) and, per centre, 4 procedures / 5 versions uploaded
  through ``services.procedures.upload_procedure`` from the real model folders (bench/models and the
  bundled process_models/), so procedure, version and model-file rows are genuine;
* per centre and procedure a few GENUINE dossiers started (and one task further, where the model has a
  single next task) through ``services.dossiers.start_dossier`` / ``complete_task``: their workflow state,
  data, work item, history and audit rows are the templates of the bulk rows;
* the bulk: ``dossiers`` dossiers over 3 years (ids in time order), ``open_tasks`` of them active with one
  work item each, the rest completed; Vietnamese applicants; ~0.5-1 kB of data; history and audit rows.
  An active bulk dossier carries its template's real state with the applicant's values and the ready
  task's UUID rewritten everywhere in the state text (a new uuid4, which is the work item's id), so it can
  be opened and completed like any other; ``verify`` completes one of each kind through the service layer.
  A completed dossier carries a small placeholder state (nothing loads a completed dossier's state).

Fast: rows are built from pre-compiled text templates and lookup tables drawn with random bits, and
written with the driver's ``executemany`` (SQLite) or ``COPY ... FROM STDIN`` (PostgreSQL) in batches of
``batch`` dossiers, one transaction each. SQLite runs with ``synchronous=OFF``, a rollback journal in
memory, ``foreign_keys=OFF``, ``temp_store=MEMORY`` and a 1 GB cache during the load only, then its
settings are put back (WAL); its indexes are kept and maintained (rebuilding them afterwards cost as much
as it saved). PostgreSQL: ``workers`` forked processes build the COPY text while this one streams it;
on a database whose dossier table was empty the secondary indexes and foreign keys of the bulk tables
are dropped for the load and re-created from their own definitions afterwards. Then ``ANALYZE``
(PostgreSQL: ``VACUUM ANALYZE``). The seed fixes every draw of the bulk (procedures, applicants, states,
codes for the same first id, times relative to ``now``), whatever the number of workers.

    .venv/bin/python bench/generate.py --database-url sqlite:////tmp/province.db --dossiers 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

# --- people, places ------------------------------------------------------------------------------

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý", "Đinh", "Trương", "Mai", "Lương"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Xuân", "Hoài", "Gia", "Bảo",
          "Thành", "Kim", "Mạnh", "Phương", "Anh"]
GIVEN = ["An", "Anh", "Bình", "Cường", "Dũng", "Duy", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng",
         "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc", "Phong", "Phúc",
         "Phương", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Thắng", "Trang", "Trung", "Tú", "Tuấn", "Vân",
         "Việt", "Vinh", "Yến", "Đạt", "Huy"]
NAMES = [f"{f} {m} {g}" for f in FAMILY for m in MIDDLE for g in GIVEN]  # 15,120 full names

STREETS = ["đường Nguyễn Trãi", "đường Lê Lợi", "đường Trần Hưng Đạo", "đường Hai Bà Trưng", "phố Huế",
           "đường Lạc Long Quân", "đường Nguyễn Văn Cừ", "đường Lý Thường Kiệt", "đường Điện Biên Phủ",
           "đường Phan Đình Phùng", "đường Quang Trung", "đường Võ Thị Sáu", "đường Tôn Đức Thắng"]
WARDS = ["phường Thanh Xuân", "phường Khương Đình", "phường Đống Đa", "phường Hoàn Kiếm", "phường Ba Đình",
         "phường Cầu Giấy", "phường Hoàng Mai", "phường Long Biên", "xã Yên Phong", "xã Đông Anh",
         "xã Sóc Sơn", "xã Thanh Trì", "phường Hà Đông", "xã Gia Lâm", "phường Tây Hồ", "xã Mê Linh"]
PROVINCES = [("001", "thành phố Hà Nội"), ("027", "tỉnh Bắc Ninh"), ("036", "tỉnh Ninh Bình"),
             ("031", "thành phố Hải Phòng"), ("079", "Thành phố Hồ Chí Minh"), ("048", "thành phố Đà Nẵng")]
CENTRE_NAMES = ["Trung tâm Phục vụ hành chính công tỉnh", "Bộ phận Một cửa UBND phường Thanh Xuân",
                "Bộ phận Một cửa UBND phường Khương Đình", "Bộ phận Một cửa UBND xã Yên Phong",
                "Bộ phận Một cửa UBND xã Đông Anh", "Bộ phận Một cửa UBND phường Cầu Giấy"]

# Values that stand for one applicant in the genuine template dossiers; every bulk row gets its own.
# None is a substring of another, and none occurs in a state by chance (checked at run time).
MARKERS = {"name": "Mẫu Tên Người Nộp", "cid": "012345678901", "phone": "0987654321",
           "addr": "Địa Chỉ Mẫu Người Nộp"}


# The scan of the birth certificate the form asks for (a minimal PDF; every dossier stores the same file).
BIRTH_CERTIFICATE = "data:application/pdf;name=giay-chung-sinh.pdf;base64,JVBERi0xLjQKJeLjz9MKdHJhaWxlcgo8PD4+CiUlRU9GCg=="


def _start_data(kind: str, channel: str) -> dict:
    """The application as the citizen submitted it (portal or counter), ~0.6-0.9 kB as JSON."""
    m = MARKERS
    if kind == "birth":
        return {
            "declarant_full_name": m["name"], "declarant_citizen_id": m["cid"], "declarant_phone": m["phone"],
            "declarant_address": m["addr"], "declarant_relationship": "cha", "channel": channel,
            "child_full_name": "Nguyễn Minh Anh", "child_gender": "nu", "child_date_of_birth": "2026-02-20",
            "child_place_of_birth": "Bệnh viện Phụ sản Hà Nội, phường Đống Đa, thành phố Hà Nội",
            "child_ethnicity": "Kinh", "child_nationality": "Việt Nam",
            "mother_full_name": "Trần Thị Lan", "mother_citizen_id": "001190023456",
            "father_full_name": m["name"], "father_citizen_id": m["cid"],
            "parents_marital_status": "da_dang_ky_ket_hon", "birth_evidence": "giay_chung_sinh",
            "birth_evidence_file": BIRTH_CERTIFICATE,
            "documents": ["Tờ khai đăng ký khai sinh theo mẫu", "Giấy chứng sinh (bản chính)",
                          "Giấy chứng nhận kết hôn của cha, mẹ"],
        }
    if kind == "commune":
        return {
            "investor_full_name": m["name"], "investor_citizen_id": m["cid"], "investor_phone": m["phone"],
            "investor_address": m["addr"], "channel": channel,
            "construction_address": "Thửa đất số 215, tờ bản đồ số 12, thôn Đông, xã Yên Phong, tỉnh Bắc Ninh",
            "land_parcel": "Thửa đất số 215, tờ bản đồ số 12", "land_certificate_number": "DK 123456",
            "work_type": "nha_o_rieng_le", "floors": 3, "construction_area_m2": 92.5, "total_floor_area_m2": 277.5,
            "has_adjacent_works": True,
            "description": "Xây dựng nhà ở riêng lẻ 3 tầng, kết cấu khung bê tông cốt thép, móng băng; "
                           "đấu nối thoát nước vào hệ thống chung của thôn sau bể tự hoại ba ngăn.",
        }
    if kind == "province":
        return {
            "investor_name": "Công ty Cổ phần Đầu tư Phát triển Nhà Bình Minh", "investor_tax_code": "0101234567",
            "representative_full_name": m["name"], "representative_citizen_id": m["cid"],
            "representative_phone": m["phone"], "representative_address": m["addr"], "channel": channel,
            "project_name": "Tòa nhà văn phòng Bình Minh Tower",
            "construction_address": "Lô C2, đường Lê Văn Lương, phường Thanh Xuân, thành phố Hà Nội",
            "work_grade": "cap_I", "work_type": "khong_theo_tuyen", "project_approval_decision": "125/QĐ-HĐQT",
            "fire_safety_approval": "358/TD-PCCC",
        }
    return {  # bench.permit
        "applicant_name": m["name"], "applicant_id_number": m["cid"], "applicant_phone": m["phone"],
        "applicant_address": m["addr"], "channel": channel,
        "project_name": "Nhà ở riêng lẻ 4 tầng và 1 tum",
        "site_address": "Thửa đất số 125, tờ bản đồ số 18, phường Khương Đình, thành phố Hà Nội",
        "land_certificate_no": "CS 04567 do Sở Tài nguyên và Môi trường cấp ngày 15/03/2019",
        "floor_area_m2": 320.5, "floors": 4,
        "documents": ["Đơn đề nghị cấp giấy phép xây dựng (mẫu số 01)", "Bản sao giấy chứng nhận quyền sử dụng đất",
                      "Hai bộ bản vẽ thiết kế xây dựng"],
    }


def _receive_form(kind: str) -> dict:
    m = MARKERS
    if kind == "birth":
        return {"declarant_full_name": m["name"], "declarant_citizen_id": m["cid"], "declarant_relationship": "cha",
                "channel": "truc_tiep", "birth_evidence": "giay_chung_sinh", "documents_complete": True,
                "received_after_cutoff": False, "appointment_date": "2026-03-02"}
    if kind == "commune":
        return {"investor_full_name": m["name"], "investor_citizen_id": m["cid"], "investor_phone": m["phone"],
                "construction_address": "Thôn Đông, xã Yên Phong, tỉnh Bắc Ninh", "work_type": "nha_o_rieng_le",
                "floors": 3, "documents_complete": True, "appointment_date": "2026-03-20"}
    if kind == "province":
        return {"investor_name": "Công ty Cổ phần Đầu tư Phát triển Nhà Bình Minh",
                "representative_full_name": m["name"], "representative_citizen_id": m["cid"],
                "project_name": "Tòa nhà văn phòng Bình Minh Tower",
                "construction_address": "Lô C2, đường Lê Văn Lương, phường Thanh Xuân, thành phố Hà Nội",
                "work_grade": "cap_I", "work_type": "khong_theo_tuyen", "documents_complete": True,
                "appointment_date": "2026-04-06"}
    return {"receipt_no": "000.00.25.H26-250612-0042", "received_by": "Trần Thị Bình - cán bộ Bộ phận Một cửa",
            "received_documents": ["Đơn đề nghị cấp giấy phép xây dựng (mẫu số 01)"],
            "appointment_date": "2025-07-10", "receive_note": "Hồ sơ nộp trực tiếp; đã kiểm tra thành phần hồ sơ."}


def _appraise_form(kind: str) -> dict | None:
    if kind == "birth":
        return {"child_full_name": "Nguyễn Minh Anh", "child_gender": "nu", "child_date_of_birth": "2026-02-20",
                "child_place_of_birth": "Bệnh viện Phụ sản Hà Nội", "mother_full_name": "Trần Thị Lan",
                "appraisal_result": "register"}
    if kind == "commune":
        return {"site_inspected_on": "2026-03-09", "planning_compliant": True, "appraisal_result": "propose_grant",
                "appraisal_opinion": "Phù hợp quy hoạch chung xã Yên Phong, chỉ giới xây dựng 3 m"}
    if kind == "permit":
        return {"complete": True, "appraisal_note": "Hồ sơ đầy đủ, hợp lệ.", "missing_documents": []}
    return None  # province: after Task_Receive two branches are ready at once


# --- the forms decide what is required -------------------------------------------------------------
#
# The values above are realistic hand-written answers, but the forms are the platform's: a model folder may make
# a field required, add a choice or drop one at any time. `fit` checks the hand-written answers against the form
# the procedure version really has (services.procedures.start_form / task_form) and fills what they lack from the
# form's own schema, so that a new required field never makes the generator rot.

SAMPLE_FILE = BIRTH_CERTIFICATE  # a minimal PDF as a data URL: what any file field gets


def sample_value(name: str, schema: dict):
    """A value that fits the field's JSON Schema (and the formats its name implies, formdefs/formats.py)."""
    from onestop.formdefs.formats import kind_of

    if not isinstance(schema, dict):
        return "Nội dung mẫu"
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        options = schema.get(key) or []
        if options and isinstance(options[0], dict):
            return sample_value(name, options[0])
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [sample_value(name, items) for _ in range(schema.get("minItems", 0))]
    if kind == "object" or "properties" in schema:
        return {field: sample_value(field, schema.get("properties", {}).get(field, {}))
                for field in schema.get("required", [])}
    found = kind_of(name, schema)
    if found == "citizen_id":
        return "001190023456"
    if found == "phone":
        return "0912345678"
    if found == "email":
        return "nguoi.nop@example.vn"
    if found == "birth_date":
        return "1990-04-12"
    if found == "date" or schema.get("format") == "date":
        return "2026-03-02"
    if schema.get("format") in ("data-url", "file") or "file" in name.lower():
        return SAMPLE_FILE
    text = "Nội dung mẫu"
    return (text * (1 + schema.get("minLength", 0) // len(text)))[: schema.get("maxLength", 10_000)]


def _field_schema(schema: dict, path: list[str]) -> dict:
    """The subschema of a field by path, looked for in properties and in the branches of allOf / if-then-else."""
    node = schema
    for part in path:
        found = None
        stack = [node]
        while stack and found is None:
            here = stack.pop()
            if not isinstance(here, dict):
                continue
            if isinstance(here.get("properties"), dict) and part in here["properties"]:
                found = here["properties"][part]
                break
            for key in ("allOf", "anyOf", "oneOf"):
                stack.extend(here.get(key) or [])
            stack.extend(here.get(key) for key in ("then", "else") if isinstance(here.get(key), dict))
        node = found if isinstance(found, dict) else {}
    return node


def fit(form, data: dict, today=None) -> dict:
    """The hand-written answers made to fit the form (a FormDefinition, or None: no form, kept as they are):
    missing required fields filled, answers the form refuses replaced, fields it does not allow dropped, each from
    the form's schema. Raises RuntimeError naming the field when that is not enough."""
    from onestop import formdefs

    if form is None:
        return data
    schema = form.schema
    data = json.loads(json.dumps(data))
    for _ in range(8):
        errors = formdefs.validate(schema, formdefs.tidy(schema, data), today)
        if not errors:
            return data
        for error in errors:
            path = [p for p in error.field.split("/") if p]
            if not path:
                continue
            parent = data
            for part in path[:-1]:
                parent = parent.setdefault(part, {}) if isinstance(parent, dict) else parent[int(part)]
            if error.code == "additionalProperties":
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[path[-1]] = sample_value(path[-1], _field_schema(schema, path))
    problems = "; ".join(f"{e.field or '(form)'}: {e.message}" for e in errors)
    raise RuntimeError(f"form {form.name}: the generated answers do not fit it even after filling them from its "
                       f"schema: {problems}")


# What a completed dossier's data adds to the application, by kind.
_RESULTS = {
    "birth": {"appraisal_result": "register", "register_book": "01/2026", "register_entry_number": "125",
              "leader_decision": "sign", "returned_on": "2026-03-02", "delivery": "truc_tiep"},
    "commune": {"appraisal_result": "propose_grant", "permit_decision": "grant", "permit_number": "25/GPXD-UBND",
                "returned_on": "2026-03-19", "delivery": "truc_tiep"},
    "province": {"appraisal_result": "eligible", "consultation_reply": "agree", "permit_decision": "grant",
                 "permit_number": "112/GPXD-SXD", "returned_on": "2026-04-03"},
    "permit": {"complete": True, "approved": True, "permit_no": "125/GPXD-UBND", "result_delivered": True},
}


class Plan:
    """One procedure to load: its files, its share of the dossiers, the happy path of a completed one."""

    def __init__(self, kind, folder, weight, path, first_version_of=None):
        self.kind, self.folder, self.weight, self.path = kind, folder, weight, path
        self.first_version_of = first_version_of  # upload an older variant first (2 versions)
        self.code = json.loads((folder / "procedure.json").read_text())["code"]

    def files(self, older=False):
        from onestop.services.procedures import Upload

        out = []
        for p in sorted(self.folder.iterdir()):
            if p.is_file() and p.suffix.lower() in (".bpmn", ".dmn", ".json"):
                content = p.read_bytes()
                if older and p.name == "procedure.json":
                    meta = json.loads(content)
                    meta["name"] = meta.get("name", "") + " (phiên bản 2024)"
                    content = json.dumps(meta, ensure_ascii=False).encode()
                out.append(Upload(p.name, content))
        return out


PLANS = [
    Plan("birth", ROOT / "process_models" / "birth_registration", 0.45,
         ["StartEvent_Submitted", "Task_Receive", "Task_Appraise", "Task_Record", "Task_Sign", "Task_Return",
          "End_Registered"]),
    Plan("commune", ROOT / "process_models" / "construction_permit_commune", 0.30,
         ["StartEvent_Submitted", "Task_Receive", "Task_Appraise", "Task_Decide", "Task_ReturnPermit", "End_Granted"]),
    Plan("province", ROOT / "process_models" / "construction_permit_province", 0.10,
         ["StartEvent_Submitted", "Task_Receive", "Task_Appraise", "Task_Consult", "Task_Decide",
          "Task_ReturnPermit", "End_Granted"]),
    Plan("permit", BENCH / "models", 0.15,
         ["StartEvent_submitted", "Task_Receive", "Task_Appraise", "Task_ReviewUrban", "Task_ReviewEnvironment",
          "Task_Approve", "Task_ReturnResult", "End_Issued"], first_version_of=True),
]
OFFICERS_PER_CENTRE = 20
YEARS = 3


# --- fast text ---------------------------------------------------------------------------------


def _identity(s):
    return s


def _pg_escape(s: str) -> str:
    """A value for COPY's text format."""
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


class Template:
    """A text with marker values compiled into a %-format: fmt % {"name": ..., "cid": ..., "uuid": ...}."""

    def __init__(self, text: str, escape, extra: dict | None = None):
        markers = dict(MARKERS, **(extra or {}))
        fmt = escape(text).replace("%", "%%")
        for key, marker in markers.items():
            fmt = fmt.replace(marker, f"%({key})s")
        self.fmt = fmt
        self.size = len(text.encode())

    def __call__(self, values) -> str:
        return self.fmt % values


_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # unique generated codes (the platform's own are sequential)
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 961
_M = len(_ALPHABET) ** 8
_P = 1_000_000_007  # prime, so i -> i*P mod 31^8 is a bijection: distinct ids give distinct suffixes


def code_suffix(n: int) -> str:
    x = (n * _P + 424_242_424) % _M
    a, r = divmod(x, 961 ** 3)
    b, r = divmod(r, 961 ** 2)
    c, d = divmod(r, 961)
    return _PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[d]


# --- writers -----------------------------------------------------------------------------------


def _columns(model, names):
    return [model._meta.fields[n].column_name for n in names]


class SqliteWriter:
    escape = staticmethod(_identity)
    kind = "sqlite"

    def __init__(self, db):
        self.db = db
        self.saved = {}

    def begin_load(self):
        conn = self.db.connection()
        for pragma in ("synchronous", "cache_size", "foreign_keys", "journal_mode", "temp_store"):
            self.saved[pragma] = conn.execute(f"PRAGMA {pragma}").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=MEMORY")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA foreign_keys=OFF")

    def end_load(self):
        conn = self.db.connection()
        conn.execute(f"PRAGMA journal_mode={self.saved['journal_mode']}")
        for pragma in ("synchronous", "cache_size", "foreign_keys", "temp_store"):
            conn.execute(f"PRAGMA {pragma}={self.saved[pragma]}")

    def drop_secondary(self, tables):
        marks = ",".join("?" * len(tables))
        rows = self.db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                                   f"AND tbl_name IN ({marks})", tables).fetchall()
        for name, _sql in rows:
            self.db.execute_sql(f'DROP INDEX "{name}"')
        return [sql for _name, sql in rows]

    def restore_secondary(self, saved):
        for sql in saved:
            self.db.execute_sql(sql)

    def write(self, table, columns, rows):
        if rows:
            cols = ", ".join(f'"{c}"' for c in columns)
            sql = f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(columns))})'
            self.db.connection().executemany(sql, rows)

    def after_load(self, tables):
        started = time.perf_counter()
        self.db.execute_sql("ANALYZE")
        self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.perf_counter() - started


class PostgresWriter:
    escape = staticmethod(_pg_escape)
    kind = "postgresql"

    def __init__(self, db):
        self.db = db

    def begin_load(self):
        self.db.execute_sql("SET maintenance_work_mem = '512MB'")

    def end_load(self):
        self.db.execute_sql("RESET maintenance_work_mem")

    def drop_secondary(self, tables):
        indexes = self.db.execute_sql(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = ANY(%s) AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)", (tables,)).fetchall()
        fks = self.db.execute_sql(
            "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype = 'f' AND t.relname = ANY(%s)", (tables,)).fetchall()
        for name, table, _definition in fks:
            self.db.execute_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            self.db.execute_sql(f'DROP INDEX "{name}"')
        return [d for _n, d in indexes] + [f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}' for n, t, d in fks]

    def restore_secondary(self, saved):
        for sql in saved:
            self.db.execute_sql(sql)

    def write(self, table, columns, text):
        if not text:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        with self.db.connection().cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            copy.write(text)  # psycopg 3 (onestop's driver): its COPY takes the text as it is

    def after_load(self, tables):
        from onestop.models import Dossier

        self.db.execute_sql(f"SELECT setval(pg_get_serial_sequence('{Dossier._meta.table_name}', 'id'), "
                            f"(SELECT max(id) FROM \"{Dossier._meta.table_name}\"))")
        started = time.perf_counter()
        self.db.execute_sql("VACUUM ANALYZE")  # peewee runs psycopg2 in autocommit: not in a transaction
        return time.perf_counter() - started


# --- the generator -----------------------------------------------------------------------------


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log(progress, message):
    if progress:
        print(f"# generate: {message}", file=sys.stderr, flush=True)


def database_size(url: str) -> int:
    """Bytes on disk: the SQLite file (+ WAL), or pg_database_size."""
    from onestop.db import database

    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path if parsed.netloc == "" else parsed.netloc + parsed.path
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]


def _template_rows(dossier):
    """The genuine rows of a template dossier, as text for the bulk."""
    from onestop.models import AuditEvent, Dossier, HistoryEntry, WorkItem

    d = Dossier.get_by_id(dossier.id)
    items = list(WorkItem.select().where(WorkItem.dossier == d.id))
    history = [(h.task_id, h.element_id, h.name, h.state, h.actor_id is not None)
               for h in HistoryEntry.select().where(HistoryEntry.dossier == d.id).order_by(HistoryEntry.id)]
    audit = [(a.action, a.element_id, None if a.detail is None else AuditEvent.detail.db_value(a.detail))
             for a in AuditEvent.select().where(AuditEvent.dossier == d.id).order_by(AuditEvent.id)]
    return d, items, history, audit


def _check_markers(text, where):
    for key, marker in MARKERS.items():
        for other in MARKERS.values():
            if marker != other and marker in other:
                raise RuntimeError(f"marker {key} is part of another marker")
    if MARKERS["name"] not in text:
        raise RuntimeError(f"{where}: the applicant's name is not in the template text")


class _Setup:
    """Everything made through the real services before the bulk: centres, users, procedures, templates."""

    def __init__(self):
        self.centres = []  # [{"centre": Centre, "officers": [ids], "admin": User, "procs": {kind: {...}}}]
        self.genuine = 0


def _setup(writer, centres, seed, progress):
    from onestop.models import Centre, Dossier, Procedure, User
    from onestop.services.dossiers import complete_task, start_dossier, task_detail
    from onestop.services.procedures import model_for, start_form, upload_procedure
    from onestop.services.users import create_user, ensure_default_centre
    from onestop.status import Status

    rnd = random.Random(seed)
    setup = _Setup()
    esc = writer.escape
    for c in range(centres):
        if c == 0:
            centre = ensure_default_centre()
        else:
            centre, _ = Centre.get_or_create(code=f"bench-centre-{c}", defaults={
                "name": CENTRE_NAMES[c % len(CENTRE_NAMES)] + (f" {c}" if c >= len(CENTRE_NAMES) else ""),
                "level": "commune"})
        tag = centre.code

        def user(name, roles, display, centre=centre):
            found = User.get_or_none(User.username == name)
            return found or create_user(name, roles, centre=centre, display_name=display)

        admin = user(f"{tag}.quantri", ["admin"], "Quản trị hệ thống")
        officers = [user(f"{tag}.canbo{i:02d}", ["officer"] + (["leader"] if i % 5 == 0 else []),
                         NAMES[rnd.randrange(len(NAMES))]) for i in range(OFFICERS_PER_CENTRE)]
        procs = {}
        for plan in PLANS:
            versions = []
            if plan.first_version_of and not Procedure.for_actor(admin).where(Procedure.code == plan.code).exists():
                versions.append(upload_procedure(admin, plan.files(older=True))[0])
            versions.append(upload_procedure(admin, plan.files())[0])
            latest = versions[-1]
            model = model_for(latest)
            names = {s.bpmn_id: (s.bpmn_name or s.bpmn_id) for s in model.spec.task_specs.values() if s.bpmn_id}
            missing = [e for e in plan.path if e not in names]
            if missing:
                raise RuntimeError(f"{plan.kind}: the model has no element {missing[0]} (its happy path changed?)")
            # Genuine active dossiers: at the first task, and one task further where that is a single task.
            actives = []
            further = _appraise_form(plan.kind) is not None
            for channel, at_second in [(ch, second) for ch in ("truc_tiep", "truc_tuyen")
                                       for second in ((False, True) if further else (False,))]:
                officer = officers[rnd.randrange(len(officers))]
                applicant = {"name": MARKERS["name"], "id_number": MARKERS["cid"], "phone": MARKERS["phone"]}
                d = start_dossier(officer, latest.procedure.code,
                                  fit(start_form(latest), _start_data(plan.kind, channel)), applicant)
                setup.genuine += 1
                if at_second:
                    first, _data, form = task_detail(officer, _only_item(d).id)
                    d = complete_task(officer, first.id, fit(form, _receive_form(plan.kind)))
                weight = 0.4 if at_second else (0.6 if further else 1.0)
                row, items, history, audit = _template_rows(d)
                if row.state != "active" or len(items) != 1:
                    raise RuntimeError(f"{plan.kind}: template dossier {row.code} is {row.state} with "
                                       f"{len(items)} work items (one expected)")
                item = items[0]
                state_text = row.workflow
                _check_markers(state_text, f"{plan.kind} state")
                extra = {"uuid": item.id}
                data_text = Dossier.data.db_value(row.data)
                actives.append({
                    "weight": weight, "serial": row.serial, "status": row.status,
                    "state": Template(state_text, esc, extra), "data": Template(data_text, esc, extra),
                    "applicant": Template(Dossier.applicant.db_value(row.applicant), esc),
                    "item": (item.element_id, esc(item.name), item.lane and esc(item.lane), item.form),
                    "history": [(tid, el, nm and esc(nm), st, by) for tid, el, nm, st, by in history],
                    "audit": [(act, el, det and esc(det)) for act, el, det in audit],
                    "element": item.element_id,
                })
            completed_data = Template(Dossier.data.db_value(
                fit(start_form(latest), _start_data(plan.kind, "truc_tiep")) | _RESULTS[plan.kind]), esc)
            task_ids = {e: str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for e in plan.path}
            last_task = [e for e in plan.path if e.startswith("Task_")][-1]
            procs[plan.kind] = {
                "plan": plan, "procedure_id": latest.procedure_id, "versions": [v.id for v in versions],
                "version_numbers": [v.version for v in versions], "code": latest.procedure.code,
                "actives": actives, "completed_data": completed_data,
                # the national status a finished process leaves (services.steps.next_status)
                "completed_status": (Status.RETURNED if (model.metadata or {}).get("return_step")
                                     else Status.RESOLVED).value,
                "completed_history": [(task_ids[e], e, esc(names[e]), e.startswith("Task_")) for e in plan.path],
                "completed_audit_task": (task_ids[last_task], last_task, esc(names[last_task])),
                "completed_state": esc(json.dumps({
                    "data": {}, "correlations": {}, "last_task": task_ids[plan.path[-1]], "success": True,
                    "completed": True, "tasks": {}, "root": None, "subprocesses": {}, "bpmn_events": [],
                    "typename": "BpmnWorkflow", "serializer_version": "1.4",
                    "bench": "placeholder state of a generated completed dossier"}, separators=(",", ":"))),
            }
        setup.centres.append({"centre": centre, "admin": admin, "officers": [o.id for o in officers],
                              "officer_users": officers, "procs": procs})
        _log(progress, f"centre {centre.code}: {len(officers)} officers, {len(procs)} procedures, templates ready")
    return setup


def _only_item(dossier):
    from onestop.models import WorkItem

    items = list(WorkItem.select().where(WorkItem.dossier == dossier.id))
    if len(items) != 1:
        raise RuntimeError(f"dossier {dossier.code}: {len(items)} work items, one expected")
    return items[0]


def generate(database_url, dossiers=1_000_000, open_tasks=100_000, centres=1, seed=1, *,
             batch=10_000, workers=None, drop_indexes=None, verify=True, progress=False, now=None,
             files_dir=None, audit_key=None) -> dict:
    """Fill the database at database_url (migrated here if needed) and return what was done, with rates.

    The genuine dossiers' attached files (the birth certificate scan) go to files_dir, the `files` folder of the
    ONESTOP_HOME that will serve this database; without it, to a temp dir removed afterwards. The audit trail is
    written under audit_key (that home's key, so that the app verifies its head), else under a throwaway key.
    """
    from onestop import db, migrations
    from onestop.config import Settings
    from onestop.engine import Engine
    from onestop.engine.sandbox import Sandbox
    from onestop.models import AuditEvent, Dossier, HistoryEntry, WorkItem
    from onestop.services import attachments, runtime
    from onestop.services.runtime import bind_engine
    from onestop.services.users import ensure_default_centre

    if open_tasks > dossiers:
        raise ValueError("open_tasks cannot exceed dossiers")
    if centres < 1:
        raise ValueError("centres must be at least 1")
    postgres = not database_url.startswith("sqlite")
    if workers is None:
        # PostgreSQL: processes build COPY text (a few big strings, cheap to pass) while this one streams it.
        # SQLite: rows must come back as Python tuples, whose unpickling costs as much as building them.
        workers = max(1, min(4, (os.cpu_count() or 1) - 1)) if postgres and dossiers >= 50_000 else 0
    t_start = time.perf_counter()
    from onestop.services.audit import bind as audit_bind

    scratch = None
    if files_dir is None:
        files_dir = scratch = tempfile.mkdtemp(prefix="onestop-generate-files-")
    # start_dossier stores uploads through the runtime's attachment store, as in a server.
    database = runtime.install(runtime.Runtime(database=db.open_database(database_url), files=attachments.FileStore(
        Path(files_dir), Settings.max_file_bytes, Settings.max_dossier_file_bytes))).database
    audit_bind(audit_key or secrets.token_urlsafe(48))
    database.connect(reuse_if_open=True)
    migrations.migrate()
    ensure_default_centre()
    engine = bind_engine(Engine(Sandbox()))
    writer = PostgresWriter(database) if postgres else SqliteWriter(database)
    stats = {"database": writer.kind, "dossiers": dossiers, "open_tasks": open_tasks, "centres": centres,
             "seed": seed, "workers": workers, "batch": batch}
    try:
        fresh = Dossier.select().count() == 0
        setup = _setup(writer, centres, seed, progress)
        stats["setup_s"] = time.perf_counter() - t_start
        stats["genuine_dossiers"] = setup.genuine

        tables = [Dossier._meta.table_name, WorkItem._meta.table_name, HistoryEntry._meta.table_name,
                  AuditEvent._meta.table_name]
        writer.begin_load()
        try:
            saved = []
            if drop_indexes is None:
                drop_indexes = fresh and writer.kind == "postgresql"
            if drop_indexes and fresh:
                with database.atomic():
                    saved = writer.drop_secondary(tables)
            t_bulk, c_bulk, k_bulk = time.perf_counter(), time.process_time(), _children_cpu()
            counts = _bulk(writer, database, setup, dossiers, open_tasks, seed, batch, progress, now, workers)
            stats["bulk_s"] = time.perf_counter() - t_bulk
            # CPU seconds of this process (writing; building too without workers) and of the row builders;
            # a PostgreSQL server's CPU is not included. On a shared machine these are steadier than wall time.
            stats["bulk_cpu_s"] = time.process_time() - c_bulk
            stats["bulk_workers_cpu_s"] = _children_cpu() - k_bulk
            t_index = time.perf_counter()
            if saved:
                with database.atomic():
                    writer.restore_secondary(saved)
            stats["index_s"] = time.perf_counter() - t_index
            stats["indexes_rebuilt"] = len(saved)
        finally:
            writer.end_load()
        stats["analyze_s"] = writer.after_load(tables)
        stats.update(counts)
        stats["total_s"] = time.perf_counter() - t_start
        load_s = stats["bulk_s"] + stats["index_s"] + stats["analyze_s"]
        stats["bulk_rate"] = dossiers / stats["bulk_s"] if stats["bulk_s"] else 0.0
        stats["load_rate"] = dossiers / load_s if load_s else 0.0
        stats["rows_per_s"] = counts["rows"] / stats["bulk_s"] if stats["bulk_s"] else 0.0
        stats["size_bytes"] = database_size(database_url)
        if verify:
            stats["verified"] = verify_completion(setup, counts["first_id"])
        stats["officers"] = [[u.username for u in c["officer_users"]] for c in setup.centres]
        stats["centre_ids"] = [c["centre"].id for c in setup.centres]
        _log(progress, f"{dossiers} dossiers in {stats['bulk_s']:.1f} s ({stats['bulk_rate']:,.0f}/s, "
                       f"{stats['rows_per_s']:,.0f} rows/s), indexes {stats['index_s']:.1f} s, "
                       f"analyze {stats['analyze_s']:.1f} s; {stats['size_bytes'] / 1e6:,.0f} MB")
    finally:
        engine.close()
        if not database.is_closed():
            database.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return stats


_CTX: dict = {}  # what a batch builder needs; set before the worker processes fork, so they inherit it


def _bulk(writer, database, setup, n, open_tasks, seed, batch, progress, now, workers):
    from onestop.models import AuditEvent, Dossier, HistoryEntry, WorkItem, utcnow

    rnd = random.Random(seed * 7919 + 1)
    now_dt = now or utcnow()
    t_now = int(now_dt.replace(tzinfo=UTC).timestamp()) - 3600  # an hour ago: the genuine dossiers are newer
    t_first = t_now - YEARS * 365 * 86400
    # Creation times (whole seconds), sorted: ids follow time as in production.
    span, rand = t_now - t_first, rnd.random
    times = sorted([t_first + int(rand() * span) for _ in range(n)])
    # The open dossiers are recent: drawn from the newest 2 x open_tasks (at least 60 days' worth).
    window = min(n, max(2 * open_tasks, int(n * 60 / (YEARS * 365))))
    active = bytearray(n)
    for i in rnd.sample(range(n - window, n), open_tasks):
        active[i] = 1

    first_id = (Dossier.select(Dossier.id).order_by(Dossier.id.desc()).scalar() or 0) + 1
    columns = {
        Dossier: _columns(Dossier, ["id", "centre", "code", "procedure", "version", "state", "data", "applicant",
                                    "workflow", "serial", "error_element", "error_message", "next_timer_at",
                                    "created_by", "created_at", "updated_at", "status"]),
        WorkItem: _columns(WorkItem, ["id", "dossier", "centre", "element_id", "name", "lane", "form", "created_at"]),
        HistoryEntry: _columns(HistoryEntry, ["dossier", "task_id", "element_id", "name", "state", "at", "actor"]),
        AuditEvent: _columns(AuditEvent, ["centre", "dossier", "actor", "action", "element_id", "detail", "at"]),
    }
    # A NOT NULL column added to the platform's models after this list was written takes the value of a genuine
    # row (made through the services above) instead of failing the bulk insert: the list cannot rot.
    extras = {}
    for model, cols in columns.items():
        added, values = unlisted_required_columns(database, model, cols, writer.kind == "postgresql")
        if added:
            _log(progress, f"{model._meta.table_name}: columns not in the bulk list, copied from a genuine row: "
                           f"{', '.join(added)}")
            cols.extend(added)
        extras[model] = values
    tables = [(m._meta.table_name, cols) for m, cols in columns.items()]

    centres = []
    for c in setup.centres:
        procs = list(c["procs"].values())
        total = sum(p["plan"].weight for p in procs)
        cum = [sum(q["plan"].weight for q in procs[: k + 1]) / total for k in range(len(procs))]
        for p in procs:
            weights = [a["weight"] for a in p["actives"]]
            tcum = [sum(weights[: j + 1]) / sum(weights) for j in range(len(weights))]
            # 64 slots -> template, by weight; drawn with 6 random bits.
            p["tpl_t"] = [p["actives"][next(j for j, x in enumerate(tcum) if x >= (slot + 0.5) / 64)]
                          for slot in range(64)]
            p["started_detail"] = [json.dumps({"procedure": p["code"], "version": v}, ensure_ascii=False,
                                              separators=(",", ":")) for v in p["version_numbers"]]
            tid, _el, nm = p["completed_audit_task"]
            p["completed_detail"] = writer.escape(json.dumps({"task": tid, "name": nm}, ensure_ascii=False,
                                                             separators=(",", ":")))
            p["n_steps"] = len(p["completed_history"]) - 1
            p["fractions"] = [h / p["n_steps"] for h in range(len(p["completed_history"]))]
        slots = [procs[next(k for k, x in enumerate(cum) if x >= (slot + 0.5) / 1024)] for slot in range(1024)]
        officers = [c["officers"][k % len(c["officers"])] for k in range(32)]
        centres.append((c["centre"].id, slots, officers))

    first_day, last_day = t_first // 86400, t_now // 86400
    _CTX.clear()
    _CTX.update(
        extras=[extras[m] for m in columns],
        seed=seed, times=times, active=active, first_id=first_id, t_now=t_now, first_day=first_day,
        version_switch=t_first + (t_now - t_first) // 2, centres=centres, copy=writer.kind == "postgresql",
        days=[datetime.fromtimestamp(d * 86400, UTC).strftime("%Y-%m-%d ") for d in range(first_day, last_day + 2)],
        code_days=[datetime.fromtimestamp(d * 86400, UTC).strftime("%y%m%d") for d in range(first_day, last_day + 2)],
        # Time of day with a fraction of a second, as peewee writes a naive datetime.
        tod=[f"{r // 3600:02d}:{r // 60 % 60:02d}:{r % 60:02d}.{int(rand() * 1_000_000):06d}" for r in range(86400)],
        name_t=[NAMES[k % len(NAMES)] for k in range(1 << 14)],
        addr_t=[f"Số {1 + int(rand() * 200)}, {STREETS[int(rand() * len(STREETS))]}, "
                f"{WARDS[int(rand() * len(WARDS))]}, {PROVINCES[int(rand() * len(PROVINCES))][1]}" for _ in range(1 << 16)],
        prov_t=[PROVINCES[k % len(PROVINCES)][0] for k in range(8)],
        d3=[f"{k % 1000:03d}" for k in range(1024)],
        d4=[f"{k % 10000:04d}" for k in range(1 << 14)],
        applicant=Template(json.dumps({"name": MARKERS["name"], "id_number": MARKERS["cid"], "phone": MARKERS["phone"]},
                                      ensure_ascii=False, separators=(",", ":")), writer.escape),
    )

    ranges = [(lo, min(n, lo + batch)) for lo in range(0, n, batch)]
    counts = {"work_items": 0, "history": 0, "audit": 0, "rows": 0, "data_bytes": 0, "state_bytes_active": 0}
    started = time.perf_counter()
    pool = None
    if workers:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(workers)
        batches = pool.imap(_build_batch_star, ranges)
    else:
        batches = (_build_batch(lo, hi) for lo, hi in ranges)
    try:
        for (_lo, hi), (payloads, batch_counts) in zip(ranges, batches, strict=True):
            with database.atomic():
                for (table, cols), rows in zip(tables, payloads, strict=True):
                    writer.write(table, cols, rows)
            for key, value in batch_counts.items():
                counts[key] += value
            if progress and (hi == n or len(ranges) < 10 or (hi // batch) % 10 == 0):
                took = time.perf_counter() - started
                _log(progress, f"{hi:,}/{n:,} dossiers, {hi / took:,.0f}/s")
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        _CTX.clear()
    counts["first_id"], counts["last_id"] = first_id, first_id + n - 1
    counts["avg_data_bytes"] = counts["data_bytes"] / n if n else 0
    counts["avg_state_bytes_active"] = counts["state_bytes_active"] / open_tasks if open_tasks else 0
    return counts


def unlisted_required_columns(database, model, listed: list[str], postgres: bool) -> tuple[list[str], tuple]:
    """The model's NOT NULL columns (no database default, not an automatic key) missing from the column list
    `listed`, and their values in the table's first row (COPY text on PostgreSQL). Raises when there is one but the
    table has no row to copy it from."""
    from peewee import AutoField

    missing = [f.column_name for f in model._meta.sorted_fields
               if not f.null and f.column_name not in listed and not isinstance(f, AutoField)
               and not any("DEFAULT" in str(getattr(c, "sql", c)).upper() for c in (f.constraints or []))]
    if not missing:
        return [], ()
    cols = ", ".join((f'CAST("{c}" AS TEXT)' if postgres else f'"{c}"') for c in missing)
    row = database.execute_sql(f'SELECT {cols} FROM "{model._meta.table_name}" LIMIT 1').fetchone()
    if row is None:
        raise RuntimeError(f"{model._meta.table_name}: required column(s) {', '.join(missing)} are not generated "
                           "and no genuine row holds a value to copy")
    if postgres:
        row = tuple(None if v is None else _pg_escape(v) for v in row)
    return missing, tuple(row)


def _build_batch_star(bounds):
    return _build_batch(*bounds)


def _copy_text(rows) -> str:
    """Rows as COPY text: values are already escaped (templates) or cannot need it (digits, names, uuids)."""
    return "".join(["\t".join(["\\N" if v is None else v if v.__class__ is str else str(v) for v in row]) + "\n"
                    for row in rows])


def _build_batch(lo, hi):
    """The rows of dossiers lo..hi-1 (deterministic for a seed, whichever process builds them)."""
    ctx = _CTX
    rnd = random.Random(ctx["seed"] * 1_000_003 + lo)
    getrandbits, rand = rnd.getrandbits, rnd.random
    times, active, first_id, t_now = ctx["times"], ctx["active"], ctx["first_id"], ctx["t_now"]
    first_day, version_switch, centres = ctx["first_day"], ctx["version_switch"], ctx["centres"]
    days, code_days, tod = ctx["days"], ctx["code_days"], ctx["tod"]
    name_t, addr_t, prov_t, d3, d4 = ctx["name_t"], ctx["addr_t"], ctx["prov_t"], ctx["d3"], ctx["d4"]
    applicant = ctx["applicant"]
    n_centres = len(centres)
    d_rows, w_rows, h_rows, a_rows = [], [], [], []
    d_append, w_append, h_append, a_append = d_rows.append, w_rows.append, h_rows.append, a_rows.append
    data_bytes = state_bytes = 0
    for i in range(lo, hi):
        t0 = times[i]
        did = first_id + i
        x = getrandbits(64)
        y = getrandbits(64)
        centre_id, slots, officer_t = centres[(y >> 40) % n_centres] if n_centres > 1 else centres[0]
        p = slots[x & 1023]
        officer = officer_t[(x >> 10) & 31]
        values = {
            "name": name_t[(x >> 15) & 16383],
            "addr": addr_t[(x >> 29) & 65535],
            "cid": prov_t[(x >> 45) & 7] + d3[(x >> 48) & 1023] + d3[y & 1023] + d3[(y >> 10) & 1023],
            "phone": "09" + d4[(y >> 20) & 16383] + d4[(y >> 34) & 16383],
        }
        day = t0 // 86400 - first_day
        created = days[day] + tod[t0 % 86400]
        code = "HS-" + code_days[day] + "-" + code_suffix(did)
        if active[i]:
            tpl = p["tpl_t"][(y >> 48) & 63]
            values["uuid"] = work_id = str(uuid.UUID(int=getrandbits(128), version=4))
            history = tpl["history"]
            step = 600 + int(rand() * 7200)  # 10 min - 2 h between steps
            at = [days[s // 86400 - first_day] + tod[s % 86400] for s in range(t0, t0 + step * len(history), step)]
            last = at[-1] if at else created
            data = tpl["data"](values)
            state = tpl["state"](values)
            state_bytes += len(state)
            d_append((did, centre_id, code, p["procedure_id"], p["versions"][-1], "active", data,
                      tpl["applicant"](values), state, tpl["serial"], None, None, None, officer, created, last,
                      tpl["status"]))
            element_id, name, lane, form = tpl["item"]
            w_append((work_id, did, centre_id, element_id, name, lane, form, last))
            for (tid, el, nm, st, by), when in zip(history, at, strict=True):
                h_append((did, tid, el, nm, st, when, officer if by else None))
            for h, (act, el, det) in enumerate(tpl["audit"]):
                a_append((centre_id, did, officer, act, el, det, at[min(h, len(at) - 1)] if at else created))
        else:
            version_i = 0 if t0 < version_switch else -1
            duration = 17280 + int(rand() * 1_728_000)  # 0.2 - 20 days
            if t0 + duration > t_now:
                duration = max(60, (t_now - t0) * 9 // 10)
            at = [days[(s := t0 + int(duration * f)) // 86400 - first_day] + tod[s % 86400] for f in p["fractions"]]
            data = p["completed_data"](values)
            d_append((did, centre_id, code, p["procedure_id"], p["versions"][version_i], "completed", data,
                      applicant(values), p["completed_state"], p["n_steps"], None, None, None, officer, created, at[-1],
                      p["completed_status"]))
            for (tid, el, nm, by), when in zip(p["completed_history"], at, strict=True):
                h_append((did, tid, el, nm, "completed", when, officer if by else None))
            a_append((centre_id, did, officer, "dossier.started", None, p["started_detail"][version_i], created))
            a_append((centre_id, did, officer, "task.completed", p["completed_audit_task"][1],
                      p["completed_detail"], at[-2]))
            a_append((centre_id, did, officer, "dossier.completed", None, None, at[-1]))
        data_bytes += len(data)
    counts = {"work_items": len(w_rows), "history": len(h_rows), "audit": len(a_rows),
              "rows": len(d_rows) + len(w_rows) + len(h_rows) + len(a_rows),
              "data_bytes": data_bytes, "state_bytes_active": state_bytes}
    payloads = [d_rows, w_rows, h_rows, a_rows]
    if any(ctx["extras"]):
        payloads = [[row + extra for row in rows] if extra else rows
                    for rows, extra in zip(payloads, ctx["extras"], strict=True)]
    if ctx["copy"]:
        payloads = [_copy_text(rows) for rows in payloads]
    return payloads, counts


def verify_completion(setup, first_id) -> list:
    """Complete one generated (bulk) work item of each kind through services.dossiers; returns what happened."""
    from onestop.models import Dossier, User, WorkItem
    from onestop.services.dossiers import complete_task, get_dossier, task_detail

    done = []
    centre = setup.centres[0]
    officer = User.get_by_id(centre["officers"][0])
    for kind, p in centre["procs"].items():
        for element in sorted({a["element"] for a in p["actives"]}):
            item = (WorkItem.select().join(Dossier)
                    .where((Dossier.procedure == p["procedure_id"]) & (WorkItem.element_id == element)
                           & (Dossier.id >= first_id))
                    .order_by(Dossier.id.desc()).first())
            if item is None:  # few open tasks: not every kind was drawn
                continue
            dossier = item.dossier
            _item, data, task_form = task_detail(officer, item.id)
            name = dossier.applicant["name"]
            if MARKERS["name"] in json.dumps(data, ensure_ascii=False) or name not in json.dumps(data, ensure_ascii=False):
                raise RuntimeError(f"{dossier.code}: the task's data does not carry the applicant {name}")
            form = fit(task_form,
                       _receive_form(kind) if element == "Task_Receive" else _appraise_form(kind))
            form = json.loads(json.dumps(form, ensure_ascii=False).replace(MARKERS["name"], name)
                              .replace(MARKERS["cid"], dossier.applicant["id_number"])
                              .replace(MARKERS["phone"], dossier.applicant["phone"]))
            after = complete_task(officer, item.id, form)
            if after.state == "error":
                raise RuntimeError(f"{dossier.code}: completing {element} failed: {after.error_message}")
            page = get_dossier(officer, dossier.code)
            ready = sorted(w.element_id for w in WorkItem.select().where(WorkItem.dossier == page.id))
            done.append({"kind": kind, "code": dossier.code, "completed": element, "state": after.state,
                         "next": ready})
    return done


def record(stats: dict, pressure=None) -> None:
    """The generation's figures as a run record (bench/results.py): bench/results/generate-<database>.json."""
    bench_results.save(
        "generate", ["database", "dossiers", "open", "history rows", "audit rows", "bulk s", "dossiers/s", "rows/s",
                     "writer cpu s", "builders cpu s", "indexes s", "analyze s", "loaded dossiers/s", "MB"],
        [[stats["database"], stats["dossiers"], stats["open_tasks"], stats["history"], stats["audit"],
          round(stats["bulk_s"], 1), round(stats["bulk_rate"]), round(stats["rows_per_s"]),
          round(stats["bulk_cpu_s"], 1), round(stats["bulk_workers_cpu_s"], 1), round(stats["index_s"], 1),
          round(stats["analyze_s"], 1), round(stats["load_rate"]), round(stats["size_bytes"] / 1e6)]],
        variant=stats["database"], title=f"Generating {stats['dossiers']:,} dossiers ({stats['database']})",
        sizes={"dossiers": stats["dossiers"], "open_tasks": stats["open_tasks"], "centres": stats["centres"]},
        pressure=pressure)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fill an onestop database with realistic rows (see bench/README.md)")
    parser.add_argument("--database-url", required=True, help="sqlite:///FILE or postgresql://... (migrated here)")
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--open-tasks", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000, help="dossiers per transaction")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes building rows while this one writes (default: PostgreSQL nproc-1, at "
                             "most 4; SQLite 0); 0 = build in this process")
    parser.add_argument("--no-verify", action="store_true", help="skip completing one generated task of each kind")
    parser.add_argument("--json", dest="json_file", default=None, help="write the statistics to this file")
    args = parser.parse_args(argv)
    stats = generate(args.database_url, args.dossiers, args.open_tasks, args.centres, args.seed,
                     batch=args.batch, workers=args.workers, verify=not args.no_verify, progress=True)
    print(f"{stats['dossiers']:,} dossiers ({stats['open_tasks']:,} open) in {stats['centres']} centre(s) on "
          f"{stats['database']}: setup {stats['setup_s']:.1f} s, bulk {stats['bulk_s']:.1f} s "
          f"({stats['bulk_rate']:,.0f} dossiers/s, {stats['rows_per_s']:,.0f} rows/s; CPU {stats['bulk_cpu_s']:.1f} s writer "
          f"+ {stats['bulk_workers_cpu_s']:.1f} s builders), indexes {stats['index_s']:.1f} s, "
          f"analyze {stats['analyze_s']:.1f} s -> {stats['load_rate']:,.0f} dossiers/s loaded; "
          f"{stats['history']:,} history, {stats['audit']:,} audit rows; data {stats['avg_data_bytes']:.0f} B/dossier, "
          f"active state {stats['avg_state_bytes_active']:.0f} B; size {stats['size_bytes'] / 1e6:,.0f} MB")
    for v in stats.get("verified", []):
        print(f"verified: {v['kind']} {v['code']}: completed {v['completed']} -> {v['state']}, next {v['next']}")
    record(stats)
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(stats, indent=1, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
