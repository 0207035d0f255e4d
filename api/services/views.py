"""Rows to public schemas."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.db.checkpoints import best_checkpoint, checkpoint_public
from api.db.jobs import list_transitions
from api.db.models import Job
from trainyard.schemas.jobs import JobProgress, JobPublic, JobSummary, TransitionPublic


def job_summary(job: Job) -> JobSummary:
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
    )


def job_public(session: Session, job: Job) -> JobPublic:
    best = best_checkpoint(session, job.id)
    return JobPublic(
        **job_summary(job).model_dump(),
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
