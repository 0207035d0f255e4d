"""The scheduler: which queued job runs on which worker. The database is the queue.

One pass, under a lock so that one pass decides at a time (a PostgreSQL advisory lock held to
the end of the transaction; on SQLite the database's write lock, taken first):

1. read the online workers and their free slots, and what each project holds;
2. walk the unplaced queued jobs in scheduling order (priority, then submission, then id),
   streaming, and give each the worker whose free slots fit it best (all its GPUs on one
   worker; a CPU job takes one CPU slot), skipping jobs whose pool, labels or project quota
   rule them out;
3. backfill: a job that cannot fit yet does not hold up smaller jobs behind it, unless it has
   waited longer than `starvation_s`; then the worker closest to fitting it is held for it (no
   later job is placed there) until it fits;
4. for each decision, in a savepoint, reserve the slots (a conditional UPDATE: every slot must
   still be free) and place the job (a conditional UPDATE: still queued and unplaced); commit;
5. send each placed job's id to its worker's own Celery queue (`resend_job`, the outbox: a send
   that fails is retried by the recovery loop). The worker's claim checks the placement again.

The rules are api/db/scheduling_rules.py's `decide`, a pure function of the snapshot; this
module does the I/O around it. The API runs passes (api/services/scheduler.py), and so does a
worker when one of its jobs ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, false, func, or_, select, text, update
from sqlalchemy.orm import Session

from api.db.models import Job, JobStatus, Project, Worker, utcnow
from api.db.recovery import resend_job
from api.db.scheduling_rules import (
    Candidate,
    Decision,
    PassReport,
    QueuedJob,
    Usage,
    decide,
    take,
)
from api.db.session import session_scope
from api.db.workers import is_online, release_slots, reserve_slots, worker_views
from api.settings import Settings

log = logging.getLogger("trainyard.scheduler")

ADVISORY_LOCK_KEY = 0x7472_6179_6431  # "trayd1": one scheduler decides at a time
ACTIVE = (JobStatus.running, JobStatus.cancelling)
FETCH_CHUNK = 500

Send = Callable[[str], None]


def take_scheduler_lock(session: Session) -> None:
    """One pass at a time, to the end of this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    else:  # SQLite: a write as the first statement takes the database's write lock
        session.execute(text("UPDATE workers SET id = id WHERE 0"))


def queue_order() -> tuple[Any, ...]:
    return (Job.priority.desc(), Job.created_at, Job.id)


def stream_queue(
    session: Session, workers: list[Candidate], starving_before: datetime
) -> Generator[QueuedJob, None, None]:
    """Unplaced queued jobs that could use the free slots of `workers` now, in scheduling
    order, read in chunks as the walk goes.

    The database leaves out what no free slot could take (more GPUs than any worker has free,
    CPU jobs when no CPU slot is free), so a pass after one slot freed does not walk thousands of
    jobs in Python to find the first that fits, except jobs waiting since before
    `starving_before`, which the walk needs in order to hold slots for them.
    """
    pools = sorted({w.pool for w in workers if w.spare()})
    most_gpus = max((len(w.free_gpus) for w in workers), default=0)
    could_fit: ColumnElement[bool] = Job.gpus.between(1, most_gpus) if most_gpus else false()
    if any(w.free_cpu for w in workers):
        could_fit = or_(could_fit, Job.gpus == 0)
    query = (
        select(
            Job.id, Job.project_id, Job.priority, Job.gpus, Job.pool, Job.labels, Job.queued_at,
            Job.created_at,
        )
        .where(
            Job.status == JobStatus.queued,
            Job.placement.is_(None),
            Job.pool.in_(pools),
            could_fit | (Job.queued_at < starving_before),
        )
        .order_by(*queue_order())
        .execution_options(yield_per=FETCH_CHUNK)
    )  # fmt: skip
    result = session.execute(query)
    try:
        for row in result:
            yield QueuedJob(
                row.id,
                row.project_id,
                row.priority,
                row.gpus,
                row.pool,
                dict(row.labels or {}),
                aware(row.queued_at or row.created_at),
            )
    finally:
        result.close()  # a pass that stopped early leaves no cursor open


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def project_usage(session: Session) -> dict[str, Usage]:
    """Per project: placed and running jobs, the GPUs they hold, and its quotas."""
    holding = Job.status.in_(ACTIVE) | (
        (Job.status == JobStatus.queued) & Job.placement.is_not(None)
    )
    rows = session.execute(
        select(Job.project_id, func.count(), func.coalesce(func.sum(Job.gpus), 0))
        .where(holding)
        .group_by(Job.project_id)
    )
    usage = {pid: Usage(jobs=int(n), gpus=int(g)) for pid, n, g in rows}
    quotas = session.execute(
        select(Project.id, Project.max_running_jobs, Project.max_gpus).where(
            Project.max_running_jobs.is_not(None) | Project.max_gpus.is_not(None)
        )
    )
    for pid, max_jobs, max_gpus in quotas:
        entry = usage.setdefault(pid, Usage())
        entry.max_jobs, entry.max_gpus = max_jobs, max_gpus
    return usage


def place(session: Session, decision: Decision, now: datetime) -> bool:
    """Reserve the slots and place the job, both or neither (a savepoint)."""
    savepoint = session.begin_nested()
    if not reserve_slots(session, decision.worker_id, decision.slots, decision.job_id):
        savepoint.rollback()
        return False
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Job)
        .where(Job.id == decision.job_id, Job.status == JobStatus.queued, Job.placement.is_(None))
        .values(
            placement={"worker": decision.worker_id, "gpus": decision.gpus},
            placed_at=now,
            dispatched_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # cancelled, or placed by someone else, since the snapshot
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def schedule(session: Session, settings: Settings, report: PassReport) -> list[Decision]:
    """Decide and place, under the scheduler lock; the caller commits."""
    now = utcnow()
    take_scheduler_lock(session)
    views = worker_views(session, now, settings.heartbeat_timeout_s, online_only=True)
    workers = [Candidate.of(v) for v in views]
    report.queries += 3
    if not any(w.spare() for w in workers):
        return []
    usage = project_usage(session)
    starving = now - timedelta(seconds=settings.scheduler_starvation_s)
    queue = stream_queue(session, workers, starving)
    try:
        decisions = decide(queue, workers, usage, now, settings.scheduler_starvation_s, report)
    finally:
        queue.close()
    report.queries += 3 + report.considered // FETCH_CHUNK + 2 * len(decisions)
    return [d for d in decisions if place(session, d, now)]


def schedule_pass(settings: Settings, send: Send) -> PassReport:
    """One scheduling pass, then the placed jobs' messages sent (each once: the outbox)."""
    started = time.perf_counter()
    report = PassReport()
    with session_scope(settings.database_url) as session:
        placed = schedule(session, settings, report)
    report.placed = [d.job_id for d in placed]
    if placed:
        with session_scope(settings.database_url) as session:
            report.sent = [j for j in report.placed if resend_job(session, j, None, send)]
        report.queries += 2 * len(placed)
        log.info("placed %s", ", ".join(f"{d.job_id}@{d.worker_id}{d.gpus}" for d in placed))
    report.seconds = time.perf_counter() - started
    return report


def place_here(settings: Settings, job_id: str, worker_id: str) -> bool:
    """Self-placement: a job that reached this worker unplaced (sent to the shared queue) is
    placed here if this worker can run it now, through the same reservation as the
    scheduler's. True when the job is (now) placed on this worker."""
    with session_scope(settings.database_url) as session:
        take_scheduler_lock(session)
        row = session.get(Job, job_id, populate_existing=True)
        if row is None or row.status != JobStatus.queued:
            return False
        if row.placement is not None:
            return bool(row.placement.get("worker") == worker_id)
        now = utcnow()
        views = worker_views(session, now, settings.heartbeat_timeout_s, online_only=True)
        mine = [Candidate.of(v) for v in views if v.row.id == worker_id]
        job = QueuedJob(
            row.id, row.project_id, row.priority, row.gpus, row.pool, dict(row.labels or {}), now
        )
        if not mine or not mine[0].can_ever_run(job) or not mine[0].fits_now(job):
            return False
        return place(session, take(job, mine[0]), now)


def unplace_stale(session: Session, now: datetime, timeout_s: float) -> list[str]:
    """Placed, unclaimed jobs whose worker went offline go back to the unplaced queue (their
    slots are freed); commits. Returns their ids."""
    online = select(Worker.id).where(is_online(now, timeout_s))
    rows = session.execute(
        select(Job.id, Job.placement).where(
            Job.status == JobStatus.queued, Job.placement.is_not(None)
        )
    ).all()
    alive = set(session.scalars(online))
    stale = [r.id for r in rows if r.placement and r.placement.get("worker") not in alive]
    released = []
    for job_id in stale:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(placement=None, placed_at=None, dispatched_at=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            release_slots(session, job_id)
            released.append(job_id)
    session.commit()
    return released
