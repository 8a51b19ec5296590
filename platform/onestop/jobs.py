"""The worker's queue and schedule on Redis (huey), for production.

Web processes schedule a `fire_timers` job for the moment a dossier's next timer is due;
`onestop worker` processes consume them (on this machine or others). A periodic job sweeps the
database every minute for due timers whose job was lost (Redis restarted without persistence,
a scheduling failure), so a timer fires even then. Firing is guarded by the dossier's serial,
so a timer fires once however many jobs and workers race for it. Another, every minute, hands
merged centres' open dossiers over to their successors once the merge's date has come. A
`connector_calls` job, put on the queue after a step that leaves connector calls pending, makes them
(and a sweep every minute makes those whose job was lost). Every minute, the status changes due to the
national portal are sent and the centres due a reconciliation with it are reconciled.
"""

import logging
import time
from datetime import timedelta

from huey import RedisHuey, crontab

from .db import database
from .services import audit, connector_runs, mergers, notify, payments, stats, timer_firing, webhooks
from .services.national_portal import sync as national_portal

log = logging.getLogger("onestop.jobs")


def _with_connection(fn):
    def run(*args):
        database.connect(reuse_if_open=True)
        try:
            return fn(*args)
        finally:
            database.close()

    run.__name__ = fn.__name__
    return run


def _every_minute(huey: RedisHuey, name: str, work, done: str) -> None:
    """Register the periodic job `name`: work() every minute, on its own connection, logging `done`
    with the count work() returns when it did something."""
    def job():
        count = work()
        if count:
            log.info(done, count)

    job.__name__ = name
    huey.periodic_task(crontab(minute="*"), name=name)(_with_connection(job))


def build(redis_url: str, checkpoint_seconds: float | None = None) -> RedisHuey:
    """The huey instance with onestop's jobs registered on it (with checkpoint_seconds, the audit
    trail's checkpoints too, rounded to whole minutes)."""
    huey = RedisHuey("onestop", url=redis_url, results=False, utc=True)

    if checkpoint_seconds:
        minutes = max(1, min(59, round(checkpoint_seconds / 60)))

        @huey.periodic_task(crontab(minute=f"*/{minutes}"), name="audit_checkpoint")
        @_with_connection
        def audit_checkpoint():
            audit.checkpoint()

    @huey.task(retries=3, retry_delay=2, name="fire_timers")
    @_with_connection
    def fire_timers(dossier_id):
        timer_firing.fire_timers_of(dossier_id)

    _every_minute(huey, "sweep_timers", lambda: timer_firing.fire_due_timers(limit=1000),
                  "sweep fired the timers of %d dossier(s)")
    _every_minute(huey, "hand_over_merged", mergers.hand_over_due,
                  "handed %d dossier(s) of merged centres over to their successors")
    _every_minute(huey, "send_notifications", lambda: notify.send_due(limit=1000), "sent %d notification(s)")
    _every_minute(huey, "send_webhooks", lambda: webhooks.send_due(limit=1000), "delivered %d webhook(s)")

    @huey.task(name="connector_calls")
    @_with_connection
    def connector_calls():
        connector_runs.run_due()

    _every_minute(huey, "sweep_connector_calls", lambda: connector_runs.run_due(limit=1000),
                  "sweep made %d connector call(s)")
    _every_minute(huey, "reconcile_payments", lambda: payments.reconcile_due(limit=1000),
                  "asked the payment gateway about %d payment(s)")

    @huey.periodic_task(crontab(minute="17"), name="fold_figures")
    @_with_connection
    def fold_figures():  # the kept figures' shards of past days, one row per key again (stats.counters.fold)
        folded = stats.fold()
        if folded:
            log.info("folded %d row(s) of the kept figures", folded)

    @huey.periodic_task(crontab(minute="*"), name="national_portal_sync")
    @_with_connection
    def national_portal_sync():
        # Drains what is due (each dossier's changes go in order, one round each), for most of a minute.
        sent, started = 0, time.monotonic()
        while time.monotonic() - started < 50:
            national_portal.reconcile_due()
            done = national_portal.send_due(limit=500)
            sent += done
            if not done:
                break
        if sent:
            log.info("sent %d status change(s) to the national portal", sent)

    huey.onestop_fire_timers = fire_timers
    huey.onestop_connector_calls = connector_calls
    huey.onestop_national_portal_sync = national_portal_sync
    return huey


# A job for a timer runs a moment after it is due, never before (clocks of machines differ a little).
_MARGIN = timedelta(milliseconds=200)


def scheduler(huey: RedisHuey):
    """A runtime's scheduler (services.schedule calls it): puts a timer's job on this queue."""
    return lambda dossier_id, due_at: huey.onestop_fire_timers.schedule((dossier_id,), eta=due_at + _MARGIN)


def run_consumer(huey: RedisHuey, workers: int = 4):
    """Consume jobs until stopped (SIGINT or SIGTERM); checks the schedule every second."""
    consumer = huey.create_consumer(workers=workers, worker_type="thread", scheduler_interval=1, periodic=True)
    consumer.run()
