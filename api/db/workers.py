"""Workers and their slots: registration, heartbeat, and the slot reservations jobs hold.

A worker owns one slot per GPU (`gpu:<index>`) and per CPU slot (`cpu:<n>`). A slot is taken
only by a conditional UPDATE (`job_id IS NULL`) in the transaction that places the job, and
freed when the job leaves the placed or running state (`release_slots`, called by
api/db/jobs.py transition_job): a worker that dies keeps its slots held until the reaper has
handed its jobs back, and a worker that stops beating is offline, so it is never chosen again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, select, update
from sqlalchemy.orm import Session

from api.db.models import Job, Worker, WorkerSlot, utcnow


def gpu_slot(index: int) -> str:
    return f"gpu:{index}"


def cpu_slot(n: int) -> str:
    return f"cpu:{n}"


def gpu_index(slot: str) -> int | None:
    kind, _, value = slot.partition(":")
    return int(value) if kind == "gpu" else None


def is_online(now: datetime, timeout_s: float) -> ColumnElement[bool]:
    """A worker that has not stopped and beat within `timeout_s`."""
    return Worker.stopped_at.is_(None) & (
        Worker.last_heartbeat_at >= now - timedelta(seconds=timeout_s)
    )


def register_worker(session: Session, **fields: Any) -> Worker:
    """Insert the worker and one free slot per GPU in its inventory and per CPU slot.

    `fields`: id, host, pool, labels, inventory, simulated, cpu_slots, queue, version. The
    caller commits.
    """
    now = utcnow()
    worker = Worker(**fields, gpu_stats={}, started_at=now, last_heartbeat_at=now)
    session.add(worker)
    session.flush()
    slots = [gpu_slot(int(gpu["index"])) for gpu in worker.inventory]
    slots += [cpu_slot(n) for n in range(worker.cpu_slots)]
    session.add_all(WorkerSlot(worker_id=worker.id, slot=slot) for slot in slots)
    return worker


def beat_worker(session: Session, worker_id: str, gpu_stats: dict[str, Any] | None) -> bool:
    """Record a heartbeat (and the GPUs' NVML readings); False when the row is gone."""
    values: dict[str, Any] = {"last_heartbeat_at": utcnow()}
    if gpu_stats is not None:
        values["gpu_stats"] = gpu_stats
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Worker).where(Worker.id == worker_id).values(**values)
    )
    return bool(result.rowcount)


def stop_worker(session: Session, worker_id: str) -> None:
    """A clean shutdown: offline at once. Its slots stay held until their jobs are handed
    back (a preempted job hands itself back before the worker exits)."""
    session.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=utcnow()))


def forget_workers(session: Session, offline_before: datetime) -> int:
    """Delete workers offline since before `offline_before` whose slots all are free."""
    held = select(WorkerSlot.worker_id).where(WorkerSlot.job_id.is_not(None))
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        delete(Worker).where(
            Worker.last_heartbeat_at < offline_before,
            Worker.id.not_in(held),
        )
    )
    return int(result.rowcount)


def reserve_slots(session: Session, worker_id: str, slots: list[str], job_id: str) -> bool:
    """Give `slots` of the worker to the job if every one of them is free; else change nothing.

    The UPDATE re-checks `job_id IS NULL` under the rows' locks, so two concurrent
    reservations of a slot cannot both see all their rows updated. The caller rolls back
    (a savepoint) on False.
    """
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(WorkerSlot)
        .where(
            WorkerSlot.worker_id == worker_id,
            WorkerSlot.slot.in_(slots),
            WorkerSlot.job_id.is_(None),
        )
        .values(job_id=job_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == len(slots)


def release_slots(session: Session, job_id: str) -> None:
    session.execute(
        update(WorkerSlot)
        .where(WorkerSlot.job_id == job_id)
        .values(job_id=None)
        .execution_options(synchronize_session=False)
    )


@dataclass
class WorkerView:
    """A worker with its slots as the scheduler and the admin listing see it."""

    row: Worker
    online: bool
    holders: dict[str, str | None] = field(default_factory=dict)  # slot -> job id

    @property
    def free_gpus(self) -> list[int]:
        return sorted(
            i
            for slot, job in self.holders.items()
            if job is None and (i := gpu_index(slot)) is not None
        )

    @property
    def free_cpu_slots(self) -> list[str]:
        return sorted(s for s, job in self.holders.items() if job is None and s.startswith("cpu:"))

    @property
    def gpu_count(self) -> int:
        return len(self.row.inventory or [])


def worker_views(
    session: Session,
    now: datetime,
    timeout_s: float,
    *,
    online_only: bool = False,
    pools: Iterable[str] | None = None,
) -> list[WorkerView]:
    """Workers and the holder of each slot (two queries), online first, then by id."""
    query = select(Worker, is_online(now, timeout_s).label("online"))
    if online_only:
        query = query.where(is_online(now, timeout_s))
    if pools is not None:
        query = query.where(Worker.pool.in_(list(pools)))
    views = {row.id: WorkerView(row, bool(online)) for row, online in session.execute(query)}
    if views:
        slots = session.execute(
            select(WorkerSlot.worker_id, WorkerSlot.slot, WorkerSlot.job_id).where(
                WorkerSlot.worker_id.in_(list(views))
            )
        )
        for worker_id, slot, job_id in slots:
            views[worker_id].holders[slot] = job_id
    return sorted(views.values(), key=lambda v: (not v.online, v.row.id))


def get_worker(session: Session, worker_id: str) -> Worker | None:
    return session.get(Worker, worker_id)


def worker_queue(session: Session, worker_id: str) -> str | None:
    return session.scalar(select(Worker.queue).where(Worker.id == worker_id))


def placed_queue(session: Session, job_id: str) -> str | None:
    """The Celery queue of the worker a job is placed on; None when it is not placed."""
    placement = session.scalar(select(Job.placement).where(Job.id == job_id))
    if not placement:
        return None
    return worker_queue(session, str(placement["worker"]))


def jobs_on(views: Iterable[WorkerView]) -> dict[str, list[str]]:
    """Worker id -> the jobs holding any of its slots."""
    out: dict[str, list[str]] = defaultdict(list)
    for view in views:
        for job in view.holders.values():
            if job is not None and job not in out[view.row.id]:
                out[view.row.id].append(job)
    return out
