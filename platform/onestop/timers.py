"""The timer worker: fires due BPMN timers, hands merged centres' dossiers over on the merge's
date, sends due notifications and appends the audit trail's signed checkpoints; beside it, a thread
makes the pending connector calls and posts the due webhooks, and another sends the national
portal its status changes and reconciles (another system's slowness never holds up the timers).
In-process thread (embedded) or its own process."""

import logging
import threading
import time

from .db import database, release
from .services import audit, connector_runs, mergers, notify, payments, runtime, stats, webhooks
from .services.national_portal import sync as national_portal
from .services.timer_firing import fire_due_timers

log = logging.getLogger("onestop.timers")


def run_once() -> int:
    database.connect(reuse_if_open=True)
    try:
        moved = fire_due_timers()
        mergers.hand_over_due_now_and_then()  # before sending: the applicants hear of it this round
        notify.send_due()
        payments.reconcile_due_now_and_then()  # a lost notification, a refund due
        stats.fold_now_and_then()  # the kept figures' shards of past days, one row per key again
        return moved
    finally:
        release()  # PostgreSQL's back to the pool; SQLite's kept for the thread's next round


def checkpoint_audit() -> int:
    """Append the audit chains' signed checkpoints (those whose head moved) to the checkpoint file."""
    database.connect(reuse_if_open=True)
    try:
        return audit.checkpoint()
    finally:
        release()  # PostgreSQL's back to the pool; SQLite's kept for the thread's next round


def run_forever(poll_seconds: float, stop: threading.Event | None = None, checkpoint_seconds: float | None = None):
    """Poll for due timers until stop is set, and every checkpoint_seconds (if given: at start, then
    periodically, and once more when stopped) append the audit trail's checkpoints. Failures are
    logged and retried, never fatal."""
    stop = stop or threading.Event()
    _start_connector_thread(poll_seconds, stop)
    _start_portal_thread(poll_seconds, stop)
    next_checkpoint = time.monotonic() if checkpoint_seconds else None
    while not stop.is_set():
        try:
            while run_once() and not stop.is_set():
                pass
        except Exception:
            log.exception("timer round failed; retrying")
        if next_checkpoint is not None and time.monotonic() >= next_checkpoint:
            next_checkpoint = time.monotonic() + checkpoint_seconds
            _checkpoint_logged()
        stop.wait(poll_seconds)
    if checkpoint_seconds:
        _checkpoint_logged()  # the trail as this worker leaves it


def run_connector_calls() -> int:
    """Make the pending connector calls and post the due webhook deliveries (a round of the connector
    thread: the calls that wait on other systems)."""
    database.connect(reuse_if_open=True)
    try:
        made = connector_runs.run_due()
        return made + webhooks.send_due()
    finally:
        release()  # PostgreSQL's back to the pool; SQLite's kept for the thread's next round


def _start_connector_thread(poll_seconds: float, stop: threading.Event):
    acting_in = runtime.current()

    def run():
        with runtime.active(acting_in):
            while not stop.is_set():
                try:
                    while run_connector_calls() and not stop.is_set():
                        pass
                except Exception:
                    log.exception("connector round failed; retrying")
                stop.wait(poll_seconds)

    threading.Thread(target=run, name="onestop-connectors", daemon=True).start()


def run_portal_sync() -> int:
    """Send the status changes due to the national portal, and reconcile the centres due (a round
    of the portal thread); returns how many changes were sent."""
    database.connect(reuse_if_open=True)
    try:
        national_portal.reconcile_due()
        return national_portal.send_due()
    finally:
        release()  # PostgreSQL's back to the pool; SQLite's kept for the thread's next round


def _start_portal_thread(poll_seconds: float, stop: threading.Event):
    """The national portal's own thread: a portal that is down or slow never holds up the timers."""
    acting_in = runtime.current()

    def run():
        with runtime.active(acting_in):
            while not stop.is_set():
                try:
                    while run_portal_sync() and not stop.is_set():
                        pass
                except Exception:
                    log.exception("national portal round failed; retrying")
                stop.wait(poll_seconds)

    threading.Thread(target=run, name="onestop-national-portal", daemon=True).start()


def _checkpoint_logged():
    try:
        checkpoint_audit()
    except Exception:
        log.exception("audit checkpoint failed; retrying at the next one")


def start_thread(poll_seconds: float, checkpoint_seconds: float | None = None, in_runtime=None) -> threading.Event:
    """Run the timer loop in a daemon thread of this process, acting in the given runtime (an app's;
    None: the process's); returns its stop switch."""
    stop = threading.Event()

    def run():
        with runtime.active(in_runtime or runtime.current()):
            run_forever(poll_seconds, stop, checkpoint_seconds)

    thread = threading.Thread(target=run, name="onestop-timers", daemon=True)
    thread.start()
    return stop
