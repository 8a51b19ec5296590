"""Per-step cost of onestop against bare SpiffWorkflow on the same model, in one run.

Two drivers take the same model through the same steps with the same form data:

* bare: SpiffWorkflow alone, the naive request cycle of the research notes (section 5):
  create = BpmnWorkflow(cached spec) + do_engine_steps + serialize_json;
  step = deserialize_json -> find the READY task -> set_data -> run -> do_engine_steps -> serialize_json.
  Same parser class and serializer config as onestop picks for the model; default script engine.
* onestop: the real service layer on a real database: upload_procedure once, then
  services.dossiers.start_dossier / complete_task (engine + form check + one write transaction with
  the compare-and-set update, worklist rows, history and audit event).

Measurements of the two drivers alternate per repetition so that machine noise hits both alike. A
step case repeats the same step from the same state: bare re-reads the same JSON, onestop's dossier
rows are put back as they were after each measured step (not timed).

    .venv/bin/python bench/engine.py [--quick] [--postgres | --database-url URL] [--json FILE]
                                     [--cases loop1,loop50] [--profile loop1]

See bench/README.md for what the columns mean.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import importlib.metadata
import json
import math
import os
import platform
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

MODELS = Path(__file__).resolve().parent / "models"
SEQUENCE_LENGTH = 200

# The dialects the benchmark models use, with the parser class and serializer config onestop picks
# for them (onestop.engine.parsing.PARSERS / onestop.engine.serial.CONFIGS); checked at run time.
BARE = {"bpmn": (BpmnParser, DEFAULT_CONFIG), "spiff": (SpiffBpmnParser, SPIFF_CONFIG)}


# --- data: the same for both drivers -------------------------------------------------------------

APPLICATION = {
    "applicant_name": "Nguyễn Văn An",
    "applicant_id_number": "001088012345",
    "applicant_phone": "0912345678",
    "applicant_address": "Số 12, ngõ 34 đường Nguyễn Trãi, phường Thanh Xuân Trung, quận Thanh Xuân, thành phố Hà Nội",
    "project_name": "Nhà ở riêng lẻ 4 tầng và 1 tum",
    "site_address": "Thửa đất số 125, tờ bản đồ số 18, phường Khương Đình, quận Thanh Xuân, thành phố Hà Nội",
    "land_certificate_no": "CS 04567 do Sở Tài nguyên và Môi trường cấp ngày 15/03/2019",
    "floor_area_m2": 320.5,
    "floors": 4,
    "documents": [
        "Đơn đề nghị cấp giấy phép xây dựng (mẫu số 01)",
        "Bản sao giấy chứng nhận quyền sử dụng đất",
        "Hai bộ bản vẽ thiết kế xây dựng",
        "Bản kê khai năng lực, kinh nghiệm của tổ chức thiết kế",
        "Cam kết bảo đảm an toàn đối với công trình liền kề",
    ],
    "description": (
        "Xây dựng nhà ở riêng lẻ 4 tầng và 1 tum trên thửa đất đã được cấp giấy chứng nhận quyền sử dụng "
        "đất; mật độ xây dựng 85%, chiều cao công trình 17,5 m tính từ cốt vỉa hè; khoảng lùi 2,4 m so với "
        "chỉ giới đường đỏ; kết cấu khung bê tông cốt thép chịu lực, móng cọc ép; hệ thống thoát nước thải "
        "đấu nối vào hệ thống thoát nước chung của khu vực sau bể tự hoại ba ngăn."
    ),
}
APPLICANT = {"name": APPLICATION["applicant_name"], "id_number": APPLICATION["applicant_id_number"]}

FORM_RECEIVE = {
    "receipt_no": "000.00.25.H26-250612-0042",
    "received_by": "Trần Thị Bình - cán bộ Bộ phận Một cửa",
    "received_documents": APPLICATION["documents"][:4],
    "appointment_date": "2025-07-10",
    "receive_note": "Hồ sơ nộp trực tiếp; đã kiểm tra tính đầy đủ của thành phần hồ sơ theo danh mục.",
}
FORM_APPRAISE_INCOMPLETE = {
    "complete": False,
    "appraisal_note": "Bản vẽ mặt bằng móng chưa thể hiện vị trí đấu nối thoát nước; đề nghị bổ sung "
                      "bản vẽ và cam kết bảo đảm an toàn công trình liền kề có chữ ký của các hộ liền kề.",
    "missing_documents": ["Bản vẽ mặt bằng móng (tỷ lệ 1/100)", "Cam kết bảo đảm an toàn công trình liền kề"],
}
FORM_SUPPLEMENT = {
    "supplemented_documents": ["Bản vẽ mặt bằng móng (tỷ lệ 1/100)", "Cam kết bảo đảm an toàn công trình liền kề"],
    "supplement_note": "Công dân đã nộp bổ sung tại Bộ phận Một cửa; đã chuyển lại chuyên viên thẩm định.",
}
FORM_APPRAISE_COMPLETE = {
    "complete": True,
    "appraisal_note": "Hồ sơ đầy đủ, hợp lệ; đề xuất lấy ý kiến phòng Quản lý đô thị và phòng Tài nguyên "
                      "và Môi trường trước khi trình lãnh đạo phê duyệt.",
    "missing_documents": [],
}
FORM_REVIEW_URBAN = {
    "urban_agree": True,
    "urban_opinion": "Phù hợp quy hoạch chi tiết tỷ lệ 1/500 đã được phê duyệt; chiều cao và khoảng lùi đạt yêu cầu.",
    "urban_reviewer": "Lê Văn Cường - phòng Quản lý đô thị",
}
FORM_REVIEW_ENVIRONMENT = {
    "environment_agree": True,
    "environment_opinion": "Không thuộc đối tượng phải lập báo cáo đánh giá tác động môi trường; thống nhất.",
    "environment_reviewer": "Phạm Thị Dung - phòng Tài nguyên và Môi trường",
}
FORM_APPROVE = {"approved": True, "leader_note": "Đồng ý cấp giấy phép xây dựng theo đề xuất của chuyên viên."}
FORM_RESULT = {
    "permit_no": "125/GPXD-UBND",
    "result_delivered": True,
    "delivery_note": "Đã trả giấy phép xây dựng và một bộ bản vẽ có đóng dấu thẩm định cho công dân.",
}


def permit_steps(loops: int) -> list[tuple[str, dict]]:
    """(element id, form data) of every user task of a permit dossier with `loops` supplement loops."""
    steps = [("Task_Receive", FORM_RECEIVE)]
    for _ in range(loops):
        steps += [("Task_Appraise", FORM_APPRAISE_INCOMPLETE), ("Task_Supplement", FORM_SUPPLEMENT)]
    steps += [
        ("Task_Appraise", FORM_APPRAISE_COMPLETE),
        ("Task_ReviewUrban", FORM_REVIEW_URBAN),
        ("Task_ReviewEnvironment", FORM_REVIEW_ENVIRONMENT),
        ("Task_Approve", FORM_APPROVE),
        ("Task_ReturnResult", FORM_RESULT),
    ]
    return steps


def sequence_steps(n: int = SEQUENCE_LENGTH) -> list[tuple[str, dict]]:
    return [(f"Task_{i:03d}", {"checked": True, "note": f"Đã xử lý bước {i:03d}: hồ sơ hợp lệ, chuyển bước tiếp theo."})
            for i in range(1, n + 1)]


# --- models --------------------------------------------------------------------------------------


def permit_files() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(MODELS.iterdir())
            if p.is_file() and p.suffix in (".bpmn", ".json")]


def sequence_bpmn(n: int = SEQUENCE_LENGTH) -> bytes:
    """Plain BPMN: start -> n user tasks in sequence, dealt round-robin over 3 lanes -> end."""
    lanes = [("Lane_counter", "Một cửa"), ("Lane_officer", "Chuyên viên"), ("Lane_leader", "Lãnh đạo")]
    tasks = [f"Task_{i:03d}" for i in range(1, n + 1)]
    nodes = ["StartEvent_1", *tasks, "EndEvent_1"]
    members = {lane: [] for lane, _ in lanes}
    for index, node in enumerate(nodes):
        members[lanes[index % 3][0]].append(node)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'id="Definitions_sequence" targetNamespace="http://onestop.bench">',
        f'  <bpmn:process id="sequence_{n}" name="Quy trình {n} bước" isExecutable="true">',
        '    <bpmn:laneSet id="LaneSet_1">',
    ]
    for lane, name in lanes:
        out.append(f'      <bpmn:lane id="{lane}" name="{name}">')
        out += [f"        <bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>" for node in members[lane]]
        out.append("      </bpmn:lane>")
    out.append("    </bpmn:laneSet>")
    flows = [(f"Flow_{i:03d}", a, b) for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))]
    incoming = {b: f for f, _a, b in flows}
    outgoing = {a: f for f, a, _b in flows}
    out.append(f'    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>{outgoing["StartEvent_1"]}</bpmn:outgoing>'
               "</bpmn:startEvent>")
    for i, task in enumerate(tasks, 1):
        out.append(f'    <bpmn:userTask id="{task}" name="Bước {i:03d}"><bpmn:incoming>{incoming[task]}</bpmn:incoming>'
                   f"<bpmn:outgoing>{outgoing[task]}</bpmn:outgoing></bpmn:userTask>")
    out.append(f'    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>{incoming["EndEvent_1"]}</bpmn:incoming>'
               "</bpmn:endEvent>")
    out += [f'    <bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}" />' for f, a, b in flows]
    out += ["  </bpmn:process>", "</bpmn:definitions>", ""]
    return "\n".join(out).encode()


def sequence_files(n: int = SEQUENCE_LENGTH) -> list[tuple[str, bytes]]:
    meta = {"code": f"bench.sequence{n}", "name": f"Quy trình tuần tự {n} bước (mô hình đo hiệu năng)"}
    return [(f"sequence_{n}.bpmn", sequence_bpmn(n)),
            ("procedure.json", json.dumps(meta, ensure_ascii=False).encode())]


# --- the bare driver -----------------------------------------------------------------------------


class Bare:
    """SpiffWorkflow alone: spec parsed once, the full JSON (spec included) read and written per request."""

    def __init__(self, files, dialect):
        parser_class, config = BARE[dialect]
        parser = parser_class()
        for name, content in files:
            if name.endswith(".bpmn"):
                parser.add_bpmn_str(content, filename=name)
        process_id = parser.get_process_ids()[0]
        self.spec = parser.get_spec(process_id)
        self.subprocess_specs = parser.get_subprocess_specs(process_id)
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))

    def create(self, data) -> str:
        workflow = self._new(data)
        workflow.do_engine_steps()
        return self.serializer.serialize_json(workflow)

    def step(self, state: str, task_id: UUID, form: dict) -> str:
        workflow = self.serializer.deserialize_json(state)
        task = workflow.get_task_from_id(task_id)
        if task is None or task.state != TaskState.READY:
            raise RuntimeError(f"bare: task {task_id} is not ready")
        task.set_data(**form)
        task.run()
        workflow.do_engine_steps()
        return self.serializer.serialize_json(workflow)

    def prepare(self, data, steps) -> str:
        """The state after `steps` (driven in memory, serialized once: same state as the naive cycle gives)."""
        workflow = self._new(data)
        workflow.do_engine_steps()
        for element_id, form in steps:
            task = _ready(workflow, element_id)
            task.set_data(**form)
            task.run()
            workflow.do_engine_steps()
        return self.serializer.serialize_json(workflow)

    def ready_id(self, state: str, element_id: str) -> UUID:
        return _ready(self.serializer.deserialize_json(state), element_id).id

    def outcome(self, state: str):
        """(READY user task ids, completed?, current data) to check both drivers end up alike."""
        workflow = self.serializer.deserialize_json(state)
        ready = sorted(t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True))
        if workflow.is_completed():
            data = workflow.data
        else:
            data = (workflow.last_task or workflow.task_tree).data
        return ready, workflow.is_completed(), json.loads(json.dumps(data, default=str))

    def _new(self, data):
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs)
        if data:  # as onestop's Engine.start does with start data
            workflow.task_tree.data.update(data)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(data)
        return workflow


def _ready(workflow, element_id):
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        if task.task_spec.bpmn_id == element_id:
            return task
    raise RuntimeError(f"bare: no READY task {element_id}")


# --- the onestop driver --------------------------------------------------------------------------


class Onestop:
    """The service layer on a real database, bound like onestop.cli does."""

    def __init__(self, database_url: str):
        from onestop import db, migrations
        from onestop.engine import Engine
        from onestop.engine.sandbox import Sandbox
        from onestop.services.runtime import Runtime, bind_engine, install
        from onestop.services.users import create_user, ensure_default_centre

        self.url = database_url
        from onestop.services.audit import bind as audit_bind

        install(Runtime(database=db.open_database(database_url)))
        audit_bind(secrets.token_urlsafe(48))  # a throwaway trail key: a benchmark keeps no trail
        db.database.connect(reuse_if_open=True)
        migrations.migrate()
        ensure_default_centre()
        self.engine = bind_engine(Engine(Sandbox()))
        self.actor = create_user(f"bench-{secrets.token_hex(4)}", ["admin", "officer", "leader"],
                                 display_name="Benchmark")

    def close(self):
        from onestop.db import database

        self.engine.close()
        if not database.is_closed():
            database.close()
        if hasattr(database.obj, "close_all"):
            database.obj.close_all()

    def upload(self, files):
        """Upload a model; returns (procedure code, dialect onestop chose)."""
        from onestop.services.procedures import Upload, upload_procedure

        version, _created = upload_procedure(self.actor, [Upload(name, content) for name, content in files])
        return version.procedure.code, version.dialect

    def create(self, code, data):
        from onestop.services.dossiers import start_dossier

        return start_dossier(self.actor, code, data, applicant=APPLICANT)

    def step(self, task_id: str, form: dict):
        from onestop.services.dossiers import complete_task

        return complete_task(self.actor, task_id, form)

    def prepare(self, code, data, steps):
        dossier = self.create(code, data)
        for element_id, form in steps:
            dossier = self.step(self.ready_id(dossier, element_id), form)
            if dossier.state == "error":
                raise RuntimeError(f"onestop: dossier failed at {element_id}: {dossier.error_message}")
        return dossier

    def outcome(self, dossier):
        from onestop.models import Dossier, WorkItem

        dossier = Dossier.get_by_id(dossier.id)
        ready = sorted(w.element_id for w in WorkItem.select().where(WorkItem.dossier == dossier.id))
        return ready, dossier.state == "completed", dossier.data

    def ready_id(self, dossier, element_id) -> str:
        from onestop.models import WorkItem

        item = (WorkItem.select(WorkItem.id)
                .where((WorkItem.dossier == dossier.id) & (WorkItem.element_id == element_id)).first())
        if item is None:
            raise RuntimeError(f"onestop: no work item {element_id} in dossier {dossier.code}")
        return item.id

    # Putting a dossier back where it was, so that the same step can be measured again.

    _DOSSIER_FIELDS = ("workflow", "state", "data", "serial", "error_element", "error_message",
                       "next_timer_at", "updated_at")

    def snapshot(self, dossier):
        from onestop.models import AuditEvent, Dossier, HistoryEntry, WaitingEvent, WorkItem

        row = Dossier.select().where(Dossier.id == dossier.id).dicts().get()
        last = lambda model: (model.select(model.id).where(model.dossier == dossier.id)  # noqa: E731
                              .order_by(model.id.desc()).scalar() or 0)
        return {
            "id": dossier.id,
            "dossier": {k: row[k] for k in self._DOSSIER_FIELDS},
            "items": list(WorkItem.select().where(WorkItem.dossier == dossier.id).dicts()),
            "waiting": list(WaitingEvent.select().where(WaitingEvent.dossier == dossier.id).dicts()),
            "history": last(HistoryEntry),
            "audit": last(AuditEvent),
        }

    def prime(self, snap):
        """Put the stored state back into the engine's live cache, as if the previous step of this
        dossier had run in this process (untimed; for the "live" cases)."""
        from types import SimpleNamespace

        from onestop.models import Dossier
        from onestop.services.procedures import model_for

        version = Dossier.get_by_id(snap["id"]).version
        workflow = self.engine.load(model_for(version), snap["dossier"]["workflow"])
        self.engine.keep(snap["id"], snap["dossier"]["serial"], SimpleNamespace(workflow=workflow))

    def restore(self, snap):
        from onestop.db import write_transaction
        from onestop.models import AuditEvent, Dossier, HistoryEntry, WaitingEvent, WorkItem

        dossier_id = snap["id"]
        with write_transaction():
            Dossier.update(**snap["dossier"]).where(Dossier.id == dossier_id).execute()
            WorkItem.delete().where(WorkItem.dossier == dossier_id).execute()
            if snap["items"]:
                WorkItem.insert_many(snap["items"]).execute()
            WaitingEvent.delete().where(WaitingEvent.dossier == dossier_id).execute()
            if snap["waiting"]:
                WaitingEvent.insert_many(snap["waiting"]).execute()
            HistoryEntry.delete().where((HistoryEntry.dossier == dossier_id) & (HistoryEntry.id > snap["history"])).execute()
            AuditEvent.delete().where((AuditEvent.dossier == dossier_id) & (AuditEvent.id > snap["audit"])).execute()


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class Side:
    run: object  # () -> None, the timed call
    reset: object = None  # () -> None, after each timed call, not timed
    state_bytes: int = 0  # size of the stored workflow state the step reads (create: writes)
    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)


@dataclass
class Case:
    key: str
    title: str
    reps: int
    bare: Side
    onestop: Side
    bare_driver: Bare
    setup_s: float = 0.0


def case_specs(quick: bool):
    """(key, title, model, loops or task index, repetitions)."""
    r = (lambda full, q: q) if quick else (lambda full, q: full)  # noqa: E731
    steps = [
        ("receive", "permit: step @ Receive (1st task)", "permit", 0, r(300, 30)),
        ("loop1", "permit: step @ last task, 1 loop", "permit", 1, r(300, 30)),
        ("loop10", "permit: step @ last task, 10 loops", "permit", 10, r(150, 20)),
        ("loop50", "permit: step @ last task, 50 loops", "permit", 50, r(60, 10)),
        ("seq-1", f"seq{SEQUENCE_LENGTH}: step @ task 1", "sequence", 1, r(60, 10)),
        (f"seq-{SEQUENCE_LENGTH}", f"seq{SEQUENCE_LENGTH}: step @ task {SEQUENCE_LENGTH}", "sequence",
         SEQUENCE_LENGTH, r(40, 8)),
    ]
    # "+live": the dossier's workflow is still live in this process from its previous step (the
    # engine's cache, checked by the serial); without it the step reads and rebuilds the stored state.
    live = [(f"{key}+live", f"{title} [live]", model, where, reps) for key, title, model, where, reps in steps]
    return [
        ("create", "permit: create (start -> 1st task)", "permit", None, r(300, 30)),
        *steps[:4], *live[:4],
        ("seq-create", f"seq{SEQUENCE_LENGTH}: create (start -> task 1)", "sequence", None, r(60, 10)),
        *steps[4:], *live[4:],
    ]


def build_case(key, title, model, where, reps, bare: Bare, onestop: Onestop, code: str) -> Case:
    started = time.perf_counter()
    if where is None:  # create
        bare_side = Side(run=lambda: bare.create(APPLICATION))
        bare_state = bare.create(APPLICATION)
        bare_side.state_bytes = len(bare_state.encode())
        onestop_side = Side(run=lambda: onestop.create(code, APPLICATION))
        dossier = onestop.create(code, APPLICATION)
        onestop_side.state_bytes = len(dossier.workflow.encode())
        _same_outcome(key, bare.outcome(bare_state), onestop.outcome(dossier))
        return Case(key, title, reps, bare_side, onestop_side, bare, time.perf_counter() - started)

    if model == "permit":
        steps = permit_steps(where)
        if where == 0:
            steps = steps[:1]  # the measured step is the first one
    else:
        steps = sequence_steps()[:where]
    before, (element_id, form) = steps[:-1], steps[-1]

    bare_state = bare.prepare(APPLICATION, before)
    bare_task = bare.ready_id(bare_state, element_id)
    bare_side = Side(run=lambda: bare.step(bare_state, bare_task, form), state_bytes=len(bare_state.encode()))

    dossier = onestop.prepare(code, APPLICATION, before)
    task_id = onestop.ready_id(dossier, element_id)
    snap = onestop.snapshot(dossier)

    def reset():
        onestop.restore(snap)
        if key.endswith("+live"):
            onestop.prime(snap)

    onestop_side = Side(run=lambda: onestop.step(task_id, form), reset=reset,
                        state_bytes=len(dossier.workflow.encode()))
    # One untimed round each proves the step works from the prepared state, that both drivers end up
    # alike (same next tasks, same data), and that the dossier can be put back.
    after = onestop_side.run()
    if after.state == "error":
        raise RuntimeError(f"onestop step {key} failed: {after.error_message}")
    _same_outcome(key, bare.outcome(bare_side.run()), onestop.outcome(after))
    onestop_side.reset()
    return Case(key, title, reps, bare_side, onestop_side, bare, time.perf_counter() - started)


def _same_outcome(key, bare, onestop):
    if bare != onestop:
        raise RuntimeError(f"{key}: the drivers disagree after the step: bare {bare[:2]}, onestop {onestop[:2]}"
                           + ("" if bare[2] == onestop[2] else "; the data differ"))


# Collect garbage before each timed (or profiled) step, so that no collection of what earlier steps left lands inside
# it. --no-gc-collect (the tiny CI run, whose figures mean nothing) leaves it to the collector: at ~40 ms a collection,
# it was two thirds of that run's CPU.
COLLECT_BEFORE_EACH_STEP = True


def _collect():
    if COLLECT_BEFORE_EACH_STEP:
        gc.collect()


def _timed(side: Side, keep: bool):
    _collect()
    w0, c0 = time.perf_counter(), time.thread_time()
    side.run()
    c1, w1 = time.thread_time(), time.perf_counter()
    if side.reset is not None:
        side.reset()
    if keep:
        side.wall.append((w1 - w0) * 1000)
        side.cpu.append((c1 - c0) * 1000)


def measure(case: Case, warmup: int):
    for i in range(warmup + case.reps):
        order = (case.bare, case.onestop) if i % 2 == 0 else (case.onestop, case.bare)
        for side in order:
            _timed(side, keep=i >= warmup)


def profile(case: Case, reps: int, top: int):
    """cProfile the onestop side of a case over `reps` steps on the thread's CPU clock (a shared machine's
    waits for a CPU are not counted); print the top entries and a breakdown by phase."""
    profiler = cProfile.Profile(time.thread_time)
    for _ in range(reps):
        _collect()
        profiler.enable()
        case.onestop.run()
        profiler.disable()
        if case.onestop.reset is not None:
            case.onestop.reset()
    stats = pstats.Stats(profiler)
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.stats.values())
    print()
    print(f"cProfile (thread CPU clock), onestop side of {case.key!r} ({case.title}), {reps} steps, "
          f"{total / reps * 1000:.2f} ms/step under the profiler; top {top} by cumulative time (ms per step):")
    rows = sorted(((k, v) for k, v in stats.stats.items() if not k[0].endswith("bench/engine.py")),
                  key=lambda kv: kv[1][3], reverse=True)
    print(f"  {'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows[:top]:
        print(f"  {ct / reps * 1000:8.2f} {tt / reps * 1000:8.2f} {nc / reps:7.0f}  {_where(filename, line, name)}")
    print(f"  top {top} by own time:")
    for (filename, line, name), (_cc, nc, tt, ct, _callers) in sorted(
            stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]:
        print(f"  {ct / reps * 1000:8.2f} {tt / reps * 1000:8.2f} {nc / reps:7.0f}  {_where(filename, line, name)}")
    phases(case, reps)


class _Phases:
    """Wall and thread CPU time spent inside chosen functions, per measured call, by wrapping them (not a
    profiler). A function named here that no longer exists is an error: the breakdown must not rot silently."""

    def __init__(self):
        self.acc = {}
        self._undo = []

    def wrap(self, owner, attr, label):
        if not hasattr(owner, attr):
            raise SystemExit(f"error: --profile's phases name {getattr(owner, '__name__', owner)}.{attr}, which no "
                             "longer exists: update phases() in bench/engine.py")
        own = attr in vars(owner)
        original = getattr(owner, attr)
        acc = self.acc

        @functools.wraps(original)
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall_sum, cpu_sum = acc.get(label, (0.0, 0.0))
                acc[label] = (wall_sum + time.perf_counter() - wall, cpu_sum + time.thread_time() - cpu)

        saved = vars(owner)[attr] if own else None  # the raw attribute (a class keeps its function)
        setattr(owner, attr, timed)
        self._undo.append((owner, attr, saved, own))

    def undo(self):
        for owner, attr, saved, own in reversed(self._undo):
            if own:
                setattr(owner, attr, saved)
            else:  # it came from the class: drop the instance's wrapper
                delattr(owner, attr)
        self._undo.clear()


def phases(case: Case, reps: int):
    """Where a step's time goes, without profiler distortion: onestop by layer, bare by stage; wall and
    thread CPU medians (wall includes waiting for the disk and for a CPU)."""
    from onestop import sql
    from onestop.db import database
    from onestop.engine import runtime, serial
    from onestop.engine.runtime import Engine
    from onestop.services import audit, dossiers, formdata, steps

    # (owner, attribute, label, depth); depth None = cuts across the tree (every SQL statement, every commit)
    onestop_parts = [
        (dossiers, "_waiting_task", "_waiting_task (SELECT work item, dossier, state)", 0),
        (formdata, "accept", "formdata.accept (form check, files)", 0),
        (Engine, "start", "Engine.start (new workflow, advance, snapshot)", 0),
        (Engine, "complete_task", "Engine.complete_task (no DB)", 0),
        (serial, "load_workflow", "serial.load_workflow (json.loads state, from_dict onto the spec)", 1),
        (Engine, "_advance", "Engine._advance (do_engine_steps loop, READY scan, then _snapshot)", 1),
        (Engine, "_snapshot", "Engine._snapshot (task scans, compact, dump, json_safe)", 2),
        (serial, "dump_workflow", "serial.dump_workflow (to_dict + json.dumps)", 3),
        (runtime, "json_safe", "json_safe (data JSON round trip)", 3),
        (dossiers, "save_step", "steps.save_step (decide, unit of work, commit, keep live)", 0),
        (steps, "_store", "steps._store (CAS UPDATE, pause, rows, audit, result times)", 1),
        (steps, "write_step_rows", "write_step_rows (worklist, waiting, history)", 2),
        (audit, "record", "audit.record (INSERT audit event)", 2),
        (sql, "run", "sql.run (every raw statement)", None),
        (database.obj, "execute_sql", "driver cursor.execute (run SQL)", None),
        (database.obj, "commit", "COMMIT", None),
    ]
    bare_parts = [
        (case.bare_driver.serializer, "deserialize_json", "deserialize_json", 0),
        (case.bare_driver.serializer, "serialize_json", "serialize_json", 0),
    ]
    print(f"  phases, ms per step (median of {reps}; functions wrapped with timers, no profiler): wall / thread CPU")
    for name, side, parts in (("onestop", case.onestop, onestop_parts), ("bare", case.bare, bare_parts)):
        meter = _Phases()
        per_step = []
        try:
            for owner, attr, label, _depth in parts:
                meter.wrap(owner, attr, label)
            for _ in range(reps):
                _collect()
                meter.acc.clear()
                wall, cpu = time.perf_counter(), time.thread_time()
                side.run()
                per_step.append({"total": (time.perf_counter() - wall, time.thread_time() - cpu), **meter.acc})
                if side.reset is not None:
                    side.reset()
        finally:
            meter.undo()
        _print_phases(name, parts, per_step)


def _print_phases(name, parts, per_step):
    top = [label for _o, _a, label, depth in parts if depth == 0]

    def med(label, clock):
        return _median_ms(per_step, label, clock)

    def outside(clock):  # computed per step, then its median taken
        return statistics.median(step["total"][clock] - sum(step.get(label, (0.0, 0.0))[clock] for label in top)
                                 for step in per_step) * 1000

    both = lambda label: f"{med(label, 0):7.2f} /{med(label, 1):6.2f}"  # noqa: E731
    print(f"    {name}: {both('total')}")
    for _owner, _attr, label, depth in parts:
        if depth is not None and med(label, 0) > 0:
            print(f"      {'  ' * depth}{both(label)}  {label}")
    rest = f"{outside(0):7.2f} /{outside(1):6.2f}"
    if name == "onestop":
        print(f"      {rest}  (service code outside the functions above: checks, the model and form look-ups)")
        print(f"      across all of it: {both(parts[-2][2])} running SQL in the driver (every statement; "
              f"{both(parts[-3][2])} in sql.run's), {both('COMMIT')} COMMIT")
    else:
        print(f"      {rest}  find task + set_data + run + do_engine_steps (or BpmnWorkflow + do_engine_steps)")


def _median_ms(per_step, label, clock=0):
    """Median over the steps of the time inside `label`, in ms: clock 0 = wall, 1 = thread CPU."""
    return statistics.median(step.get(label, (0.0, 0.0))[clock] for step in per_step) * 1000


def _where(filename, line, name):
    if filename == "~":
        return name
    for marker in ("site-packages/", "platform/", "lib/python3"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


# --- report --------------------------------------------------------------------------------------


def _p90(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def summary(side: Side):
    return {"median_ms": statistics.median(side.wall), "p90_ms": _p90(side.wall),
            "cpu_median_ms": statistics.median(side.cpu), "cpu_p90_ms": _p90(side.cpu), "n": len(side.wall),
            "state_bytes": side.state_bytes}


def paired_ratio(case: Case) -> float:
    """Median over repetitions of onestop/bare wall time measured back to back (robust to slow drifts)."""
    return statistics.median(o / b for o, b in zip(case.onestop.wall, case.bare.wall, strict=True))


def cpu_steal():
    """(steal, total) jiffies of all CPUs so far, from /proc/stat; None where unavailable."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def table(cases):
    head = ("case", "n", "bare ms", "p90", "cpu", "onestop ms", "p90", "cpu", "x wall", "x cpu", "x pair",
            "bare kB", "os kB")
    rows = []
    for case in cases:
        b, o = summary(case.bare), summary(case.onestop)
        rows.append((case.title, str(b["n"]),
                     f"{b['median_ms']:.2f}", f"{b['p90_ms']:.2f}", f"{b['cpu_median_ms']:.2f}",
                     f"{o['median_ms']:.2f}", f"{o['p90_ms']:.2f}", f"{o['cpu_median_ms']:.2f}",
                     f"{o['median_ms'] / b['median_ms']:.2f}", f"{o['cpu_median_ms'] / b['cpu_median_ms']:.2f}",
                     f"{paired_ratio(case):.2f}",
                     f"{b['state_bytes'] / 1000:.1f}", f"{o['state_bytes'] / 1000:.1f}"))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    lines = [fmt(head), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    return "\n".join(lines)


def machine_facts(onestop: Onestop | None, db_desc: str):
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "load": load,
        "python": platform.python_version(),
        "spiffworkflow": importlib.metadata.version("SpiffWorkflow"),
        "peewee": importlib.metadata.version("peewee"),
        "database": db_desc,
    }


def describe_database(url: str, tmp: Path | None):
    from onestop.db import database

    if url.startswith("sqlite"):
        mode = database.execute_sql("PRAGMA journal_mode").fetchone()[0]
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(database.execute_sql("PRAGMA synchronous").fetchone()[0])
        import sqlite3

        where = "temp dir" if tmp else "given file"
        return f"SQLite {sqlite3.sqlite_version} ({where}, journal={mode}, synchronous={sync})"
    version = database.execute_sql("SHOW server_version").fetchone()[0]
    fsync = database.execute_sql("SHOW fsync").fetchone()[0]
    sync = database.execute_sql("SHOW synchronous_commit").fetchone()[0]
    host = url.split("@")[-1].split("/")[0]
    return f"PostgreSQL {version} at {host} (fsync={fsync}, synchronous_commit={sync})"


# --- main ----------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description="Per-step cost of onestop vs bare SpiffWorkflow (see bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="few repetitions (finishes in well under a minute)")
    parser.add_argument("--reps", type=float, default=1.0, help="multiply every case's repetitions by this factor")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds per case before measuring (default 2)")
    parser.add_argument("--cases", default="", help="comma-separated case keys to run (default: all)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--database-url", default=None, help="sqlite:///FILE or postgresql://... (default: SQLite in a temp dir)")
    target.add_argument("--postgres", action="store_true",
                        help="a fresh PostgreSQL database from bench/pgserver.py (env server or a throwaway cluster)")
    parser.add_argument("--json", dest="json_file", default=None, help="write raw numbers to this file")
    parser.add_argument("--profile", default="", help="comma-separated case keys whose onestop step to cProfile afterwards")
    parser.add_argument("--profile-top", type=int, default=10, help="entries to show per profile (default 10)")
    parser.add_argument("--gc-collect", action=argparse.BooleanOptionalAction, default=True,
                        help="collect garbage before each timed or profiled step (default; --no-gc-collect: the "
                             "collector's own timing, for a run whose figures do not matter)")
    args = parser.parse_args(argv)
    global COLLECT_BEFORE_EACH_STEP
    COLLECT_BEFORE_EACH_STEP = args.gc_collect

    specs = case_specs(args.quick)
    keys = [s[0] for s in specs]
    wanted = [k for k in args.cases.split(",") if k] or keys
    profiled = [k for k in args.profile.split(",") if k]
    unknown = [k for k in wanted + profiled if k not in keys]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; cases: {', '.join(keys)}")

    tmp = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    drop_url = None
    onestop = None
    try:
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from bench.pgserver import (
                new_database,
                postgres_admin_url,
                postgres_unavailable_reason,
            )

            admin = postgres_admin_url()
            if not admin:
                raise SystemExit(f"error: PostgreSQL unavailable: {postgres_unavailable_reason()}")
            url = drop_url = new_database(admin)
        else:
            url = args.database_url or sqlite_database(tmp)
        onestop = Onestop(url)
        facts = machine_facts(onestop, describe_database(url, None if args.database_url else tmp))
        print(f"# machine: nproc={facts['nproc']} ({facts['cpu']}), load {facts['load']}; python {facts['python']}; "
              f"SpiffWorkflow {facts['spiffworkflow']}; peewee {facts['peewee']}; database: {facts['database']}",
              flush=True)

        models = {}
        for model, files in (("permit", permit_files()), ("sequence", sequence_files())):
            if not any(s[2] == model and s[0] in wanted + profiled for s in specs):
                continue
            code, dialect = onestop.upload(files)
            if dialect not in BARE:
                raise SystemExit(f"error: onestop chose dialect {dialect!r} for {model}; the bare driver knows {list(BARE)}")
            models[model] = (Bare(files, dialect), code, dialect)

        cases = []
        started = time.perf_counter()
        steal_before = cpu_steal()
        for key, title, model, where, reps in specs:
            if key not in wanted and key not in profiled:
                continue
            bare, code, _dialect = models[model]
            reps = max(3, round(reps * args.reps))
            case = build_case(key, title, model, where, reps, bare, onestop, code)
            print(f"# {key}: prepared in {case.setup_s:.1f} s; measuring {reps} x 2 ...", file=sys.stderr, flush=True)
            if key in wanted:
                measure(case, args.warmup)
            cases.append(case)
        measured = [c for c in cases if c.key in wanted]
        steal_after = cpu_steal()
        steal = ""
        if steal_before and steal_after and steal_after[1] > steal_before[1]:
            steal = f"; CPU steal during the run {100 * (steal_after[0] - steal_before[0]) / (steal_after[1] - steal_before[1]):.1f} %"
        dialects = ", ".join(f"{m}={d}" for m, (_b, _c, d) in models.items())
        print(f"# {len(measured)} cases, {'quick' if args.quick else 'full'} run, warmup {args.warmup}, "
              f"bare/onestop alternating per repetition; dialects: {dialects}; "
              f"{time.perf_counter() - started:.0f} s{steal}")
        print(table(measured))
        kind = "postgresql" if facts["database"].startswith("PostgreSQL") else "sqlite"
        bench_results.save("engine", *bench_results.parse_table(table(measured)), variant=kind,
                           title=f"A workflow step: onestop against bare SpiffWorkflow ({kind})",
                           sizes={"quick": args.quick, "reps_factor": args.reps, "warmup": args.warmup},
                           notes=[f"database: {facts['database']}", "ms = wall median per step, p90 = wall 90th percentile, cpu = "
                                  "thread CPU median; x = onestop/bare of the medians, x pair = median of back-to-back "
                                  "ratios; kB = stored workflow state the step reads (create: writes)"])
        print("# ms = wall median per step, p90 = wall 90th percentile, cpu = thread CPU median; "
              "x = onestop/bare of the medians, x pair = median of back-to-back ratios; kB = stored workflow state the step reads (create: writes)")

        for key in profiled:
            case = next(c for c in cases if c.key == key)
            profile(case, max(5, min(case.reps, 50)), args.profile_top)

        if args.json_file:
            doc = {"machine": facts, "quick": args.quick, "warmup": args.warmup,
                   "cases": [{"key": c.key, "title": c.title, "setup_s": c.setup_s,
                              "paired_ratio": paired_ratio(c),
                              "bare": {**summary(c.bare), "wall_ms": c.bare.wall, "cpu_ms": c.bare.cpu},
                              "onestop": {**summary(c.onestop), "wall_ms": c.onestop.wall, "cpu_ms": c.onestop.cpu}}
                             for c in measured]}
            Path(args.json_file).write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    finally:
        if onestop is not None:
            onestop.close()
        if drop_url:
            from bench.pgserver import drop_test_database

            drop_test_database(drop_url)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
