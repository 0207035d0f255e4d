"""A worker's membership of the fleet: its row in `workers`, its heartbeat, its own queue.

`join(settings, inventory)` registers the worker (one slot row per GPU and CPU slot), starts a
heartbeat thread (with NVML's readings of its GPUs when present) and runs a scheduling pass, so
jobs waiting for a worker like it are placed at once. `leave()` marks it stopped (offline) on a
clean shutdown. The id is `<host>-<random>:<pid>`: unique across restarts of a container (whose
pid and host name repeat), and the job rows' `worker_id` names the process that runs them.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field

from api.db.scheduling import schedule_pass
from api.db.session import session_scope
from api.db.workers import beat_worker, register_worker, stop_worker
from api.settings import Settings
from worker.dispatch import send_placed
from worker.inventory import Inventory, gpu_readings

log = logging.getLogger(__name__)

VERSION = "0.1.0"


def worker_queue_name(settings: Settings, worker_id: str) -> str:
    # Queue names that every broker takes (the filesystem one allows only these characters).
    return f"{settings.queue_name}.w.{re.sub(r'[^A-Za-z0-9._-]', '-', worker_id)}"


@dataclass
class Membership:
    settings: Settings
    inventory: Inventory
    id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{secrets.token_hex(3)}:{os.getpid()}"
    )
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def queue(self) -> str:
        return worker_queue_name(self.settings, self.id)

    def register(self) -> None:
        inv = self.inventory
        with session_scope(self.settings.database_url) as session:
            register_worker(
                session,
                id=self.id,
                host=socket.gethostname(),
                pool=inv.pool,
                labels=inv.labels,
                inventory=[g.as_json() for g in inv.gpus],
                simulated=inv.simulated,
                cpu_slots=inv.cpu_slots,
                queue=self.queue,
                version=VERSION,
            )
        gpus = ",".join(str(g.index) for g in inv.gpus) or "none"
        log.info(
            "worker %s joined pool %s: GPUs %s%s, %d CPU slot(s), queue %s",
            self.id, inv.pool, gpus, " (simulated)" if inv.simulated else "", inv.cpu_slots,
            self.queue,
        )  # fmt: skip

    def beat(self) -> None:
        readings = None if self.inventory.simulated else gpu_readings(self.gpu_indices)
        with session_scope(self.settings.database_url) as session:
            if not beat_worker(session, self.id, readings):
                log.error("worker %s: its row is gone (forgotten while offline?)", self.id)

    @property
    def gpu_indices(self) -> list[int]:
        return [g.index for g in self.inventory.gpus]

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval_s):
            try:
                self.beat()
            except Exception:  # a database hiccup: the next beat tries again
                log.exception("worker heartbeat failed")

    def start_beating(self) -> None:
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)
        self._thread.start()

    def schedule(self) -> None:
        """A scheduling pass from here: after joining, and after each job of ours ended."""
        try:
            schedule_pass(self.settings, lambda job_id: send_placed(job_id, self.settings))
        except Exception:  # the API's periodic pass will do it
            log.exception("scheduling pass failed")

    def leave(self) -> None:
        self._stop.set()
        try:
            with session_scope(self.settings.database_url) as session:
                stop_worker(session, self.id)
        except Exception:
            log.exception("could not mark worker %s stopped; it goes offline by heartbeat", self.id)


def join(settings: Settings, inventory: Inventory) -> Membership:
    member = Membership(settings, inventory)
    member.register()
    member.start_beating()
    member.schedule()
    return member
