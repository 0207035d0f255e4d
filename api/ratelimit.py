"""Job creation per token: a sliding one-minute window, kept by the `limits` library.

With Redis (REDIS_URL, else a redis:// broker) the window lives there, so every API replica
counts against one limit. The embedded mode (no Redis) keeps it in process memory, which is
all there is: one API process.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from api.errors import AppError, ErrorCode
from api.notify import redis_url_of
from api.settings import Settings

log = logging.getLogger("trainyard.ratelimit")

KEY_PREFIX = "trainyard:ratelimit"


class RateLimiter:
    """`check(key)` counts one job creation for `key`, or answers 429 `rate_limited`."""

    def __init__(self, per_minute: int, storage: Storage | None = None) -> None:
        self.per_minute = per_minute
        self.item: RateLimitItem = RateLimitItemPerMinute(per_minute)
        # The moving window is exact (a timestamp per hit), as the in-process deque was.
        self.shared = MovingWindowRateLimiter(storage or MemoryStorage())
        self._fallback: MovingWindowRateLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        url = redis_url_of(settings)
        if url is None:
            return cls(settings.job_create_rate_per_minute)
        storage = RedisStorage(
            url,
            # The deployment's queue name keeps the limits of two deployments sharing one
            # Redis (and of parallel test runs) apart; replicas of one deployment share it.
            key_prefix=f"{KEY_PREFIX}:{settings.queue_name}",
            wrap_exceptions=True,  # any Redis failure arrives as StorageError
            # Checked inside the submit transaction: a dead Redis must cost a second, not 20.
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
        )
        return cls(settings.job_create_rate_per_minute, storage)

    def check(self, key: str) -> None:
        """Count one hit for `key`, or raise a 429 `rate_limited` with Retry-After."""
        limiter = self.shared
        try:
            allowed = limiter.hit(self.item, key)
        except StorageError as exc:
            # A Redis outage must not stop job submission (the outbox sends those jobs once
            # Redis is back); a per-process limit meanwhile still stops a runaway client.
            log.warning(
                "rate limit storage unreachable (%s); limiting per process", exc.storage_error
            )
            if self._fallback is None:
                self._fallback = MovingWindowRateLimiter(MemoryStorage())
            limiter = self._fallback
            allowed = limiter.hit(self.item, key)
        if allowed:
            return
        try:
            reset_at = limiter.get_window_stats(self.item, key).reset_time
        except StorageError:
            reset_at = time.time() + self.item.get_expiry()
        retry = max(1, math.ceil(reset_at - time.time()))
        raise AppError(
            ErrorCode.rate_limited,
            f"at most {self.per_minute} jobs per minute per token; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
