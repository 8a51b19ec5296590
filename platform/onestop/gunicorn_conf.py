"""gunicorn settings for production: `gunicorn -c python:onestop.gunicorn_conf 'onestop.app:create_app()'`.

Command-line options still apply on top (`-w`, `--threads`, `-b`). What start-up built (the app,
the parsed bundled models, the translations) is frozen out of the garbage collector's full passes,
as `onestop serve` does: otherwise a full collection pauses every thread of a process for ~100 ms,
which is longer than a health check may take.
"""

import gc
import os

from onestop.config import web_threads

worker_class = "gthread"
# By database, as `onestop serve` runs them (onestop.config.WEB_THREADS); ONESTOP_WEB_THREADS says otherwise.
threads = web_threads(os.environ.get("ONESTOP_DATABASE_URL") or "sqlite")


def on_starting(server):
    """Before the workers are forked: the web layer imported once in the master, shared by them all
    (each would import it again otherwise). The simulators, never mounted in production, are left
    to the workers that mount them. What the master holds then lives as long as it does: frozen out
    of the collector, whose last passes at the master's exit walked all of it (a stop took 2-3.9 s
    of wall on a busy machine, 0.9-1.9 s frozen), as `onestop serve` keeps its start-up."""
    if server.cfg.workers > 1:
        from onestop.app import import_modules

        import_modules()
    gc.freeze()


def post_worker_init(worker):
    gc.freeze()
