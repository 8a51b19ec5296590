"""What is worked out from a form once, kept per form object.

A form's schema and UI schema are built once per procedure version (they live with its cached model)
and read at every submission: a validator compiled from them, or a walk of their fields, is kept by the
objects' identity, so it is never worked out twice for the same objects and never confused with another
form's (an entry keeps its objects alive, so their ids are not reused while it is kept).
"""

from __future__ import annotations

import functools
import threading

from cachetools import LRUCache


def per_form_object(maxsize: int):
    """Decorate `function(*objects)` so that its answer is kept per identity of its arguments (the least
    recently used dropped beyond `maxsize`). The objects must not be changed after the first call."""

    def decorate(function):
        kept: LRUCache = LRUCache(maxsize)
        lock = threading.Lock()  # cachetools' caches are not safe across the web server's threads

        @functools.wraps(function)
        def remembered(*objects):
            key = tuple(map(id, objects))
            with lock:
                entry = kept.get(key)
            if entry is None or any(a is not b for a, b in zip(entry[0], objects, strict=True)):
                entry = (objects, function(*objects))
                with lock:
                    kept[key] = entry
            return entry[1]

        remembered.kept = kept
        return remembered

    return decorate
