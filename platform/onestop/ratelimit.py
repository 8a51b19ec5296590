"""Counting what strangers try, per key, in moving windows: kept in the process (embedded setup)
or in Redis (production, shared by every web process), by the `limits` library (the engine of
Flask-Limiter).

Flask-Limiter's decorators count requests before the view runs; every limit here counts an
outcome instead (a wrong lookup key, a wrong password, a dossier created) under several keys at
once, and some must never refuse the right answer. So the web layer names its limits with `Limit`
and counts where the outcome is known; this module only holds the storage they share.
"""

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

_PREFIX = "onestop"
_strategy = MovingWindowRateLimiter(storage_from_string("memory://"))


def bind(redis_url: str | None):
    """Count in Redis (shared by every process) when a URL is given, else in this process. Starts afresh."""
    global _strategy
    _strategy = MovingWindowRateLimiter(storage_from_string(redis_url) if redis_url else storage_from_string("memory://"))


class Limit:
    """A named rate, e.g. Limit("key-miss", "20 per hour"); keys are the rest of the identifiers."""

    def __init__(self, name: str, rate: str):
        self.name = name
        self.rate = parse(rate)

    def hit(self, *key) -> bool:
        """Count one; False (and not counted) if the key has used up its rate."""
        return _strategy.hit(self.rate, _PREFIX, self.name, *map(str, key))

    def exceeded(self, *key) -> bool:
        """Whether the key has used up its rate (counts nothing)."""
        return not _strategy.test(self.rate, _PREFIX, self.name, *map(str, key))

    def retry_after(self, *key) -> int:
        """Whole seconds until the key may try again (at least 1)."""
        reset = _strategy.get_window_stats(self.rate, _PREFIX, self.name, *map(str, key)).reset_time
        return max(1, math.ceil(reset - time.time()))

    def clear(self, *key):
        """Forget what the key has used (e.g. after a success)."""
        _strategy.clear(self.rate, _PREFIX, self.name, *map(str, key))
