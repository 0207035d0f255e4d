"""Server-Sent Events of a job: the stored history, then live events, then `end`.

Each client first reads the database after its Last-Event-ID. Once caught up it follows the
job's `JobFeed`: one per watched job per API process, which re-reads the job's new rows once
per announcement (Redis) or poll tick (embedded) and keeps the last few thousand as encoded
frames, so 200 clients of one job cost one query per change rather than 200. A client that
falls behind the feed's buffer reads the database again. Nothing here outlives a restart
that matters: the rows are the truth and the client resumes by event id.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.db.events import events_after, last_event
from api.db.models import EventType, Job, utcnow
from api.db.queue import queue_info
from api.db.session import session_factory
from api.notify import RedisListener, install, redis_url_of
from api.settings import Settings

log = logging.getLogger("trainyard.events")

PAGE = 500  # rows per database read
BUFFER = 4096  # frames a feed keeps for clients that are slightly behind
POLL_S = 0.25  # embedded default: how often a watched job's rows are re-read
SAFETY_POLL_S = 5.0  # with Redis: re-read anyway, in case an announcement was lost
KEEPALIVE_S = 15.0  # the response's ping interval (api/routes/events.py)
RETRY_MS = 2000  # what EventSource waits before reconnecting
QUEUE_POLL_S = 1.0  # a queued job's position and reason are re-read this often
SEP = "\n"  # line separator of every frame and ping: the wire format clients have always read
EVENT_TYPES = tuple(EventType)  # in the order the stream documents them


@dataclass(frozen=True)
class Frame:
    seq: int
    type: str
    data: bytes  # the whole SSE frame, encoded once for every client


def encode(seq: int, type_: str, data: Any) -> Frame:
    body = json.dumps(data, separators=(",", ":"), default=str)
    event = ServerSentEvent(body, id=str(seq), event=type_, sep=SEP)
    return Frame(seq, type_, event.encode())


def keep_alive() -> ServerSentEvent:
    """The ping of an event stream: a comment line, which EventSource ignores."""
    return ServerSentEvent(comment="keep-alive", sep=SEP)


def read_frames(database_url: str, job_id: str, after: int, limit: int = PAGE) -> list[Frame]:
    """Events after `after` as frames (a short session: no connection is held while idle)."""
    with session_factory(database_url)() as session:
        rows = events_after(session, job_id, after, limit)
        return [encode(r.seq, r.type, r.data) for r in rows]


def read_queue(settings: Settings, job_id: str) -> dict[str, Any] | None:
    """The job's queue info as a `queue` event's data; None unless it is queued."""
    with session_factory(settings.database_url)() as session:
        job = session.get(Job, job_id)
        info = job and queue_info(session, job, utcnow(), settings.heartbeat_timeout_s)
        return info.model_dump(mode="json") if info else None


def queue_frame(data: dict[str, Any], cursor: int) -> bytes:
    """A `queue` event. It is not stored: its id repeats the last stored event's, so a client
    that reconnects after it resumes exactly where it would have without it."""
    body = json.dumps(data, separators=(",", ":"))
    return ServerSentEvent(body, id=str(cursor), event=EventType.queue, sep=SEP).encode()


def read_last(database_url: str, job_id: str) -> tuple[int, str] | None:
    with session_factory(database_url)() as session:
        return last_event(session, job_id)


class JobFeed:
    """The newest events of one job in this process, refreshed by one background task."""

    def __init__(self, hub: EventHub, job_id: str) -> None:
        self.hub, self.job_id = hub, job_id
        self.frames: deque[Frame] = deque()
        self.seqs: deque[int] = deque()
        self.base: int | None = None  # every event after `base` is buffered or not yet read
        self.tail = 0
        self.ended = False
        self.clients = 0
        self.changed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def after(self, cursor: int) -> list[Frame] | None:
        """Buffered frames after `cursor`; None when the buffer does not reach back that far."""
        if self.base is None or cursor < self.base:
            return None
        start = bisect.bisect_right(self.seqs, cursor)
        return [self.frames[i] for i in range(start, len(self.frames))]

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def _add(self, frames: list[Frame]) -> None:
        for frame in frames:
            self.frames.append(frame)
            self.seqs.append(frame.seq)
            self.ended = self.ended or frame.type == EventType.end
        while len(self.frames) > BUFFER:
            self.frames.popleft()
            self.base = self.seqs.popleft()
        self.tail = frames[-1].seq
        self._wake()

    async def _run(self) -> None:
        flag = await self.hub.watch(self.job_id)
        url = self.hub.settings.database_url
        last = await run_in_threadpool(read_last, url, self.job_id)
        self.base = self.tail = last[0] if last else 0
        self.ended = last is not None and last[1] == EventType.end
        self._wake()
        while not self.ended:
            if flag is not None:
                flag.clear()  # an announcement that lands during the read sets it again
            try:
                frames = await run_in_threadpool(read_frames, url, self.job_id, self.tail)
            except Exception:
                log.exception("reading events of job %s failed; retrying", self.job_id)
                frames = []
                await asyncio.sleep(1.0)
            if frames:
                self._add(frames)
                if len(frames) == PAGE:
                    continue
            await self.hub.wait_announcement(flag)


class EventHub:
    """Per API process: the feeds of watched jobs and the one Redis subscription."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis_url = redis_url_of(settings)
        self.feeds: dict[str, JobFeed] = {}
        self.listener: RedisListener | None = None
        self.closing = False
        self.keepalive_s = KEEPALIVE_S
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Serve the running loop (the app's startup); from now on SIGTERM ends the streams."""
        self._bind_loop()

    def _bind_loop(self) -> None:
        # A hub serves one event loop. A new loop after another (tests re-entering an app) starts
        # afresh; the first one must not: a close_streams() that came before it still stands.
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._loop is not None:
            self.feeds, self.listener, self.closing = {}, None, False
        self._loop = loop
        _on_shutdown_signal(self.close_streams)

    async def watch(self, job_id: str) -> asyncio.Event | None:
        """The flag Redis sets for `job_id` (None when polling), once subscribed."""
        if self.redis_url is None:
            return None
        if self.listener is None:
            self.listener = RedisListener(self.redis_url)
        flag = self.listener.watch(job_id)
        await self.listener.ready()
        return flag

    async def wait_announcement(self, flag: asyncio.Event | None) -> None:
        if flag is None:
            await asyncio.sleep(POLL_S)
            return
        try:
            await asyncio.wait_for(flag.wait(), SAFETY_POLL_S)
        except TimeoutError:
            pass

    @asynccontextmanager
    async def feed(self, job_id: str) -> AsyncIterator[JobFeed]:
        self._bind_loop()
        feed = self.feeds.get(job_id)
        if feed is None:
            feed = self.feeds[job_id] = JobFeed(self, job_id)
        feed.clients += 1
        try:
            yield feed
        finally:
            feed.clients -= 1
            if feed.clients == 0 and self.feeds.get(job_id) is feed:
                del self.feeds[job_id]
                feed.task.cancel()
                if self.listener is not None:
                    self.listener.unwatch(job_id)

    def close_streams(self) -> None:
        """The server is stopping: end every stream now (clients resume elsewhere by id).

        Safe from any thread and from a signal handler: a stream checks `closing` before it
        waits, and the wake of those already waiting runs on the hub's loop, never midway
        through a stream's step (asyncio.Event is not thread-safe).
        """
        self.closing = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_feeds)

    def _wake_feeds(self) -> None:
        for feed in self.feeds.values():
            feed._wake()

    async def aclose(self) -> None:
        self.close_streams()
        for feed in list(self.feeds.values()):
            feed.task.cancel()
        if self.listener is not None:
            await self.listener.close()
            self.listener = None


def install_event_hub(app: Any, settings: Settings) -> None:
    """Give the app its hub, and announce the events its own commits add (submit, cancel)."""
    app.state.event_hub = EventHub(settings)
    install(settings)


def event_hub(app: Any) -> EventHub:
    hub = getattr(app.state, "event_hub", None)
    if hub is None:
        raise RuntimeError("install_event_hub(app, settings) was not called by create_app")
    return hub  # type: ignore[no-any-return]


def _on_shutdown_signal(callback: Callable[[], None]) -> None:
    """Run `callback` on SIGTERM/SIGINT, then the handler that was there (uvicorn's).

    uvicorn waits for open responses before it stops, and an event stream never ends by itself.
    sse-starlette has its own shutdown watcher, but it polls every 0.5 s and then cancels the
    streams. Measured (3 open streams, SIGTERM to a `uvicorn.run` server): with only the library's
    watcher each client saw "incomplete chunked read" after 0.49 s and uvicorn logged "ASGI
    callable returned without completing response" per stream; with this handler every stream
    ended cleanly and the process exited 0.22 s after the signal. So ours stays.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if getattr(previous, "trainyard_chained", False) or not callable(previous):
            continue  # already chained, or no Python handler (not under uvicorn)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            callback()
            previous(signum, frame)

        handler.trainyard_chained = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)


def _select(
    frames: list[Frame], cursor: int, wanted: set[str] | None
) -> tuple[list[bytes], int, bool]:
    """(frames to send, new cursor, whether `end` was reached)."""
    out = []
    for frame in frames:
        cursor = frame.seq
        if wanted is None or frame.type in wanted:
            out.append(frame.data)
        if frame.type == EventType.end:
            return out, cursor, True
    return out, cursor, False


async def stream(
    hub: EventHub, job_id: str, since: int, types: Sequence[str] = ()
) -> AsyncIterator[bytes]:
    """The SSE body: history after `since`, then live events, until `end` (always sent).

    Keep-alives are the response's pings (EventSourceResponse), not frames of this body.
    """
    wanted = set(types) | {EventType.end} if types else None
    url = hub.settings.database_url
    cursor, ended = since, False
    yield ServerSentEvent(retry=RETRY_MS, sep=SEP).encode()
    while not hub.closing:  # catch up from the database before following the feed
        frames = await run_in_threadpool(read_frames, url, job_id, cursor)
        out, cursor, ended = _select(frames, cursor, wanted)
        for data in out:
            yield data
        if ended or len(frames) < PAGE:
            break
    if ended or hub.closing:
        return
    send_queue = wanted is None or EventType.queue in wanted
    queued = await run_in_threadpool(read_queue, hub.settings, job_id) if send_queue else None
    if queued is not None:
        yield queue_frame(queued, cursor)
    async with hub.feed(job_id) as feed:
        while not hub.closing:
            changed = feed.changed
            buffered = feed.after(cursor)
            if buffered is None:  # behind the buffer: read the rows
                frames = await run_in_threadpool(read_frames, url, job_id, cursor)
            else:
                frames = buffered
            out, cursor, ended = _select(frames, cursor, wanted)
            for data in out:
                yield data
            if ended:
                return
            if frames:
                continue
            if feed.ended and cursor >= feed.tail:
                return  # the client asked for what comes after `end`: nothing ever will
            if queued is None:
                await changed.wait()
                continue
            # Queued: its position moves as other jobs start, which announces nothing here.
            try:
                await asyncio.wait_for(changed.wait(), QUEUE_POLL_S)
            except TimeoutError:
                pass
            now = await run_in_threadpool(read_queue, hub.settings, job_id)
            if now is not None and now != queued:
                yield queue_frame(now, cursor)
            queued = now
