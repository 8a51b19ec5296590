"""The national portal connection under load (issue 21): the portal pushes DOSSIERS online dossiers
into a running onestop, officers move each through two steps, and the portal must receive every
status change (new, processing, resolved: 3 a dossier) exactly once and in order, although the
worker is killed with SIGKILL halfway through and started again.

The script starts `onestop serve` (gunicorn; the portal's simulator mounted in it under
/simulators/portal; its timer thread off) and a separate `onestop worker` (the timer loop, whose
portal thread sends the status changes) on an embedded SQLite database under a temp ONESTOP_HOME,
then:

* push: the simulator pushes DOSSIERS dossiers (signed), CONCURRENCY at a time;
* walk: CONCURRENCY officers' clients complete each dossier's two tasks through the API, while the
  worker sends; when half the status changes have reached the portal the worker is killed (SIGKILL)
  and another is started;
* drain: until the portal holds every change (or --timeout). The change the kill caught in mid-send
  is sent again once its claim's lease runs out: 15 s (2 × the 5 s timeout + 5 s, the product's
  rule) unless --lease says otherwise.

Printed: the throughput of each phase, the time from the first push to the last change held by the
portal, the CPU seconds of the server (its process tree, from /proc) and of the workers, per dossier,
/proc/pressure/cpu before and after, and the check: every dossier's changes held once, in order, and
how many copies the portal dropped (a change sent again after the kill caught it mid-send).

    .venv/bin/python bench/portal_sync.py [--dossiers 1000] [--concurrency 4]
    .venv/bin/python bench/portal_sync.py --dossiers 6 --concurrency 2 --lease 1   # CI size (tests/bench)
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package (urllib3 needs it) while bench/ is on sys.path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import urllib3  # noqa: E402

sys.path.insert(0, str(HERE.parent))
from bench.measure import free_port, pressure, pressure_line, stop_group, tree_cpu_seconds  # noqa: E402
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

ONESTOP = Path(sys.executable).parent / "onestop"
SECRET = "whsec_" + base64.b64encode(b"bench: the portal and onestop share").decode()
AGENCY = "000.00.07.H22"
EXPECTED = [1, 4, 9]  # new, processing, resolved
TIMEOUT = 5  # seconds the worker awaits the portal's answer
DEFAULT_LEASE = 2 * TIMEOUT + 5  # the product's claim of a change being sent (national_portal.options)
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_sync"
                  targetNamespace="http://onestop.bench">
  <bpmn:process id="portal_sync" name="Hồ sơ từ Cổng DVC quốc gia" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Receive" />
    <bpmn:userTask id="Receive" name="Tiếp nhận"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Receive" targetRef="Approve" />
    <bpmn:userTask id="Approve" name="Phê duyệt"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Approve" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""
http = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=10, read=600))


class Stack:
    def __init__(self, folder: Path, lease: float | None = None):
        self.folder, self.port = folder, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, ONESTOP_HOME=str(folder / "home"), ONESTOP_PORT=str(self.port),
                        ONESTOP_SIMULATORS="1", ONESTOP_TIMER_THREAD="0", ONESTOP_NATIONAL_PORTAL_SECRET=SECRET,
                        ONESTOP_NATIONAL_PORTAL_TIMEOUT=str(TIMEOUT), ONESTOP_NATIONAL_PORTAL_RECONCILE_SECONDS="600",
                        ONESTOP_NATIONAL_PORTAL_LEASE_SECONDS=str(lease or ""),
                        ONESTOP_TIMER_POLL_SECONDS="0.2", ONESTOP_AGENCY_CODE=AGENCY)
        self.server = self.worker = None
        self.worker_cpu = 0.0
        self.token = ""

    def start(self):
        sqlite_database(self.folder / "home")  # the server's database (its default, in its home)
        log = open(self.folder / "server.log", "wb")
        self.server = subprocess.Popen([str(ONESTOP), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((self.folder / "server.log").read_text()[-3000:]) from None
                time.sleep(0.05)
        self.token = [line.split(": ", 1)[1] for line in (self.folder / "home" / "admin-token.txt").read_text()
                      .splitlines() if line.startswith("api token")][0]

    def start_worker(self):
        log = open(self.folder / f"worker-{time.monotonic_ns()}.log", "wb")
        self.worker = subprocess.Popen([str(ONESTOP), "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)

    def kill_worker(self):
        self.worker_cpu += tree_cpu_seconds(self.worker.pid)
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait()

    def stop(self):
        # Our kept-alive connections closed first: gunicorn's workers, told to stop, wait up to 2 s for an idle one.
        http.clear()
        for process in (self.worker, self.server):
            if process is not None:
                stop_group(process, 30)

    def api(self, method, path, body=None, fields=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if fields is not None:
            reply = http.request(method, self.base + "/api/v1" + path, fields=fields, headers=headers)
        else:
            reply = http.request(method, self.base + "/api/v1" + path, body=json.dumps(body).encode() if body else None,
                                 headers=headers | {"Content-Type": "application/json"})
        return reply.status, json.loads(reply.data or b"null")

    def portal(self, path, body=None):
        url = self.base + "/simulators/portal" + path
        if body is None:
            return json.loads(http.request("GET", url).data)
        return json.loads(http.request("POST", url, body=json.dumps(body).encode(),
                                       headers={"Content-Type": "application/json"}).data)


def walk(stack: Stack, codes: list, concurrency: int, errors: list):
    pending, lock = list(codes), threading.Lock()

    def run():
        while True:
            with lock:
                if not pending:
                    return
                code = pending.pop()
            for _ in range(2):
                status, dossier = stack.api("GET", f"/dossiers/{code}")
                if status != 200 or len(dossier.get("tasks") or []) != 1:
                    errors.append((code, status))
                    break
                status, answer = stack.api("POST", f"/tasks/{dossier['tasks'][0]['id']}/complete", {"data": {}})
                if status != 200:
                    errors.append((code, status, answer))
                    break

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    return threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the portal to hold everything")
    parser.add_argument("--lease", type=float, default=None,
                        help="seconds a change being sent stays claimed (default: the product's, 2 × the timeout + 5 s); "
                             "one worker runs at a time here, so a lease shorter than a send is safe")
    args = parser.parse_args()
    n = args.dossiers
    with tempfile.TemporaryDirectory(prefix="portal-sync-") as folder:
        stack = Stack(Path(folder), args.lease)
        try:
            stack.start()
            status, answer = stack.api("POST", "/procedures", fields={"files": ("portal_sync.bpmn", MODEL.encode())})
            assert status == 201, answer
            stack.portal("/control/config", {"secret": SECRET})
            pressure_before, psi_before = pressure_line(), pressure()
            server_before = tree_cpu_seconds(stack.server.pid)
            started = time.monotonic()
            pushed = stack.portal("/control/push", {
                "target": stack.base + "/api/v1/national-portal/dossiers", "procedure_code": "portal_sync",
                "agency_code": AGENCY, "count": n, "prefix": "DVC", "concurrency": args.concurrency})["results"]
            push_seconds = time.monotonic() - started
            refused = {p: a for p, a in pushed.items() if a[0]["status"] != 201}
            assert not refused, list(refused.items())[:3]
            codes = [a[0]["answer"]["dossier_code"] for a in pushed.values()]
            stack.start_worker()
            walk_started, errors = time.monotonic(), []
            threads = walk(stack, codes, args.concurrency, errors)
            killed_at = None
            while killed_at is None:
                delivered = stack.portal("/control/state")["deliveries"]
                if delivered >= 3 * n // 2:
                    stack.kill_worker()
                    killed_at = delivered
                    stack.start_worker()
                elif time.monotonic() - started > args.timeout:
                    raise SystemExit("the worker never got halfway")
                else:
                    time.sleep(0.05)
            for thread in threads:
                thread.join()
            walk_seconds = time.monotonic() - walk_started
            assert not errors, errors[:3]
            while True:
                state = stack.portal("/control/state")
                held = state["dossiers"]
                if sum(len(v) for v in held.values()) >= 3 * n or time.monotonic() - started > args.timeout:
                    break
                time.sleep(0.2)
            total_seconds = time.monotonic() - started
            server_cpu = tree_cpu_seconds(stack.server.pid) - server_before
            worker_cpu = stack.worker_cpu + tree_cpu_seconds(stack.worker.pid)
            psi_after = pressure()
        finally:
            stack.stop()
        wrong = [p for p in pushed if [s["code"] for s in held.get(p, [])] != EXPECTED
                 or [s["seq"] for s in held.get(p, [])] != [1, 2, 3]]
        print(f"national portal sync: {n} dossiers, {3 * n} status changes, concurrency {args.concurrency}, SQLite")
        print(f"  push      {n / push_seconds:9.1f} dossiers/s   ({push_seconds:.1f} s)")
        print(f"  walk      {2 * n / walk_seconds:9.1f} tasks/s      ({walk_seconds:.1f} s, worker killed at "
              f"{killed_at} of {3 * n} changes held)")
        print(f"  end to end{3 * n / total_seconds:9.1f} changes/s    ({total_seconds:.1f} s from the first push to "
              f"the last change held)")
        print(f"  server CPU {server_cpu:8.1f} s   ({1000 * server_cpu / n:.1f} ms a dossier)")
        print(f"  worker CPU {worker_cpu:8.1f} s   ({1000 * worker_cpu / n:.1f} ms a dossier, both workers)")
        if psi_before is not None and psi_after is not None:
            print(f"  /proc/pressure/cpu: {(psi_after - psi_before) / 1e6:.1f} s waited for a CPU during the run")
        print(f"  /proc/pressure/cpu before: {pressure_before}")
        print(f"  /proc/pressure/cpu after:  {pressure_line()}")
        print(f"  deliveries {state['deliveries']}, copies dropped by the portal {state['duplicates']}")
        mark = "✓" if not wrong and state["deliveries"] - state["duplicates"] == 3 * n else "✗"
        print(f"{mark} every status change held exactly once and in order: {3 * n - 3 * len(wrong)} of {3 * n}")
        bench_results.save(
            "portal_sync", ["measure", "value"],
            [["pushed, dossiers/s", round(n / push_seconds, 1)], ["officers' steps, tasks/s", round(2 * n / walk_seconds, 1)],
             ["end to end, status changes/s", round(3 * n / total_seconds, 1)],
             ["server CPU per dossier, ms", round(1000 * server_cpu / n, 1)],
             ["worker CPU per dossier, ms", round(1000 * worker_cpu / n, 1)],
             ["status changes held once and in order", f"{3 * n - 3 * len(wrong)} of {3 * n}"],
             ["copies the portal dropped", state["duplicates"]]],
            title=f"The national portal's sync: {n} dossiers pushed, the worker killed halfway (SQLite)",
            sizes={"dossiers": n, "concurrency": args.concurrency},
            notes=[f"the worker was killed (SIGKILL) when {killed_at} of {3 * n} changes were held",
                   f"a change being sent stayed claimed for {args.lease or DEFAULT_LEASE:g} s"])
        if mark != "✓":
            sys.exit(1)


if __name__ == "__main__":
    main()
