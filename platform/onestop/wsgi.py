"""The app as a WSGI servers' target: `granian --interface wsgi onestop.wsgi:app` (or `gunicorn onestop.wsgi:app`).

Built from the environment's settings when a worker imports this module, and, as
gunicorn_conf.py and `onestop serve` do, what start-up built (the app, the parsed bundled models,
the translations) is frozen out of the garbage collector's full passes: otherwise a full collection
pauses every thread of the process for ~100 ms.
"""

import gc

from .app import create_app

app = create_app()
gc.freeze()
