"""`trainyard worker`: take the inventory, join the fleet, then consume jobs as a supervisor.

Concurrency follows the inventory: one Celery thread per slot (each GPU and each CPU slot), each
thread supervising one job process. The worker consumes its own queue (where the scheduler sends
the jobs it placed here) and the shared one (a job id sent there is run by a worker that has
room for it).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from api.settings import Settings
from worker.celery_app import make_celery
from worker.inventory import InventoryError, build_inventory
from worker.membership import join
from worker.supervisor import Supervisor

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    gpus: str | None
    cpu_slots: int
    pool: str
    labels: list[str]
    loglevel: str = "INFO"
    hostname: str | None = None


def celery_argv(queues: list[str], slots: int, loglevel: str, hostname: str | None) -> list[str]:
    return [
        "worker",
        "--pool=threads",
        f"--concurrency={slots}",
        f"--queues={','.join(queues)}",
        f"--loglevel={loglevel}",
        f"--hostname={hostname or f'trainyard-{os.getpid()}@%h'}",
        "--without-gossip",
        "--without-mingle",
    ]


def start_worker(settings: Settings, options: WorkerOptions) -> int:
    try:
        inventory = build_inventory(options.gpus, options.cpu_slots, options.pool, options.labels)
    except InventoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=options.loglevel.upper())
    member = join(settings, inventory)
    app = make_celery(settings)
    supervisor = Supervisor(settings, member.id, after_job=member.schedule, on_stop=member.leave)
    supervisor.install()
    app.trainyard_supervisor = supervisor  # type: ignore[attr-defined]  # read by worker.tasks
    queues = [member.queue, settings.queue_name]
    try:
        app.worker_main(celery_argv(queues, inventory.slots, options.loglevel, options.hostname))
    finally:
        member.leave()
    return 0
