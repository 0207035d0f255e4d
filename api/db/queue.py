"""Where a queued job stands and why it waits, read from the rows (never stored, so never stale).

- position: 1 + the unplaced queued jobs of its pool ahead of it in scheduling order (priority
  desc, submission, id); `jobs_ahead` is that count. A placed job that is starting on its
  worker has no position and no reason.
- pending_reason, the first that applies:
  `pool_has_no_workers`  no online worker serves its pool;
  `no_worker_fits`       no online worker of the pool has that many GPUs (or the labels);
  `project_quota`        its project's max_running_jobs or max_gpus would be exceeded;
  `higher_priority_ahead` a job ahead of it in the pool that some worker could run waits too;
  `waiting_for_gpus` / `waiting_for_cpu_slot`: it is first in line and no slot is free.

The scheduler (api/db/scheduling.py) places by the same rules, so what this says is what it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from api.db.models import Job, JobStatus
from api.db.scheduling import aware, project_usage, queue_order
from api.db.scheduling_rules import Candidate, QueuedJob, Usage
from api.db.workers import worker_views
from trainyard.schemas.fleet import PendingReason, QueueInfo

MAX_LISTED = 1000


@dataclass
class Fleet:
    """The online workers by pool and the projects' usage: what reasons are judged against."""

    by_pool: dict[str, list[Candidate]]
    usage: dict[str, Usage]

    @classmethod
    def read(cls, session: Session, now: datetime, timeout_s: float) -> Fleet:
        by_pool: dict[str, list[Candidate]] = {}
        for view in worker_views(session, now, timeout_s, online_only=True):
            by_pool.setdefault(view.row.pool, []).append(Candidate.of(view))
        return cls(by_pool, project_usage(session))

    def largest_gpu_count(self, pool: str) -> int:
        return max((w.gpu_count for w in self.by_pool.get(pool, [])), default=-1)

    def static_reason(self, job: QueuedJob) -> PendingReason | None:
        workers = self.by_pool.get(job.pool, [])
        if not workers:
            return PendingReason.pool_has_no_workers
        if not any(w.can_ever_run(job) for w in workers):
            return PendingReason.no_worker_fits
        if not self.usage.get(job.project_id, Usage()).allows(job.gpus):
            return PendingReason.project_quota
        return None


def _as_queued(job: Job) -> QueuedJob:
    return QueuedJob(
        job.id,
        job.project_id,
        job.priority,
        job.gpus,
        job.pool,
        dict(job.labels or {}),
        aware(job.queued_at or job.created_at),
    )


def ahead_of(job: Job) -> ColumnElement[bool]:
    """Unplaced queued jobs of the same pool before `job` in scheduling order."""
    later_same_priority = or_(
        Job.created_at < job.created_at, and_(Job.created_at == job.created_at, Job.id < job.id)
    )
    return and_(
        Job.status == JobStatus.queued,
        Job.placement.is_(None),
        Job.pool == job.pool,
        Job.id != job.id,
        or_(Job.priority > job.priority, and_(Job.priority == job.priority, later_same_priority)),
    )


def queue_info(
    session: Session, job: Job, now: datetime, timeout_s: float, fleet: Fleet | None = None
) -> QueueInfo | None:
    """The job's place in the queue and why it waits; None unless it is queued.

    Pass `fleet` (Fleet.read) when asking for several jobs: it is read once."""
    if job.status != JobStatus.queued:
        return None
    since = aware(job.queued_at or job.created_at)
    if job.placement is not None:
        return QueueInfo(position=None, jobs_ahead=None, pending_reason=None, since=since)
    fleet = fleet or Fleet.read(session, now, timeout_s)
    # One statement, one snapshot: a job ahead placed between two reads would make the count
    # and the reason disagree.
    runnable = case((Job.gpus <= fleet.largest_gpu_count(job.pool), 1), else_=0)
    ahead, runnable_ahead = session.execute(
        select(func.count(), func.coalesce(func.sum(runnable), 0)).where(ahead_of(job))
    ).one()
    queued = _as_queued(job)
    reason = fleet.static_reason(queued) or _waiting_reason(queued, bool(runnable_ahead))
    return QueueInfo(position=ahead + 1, jobs_ahead=ahead, pending_reason=reason, since=since)


def _waiting_reason(job: QueuedJob, runnable_ahead: bool) -> PendingReason:
    if runnable_ahead:
        return PendingReason.higher_priority_ahead
    return PendingReason.waiting_for_gpus if job.gpus else PendingReason.waiting_for_cpu_slot


def queue_listing(
    session: Session,
    now: datetime,
    timeout_s: float,
    *,
    pool: str | None = None,
    project_id: str | None = None,
    limit: int = MAX_LISTED,
) -> list[tuple[Job, QueueInfo]]:
    """Queued jobs in scheduling order (by pool) with their queue info, computed in one walk.

    `project_id` keeps only that project's jobs (positions still count every project's).
    """
    query = select(Job).where(Job.status == JobStatus.queued)
    if pool is not None:
        query = query.where(Job.pool == pool)
    rows = session.scalars(query.order_by(Job.pool, *queue_order())).all()
    fleet = Fleet.read(session, now, timeout_s)
    out: list[tuple[Job, QueueInfo]] = []
    for job, info in _walk(rows, fleet):
        if project_id is None or job.project_id == project_id:
            out.append((job, info))
            if len(out) >= limit:
                break
    return out


def _walk(rows: Iterable[Job], fleet: Fleet) -> Iterable[tuple[Job, QueueInfo]]:
    ahead: dict[str, int] = {}
    runnable_ahead: dict[str, bool] = {}
    for job in rows:
        since = aware(job.queued_at or job.created_at)
        if job.placement is not None:
            yield job, QueueInfo(position=None, jobs_ahead=None, pending_reason=None, since=since)
            continue
        queued = _as_queued(job)
        count = ahead.get(job.pool, 0)
        reason = fleet.static_reason(queued) or _waiting_reason(
            queued, runnable_ahead.get(job.pool, False)
        )
        yield (
            job,
            QueueInfo(position=count + 1, jobs_ahead=count, pending_reason=reason, since=since),
        )
        ahead[job.pool] = count + 1
        if job.gpus <= fleet.largest_gpu_count(job.pool):
            runnable_ahead[job.pool] = True
