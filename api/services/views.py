"""Rows to public schemas."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.db.checkpoints import best_checkpoint, checkpoint_public
from api.db.jobs import list_transitions
from api.db.models import Job, utcnow
from api.db.queue import Fleet, queue_info
from trainyard.schemas.fleet import JobPlacement, QueueInfo
from trainyard.schemas.jobs import JobProgress, JobPublic, JobSummary, TransitionPublic


def job_summary(job: Job, queue: QueueInfo | None = None) -> JobSummary:
    return JobSummary(
        id=job.id,
        name=job.name,
        status=job.status,
        tags=list(job.tags or []),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempt=job.attempt,
        progress=JobProgress.model_validate(job.progress or {}),
        priority=job.priority,
        placement=JobPlacement.model_validate(job.placement) if job.placement else None,
        queue=queue,
    )


def job_summaries(session: Session, jobs: list[Job], timeout_s: float) -> list[JobSummary]:
    """A page of jobs; the queued ones with their queue info (the fleet read once)."""
    now = utcnow()
    fleet = Fleet.read(session, now, timeout_s) if any(j.status == "queued" for j in jobs) else None
    return [job_summary(j, queue_info(session, j, now, timeout_s, fleet)) for j in jobs]


def job_public(session: Session, job: Job, timeout_s: float) -> JobPublic:
    """Everything about one job; `timeout_s` (HEARTBEAT_TIMEOUT_S) tells online workers."""
    best = best_checkpoint(session, job.id)
    queue = queue_info(session, job, utcnow(), timeout_s)
    return JobPublic(
        **job_summary(job, queue).model_dump(),
        spec=job.spec,
        updated_at=job.updated_at,
        heartbeat_at=job.heartbeat_at,
        max_retries=job.max_retries,
        cancel_requested=job.cancel_requested,
        latest_metrics=dict(job.latest_metrics or {}),
        best_checkpoint=checkpoint_public(best) if best else None,
        failure_class=job.failure_class,
        error=job.error,
        attempts=list(job.attempts or []),
        transitions=[
            TransitionPublic(
                from_status=t.from_status, to_status=t.to_status, reason=t.reason, at=t.at
            )
            for t in list_transitions(session, job.id)
        ],
    )
