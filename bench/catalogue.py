"""A centre's whole catalogue: 936 procedures imported, served and held in memory, against bare SpiffWorkflow.

1. Generates N distinct procedures (default 936, the size of a province's catalogue) from the shape of
   bench/models/permit.bpmn: SpiffArena dialect, own process id and name, 1-5 lanes, 5-40 user tasks
   (receive, appraise with a supplement loop, k steps in sequence, an optional parallel review of 2-6
   departments, approve, return the result), a JSON Schema form per user task, procedure.json, and a
   diagram (BPMNDI) as an editor writes it. Written into a temp dir.
2. Imports them in one process through onestop.services.procedures.upload_procedure, bound as the
   `onestop` command binds it; per model the upload (unpack, parse + validate, store) is timed, and
   interleaved with it the baseline: bare SpiffWorkflow on the same BPMN (lxml parse +
   SpiffBpmnParser.add_bpmn_xml + get_spec), so the platform's overhead over the parser is visible.
   The memory of N bare specs held in one process is measured in a child process.
3. Cold start: gunicorn (1 and 2 workers, as bench/http.py starts it) on that database, timed from
   launch until GET /api/v1/procedures answers 200 with all N.
4. Memory per web worker: on the 1-worker server (it sees every request), VmRSS/VmHWM after the cold
   start and after starting one dossier of each of the first 100 and of all N procedures through the
   API (which parses and caches their models); then the latency of a second touch of the first and the
   last 100 (cache hits, or re-parses when the model cache is smaller than the catalogue).

    .venv/bin/python bench/catalogue.py [--quick] [--count 936] [--postgres] [--json FILE]

See bench/README.md for what the columns mean.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package while bench/ is on sys.path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import gc  # noqa: E402
import http.client  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from xml.sax.saxutils import escape, quoteattr  # noqa: E402

ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

DEFAULT_COUNT = 936
TARGET_WORKER_MB = 250


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, HERE / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_http = _load("onestop_bench_http", "http.py")  # Server, /proc readers, database helpers


# --- the catalogue ---------------------------------------------------------------------------------

LANES = ["Bộ phận Một cửa", "Chuyên viên thụ lý", "Lãnh đạo phòng", "Văn thư", "Lãnh đạo UBND"]
SUBJECTS = ["giấy phép xây dựng", "đăng ký hộ kinh doanh", "chứng thực bản sao", "đăng ký khai sinh",
            "cấp đổi giấy chứng nhận quyền sử dụng đất", "giấy phép kinh doanh vận tải", "đăng ký kết hôn",
            "cấp phiếu lý lịch tư pháp", "thẩm định thiết kế phòng cháy", "giấy phép lao động",
            "cấp giấy phép môi trường", "đăng ký biến động đất đai", "xác nhận tình trạng hôn nhân",
            "cấp giấy chứng nhận an toàn thực phẩm", "đăng ký thường trú", "hỗ trợ hộ nghèo"]
VERBS = ["Cấp", "Cấp lại", "Điều chỉnh", "Gia hạn", "Thu hồi", "Đăng ký", "Xác nhận", "Thẩm định"]
LEVELS = ["cấp xã", "cấp huyện", "cấp tỉnh"]
DEPARTMENTS = ["Quản lý đô thị", "Tài nguyên và Môi trường", "Tài chính - Kế hoạch", "Tư pháp", "Y tế",
               "Lao động - Thương binh và Xã hội", "Công an", "Văn hóa và Thông tin"]
STEPS = ["Kiểm tra thực địa", "Xác minh thông tin", "Lấy ý kiến khu dân cư", "Tính phí, lệ phí",
         "Dự thảo văn bản", "Trình ký", "Vào sổ theo dõi", "Đóng dấu", "Số hóa kết quả", "Thông báo công dân"]
FIELDS = [("ghi_chu", "Ghi chú", "string"), ("so_van_ban", "Số văn bản", "string"),
          ("ngay_xu_ly", "Ngày xử lý", "date"), ("nguoi_xu_ly", "Người xử lý", "string"),
          ("y_kien", "Ý kiến", "string"), ("so_tien", "Số tiền (đồng)", "number"),
          ("dinh_kem", "Giấy tờ kèm theo", "array"), ("dong_y", "Thống nhất", "boolean")]

BPMN_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
             'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
             'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
             'id="Definitions_{n:04d}" targetNamespace="http://onestop.bench/catalogue">\n')


@dataclass
class Procedure:
    index: int
    code: str
    process_id: str
    name: str
    tasks: int
    lanes: int
    folder: Path = None
    bpmn_name: str = ""


def _form(title: str, rng: random.Random, extra: list | None = None) -> dict:
    props, required = {}, []
    for key, label, kind in rng.sample(FIELDS, rng.randint(2, 5)):
        prop = {"title": label}
        if kind == "date":
            prop.update(type="string", format="date")
        elif kind == "array":
            prop.update(type="array", items={"type": "string"})
        elif kind == "string":
            prop.update(type="string", maxLength=4000)
        else:
            prop["type"] = kind
        props[key] = prop
    for key, label, kind in extra or []:
        props[key] = {"type": kind, "title": label}
        required.append(key)
    return {"title": title, "type": "object", "required": required, "properties": props}


def generate(index: int, rng: random.Random, root: Path, diagram: bool = True) -> Procedure:
    """One procedure folder: <process>.bpmn, a form per user task, procedure.json."""
    tasks = rng.randint(5, 40)
    parallel = 0 if tasks < 7 else rng.randint(2, min(6, tasks - 5))
    steps = tasks - 5 - parallel
    lanes = rng.randint(1, 5)
    subject = rng.choice(SUBJECTS)
    name = f"{rng.choice(VERBS)} {subject} {rng.choice(LEVELS)} (thủ tục số {index:04d})"
    process_id = f"thu_tuc_{index:04d}"
    proc = Procedure(index, f"bench.cat.{index:04d}", process_id, name, tasks, lanes)

    # (id, kind, name, lane, form fields) in flow order; lanes: 0 = counter, last = leader, others = officers
    officer = (lambda k: 1 + k % max(1, lanes - 2)) if lanes > 2 else (lambda k: min(1, lanes - 1))  # noqa: E731
    leader = lanes - 1
    nodes = [("StartEvent_1", "startEvent", "Nộp hồ sơ", 0, None),
             ("Task_Receive", "userTask", "Tiếp nhận hồ sơ", 0, [("so_bien_nhan", "Số biên nhận", "string")]),
             ("Gateway_Merge", "exclusiveGateway", None, officer(0), None),
             ("Task_Appraise", "userTask", "Thẩm định hồ sơ", officer(0), [("complete", "Hồ sơ đầy đủ", "boolean")]),
             ("Gateway_Complete", "exclusiveGateway", "Hồ sơ đầy đủ?", officer(0), None),
             ("Task_Supplement", "userTask", "Bổ sung hồ sơ", 0, [("da_bo_sung", "Đã bổ sung", "boolean")])]
    for k in range(steps):
        nodes.append((f"Task_Step{k + 1:02d}", "userTask", f"{STEPS[k % len(STEPS)]} ({k + 1})", officer(k), None))
    if parallel:
        nodes.append(("Gateway_Split", "parallelGateway", "Lấy ý kiến các phòng", officer(0), None))
        for k in range(parallel):
            nodes.append((f"Task_Review{k + 1:02d}", "userTask", f"Ý kiến phòng {DEPARTMENTS[k % len(DEPARTMENTS)]}",
                          officer(k + 1), None))
        nodes.append(("Gateway_Join", "parallelGateway", None, officer(0), None))
    nodes += [("Task_Approve", "userTask", "Lãnh đạo phê duyệt", leader, [("approved", "Đồng ý", "boolean")]),
              ("Gateway_Approved", "exclusiveGateway", "Đồng ý?", leader, None),
              ("Task_ReturnResult", "userTask", "Trả kết quả", 0, [("da_tra", "Đã trả kết quả", "boolean")]),
              ("End_Issued", "endEvent", "Đã trả kết quả", 0, None),
              ("End_Refused", "endEvent", "Từ chối", 0, None)]
    ids = [n[0] for n in nodes]

    # sequence flows: (id, source, target, name, condition)
    flows = []

    def flow(a, b, label=None, condition=None):
        flows.append((f"Flow_{len(flows) + 1:03d}", a, b, label, condition))

    flow("StartEvent_1", "Task_Receive")
    flow("Task_Receive", "Gateway_Merge")
    flow("Gateway_Merge", "Task_Appraise")
    flow("Task_Appraise", "Gateway_Complete")
    flow("Gateway_Complete", "Task_Supplement", "Chưa đầy đủ", "complete == False")
    flow("Task_Supplement", "Gateway_Merge")
    chain = [f"Task_Step{k + 1:02d}" for k in range(steps)]
    previous, label, condition = "Gateway_Complete", "Đầy đủ", "complete == True"
    for node in chain:
        flow(previous, node, label, condition)
        previous, label, condition = node, None, None
    if parallel:
        flow(previous, "Gateway_Split", label, condition)
        for k in range(parallel):
            flow("Gateway_Split", f"Task_Review{k + 1:02d}")
            flow(f"Task_Review{k + 1:02d}", "Gateway_Join")
        previous, label, condition = "Gateway_Join", None, None
    flow(previous, "Task_Approve", label, condition)
    flow("Task_Approve", "Gateway_Approved")
    flow("Gateway_Approved", "Task_ReturnResult", "Đồng ý", "approved == True")
    flow("Gateway_Approved", "End_Refused", "Từ chối", "approved == False")
    flow("Task_ReturnResult", "End_Issued")
    incoming = {i: [f for f in flows if f[2] == i] for i in ids}
    outgoing = {i: [f for f in flows if f[1] == i] for i in ids}

    folder = root / f"{index:04d}-{process_id}"
    folder.mkdir(parents=True)
    lane_names = rng.sample(LANES, lanes) if lanes < len(LANES) else list(LANES)
    lane_names[0] = LANES[0]
    out = [BPMN_HEAD.format(n=index),
           f'  <bpmn:collaboration id="Collaboration_{index:04d}">\n'
           f'    <bpmn:participant id="Participant_{index:04d}" name="Trung tâm phục vụ hành chính công" '
           f'processRef="{process_id}" />\n  </bpmn:collaboration>\n',
           f'  <bpmn:process id="{process_id}" name={quoteattr(name)} isExecutable="true">\n',
           f'    <bpmn:laneSet id="LaneSet_{index:04d}">\n']
    for lane in range(lanes):
        out.append(f'      <bpmn:lane id="Lane_{lane + 1}" name={quoteattr(lane_names[lane])}>\n')
        out += [f"        <bpmn:flowNodeRef>{n[0]}</bpmn:flowNodeRef>\n" for n in nodes if n[3] == lane]
        out.append("      </bpmn:lane>\n")
    out.append("    </bpmn:laneSet>\n")
    for node_id, kind, label, _lane, extra in nodes:
        attr = f" name={quoteattr(label)}" if label else ""
        out.append(f'    <bpmn:{kind} id="{node_id}"{attr}>\n')
        if kind == "userTask":
            form_name = f"{node_id.removeprefix('Task_').lower()}-schema.json"
            form = _form(label, rng, extra)
            (folder / form_name).write_text(json.dumps(form, ensure_ascii=False, indent=2), encoding="utf-8")
            out.append("      <bpmn:extensionElements>\n        <spiffworkflow:properties>\n"
                       f'          <spiffworkflow:property name="formJsonSchemaFilename" value="{form_name}" />\n'
                       "        </spiffworkflow:properties>\n      </bpmn:extensionElements>\n")
        out += [f"      <bpmn:incoming>{f[0]}</bpmn:incoming>\n" for f in incoming[node_id]]
        out += [f"      <bpmn:outgoing>{f[0]}</bpmn:outgoing>\n" for f in outgoing[node_id]]
        out.append(f"    </bpmn:{kind}>\n")
    for flow_id, a, b, label, condition in flows:
        attr = f" name={quoteattr(label)}" if label else ""
        if condition:
            out.append(f'    <bpmn:sequenceFlow id="{flow_id}"{attr} sourceRef="{a}" targetRef="{b}">\n'
                       f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
                       "</bpmn:conditionExpression>\n    </bpmn:sequenceFlow>\n")
        else:
            out.append(f'    <bpmn:sequenceFlow id="{flow_id}"{attr} sourceRef="{a}" targetRef="{b}" />\n')
    out.append("  </bpmn:process>\n")
    if diagram:
        out.append(_diagram(index, process_id, nodes, flows, lanes))
    out.append("</bpmn:definitions>\n")
    proc.bpmn_name = f"{process_id}.bpmn"
    (folder / proc.bpmn_name).write_text("".join(out), encoding="utf-8")
    meta = {"code": proc.code, "name": name, "description": f"Thủ tục {subject}, {tasks} bước xử lý, {lanes} bộ phận."}
    (folder / "procedure.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    proc.folder = folder
    return proc


def _diagram(index, process_id, nodes, flows, lanes) -> str:
    """BPMNDI as a modeler writes it: a shape per node and lane, an edge with waypoints per flow."""
    sizes = {"userTask": (100, 80), "startEvent": (36, 36), "endEvent": (36, 36)}
    lane_h, left = 160, 200
    bounds = {}
    for column, (node_id, kind, _label, lane, _extra) in enumerate(nodes):
        w, h = sizes.get(kind, (50, 50))
        x, y = left + 40 + column * 150, lane * lane_h + (lane_h - h) // 2
        bounds[node_id] = (x, y, w, h)
    width = left + 80 + len(nodes) * 150
    out = [f'  <bpmndi:BPMNDiagram id="BPMNDiagram_{index:04d}">\n',
           f'    <bpmndi:BPMNPlane id="BPMNPlane_{index:04d}" bpmnElement="Collaboration_{index:04d}">\n',
           f'      <bpmndi:BPMNShape id="Participant_{index:04d}_di" bpmnElement="Participant_{index:04d}" '
           f'isHorizontal="true">\n        <dc:Bounds x="{left - 30}" y="0" width="{width}" height="{lanes * lane_h}" />\n'
           "      </bpmndi:BPMNShape>\n"]
    for lane in range(lanes):
        out.append(f'      <bpmndi:BPMNShape id="Lane_{lane + 1}_di" bpmnElement="Lane_{lane + 1}" isHorizontal="true">\n'
                   f'        <dc:Bounds x="{left}" y="{lane * lane_h}" width="{width - 30}" height="{lane_h}" />\n'
                   "      </bpmndi:BPMNShape>\n")
    for node_id, (x, y, w, h) in bounds.items():
        out.append(f'      <bpmndi:BPMNShape id="{node_id}_di" bpmnElement="{node_id}">\n'
                   f'        <dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />\n'
                   "      </bpmndi:BPMNShape>\n")
    for flow_id, a, b, _label, _condition in flows:
        ax, ay, aw, ah = bounds[a]
        bx, by, _bw, bh = bounds[b]
        out.append(f'      <bpmndi:BPMNEdge id="{flow_id}_di" bpmnElement="{flow_id}">\n'
                   f'        <di:waypoint x="{ax + aw}" y="{ay + ah // 2}" />\n'
                   f'        <di:waypoint x="{(ax + aw + bx) // 2}" y="{ay + ah // 2}" />\n'
                   f'        <di:waypoint x="{(ax + aw + bx) // 2}" y="{by + bh // 2}" />\n'
                   f'        <di:waypoint x="{bx}" y="{by + bh // 2}" />\n'
                   "      </bpmndi:BPMNEdge>\n")
    out.append("    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>\n")
    return "".join(out)


def files_of(proc: Procedure) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(proc.folder.iterdir()) if p.is_file()]


# --- import: onestop against bare SpiffWorkflow ----------------------------------------------------


class Phases:
    """Wall time inside chosen functions during one call, by wrapping them (not a profiler)."""

    def __init__(self):
        self.acc: dict[str, float] = {}
        self._undo = []

    def wrap(self, owner, attr, label):
        if not hasattr(owner, attr):  # the platform moved on: that line stays empty
            return
        original = vars(owner).get(attr, getattr(owner, attr))
        acc = self.acc

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                acc[label] = acc.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def undo(self):
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()


def upload_phases(meter: Phases):
    """(label, depth) of the import's phases, wrapped into `meter`."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser

    from onestop.engine import parsing, serial
    from onestop.engine.runtime import Engine

    parts = [
        (Engine, "parse", "Engine.parse (check + parse: all below)", 0),
        (parsing, "_load_json", "forms and procedure.json: json.loads", 1),
        (parsing, "parse_xml", "hardened XML parse (lxml), per file", 1),
        (parsing._Checker, "check_tree", "_Checker.check_tree (ids, flows, forms, expressions)", 1),
        (parsing, "_xsd_warnings", "_xsd_warnings (BPMN XSD validation)", 1),
        (parsing, "_build", "_build (SpiffBpmnParser.add_bpmn_xml of copies)", 1),
        (parsing, "_select_start", "_select_start", 1),
        (BpmnParser, "get_spec", "BpmnParser.get_spec (SpiffWorkflow builds the spec; every process)", 1),
        (serial, "dump_spec", "serial.dump_spec (spec -> JSON text)", 1),
        (serial, "restore_specs", "serial.restore_specs (JSON text -> the specs run time uses)", 1),
        (parsing, "content_hash", "content_hash", 1),
    ]
    for owner, attr, label, _depth in parts:
        meter.wrap(owner, attr, label)
    return [(label, depth) for _o, _a, label, depth in parts]


def bare_parse(bpmn_name: str, content: bytes, process_id: str):
    """The baseline: what SpiffWorkflow itself needs to turn the BPMN into a spec."""
    from lxml import etree
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(content), filename=bpmn_name)
    return parser.get_spec(process_id)


@dataclass
class ImportResult:
    count: int = 0
    total_s: float = 0.0  # all uploads, wall, files read beforehand
    bare_total_s: float = 0.0
    upload_ms: list = field(default_factory=list)
    parse_ms: list = field(default_factory=list)
    bare_ms: list = field(default_factory=list)
    tasks: list = field(default_factory=list)
    phases: dict = field(default_factory=dict)  # label -> list of ms per model
    phase_order: list = field(default_factory=list)
    dialects: set = field(default_factory=set)
    warnings: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    cached_models: int = 0
    db_bytes: int = 0
    bpmn_bytes: list = field(default_factory=list)
    files_bytes: list = field(default_factory=list)


def import_catalogue(url: str, procs: list[Procedure]) -> ImportResult:
    """upload_procedure for every procedure, bound as onestop.cli binds; bare parse interleaved (alternating order)."""
    from onestop import db, migrations
    from onestop.assemble import build_runtime
    from onestop.config import load_settings
    from onestop.services import runtime
    from onestop.services.procedures import Upload, upload_procedure
    from onestop.services.users import create_user, ensure_default_centre

    settings = load_settings(database_url=url)  # ONESTOP_HOME is set by the caller
    engine = runtime.install(build_runtime(settings)).engine
    db.database.connect(reuse_if_open=True)
    migrations.migrate()
    ensure_default_centre()
    actor = create_user("catalogue", ["admin"], display_name="Catalogue import")
    result = ImportResult(count=len(procs))
    meter = Phases()
    result.phase_order = upload_phases(meter)
    gc.collect()
    result.rss_before_kb = bench_http.memory_kb(os.getpid()).get("VmRSS", 0)
    try:
        for i, proc in enumerate(procs):
            files = files_of(proc)
            bpmn = next(c for n, c in files if n == proc.bpmn_name)
            result.bpmn_bytes.append(len(bpmn))
            result.files_bytes.append(sum(len(c) for _n, c in files))
            uploads = [Upload(n, c) for n, c in files]

            def onestop_side(uploads=uploads, proc=proc):
                meter.acc.clear()
                t0 = time.perf_counter()
                version, created = upload_procedure(actor, uploads)
                took = time.perf_counter() - t0
                if not created:
                    raise RuntimeError(f"{proc.code}: not created (same content as an earlier procedure?)")
                result.upload_ms.append(took * 1000)
                result.total_s += took
                result.dialects.add(version.dialect)
                result.warnings += len(version.warnings or [])
                for label, seconds in meter.acc.items():
                    result.phases.setdefault(label, []).append(seconds * 1000)

            def bare_side(bpmn=bpmn, proc=proc):
                t0 = time.perf_counter()
                bare_parse(proc.bpmn_name, bpmn, proc.process_id)
                took = time.perf_counter() - t0
                result.bare_ms.append(took * 1000)
                result.bare_total_s += took

            for side in ((bare_side, onestop_side) if i % 2 == 0 else (onestop_side, bare_side)):
                side()
            result.tasks.append(proc.tasks)
            if (i + 1) % 100 == 0:
                print(f"#   imported {i + 1}/{len(procs)}", file=sys.stderr, flush=True)
    finally:
        meter.undo()
    result.parse_ms = result.phases.get(result.phase_order[0][0], [])
    gc.collect()
    result.rss_after_kb = bench_http.memory_kb(os.getpid()).get("VmRSS", 0)
    result.cached_models = len(getattr(engine, "_models", ()))
    engine.close()
    db.database.close()
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        result.db_bytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return result


def _bare_memory_child(items, queue):
    gc.collect()
    before = bench_http.memory_kb(os.getpid()).get("VmRSS", 0)
    specs = [bare_parse(name, content, pid) for name, content, pid in items]
    gc.collect()
    after = bench_http.memory_kb(os.getpid()).get("VmRSS", 0)
    queue.put((before, after, len(specs)))


def bare_memory(procs: list[Procedure]) -> tuple[int, int]:
    """RSS of a fresh (forked) process before and after parsing and keeping every bare spec, kB."""
    items = [(p.bpmn_name, (p.folder / p.bpmn_name).read_bytes(), p.process_id) for p in procs]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_bare_memory_child, args=(items, queue), daemon=True)
    child.start()
    try:
        before, after, _n = queue.get(timeout=900)
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
    return before, after


# --- serving the catalogue -------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server (all its requests land on one worker)."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            status, data = 0, f"{type(exc).__name__}: {exc}".encode()
        return status, data, (time.perf_counter() - t0) * 1000

    def close(self):
        self.conn.close()


def cold_start(server, token: str, count: int, timeout: float = 300.0) -> dict:
    """Launch gunicorn; time until GET /api/v1/procedures answers 200 with every procedure."""
    t0 = time.monotonic()
    server.launch()
    polls = 0
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.proc.returncode}:\n{server.log_tail()}")
        status, body = bench_http.request(server.port, "GET", "/api/v1/procedures",
                                          headers={"Authorization": f"Bearer {token}"}, timeout=60, quiet=True)
        polls += 1
        if status == 200:
            listed = len(json.loads(body)["procedures"])
            if listed >= count:
                took = time.monotonic() - t0
                break
        elif status not in (0, 502, 503):
            raise RuntimeError(f"GET /api/v1/procedures answered {status}: {body[:300]!r}")
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"no full list within {timeout:.0f} s:\n{server.log_tail()}")
        time.sleep(0.01)
    # all workers up (each one answers only once it has loaded the app)
    while len(server.worker_pids()) < server.workers and time.monotonic() - t0 < timeout:
        time.sleep(0.01)
    client = Client(server.port, token)
    list_ms = []
    for _ in range(10):
        status, body, ms = client.call("GET", "/api/v1/procedures")
        if status != 200:
            raise RuntimeError(f"GET /api/v1/procedures answered {status}")
        list_ms.append(ms)
    client.close()
    return {"first_list_s": took, "listed": listed, "polls": polls, "list_ms_p50": statistics.median(list_ms),
            "list_bytes": len(body)}


def touch(client: Client, procs: list[Procedure], body_of) -> tuple[list, list]:
    """Start one dossier of each procedure; (latencies ms, failures)."""
    latencies, failures = [], []
    for proc in procs:
        status, data, ms = client.call("POST", "/api/v1/dossiers", body_of(proc))
        latencies.append(ms)
        if status != 201:
            failures.append((proc.code, status, data[:300].decode(errors="replace")))
    return latencies, failures


def memory_row(server, label: str, latencies=None) -> dict:
    mems = [bench_http.memory_kb(pid) for pid in server.worker_pids()]
    row = {"label": label, "rss_kb": [m.get("VmRSS", 0) for m in mems], "hwm_kb": [m.get("VmHWM", 0) for m in mems],
           "master_kb": bench_http.memory_kb(server.master).get("VmHWM", 0)}
    if latencies:
        ordered = sorted(latencies)
        row.update(n=len(ordered), p50=_pct(ordered, 0.5), p95=_pct(ordered, 0.95), max=ordered[-1])
    return row


def serve(env: dict, home: Path, token: str, procs: list[Procedure], workers: int, touch_counts: list[int],
          threads: int) -> dict:
    server = bench_http.Server(env, home, workers, threads)
    out = {"workers": workers}
    try:
        out["cold"] = cold_start(server, token, len(procs))
        rows = [memory_row(server, "after cold start + 11 lists")]
        failures = []
        if touch_counts:
            client = Client(server.port, token)

            def body_of(proc):
                return json.dumps({"procedure": proc.code, "data": {"ho_ten": "Nguyễn Văn An", "so_cccd": "001088012345",
                                                                    "dia_chi": "Thanh Xuân, Hà Nội"}},
                                  ensure_ascii=False).encode()

            done = 0
            for n in touch_counts:
                latencies, failed = touch(client, procs[done:n], body_of)
                failures += failed
                done = n
                rows.append(memory_row(server, f"after starting a dossier of each of {n} procedures", latencies))
            again = min(100, len(procs))
            latencies, failed = touch(client, procs[:again], body_of)
            failures += failed
            rows.append(memory_row(server, f"again the first {again} (touched longest ago)", latencies))
            latencies, failed = touch(client, procs[-again:], body_of)
            failures += failed
            rows.append(memory_row(server, f"again the last {again} (touched last)", latencies))
            client.close()
        out["rows"] = rows
        out["failures"] = failures
    finally:
        server.stop()
    return out


# --- report ------------------------------------------------------------------------------------------


def _pct(ordered, q):
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def _dist(values) -> tuple[float, float, float]:
    ordered = sorted(values)
    return _pct(ordered, 0.5), _pct(ordered, 0.95), ordered[-1] if ordered else float("nan")


def _table(head, rows, left=(0,)) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)])


def import_table(result: ImportResult) -> str:
    head = ("models", "n", "bpmn kB", "onestop total s", "p50 ms", "p95 ms", "max ms", "bare total s", "p50 ms",
            "p95 ms", "max ms", "x p50", "x total")
    buckets = [("all", lambda t: True), ("5-12 tasks", lambda t: t <= 12), ("13-25 tasks", lambda t: 13 <= t <= 25),
               ("26-40 tasks", lambda t: t >= 26)]
    rows = []
    for label, keep in buckets:
        idx = [i for i, t in enumerate(result.tasks) if keep(t)]
        if not idx:
            continue
        up = [result.upload_ms[i] for i in idx]
        bare = [result.bare_ms[i] for i in idx]
        u50, u95, umax = _dist(up)
        b50, b95, bmax = _dist(bare)
        rows.append((label, str(len(idx)), f"{statistics.median(result.bpmn_bytes[i] for i in idx) / 1000:.0f}",
                     f"{sum(up) / 1000:.1f}", f"{u50:.1f}", f"{u95:.1f}", f"{umax:.0f}",
                     f"{sum(bare) / 1000:.1f}", f"{b50:.1f}", f"{b95:.1f}", f"{bmax:.0f}",
                     f"{u50 / b50:.1f}", f"{sum(up) / sum(bare):.1f}"))
    return _table(head, rows)


def phase_lines(result: ImportResult) -> list[str]:
    lines = ["  where one upload's time goes, median ms per model (functions wrapped with a timer; nested lines are "
             "included in their parent):"]
    up50 = statistics.median(result.upload_ms)
    lines.append(f"    {up50:8.2f}  upload_procedure (unpack, Engine.parse, one transaction storing version + files + audit)")
    for label, depth in result.phase_order:
        values = result.phases.get(label)
        if values:
            lines.append(f"    {'  ' * (depth + 1)}{statistics.median(values):8.2f}  {label}")
    store = statistics.median(u - p for u, p in zip(result.upload_ms, result.parse_ms, strict=True)) if result.parse_ms else 0
    lines.append(f"      {store:8.2f}  the rest: unpack, the store transaction (INSERT version, files, audit; COMMIT), "
                 "putting the model in the cache")
    lines.append(f"    {statistics.median(result.bare_ms):8.2f}  bare: lxml parse + SpiffBpmnParser.add_bpmn_xml + get_spec")
    return lines


def serve_table(runs: list[dict], count: int) -> str:
    head = ("workers", "step", "n", "p50 ms", "p95 ms", "max ms", "worker RSS MB", "worker peak MB", "master MB")
    rows = []
    for run in runs:
        cold = run["cold"]
        rows.append((str(run["workers"]), f"cold start: launch -> list of {cold['listed']} answered", "1",
                     f"{cold['first_list_s'] * 1000:.0f}", "", "", "", "", ""))
        rows.append((str(run["workers"]), f"GET /api/v1/procedures, warm ({cold['list_bytes'] / 1000:.0f} kB)", "10",
                     f"{cold['list_ms_p50']:.1f}", "", "", "", "", ""))
        for row in run["rows"]:
            rows.append((str(run["workers"]), row["label"], str(row.get("n", "")),
                         f"{row['p50']:.1f}" if "p50" in row else "", f"{row['p95']:.1f}" if "p95" in row else "",
                         f"{row['max']:.0f}" if "max" in row else "",
                         "/".join(f"{k / 1024:.0f}" for k in row["rss_kb"]),
                         "/".join(f"{k / 1024:.0f}" for k in row["hwm_kb"]), f"{row['master_kb'] / 1024:.0f}"))
    return _table(head, rows, left=(1,))


def _cache_size():
    import inspect

    from onestop.engine import Engine

    parameter = inspect.signature(Engine.__init__).parameters.get("cache_size")
    return parameter.default if parameter is not None else "?"


def machine_line(descriptions: str, load: str, code: str) -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    return (f"# machine: nproc={os.cpu_count()} ({cpu}), load {load}; python {platform.python_version()}; "
            f"gunicorn {importlib.metadata.version('gunicorn')}; SpiffWorkflow {importlib.metadata.version('SpiffWorkflow')}; "
            f"lxml {importlib.metadata.version('lxml')}; peewee {importlib.metadata.version('peewee')}; "
            f"code {code}; database: {descriptions}")


# --- main ----------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description="936 procedures: import, cold start, memory (see bench/README.md)")
    parser.add_argument("--quick", action="store_true", help=f"a smaller catalogue (200 instead of {DEFAULT_COUNT}), ~1 min")
    parser.add_argument("--count", type=int, default=None, help=f"procedures to generate (default {DEFAULT_COUNT}; --quick 200)")
    parser.add_argument("--touch", default=None, help="cumulative procedure counts to start a dossier of (default 100,COUNT)")
    parser.add_argument("--workers", default="1,2", help="gunicorn worker counts for the cold start (default 1,2); memory "
                                                         "after touching is measured on the first")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker (default 8)")
    parser.add_argument("--seed", type=int, default=936, help="seed of the generated catalogue")
    parser.add_argument("--no-diagram", action="store_true", help="generate BPMN without BPMNDI")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database (bench/pgserver.py)")
    parser.add_argument("--json", dest="json_file", default=None, help="write every per-model time and the memory rows")
    parser.add_argument("--tmp", default=None, help="where the temp dir (models, SQLite file, logs) goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    count = args.count or (200 if args.quick else DEFAULT_COUNT)
    touch_counts = sorted({min(int(x), count) for x in (args.touch or f"100,{count}").split(",") if x.strip()})
    worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    code = bench_http.code_version()
    started = time.monotonic()
    steal0 = bench_http.machine_cpu()
    tmp = Path(tempfile.mkdtemp(prefix="onestop-bench-catalogue-", dir=args.tmp))
    try:
        t0 = time.monotonic()
        rng = random.Random(args.seed)
        procs = [generate(i, rng, tmp / "models", diagram=not args.no_diagram) for i in range(1, count + 1)]
        generate_s = time.monotonic() - t0
        print(f"# generated {count} procedures in {generate_s:.1f} s", file=sys.stderr, flush=True)

        home = tmp / "home"
        home.mkdir()
        with bench_http.fresh_database("postgresql" if args.postgres else "sqlite", home) as url:
            env = bench_http.server_env(home, url)
            token = bench_http.prepare_database(env)  # onestop init + the API user
            description = bench_http.describe_database(url, home)
            os.environ.update(ONESTOP_HOME=str(home), ONESTOP_DATABASE_URL=url)
            print("# bare specs held in one process ...", file=sys.stderr, flush=True)
            bare_before, bare_after = bare_memory(procs)  # forked before the import fills this process
            print(f"# importing {count} procedures (bare SpiffWorkflow parse interleaved) ...", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            result = import_catalogue(url, procs)
            import_wall_s = time.monotonic() - t0
            runs = []
            for i, workers in enumerate(worker_counts):
                print(f"# gunicorn -w {workers}: cold start{', touching procedures' if i == 0 else ''} ...",
                      file=sys.stderr, flush=True)
                runs.append(serve(env, home, token, procs, workers, touch_counts if i == 0 else [], args.threads))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    steal1 = bench_http.machine_cpu()
    steal = ""
    if steal0 and steal1 and steal1[2] > steal0[2]:
        steal = f"; CPU steal during the run {100 * (steal1[1] - steal0[1]) / (steal1[2] - steal0[2]):.1f} %"

    tasks = sorted(p.tasks for p in procs)
    print(machine_line(description, load, code))
    print(f"# {'quick' if args.quick else 'full'} run: {count} generated procedures (seed {args.seed}; user tasks "
          f"{tasks[0]}-{tasks[-1]}, median {statistics.median(tasks):.0f}; 1-5 lanes; a form per task; "
          f"{'no diagram' if args.no_diagram else 'with BPMNDI'}; BPMN median {statistics.median(result.bpmn_bytes) / 1000:.0f} kB, "
          f"all files median {statistics.median(result.files_bytes) / 1000:.0f} kB); dialect {', '.join(sorted(result.dialects))}; "
          f"{result.warnings} upload warnings; {time.monotonic() - started:.0f} s{steal}")
    print(f"# import: {count} uploads in {import_wall_s:.1f} s wall (of which onestop {result.total_s:.1f} s, bare "
          f"{result.bare_total_s:.1f} s, interleaved per model in alternating order)"
          + (f"; SQLite files {result.db_bytes / 1e6:.1f} MB" if result.db_bytes else ""))
    print(import_table(result))
    print("# onestop = upload_procedure (unpack, check, parse, XSD warnings, spec JSON, store, cache); bare = lxml parse + "
          "SpiffBpmnParser.add_bpmn_xml + get_spec; x = onestop / bare")
    for line in phase_lines(result):
        print(line)
    per_model = (bare_after - bare_before) / max(1, count)
    print(f"# memory: {count} bare specs held in one process: +{(bare_after - bare_before) / 1024:.0f} MB "
          f"({per_model:.0f} kB per model; RSS {bare_before / 1024:.0f} -> {bare_after / 1024:.0f} MB); the import process "
          f"(onestop, {result.cached_models} models left in its cache): RSS {result.rss_before_kb / 1024:.0f} -> "
          f"{result.rss_after_kb / 1024:.0f} MB")
    print(serve_table(runs, count))
    print(f"# the model cache of a process holds {_cache_size()} parsed models (Engine's cache_size default)")
    print("# cold start = gunicorn launched -> first 200 OK of GET /api/v1/procedures listing all; touching = POST "
          "/api/v1/dossiers on one keep-alive connection (one worker); RSS/peak = VmRSS/VmHWM of each worker")
    mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
    first = runs[0] if runs else None
    if first and first.get("rows"):
        peak = max(max(r["hwm_kb"]) for r in first["rows"]) / 1024
        print(f"{mark(peak < TARGET_WORKER_MB)} peak RSS of a web worker with {count} procedures touched: {peak:.0f} MB; "
              f"target < {TARGET_WORKER_MB} MB" + ("" if count >= DEFAULT_COUNT else f" (at {DEFAULT_COUNT}: run without --quick)"))
        failures = first.get("failures") or []
        print(f"{mark(not failures)} dossiers started without error: {len(failures)} failures"
              + "".join(f"\n  {code}: {status} {body}" for code, status, body in failures[:5]))

    notes = [f"database: {description}"]
    if first and first.get("rows"):
        notes.append(f"peak RSS of a web worker with {count} procedures touched: {peak:.0f} MB; target < "
                     f"{TARGET_WORKER_MB} MB")
    sizes = {"procedures": count, "seed": args.seed, "quick": args.quick}
    bench_results.save("catalogue", *bench_results.parse_table(import_table(result)), variant="uploads", sizes=sizes,
                       title=f"Uploading {count} generated procedures: onestop against bare SpiffWorkflow",
                       notes=notes[:1])
    bench_results.save("catalogue", *bench_results.parse_table(serve_table(runs, count)), variant="serving",
                       sizes=sizes, title=f"Serving {count} procedures: cold start, latency and memory per worker",
                       notes=notes, extra={"worker_peak_mb": peak if first and first.get("rows") else None})
    if args.json_file:
        doc = {"count": count, "seed": args.seed, "quick": args.quick, "database": description,
               "import": {"wall_s": import_wall_s, "onestop_s": result.total_s, "bare_s": result.bare_total_s,
                          "per_model": [{"code": p.code, "tasks": p.tasks, "lanes": p.lanes, "bpmn_bytes": b,
                                         "upload_ms": u, "bare_ms": m}
                                        for p, b, u, m in zip(procs, result.bpmn_bytes, result.upload_ms, result.bare_ms,
                                                              strict=True)],
                          "phases_ms": result.phases, "rss_before_kb": result.rss_before_kb,
                          "rss_after_kb": result.rss_after_kb, "db_bytes": result.db_bytes},
               "bare_memory_kb": {"before": bare_before, "after": bare_after}, "servers": runs}
        Path(args.json_file).write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
