"""The scheduler in the API process: a pass at once after a submit or cancel, and one every
`scheduler_interval_s` (for job ends and arriving workers seen by other processes; a worker also
runs a pass itself when one of its jobs ends, and when it registers).

The decisions are api/db/scheduling.py's; several API processes may run passes, one decides at
a time (the database lock). The periodic tick also returns to the queue the jobs placed on a
worker that went offline before claiming them, and forgets long-offline workers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta

from api.db.models import utcnow
from api.db.scheduling import PassReport, schedule_pass, unplace_stale
from api.db.session import session_scope
from api.db.workers import forget_workers
from api.services.recovery import Dispatcher
from api.settings import Settings

log = logging.getLogger("trainyard.scheduler")


class Scheduler:
    """Runs scheduling passes for one API process; `dispatch(job_id)` sends a placed job."""

    def __init__(self, settings: Settings, dispatch: Dispatcher) -> None:
        self.settings, self.dispatch = settings, dispatch
        self._lock = threading.Lock()  # one pass at a time in this process
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run_pass(self) -> PassReport | None:
        """One pass now (blocking); None when it failed (the next tick tries again)."""
        with self._lock:
            try:
                return schedule_pass(self.settings, self.dispatch)
            except Exception:
                log.exception("scheduling pass failed")
                return None

    def wake(self) -> None:
        """Ask the background loop for a pass soon (thread-safe, returns at once)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def tidy(self) -> None:
        """Placements on workers gone offline go back to the queue; old workers are forgotten."""
        now = utcnow()
        with session_scope(self.settings.database_url) as session:
            released = unplace_stale(session, now, self.settings.heartbeat_timeout_s)
            forgotten = forget_workers(
                session, now - timedelta(seconds=self.settings.worker_forget_after_s)
            )
        if released:
            log.warning("worker offline before claiming: back to the queue: %s", released)
        if forgotten:
            log.info("forgot %d long-offline workers", forgotten)

    async def run(self) -> None:
        """Tick every `scheduler_interval_s`, or at once when woken, until cancelled."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        interval = self.settings.scheduler_interval_s or None  # 0: only when woken
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await asyncio.to_thread(self.tidy)
            except Exception:
                log.exception("scheduler tidy-up failed")
            await asyncio.to_thread(self.run_pass)
