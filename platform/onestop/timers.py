"""The timer worker: fires due BPMN timers and sends due notifications. In-process thread
(embedded) or its own process."""

import logging
import threading

from .db import database
from .services import notify
from .services.dossiers import fire_due_timers

log = logging.getLogger("onestop.timers")


def run_once() -> int:
    database.connect(reuse_if_open=True)
    try:
        moved = fire_due_timers()
        notify.send_due()
        return moved
    finally:
        database.close()


def run_forever(poll_seconds: float, stop: threading.Event | None = None):
    """Poll for due timers until stop is set. Failures are logged and retried, never fatal."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            while run_once() and not stop.is_set():
                pass
        except Exception:
            log.exception("timer round failed; retrying")
        stop.wait(poll_seconds)


def start_thread(poll_seconds: float) -> threading.Event:
    """Run the timer loop in a daemon thread of this process; returns its stop switch."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(poll_seconds, stop), name="onestop-timers", daemon=True)
    thread.start()
    return stop
