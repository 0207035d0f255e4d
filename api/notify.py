"""Announce committed job events, and listen for the announcements.

Rows are the truth and are committed first; an announcement only says "job X has new events,
read them". A lost announcement costs latency, never data: listeners also re-read on a timer.

- Publishing (sync, any process): `install(settings)` hooks the sessions of that database so
  that every commit that added `JobEvent` rows announces their jobs, wherever the commit happens
  (worker, API, reaper). `announce(settings, job_id)` does it by hand.
- Listening (async, the API): `RedisListener` holds ONE pattern subscription per process and
  sets the asyncio flag of each watched job it hears about.
- Redis comes from REDIS_URL, else a redis:// BROKER_URL. Without Redis (the embedded default)
  nothing is published and the API polls the database instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from api.db.models import JobEvent
from api.db.session import get_engine
from api.settings import Settings

log = logging.getLogger("trainyard.notify")

CHANNEL_PREFIX = "trainyard:events:"
_PENDING = "trainyard_announce"  # session.info key: job ids with events in this transaction


def channel(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


def redis_url_of(settings: Settings) -> str | None:
    """Where announcements go: REDIS_URL, else a Redis broker; None means poll."""
    if settings.redis_url:
        return settings.redis_url
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return None


# ---------------------------------------------------------------- publishing (sync)

_clients: dict[str, redis.Redis] = {}
_engines: dict[Engine, str] = {}  # engine -> Redis URL its commits are announced on
_lock = threading.Lock()


def _client(url: str) -> redis.Redis:
    with _lock:
        if url not in _clients:
            # Short timeouts: a slow Redis must not stall a training loop's writer thread.
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return _clients[url]


def publish(url: str, job_ids: set[str]) -> None:
    try:
        pipe = _client(url).pipeline(transaction=False)
        for job_id in job_ids:
            pipe.publish(channel(job_id), b"")
        pipe.execute()
    except redis.RedisError as exc:  # listeners poll too, so this only costs latency
        log.warning("could not announce events of %s: %s", sorted(job_ids), exc)


def announce(settings: Settings, job_id: str) -> None:
    """Tell listeners that `job_id` has new committed events (a no-op without Redis)."""
    url = redis_url_of(settings)
    if url is not None:
        publish(url, {job_id})


def install(settings: Settings) -> None:
    """Announce, after each commit on `settings.database_url`, the jobs that got events.

    Idempotent; call once per process that writes events (API, worker).
    """
    url = redis_url_of(settings)
    if url is None:
        return
    with _lock:
        _engines[get_engine(settings.database_url)] = url
        if not event.contains(Session, "after_flush", _collect):
            event.listen(Session, "after_flush", _collect)
            event.listen(Session, "after_commit", _announce_pending)
            event.listen(Session, "after_rollback", _forget_pending)


def _collect(session: Session, _context: Any) -> None:
    jobs = {obj.job_id for obj in session.new if isinstance(obj, JobEvent)}
    if jobs:
        session.info.setdefault(_PENDING, set()).update(jobs)


def _announce_pending(session: Session) -> None:
    jobs = session.info.pop(_PENDING, None)
    if not jobs:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    url = _engines.get(engine) if engine is not None else None
    if url is not None:
        publish(url, jobs)


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


# ---------------------------------------------------------------- listening (async, API)


class RedisListener:
    """One pattern subscription per process; wakes the flag of each watched job it hears of.

    Created inside the running event loop. On a broken connection it wakes every watcher (they
    re-read the database) and reconnects.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.flags: dict[str, asyncio.Event] = {}
        self._redis = aioredis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def watch(self, job_id: str) -> asyncio.Event:
        return self.flags.setdefault(job_id, asyncio.Event())

    def unwatch(self, job_id: str) -> None:
        self.flags.pop(job_id, None)

    async def ready(self, timeout: float = 2.0) -> bool:
        """Wait (briefly) until the subscription is in place, so no announcement is missed."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while True:
            try:
                await self._pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                while True:
                    message = await self._pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event listener lost Redis at %s (%s); reconnecting", self.url, exc)
                self._ready.clear()
                self._wake_all()
                await asyncio.sleep(1.0)
                await self._reset()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "psubscribe":
            self._ready.set()
            self._wake_all()  # anything announced before we listened is read now
        elif message["type"] == "pmessage":
            name = message["channel"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            flag = self.flags.get(name.removeprefix(CHANNEL_PREFIX))
            if flag is not None:
                flag.set()

    def _wake_all(self) -> None:
        for flag in self.flags.values():
            flag.set()

    async def _reset(self) -> None:
        try:
            await self._pubsub.aclose()
        except Exception:
            pass
        self._pubsub = self._redis.pubsub()

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass
        await self._reset()
        await self._redis.aclose()
