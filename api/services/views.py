"""Rows to public schemas."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.db.checkpoints import best_checkpoint
from api.db.jobs import list_transitions
from api.db.models import Checkpoint, Job
from trainyard.schemas.checkpoints import CheckpointPublic
from trainyard.schemas.jobs import JobProgress, JobPublic, JobSummary, TransitionPublic


def checkpoint_public(row: Checkpoint) -> CheckpointPublic:
    return CheckpointPublic(
        id=row.id,
        job_id=row.job_id,
        attempt=row.attempt,
        kind=row.kind,
        step=row.step,
        epoch=row.epoch,
        monitor=row.monitor,
        monitor_value=row.monitor_value,
        is_best=row.is_best,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        download_url=f"/v1/checkpoints/{row.id}/download",
    )


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
