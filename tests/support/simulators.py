"""Run a WSGI application (a simulator of an outside system, onestop.simulators) as a real HTTP
server on 127.0.0.1 in a thread, for the length of a test: the adapters under test reach it over
the network exactly as they would reach the real system."""

from __future__ import annotations

import contextlib
import threading

from werkzeug.serving import make_server

# How often a serving thread looks up to see whether it was told to stop. `shutdown()` waits for the
# thread's next look, and socketserver's default (0.5 s) made leaving every `serving` block cost half a
# second (one or two blocks in a few hundred tests); a look costs a few microseconds.
POLL_SECONDS = 0.01


@contextlib.contextmanager
def serving(app):
    """Serve `app` on a free port of 127.0.0.1; yields its base URL (no trailing slash)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), name="simulator", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
