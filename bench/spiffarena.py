"""The same lifecycle on onestop and on SpiffArena's backend, one after the other: the CPU each spends.

The product's claim (issue 22) is that onestop does the work of SpiffArena's backend for 12-20x less server CPU.
This script keeps it checkable. One *lifecycle*, the one of /work/shared/research/peer-spiffarena.md, 8 requests:
create and run an instance of an approval model (start -> user task "Request" with a form -> gateway on the amount
-> "Manager approval" or "Standard review" with a form -> end), then twice: list the user's tasks, fetch the ready
task with its form, submit the form. Amounts alternate 50 / 500, so both branches run. Both sides get the same
BPMN and JSON Schema files (SpiffArena's dialect: ``spiffworkflow:properties formJsonSchemaFilename``).

* **onestop**: ``create_app`` on a fresh SQLite database in a temp dir, driven through its REST API with Flask's test
  client in this process (``POST /api/v1/dossiers``, ``GET /api/v1/tasks?dossier=``, ``GET /api/v1/tasks/{id}``,
  ``POST /api/v1/tasks/{id}/complete``) with a bearer token; its CPU is this thread's CPU time per lifecycle (the
  server's whole work, SQLite included; no socket, no gunicorn: ``bench/http.py`` measures those, ~1 ms a request).
* **SpiffArena** (only with ``--spiffarena-url``, e.g. http://127.0.0.1:7000): the same files uploaded to a process
  group ``onestop-bench`` through its API (``/v1.0/process-groups``, ``/v1.0/process-models``, ``.../files``), then
  per instance ``POST /v1.0/process-instances/{model}`` + ``POST /v1.0/process-instance-run/{model}/{id}``,
  ``GET /v1.0/tasks?process_instance_id=``, ``GET /v1.0/tasks/{id}/{guid}?with_form_data=true``,
  ``PUT /v1.0/tasks/{id}/{guid}?execution_mode=synchronous``. Its token: ``--spiffarena-token``, or the built-in
  OpenID server's development login (``--spiffarena-user``, default admin). Its server CPU is read from
  ``/proc`` when ``--spiffarena-pid`` names the server's process on this machine (the process and its children);
  without it only wall times are shown.

Without a SpiffArena URL the script says so, measures onestop's side alone and exits 0 (the CI run).

    .venv/bin/python bench/spiffarena.py --n 100 --spiffarena-url http://127.0.0.1:7000 --spiffarena-pid 12345
    .venv/bin/python bench/spiffarena.py --n 5          # onestop only
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/http.py would shadow http
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT))
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402

GROUP, MODEL = "onestop-bench", "approval"
PROCESS_ID = "Process_onestop_bench_approval"
CLAIM = 12.0  # the lower end of the claimed lead (12-20x less server CPU per lifecycle)

REQUEST_SCHEMA = {"title": "Request", "type": "object", "required": ["amount", "reason"],
                  "properties": {"amount": {"type": "integer", "title": "Amount", "minimum": 0},
                                 "reason": {"type": "string", "title": "Reason", "maxLength": 500}}}
DECISION_SCHEMA = {"title": "Decision", "type": "object", "required": ["approved"],
                   "properties": {"approved": {"type": "boolean", "title": "Approved"},
                                  "comment": {"type": "string", "title": "Comment", "maxLength": 500}}}


def _task(task_id, name, schema, incoming, outgoing):
    return f"""    <bpmn:userTask id="{task_id}" name="{name}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{schema}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>{incoming}</bpmn:incoming>
      <bpmn:outgoing>{outgoing}</bpmn:outgoing>
    </bpmn:userTask>
"""


BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_onestop_bench"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{PROCESS_ID}" name="Approval (onestop bench)" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Request"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_Request" targetRef="Task_Request" />
{_task("Task_Request", "Request", "request-schema.json", "F1", "F2")}    <bpmn:sequenceFlow id="F2" sourceRef="Task_Request" targetRef="Gateway_Amount" />
    <bpmn:exclusiveGateway id="Gateway_Amount" default="F_standard">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F_manager</bpmn:outgoing><bpmn:outgoing>F_standard</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="F_manager" sourceRef="Gateway_Amount" targetRef="Task_Manager">
      <bpmn:conditionExpression>amount &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_standard" sourceRef="Gateway_Amount" targetRef="Task_Standard" />
{_task("Task_Manager", "Manager approval", "decision-schema.json", "F_manager", "F_m_end")}\
{_task("Task_Standard", "Standard review", "decision-schema.json", "F_standard", "F_s_end")}\
    <bpmn:sequenceFlow id="F_m_end" sourceRef="Task_Manager" targetRef="EndEvent_Decided" />
    <bpmn:sequenceFlow id="F_s_end" sourceRef="Task_Standard" targetRef="EndEvent_Decided" />
    <bpmn:endEvent id="EndEvent_Decided"><bpmn:incoming>F_m_end</bpmn:incoming><bpmn:incoming>F_s_end</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""

FILES = {"approval.bpmn": BPMN.encode(), "request-schema.json": json.dumps(REQUEST_SCHEMA).encode(),
         "decision-schema.json": json.dumps(DECISION_SCHEMA).encode()}


def forms(i: int) -> list[dict]:
    """The two forms of lifecycle i: the request (amount 50 or 500: both branches) and the decision."""
    return [{"amount": 500 if i % 2 else 50, "reason": f"Đề nghị số {i}: mua thiết bị văn phòng"},
            {"approved": True, "comment": "Đồng ý"}]


def _p(values, q):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))] if ordered else None


class Timings:
    """Wall times per request kind and CPU per lifecycle."""

    def __init__(self):
        self.wall = {"create+run": [], "task list": [], "task fetch": [], "task submit": []}
        self.cpu_ms = []

    def timed(self, kind, call):
        started = time.perf_counter()
        value = call()
        self.wall[kind].append(1000 * (time.perf_counter() - started))
        return value


# --- onestop ---------------------------------------------------------------------------------------------------


def run_onestop(n: int, warmup: int, home: Path) -> Timings:
    """n lifecycles through onestop's REST API (Flask test client, this process); CPU = this thread's."""
    from onestop.app import create_app
    from onestop.db import database
    from onestop.services.procedures import Upload, upload_procedure
    from onestop.services.users import create_user, issue_token

    files = dict(FILES, **{"procedure.json": json.dumps({"code": "bench.approval",
                                                         "name": "Approval (onestop bench)"}).encode()})
    app = create_app({"home": home, "database_url": sqlite_database(home), "run_timer_thread": False,
                      "secret_key": secrets.token_urlsafe(32)})
    client = app.test_client()
    with app.app_context():
        database.connect(reuse_if_open=True)
        admin = create_user("bench.admin", ["admin", "officer", "leader"])
        try:
            upload_procedure(admin, [Upload(name, content) for name, content in files.items()])
        except Exception as exc:
            raise SystemExit(f"error: onestop refused the model: {getattr(exc, 'details', exc)}") from None
        token = issue_token(admin, label="bench/spiffarena.py")
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, path, body=None):
        reply = client.open(path, method=method, json=body, headers=headers)
        if reply.status_code >= 300:
            raise SystemExit(f"error: onestop {method} {path} answered {reply.status_code}: "
                             f"{reply.get_data(as_text=True)[:300]}")
        return reply.get_json()

    timings = Timings()
    for i in range(warmup + n):
        measured = i >= warmup
        t = timings if measured else Timings()
        cpu = time.thread_time()
        dossier = t.timed("create+run", lambda i=i: call("POST", "/api/v1/dossiers", {
            "procedure": "bench.approval", "data": {}, "applicant": {"name": f"Nguyễn Văn {i}"}}))
        code = dossier["code"]
        for form in forms(i):
            listed = t.timed("task list", lambda code=code: call("GET", f"/api/v1/tasks?dossier={code}"))
            task = listed["tasks"][0]
            t.timed("task fetch", lambda task=task: call("GET", f"/api/v1/tasks/{task['id']}"))
            t.timed("task submit", lambda task=task, form=form: call("POST", f"/api/v1/tasks/{task['id']}/complete",
                                                                      {"data": form}))
        if measured:
            timings.cpu_ms.append(1000 * (time.thread_time() - cpu))
        final = call("GET", f"/api/v1/dossiers/{code}")
        if final.get("state") != "completed":
            raise SystemExit(f"error: onestop dossier {code} ended {final.get('state')!r}, not completed")
    with app.app_context():
        if not database.is_closed():
            database.close()
    return timings


# --- SpiffArena ----------------------------------------------------------------------------------------------------


class SpiffArena:
    """A SpiffArena backend reached over HTTP."""

    def __init__(self, url: str, token: str | None, user: str, timeout: float = 60.0):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.token = token or self._token(user)
        self._sign_in()

    def _open(self, request):
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                body = reply.read()
                return reply.status, (json.loads(body) if body else None)
        except urllib.error.HTTPError as error:
            return error.code, error.read()[:300]

    def _token(self, user: str) -> str:
        """A token from the built-in OpenID server's development login (what SpiffArena's local setup uses)."""
        secret = os.environ.get("SPIFFARENA_CLIENT_SECRET", "JXeQExm0JhQPLumgHtIIqf52bDalHz0q")  # its public dev default
        basic = base64.b64encode(f"spiffworkflow-backend:{secret}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "authorization_code",
                                       "code": f"{user}:this_is_not_secure_do_not_use_in_production",
                                       "redirect_uri": f"{self.url}/v1.0/login_return"}).encode()
        status, body = self._open(urllib.request.Request(f"{self.url}/openid/token", data=form, method="POST",
                                                         headers={"Authorization": f"Basic {basic}"}))
        if status != 200 or not isinstance(body, dict):
            raise SystemExit(f"error: SpiffArena login at {self.url}/openid/token answered {status}: {body!r}; "
                             "give a token with --spiffarena-token")
        return body.get("id_token") or body.get("access_token")

    def _sign_in(self) -> None:
        """Sign the token's user in: SpiffArena creates its user row there, and refuses every other call of a
        user it has no row of ("invalid_user"), as on a fresh database. It reads the token from the
        Authorization header only (a form field is answered 401 "missing_token")."""
        status, body = self._open(urllib.request.Request(
            f"{self.url}/v1.0/login_with_access_token?authentication_identifier=default", data=b"", method="POST",
            headers={"Authorization": f"Bearer {self.token}"}))
        if status != 200:
            raise SystemExit(f"error: SpiffArena POST /v1.0/login_with_access_token answered {status}: {body!r}")

    def call(self, method, path, body=None, ok=(200, 201), raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            **({"Content-Type": content_type} if data is not None else {})})
        status, answer = self._open(request)
        if status not in ok:
            raise SystemExit(f"error: SpiffArena {method} {path} answered {status}: {answer!r}")
        return answer

    def upload(self):
        """The process group, the model and its files (idempotent: existing ones are kept, files replaced)."""
        self.call("POST", "/v1.0/process-groups", {"id": GROUP, "display_name": "onestop bench"},
                  ok=(200, 201, 400, 409, 500))
        model = f"{GROUP}:{MODEL}"
        self.call("POST", f"/v1.0/process-models/{GROUP}", {
            "id": f"{GROUP}/{MODEL}", "display_name": "Approval", "description": "onestop bench/spiffarena.py"},
            ok=(200, 201, 400, 409, 500))
        for name, content in FILES.items():
            boundary = uuid.uuid4().hex
            kind = "application/xml" if name.endswith(".bpmn") else "application/json"
            raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                   f"Content-Type: {kind}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
            self.call("POST", f"/v1.0/process-models/{model}/files", raw=raw,
                      content_type=f"multipart/form-data; boundary={boundary}", ok=(200, 201))
        self.call("PUT", f"/v1.0/process-models/{model}", {
            "display_name": "Approval", "description": "onestop bench/spiffarena.py",
            "primary_file_name": "approval.bpmn", "primary_process_id": PROCESS_ID})


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and of the children it reaped, plus its live children."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime

    total, stack, seen = 0.0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += own(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}/task").exists() else []:
            try:
                stack += [int(c) for c in task.read_text().split()]
            except (OSError, ValueError):
                pass
    return total


def run_spiffarena(arena: SpiffArena, n: int, warmup: int, pid: int | None) -> Timings:
    model = f"{GROUP}:{MODEL}"
    timings = Timings()
    for i in range(warmup + n):
        measured = i >= warmup
        t = timings if measured else Timings()
        cpu = _tree_cpu_s(pid) if pid else None

        def create():
            instance = arena.call("POST", f"/v1.0/process-instances/{model}")
            arena.call("POST", f"/v1.0/process-instance-run/{model}/{instance['id']}")
            return instance

        instance = t.timed("create+run", create)
        for form in forms(i):
            pi = instance["id"]
            listed = t.timed("task list", lambda pi=pi: arena.call("GET", f"/v1.0/tasks?process_instance_id={pi}"))
            rows = listed.get("results", listed) if isinstance(listed, dict) else listed
            guid = rows[0]["id"]
            t.timed("task fetch", lambda pi=pi, guid=guid: arena.call(
                "GET", f"/v1.0/tasks/{pi}/{guid}?with_form_data=true"))
            t.timed("task submit", lambda pi=pi, guid=guid, form=form: arena.call(
                "PUT", f"/v1.0/tasks/{pi}/{guid}?execution_mode=synchronous", form))
        if measured and cpu is not None:
            timings.cpu_ms.append(1000 * (_tree_cpu_s(pid) - cpu))
    return timings


# --- main --------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The same lifecycle on onestop and on SpiffArena's backend")
    parser.add_argument("--n", type=int, default=100, help="lifecycles measured on each side (default 100)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed lifecycles first (default 3)")
    parser.add_argument("--spiffarena-url", default=os.environ.get("ONESTOP_BENCH_SPIFFARENA_URL"),
                        help="SpiffArena backend's URL (default $ONESTOP_BENCH_SPIFFARENA_URL); none: onestop only")
    parser.add_argument("--spiffarena-token", default=os.environ.get("ONESTOP_BENCH_SPIFFARENA_TOKEN"))
    parser.add_argument("--spiffarena-user", default="admin")
    parser.add_argument("--spiffarena-pid", type=int, default=None,
                        help="the SpiffArena server's process id on this machine, to read its CPU time")
    args = parser.parse_args(argv)

    sides = {}
    with tempfile.TemporaryDirectory(prefix="onestop-spiffarena-") as home:
        sides["onestop"] = run_onestop(args.n, args.warmup, Path(home))
    if args.spiffarena_url:
        arena = SpiffArena(args.spiffarena_url, args.spiffarena_token, args.spiffarena_user)
        arena.upload()
        sides["SpiffArena"] = run_spiffarena(arena, args.n, args.warmup, args.spiffarena_pid)
    else:
        print("no SpiffArena server given (--spiffarena-url or ONESTOP_BENCH_SPIFFARENA_URL): onestop's side only; "
              "the lead over SpiffArena is not measured in this run")

    columns = ["side", "lifecycles", "create+run p50 ms", "task list p50 ms", "task fetch p50 ms",
               "task submit p50 ms", "lifecycle wall p50 ms", "server CPU ms per lifecycle"]
    rows = []
    for name, t in sides.items():
        lifecycle = [t.wall["create+run"][i] + sum(t.wall[k][2 * i] + t.wall[k][2 * i + 1]
                                                   for k in ("task list", "task fetch", "task submit"))
                     for i in range(len(t.wall["create+run"]))]
        rows.append([name, len(lifecycle)] + [round(statistics.median(t.wall[k]), 2) for k in t.wall]
                    + [round(statistics.median(lifecycle), 2),
                       round(statistics.median(t.cpu_ms), 2) if t.cpu_ms else None])
    width = max(len(c) for c in columns)
    print(f"{'':<{width}}  " + "  ".join(f"{r[0]:>12}" for r in rows))
    for k, column in enumerate(columns[1:], start=1):
        print(f"{column:<{width}}  " + "  ".join(f"{'-' if r[k] is None else r[k]:>12}" for r in rows))
    notes = ["onestop: REST API through Flask's test client in the bench's process, SQLite; CPU = that thread's "
             "per lifecycle (8 requests)"]
    if "SpiffArena" in sides:
        mine, theirs = rows[0][-1], rows[1][-1]
        if theirs:
            lead = theirs / mine
            verdict = "kept" if lead >= CLAIM else "NOT kept"
            line = (f"lead: SpiffArena's server spends {lead:.1f}x onestop's CPU per lifecycle; the claim of "
                    f"{CLAIM:.0f}-20x is {verdict}")
        elif theirs is None:
            line = "lead: not measured (give --spiffarena-pid to read SpiffArena's server CPU)"
        else:  # /proc counts CPU in clock ticks (10 ms): a few quick lifecycles can read as none
            line = "lead: not measured (SpiffArena's server used less CPU than /proc counts; run more lifecycles)"
        print(line)
        notes.append(line)
    else:
        notes.append("no SpiffArena server given: onestop's side only")
    bench_results.save("spiffarena", columns, rows, variant="with-spiffarena" if "SpiffArena" in sides else "onestop-only",
                       title="One lifecycle (8 requests) on onestop and on SpiffArena's backend",
                       sizes={"lifecycles": args.n, "warmup": args.warmup}, notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
