"""A per-key sliding-window rate limit (job creation per token), kept in process memory.

Per API process: with N API processes a token may create up to N times the limit. Good enough
to stop a runaway client; a shared limit would live in Redis.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from api.errors import AppError, ErrorCode


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window_s = 60.0
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Count one hit for `key`, or raise a 429 `rate_limited` with Retry-After."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.per_minute:
                retry = max(1, math.ceil(hits[0] + self.window_s - now))
                raise AppError(
                    ErrorCode.rate_limited,
                    f"at most {self.per_minute} jobs per minute per token; retry in {retry} s",
                    headers={"Retry-After": str(retry)},
                )
            hits.append(now)
