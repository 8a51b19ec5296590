"""The counter floor under a simulated morning: tickets issued through the day, counters calling
them, a hall screen and the citizens' phones polling the real server.

The script prepares a centre (open all day, 3 service groups, N counters with an officer each) in
an embedded database under a temp ONESTOP_HOME, starts `onestop serve` on it (gunicorn, as in
production), and then:

* baseline: for a few seconds only polls, nothing called: GET /healthz (the floor of the HTTP
  stack), the screen's poll answered 304 (the empty poll: nothing changed), the same poll without
  If-None-Match (200, the last calls read);
* morning: TICKETS tickets issued at an even pace over the first 70% of SECONDS; COUNTERS threads,
  one per counter, call the next ticket, serve it for a random time around the mean a counter
  needs to get through the morning, and call the next; one hall screen polls every 0.5 s (as the
  page does) and PHONES phones poll their ticket every 4 s.

Calls and tickets are made through the services in this process, against the same database (the
server's SQLite file; writers queue across processes on its lock), so the time from a call's
commit to the moment the screen's poll first shows it is measured on one clock. Printed: that
latency (p50, p90, max; target under 1 s), the server's CPU per request of each kind (from
/proc/PID/stat over each phase), the CPU this process spent per call, and /proc/pressure/cpu
before and after.

    .venv/bin/python bench/ticket_queue.py [--tickets 200] [--counters 6] [--seconds 60] [--phones 50]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.measure import free_port, pressure_line, tree_cpu_seconds  # noqa: E402
from bench.pgserver import sqlite_database  # noqa: E402

from bench import results as bench_results  # noqa: E402  (bench/results.py: the run's record)

SCREEN_POLL = 0.5
PHONE_POLL = 4.0


def prepare(home: Path, counters: int):
    """The centre, open all day today, with its groups, counters and officers; returns the app."""
    from onestop.app import create_app
    from onestop.models import local_today
    from onestop.services import deadlines, queue
    from onestop.services.users import create_user

    sqlite_database(home)  # the server's database (its default, in its home): made here
    app = create_app({"home": home, "run_timer_thread": False})
    with app.app_context():
        admin = create_user("bench.admin", ["admin"])
        deadlines.set_office_hours(admin, [("00:00", "23:59")], None)
        deadlines.set_day(admin, local_today(), True, "bench")
        groups = [queue.save_group(admin, letter, name) for letter, name in
                  (("A", "Hộ tịch"), ("B", "Đất đai"), ("C", "Chứng thực"))]
        officers = []
        for n in range(1, counters + 1):
            served = [g.id for g in groups] if n % 2 else [groups[n % 3].id]
            counter = queue.save_counter(admin, str(n), f"Quầy {n}", served)
            officer = create_user(f"bench.quay{n}", ["officer"])
            queue.open_counter(officer, counter.id)
            officers.append((officer, counter.id))
    return app, [g.id for g in groups], officers


@contextlib.contextmanager
def serve(home: Path):
    port = free_port()
    env = dict(os.environ, ONESTOP_HOME=str(home), ONESTOP_PORT=str(port), ONESTOP_DATABASE_URL="",
               ONESTOP_WEB_WORKERS="1")
    log = open(home / "server.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([str(Path(sys.executable).parent / "onestop"), "serve"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "server.log").read_text()[-3000:]) from None
                time.sleep(0.05)
        yield port, process.pid
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
        log.close()


class Poller(threading.Thread):
    """A client polling one address every `every` seconds with If-None-Match, as the pages do."""

    def __init__(self, port, path, every, stop, conditional=True, seen=None):
        super().__init__(daemon=True)
        self.port, self.path, self.every, self.stop, self.conditional = port, path, every, stop, conditional
        self.seen = seen  # for the screen: [(monotonic time, {(ticket id, calls)})] of each changed answer
        self.counts = {200: 0, 304: 0}
        self.errors = 0

    def _get(self, connection, etag):
        connection.request("GET", self.path, headers={"If-None-Match": etag} if etag and self.conditional else {})
        reply = connection.getresponse()
        return reply, reply.read()

    def run(self):
        connection, etag = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10), None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                try:
                    reply, body = self._get(connection, etag)
                except (OSError, http.client.HTTPException):
                    # The server closes a keep-alive connection idle for longer than its keep-alive
                    # (2 s): a phone polling every 4 s reconnects, as a browser does.
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    reply, body = self._get(connection, etag)
                self.counts[reply.status] = self.counts.get(reply.status, 0) + 1
                if reply.status == 200:
                    etag = reply.getheader("ETag")
                    if self.seen is not None:
                        self.seen.append((time.monotonic(), {(c["id"], c["calls"]) for c in json.loads(body)["calls"]}))
                elif reply.status != 304:
                    self.errors += 1
            except (OSError, http.client.HTTPException, ValueError):
                self.errors += 1
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.stop.wait(max(self.every - (time.monotonic() - started), 0))
        # Closed, not left to the collector: gunicorn's workers, told to stop, wait up to 2 s for an idle connection.
        connection.close()


def baseline(port, pid, seconds) -> list:
    """Server CPU per request of each kind, each polled flat out by one client for `seconds`."""
    rows = []
    for name, path, conditional in (("GET /healthz (the HTTP stack's floor)", "/healthz", False),
                                    ("screen poll, nothing called (304)", "/queue/default/screen.json", True),
                                    ("screen poll without ETag (200)", "/queue/default/screen.json", False)):
        stop = threading.Event()
        poller = Poller(port, path, 0, stop, conditional)
        before = tree_cpu_seconds(pid)
        poller.start()
        time.sleep(seconds)
        stop.set()
        poller.join()
        requests = sum(poller.counts.values())
        rows.append((name, requests, (tree_cpu_seconds(pid) - before) / max(requests, 1) * 1000, poller.errors))
    return rows


def morning(app, port, groups, officers, tickets, seconds, phones) -> dict:
    from onestop.services import queue

    stop, seen, calls, lock = threading.Event(), [], [], threading.Lock()
    screen = Poller(port, "/queue/default/screen.json", SCREEN_POLL, stop, seen=seen)
    screen.start()
    issued, phone_pollers = [], []
    service_mean = seconds * len(officers) / max(tickets, 1) * 0.8

    def issue():
        with app.app_context():
            for n in range(tickets):
                ticket = queue.issue("default", random.choice(groups), "kiosk", "elderly" if n % 10 == 0 else None)
                issued.append(ticket)
                if len(phone_pollers) < phones:
                    poller = Poller(port, f"/queue/default/ticket/{ticket.token}.json", PHONE_POLL, stop)
                    poller.start()
                    phone_pollers.append(poller)
                time.sleep(seconds * 0.7 / tickets)

    def counter(officer, counter_id):
        with app.app_context():
            while not stop.is_set():
                cpu = time.thread_time()
                ticket = queue.call_next(officer, counter_id)
                committed, cpu = time.monotonic(), time.thread_time() - cpu
                if ticket is None:
                    if len(issued) >= tickets:
                        return
                    stop.wait(0.2)
                    continue
                with lock:
                    calls.append((ticket.id, ticket.calls, committed, cpu))
                queue.serve(officer, counter_id)
                stop.wait(random.uniform(0.2, 1.8) * service_mean)

    before = tree_cpu_seconds(app.extensions["bench.pid"])
    threads = [threading.Thread(target=issue)] + [threading.Thread(target=counter, args=o) for o in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds * 3)
    # The last calls reach the screen at its next poll or the one after: wait for them to be seen (or for two polls,
    # after which one not seen counts as missed), not for two polls whatever happens.
    deadline = time.monotonic() + SCREEN_POLL * 2
    while time.monotonic() < deadline and not all(
            any(at >= committed and (ticket_id, count) in found for at, found in list(seen))
            for ticket_id, count, committed, _cpu in list(calls)):
        time.sleep(0.02)
    stop.set()
    cpu = tree_cpu_seconds(app.extensions["bench.pid"]) - before
    for poller in [screen, *phone_pollers]:
        poller.join()
    latencies = []
    for ticket_id, count, committed, _cpu in calls:
        shown = next((at for at, found in seen if at >= committed and (ticket_id, count) in found), None)
        if shown is not None:
            latencies.append(shown - committed)
    polls = sum(screen.counts.values()) + sum(sum(p.counts.values()) for p in phone_pollers)
    return {"calls": len(calls), "issued": len(issued), "latencies": latencies, "missed": len(calls) - len(latencies),
            "polls": polls, "server_cpu_ms_per_poll": cpu / max(polls, 1) * 1000,
            "call_cpu_ms": statistics.mean(c[3] for c in calls) * 1000 if calls else 0.0,
            "errors": screen.errors + sum(p.errors for p in phone_pollers), "phones": len(phone_pollers),
            "not_modified": screen.counts.get(304, 0) + sum(p.counts.get(304, 0) for p in phone_pollers)}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--counters", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=60.0, help="the simulated morning's length")
    parser.add_argument("--phones", type=int, default=50, help="tickets whose phone polls the ticket page")
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(f"/proc/pressure/cpu before: {pressure_line()}")
    with tempfile.TemporaryDirectory(prefix="onestop-queue-") as folder:
        home = Path(folder) / "home"
        app, groups, officers = prepare(home, args.counters)
        with serve(home) as (port, pid):
            app.extensions["bench.pid"] = pid
            print(f"{'baseline (one client, flat out)':<44}{'requests':>10}{'server cpu ms/req':>20}{'errors':>8}")
            floor = list(baseline(port, pid, args.baseline_seconds))
            for name, requests, cpu, errors in floor:
                print(f"{name:<44}{requests:>10}{cpu:>20.3f}{errors:>8}")
            result = morning(app, port, groups, officers, args.tickets, args.seconds, args.phones)
    lat = result["latencies"]
    print(f"morning: {result['issued']} tickets, {result['calls']} calls at {args.counters} counters in "
          f"{args.seconds:g} s; {result['phones']} phones polling every {PHONE_POLL:g} s, the screen every {SCREEN_POLL:g} s")
    print(f"call -> screen latency ms: p50 {percentile(lat, 0.5) * 1000:.0f}  p90 {percentile(lat, 0.9) * 1000:.0f}  "
          f"max {max(lat, default=float('nan')) * 1000:.0f}  (calls seen {len(lat)}, missed {result['missed']}); "
          f"under 1 s: {'yes' if lat and max(lat) < 1.0 and not result['missed'] else 'NO'}")
    print(f"polls: {result['polls']} ({result['not_modified']} answered 304), server cpu ms per poll (all its cpu in the morning) "
          f"{result['server_cpu_ms_per_poll']:.3f}, errors {result['errors']}")
    print(f"call (this process, services): cpu ms/call {result['call_cpu_ms']:.3f}")
    print(f"/proc/pressure/cpu after:  {pressure_line()}")
    bench_results.save(
        "ticket_queue", ["case", "requests", "server cpu ms/request", "errors"],
        [[name, requests, round(cpu, 3), errors] for name, requests, cpu, errors in floor]
        + [["morning: screen polls (server cpu per poll)", result["polls"], round(result["server_cpu_ms_per_poll"], 3),
            result["errors"]]],
        title="The counter floor under a simulated morning",
        sizes={"tickets": args.tickets, "counters": args.counters, "seconds": args.seconds, "phones": args.phones},
        notes=[f"call -> screen latency: p50 {percentile(lat, 0.5) * 1000:.0f} ms, p90 {percentile(lat, 0.9) * 1000:.0f}"
               f" ms, max {max(lat, default=float('nan')) * 1000:.0f} ms (calls seen {len(lat)}, missed "
               f"{result['missed']}); target under 1 s",
               f"a call costs {result['call_cpu_ms']:.3f} ms of CPU in the services"])
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
