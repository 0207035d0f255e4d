"""The scheduler's rules, as pure functions of a snapshot (api/db/scheduling.py reads it and
writes what they decide): which queued job gets which free slots.

- jobs in scheduling order (priority, then submission); a job's GPUs all on one worker, a CPU
  job on one CPU slot; the worker whose free slots fit it best (the fewest that still fit, so
  small jobs pack together and whole machines stay free for large ones);
- a job no worker of its pool could ever run, or whose project is at quota, is skipped;
- backfill: a job that cannot fit now lets smaller ones behind it pass, until it has waited
  longer than the starvation limit; then the worker closest to fitting it is held for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from api.db.workers import WorkerView, gpu_slot


@dataclass
class QueuedJob:
    id: str
    project_id: str
    priority: int
    gpus: int
    pool: str
    labels: dict[str, str]
    queued_at: datetime


@dataclass
class Usage:
    """What a project's placed and running jobs hold, and its quotas."""

    jobs: int = 0
    gpus: int = 0
    max_jobs: int | None = None
    max_gpus: int | None = None

    def allows(self, gpus: int) -> bool:
        if self.max_jobs is not None and self.jobs + 1 > self.max_jobs:
            return False
        return self.max_gpus is None or self.gpus + gpus <= self.max_gpus


@dataclass
class Candidate:
    """A worker as one pass sees it: free slots shrink as the pass places jobs."""

    id: str
    pool: str
    labels: dict[str, str]
    gpu_count: int
    cpu_count: int
    free_gpus: list[int]
    free_cpu: list[str]

    @classmethod
    def of(cls, view: WorkerView) -> Candidate:
        row = view.row
        return cls(
            row.id,
            row.pool,
            dict(row.labels or {}),
            view.gpu_count,
            row.cpu_slots,
            view.free_gpus,
            view.free_cpu_slots,
        )

    def can_ever_run(self, job: QueuedJob) -> bool:
        if any(self.labels.get(k) != v for k, v in job.labels.items()):
            return False
        return self.gpu_count >= job.gpus if job.gpus else self.cpu_count > 0

    def fits_now(self, job: QueuedJob) -> bool:
        return len(self.free_gpus) >= job.gpus if job.gpus else bool(self.free_cpu)

    def spare(self) -> int:
        return len(self.free_gpus) + len(self.free_cpu)


@dataclass
class Decision:
    job_id: str
    worker_id: str
    gpus: list[int]
    slots: list[str]


@dataclass
class PassReport:
    placed: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    considered: int = 0
    held: list[str] = field(default_factory=list)  # workers held for starving jobs
    queries: int = 0
    seconds: float = 0.0


def decide(
    jobs: Iterable[QueuedJob],
    workers: list[Candidate],
    usage: dict[str, Usage],
    now: datetime,
    starvation_s: float,
    report: PassReport | None = None,
) -> list[Decision]:
    """Placements for `jobs` (in scheduling order) on `workers`; mutates the workers' free slots.

    A job is skipped when no worker of its pool can ever run it or its project is at quota. A
    job that cannot fit now is passed by smaller ones (backfill) unless it waited longer than
    `starvation_s`: then the worker with the most free slots among those that could run it is
    held, and no later job is placed on it.
    """
    by_pool: dict[str, list[Candidate]] = {}
    for worker in workers:
        by_pool.setdefault(worker.pool, []).append(worker)
    held: set[str] = set()
    spare = sum(w.spare() for w in workers)
    decisions: list[Decision] = []
    for job in jobs:
        if spare <= 0:
            break  # nothing left to give: the rest of the queue waits (its reasons are read-time)
        if report is not None:
            report.considered += 1
        capable = [w for w in by_pool.get(job.pool, []) if w.can_ever_run(job)]
        quota = usage.setdefault(job.project_id, Usage())
        if not capable or not quota.allows(job.gpus):
            continue
        fitting = [w for w in capable if w.id not in held and w.fits_now(job)]
        if fitting:
            decisions.append(take(job, _best_fit(fitting, job)))
            quota.jobs += 1
            quota.gpus += job.gpus
            spare -= max(job.gpus, 1)
        elif (now - job.queued_at).total_seconds() > starvation_s:
            free = [w for w in capable if w.id not in held]
            if free:
                target = max(free, key=lambda w: (w.spare(), w.id))
                held.add(target.id)
                spare -= target.spare()
                if report is not None:
                    report.held.append(target.id)
    return decisions


def _best_fit(fitting: list[Candidate], job: QueuedJob) -> Candidate:
    # The fewest free slots that still fit: small jobs pack together and leave whole
    # machines free for large ones.
    if job.gpus:
        return min(fitting, key=lambda w: (len(w.free_gpus), w.id))
    return min(fitting, key=lambda w: (len(w.free_cpu), len(w.free_gpus), w.id))


def take(job: QueuedJob, worker: Candidate) -> Decision:
    """The job's slots on `worker` (its lowest free GPUs, or a CPU slot), taken off its free list."""
    if job.gpus:
        gpus, worker.free_gpus = worker.free_gpus[: job.gpus], worker.free_gpus[job.gpus :]
        return Decision(job.id, worker.id, gpus, [gpu_slot(i) for i in gpus])
    slot = worker.free_cpu.pop(0)
    return Decision(job.id, worker.id, [], [slot])
