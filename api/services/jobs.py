"""Submitting and cancelling jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.jobs import (
    find_by_idempotency_key,
    insert_job,
    lock_job,
    mark_dispatched,
    transition_job,
)
from api.db.models import Job, JobStatus
from api.errors import AppError, ErrorCode

log = logging.getLogger("trainyard.api")

Dispatcher = Callable[[str], None]


def _replay(session: Session, project_id: str, key: str, digest: str) -> Job | None:
    """The job stored under `key` when the request is identical; 409 when it differs."""
    job = find_by_idempotency_key(session, project_id, key)
    if job is not None and job.request_hash != digest:
        raise AppError(
            ErrorCode.idempotency_conflict,
            f"Idempotency-Key {key!r} was used for a different request (job {job.id}); "
            "use a new key for a new job",
        )
    return job


def submit_job(
    session: Session,
    *,
    project_id: str,
    spec: dict[str, Any],
    digest: str,
    idempotency_key: str | None,
    before_insert: Callable[[], None] = lambda: None,
) -> tuple[Job, bool]:
    """Store a queued job (row, transition, event: one transaction). Returns (job, created).

    A repeated Idempotency-Key with the same request returns the stored job, created=False.
    `before_insert` runs only when a job is about to be created (the rate limit).
    """
    if idempotency_key is not None:
        existing = _replay(session, project_id, idempotency_key, digest)
        if existing is not None:
            return existing, False
    before_insert()
    job = insert_job(
        session,
        project_id=project_id,
        spec=spec,
        name=spec["name"],
        tags=list(spec["tags"]),
        idempotency_key=idempotency_key,
        request_hash=digest,
        max_retries=spec["max_retries"],
    )
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key won the insert.
        session.rollback()
        if idempotency_key is None:
            raise
        existing = _replay(session, project_id, idempotency_key, digest)
        if existing is None:
            raise
        return existing, False
    return job, True


def dispatch(session: Session, job: Job, dispatcher: Dispatcher) -> None:
    """Send the job id to the broker and mark it dispatched.

    A send that fails leaves the job queued and undispatched; the reconciler re-sends it, so the
    client still gets its 201.
    """
    try:
        dispatcher(job.id)
    except Exception:
        log.warning("could not dispatch job %s; the reconciler will retry", job.id, exc_info=True)
        return
    mark_dispatched(session, job.id)
    session.commit()
    session.refresh(job)


def cancel_job(session: Session, job_id: str) -> Job:
    """queued -> cancelled (never starts); running -> cancelling (the worker stops at the next
    batch, saves a last checkpoint, ends cancelled). Repeating a cancel is safe: a cancelling
    or cancelled job is returned as it is. A job that succeeded or failed -> 409."""
    job = lock_job(session, job_id)
    if job is None:
        raise AppError(ErrorCode.job_not_found, f"no job {job_id}")
    reason = "cancel requested by user"
    if job.status == JobStatus.queued:
        job = transition_job(
            session, job_id, from_=[JobStatus.queued], to=JobStatus.cancelled,
            reason=reason, cancel_requested=True,
        )  # fmt: skip
    elif job.status == JobStatus.running:
        job = transition_job(
            session, job_id, from_=[JobStatus.running], to=JobStatus.cancelling,
            reason=reason, cancel_requested=True,
        )  # fmt: skip
    elif job.status not in (JobStatus.cancelling, JobStatus.cancelled):
        raise AppError(
            ErrorCode.job_not_cancellable,
            f"job {job_id} already {job.status}; only queued or running jobs can be cancelled",
        )
    session.commit()
    return job
