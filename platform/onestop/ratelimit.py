"""Counting attempts per key in a time window: in the process (embedded setup) or in Redis
(production, shared by every web process). Used to slow down guessing, e.g. of lookup keys."""

import threading
import time
from collections import deque


class MemoryLimiter:
    """Sliding windows kept in this process (each gunicorn worker keeps its own)."""

    def __init__(self, max_keys=100_000):
        self._hits: dict = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def hit(self, key: str, limit: int, window: float, count: bool = True) -> bool:
        """Count one attempt (or only look, with count=False); False if the key has had `limit`
        attempts in the last `window` seconds."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self._max_keys:  # forget the oldest keys rather than grow without bound
                    for old in list(self._hits)[: self._max_keys // 10]:
                        del self._hits[old]
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            if count:
                hits.append(now)
            return True


class RedisLimiter:
    """Fixed windows in Redis: one counter per key and window, expiring with it."""

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2)

    def hit(self, key: str, limit: int, window: float, count: bool = True) -> bool:
        bucket = f"onestop:limit:{key}:{int(time.time() // window)}"
        if not count:
            return int(self._redis.get(bucket) or 0) < limit
        pipe = self._redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, int(window) + 1)
        count, _ = pipe.execute()
        return count <= limit


_limiter = MemoryLimiter()


def bind(redis_url: str | None):
    global _limiter
    _limiter = RedisLimiter(redis_url) if redis_url else MemoryLimiter()


def allow(key: str, limit: int, window: float, count: bool = True) -> bool:
    """Whether one more attempt is allowed for the key (counting it, unless count=False)."""
    return _limiter.hit(key, limit, window, count)
