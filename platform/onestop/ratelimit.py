"""Counting what strangers try, per key, in moving windows: kept in the process (embedded setup)
or in Redis (production, shared by every web process), by the `limits` library (the engine of
Flask-Limiter).

Flask-Limiter's decorators count requests before the view runs; every limit here counts an
outcome instead (a wrong lookup key, a wrong password, a dossier created) under several keys at
once, and some must never refuse the right answer. So the web layer names its limits with `Limit`
and counts where the outcome is known, in the Limiter its runtime holds.
"""

import math
import time
from functools import cached_property

_PREFIX = "onestop"


class Limit:
    """A named rate, e.g. Limit("key-miss", "20 per hour"); keys are the rest of the identifiers.
    A declaration only: the counts are a Limiter's."""

    def __init__(self, name: str, rate: str):
        self.name = name
        self.rate = _parse(rate)


class Limiter:
    """The counts of every Limit: in Redis (shared by every process) when a URL is given, else in
    this object. A runtime holds one (assemble.build_runtime); a new one starts afresh."""

    def __init__(self, redis_url: str | None = None):
        self._url = redis_url or "memory://"

    @cached_property
    def _strategy(self):
        # Made on first use, and `limits` imported then: a command of the CLI, a worker, counts nothing
        # and need not load it (a tenth of a second of every start).
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        return MovingWindowRateLimiter(storage_from_string(self._url))

    def hit(self, limit: Limit, *key) -> bool:
        """Count one; False (and not counted) if the key has used up its rate."""
        return self._strategy.hit(limit.rate, _PREFIX, limit.name, *map(str, key))

    def exceeded(self, limit: Limit, *key) -> bool:
        """Whether the key has used up its rate (counts nothing)."""
        return not self._strategy.test(limit.rate, _PREFIX, limit.name, *map(str, key))

    def retry_after(self, limit: Limit, *key) -> int:
        """Whole seconds until the key may try again (at least 1)."""
        reset = self._strategy.get_window_stats(limit.rate, _PREFIX, limit.name, *map(str, key)).reset_time
        return max(1, math.ceil(reset - time.time()))

    def clear(self, limit: Limit, *key):
        """Forget what the key has used (e.g. after a success)."""
        self._strategy.clear(limit.rate, _PREFIX, limit.name, *map(str, key))


def _parse(rate: str):
    from limits import parse

    return parse(rate)
