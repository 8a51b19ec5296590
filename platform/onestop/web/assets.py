"""The static files' addresses carry their content's version, and browsers keep what such an address
answers.

`url_for("static", filename=...)` (and a blueprint's `<name>.static`, flask-admin's included) adds
`?v=<16 hex digits of the file's SHA-256>`; an answer to an address whose `v` is the file's own version
says `Cache-Control: public, max-age=<a year>`. A page's
style sheets and scripts (the modeller's bpmn-js, the form builder's form-js) then come from the
browser's cache on every next page instead of being asked for again: with Flask's default (`no-cache`)
each page load revalidated each of them, one request and one 304 answer apiece, some five per page.
A new release's file has another version, so another address. An address without `v`, or with a `v`
that is not the file's (a page cached before a release, or a file written by hand), is answered as
Flask always did: `no-cache`, revalidated with its ETag.
"""

import functools
import hashlib
import os
import stat

from flask import request
from werkzeug.security import safe_join

YEAR = 365 * 86400


@functools.lru_cache(maxsize=1024)
def _digest(path: str, _mtime_ns: int, _size: int) -> str:
    # Keyed by the file's modification time and size too: a file changed on disk (a checkout being
    # worked on) gets its new version without a restart.
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()[:16]


def version(folder: str, filename: str) -> str | None:
    """The version of the static file `filename` under `folder` (16 hex digits of its content's
    SHA-256), or None when there is no such regular file there (or the name leaves the folder)."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return _digest(path, found.st_mtime_ns, found.st_size)


def _folder(app, endpoint: str) -> str | None:
    """The folder a static endpoint serves: the app's (`static`) or a blueprint's (`<name>.static`,
    flask-admin's own among them)."""
    if endpoint == "static":
        return app.static_folder
    if endpoint.endswith(".static"):
        blueprint = app.blueprints.get(endpoint[: -len(".static")])
        return blueprint.static_folder if blueprint is not None else None
    return None


def init_app(app):
    @app.url_defaults
    def _versioned(endpoint, values):
        # Any `v` a template gave (flask-admin writes its libraries' version numbers) gives way to the
        # content's: the address changes exactly when the file does.
        folder = _folder(app, endpoint)
        if folder:
            found = version(folder, values.get("filename") or "")
            if found:
                values["v"] = found

    @app.after_request
    def _kept(response):
        req = request._get_current_object()  # (once: each look-up through the proxy costs ~1 us)
        folder = _folder(app, req.endpoint or "")
        asked = folder and req.args.get("v")  # (only a static file's query is read)
        if asked and response.status_code in (200, 304) and \
                asked == version(folder, (req.view_args or {}).get("filename") or ""):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
        return response
