"""A job's life on the worker side, as database decisions: claim, heartbeat, finish, hand back,
re-send. Each opens its own transaction and checks the from-state under the job's row lock, so
a job the reaper took away (or that was cancelled) is never written over.

    claim      queued -> running, a new attempt that resumes from the latest checkpoint
    beat       the heartbeat; False once the job is no longer this worker's
    end        the attempt's outcome: finished (succeeded/failed/cancelled), or handed back by
               the retry policy (preempted, oom, infra_lost) and then re-sent
    resend     the message of a handed-back job, sent once (the reconciler uses the same one)

No torch here: the runner trains, this module records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.db.checkpoints import latest_checkpoint
from api.db.jobs import TransitionError, lock_job, touch_heartbeat, transition_job
from api.db.models import FailureClass, Job, JobStatus, utcnow
from api.db.recovery import close_attempt, resend_job, retry_or_fail
from api.db.session import session_scope
from api.settings import Settings

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.running, JobStatus.cancelling)
# An Outcome with this status hands the job back: requeued while the retry policy allows.
RETRY = JobStatus.queued
LOST = "lost"  # what run_job reports when the job was no longer ours to record

Send = Callable[[str], None]


@dataclass
class Outcome:
    """How training ended, before it is recorded."""

    status: JobStatus | None  # None: the job is no longer ours (reaped), record nothing
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def claim(settings: Settings, job_id: str, worker_id: str) -> Job | None:
    """queued -> running under the row lock. Returns the claimed job, or None when not queued.

    The lock makes a duplicate delivery of the same message a no-op, and a job cancelled while
    queued never starts. A job the scheduler placed on another worker (its placement moved while
    the message travelled) is not ours to claim.
    """
    with session_scope(settings.database_url) as session:
        job = lock_job(session, job_id)
        if job is None or job.status != JobStatus.queued:
            return None
        if job.placement is not None and job.placement.get("worker") != worker_id:
            return None
        now, attempt = utcnow(), job.attempt + 1
        resume = latest_checkpoint(session, job_id)
        record = {
            "attempt": attempt,
            "worker_id": worker_id,
            "started_at": now.isoformat(),
            "resumed_from": resume.id if resume else None,
            "resumed_from_step": resume.step if resume else None,
        }
        return transition_job(
            session,
            job_id,
            from_=[JobStatus.queued],
            to=JobStatus.running,
            reason=f"attempt {attempt} on {worker_id}",
            worker_id=worker_id,
            attempt=attempt,
            started_at=now,
            heartbeat_at=now,
            attempts=[*(job.attempts or []), record],
            failure_class=None,  # earlier attempts' endings stay in `attempts`
            error=None,
        )


def load_claimed(settings: Settings, job_id: str, worker_id: str, attempt: int) -> Job | None:
    """The job a supervisor claimed for this job process: running as `worker_id`'s attempt
    `attempt`; None when it is not (any more)."""
    with session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ACTIVE:
            return None
        return job if (job.worker_id, job.attempt) == (worker_id, attempt) else None


def still_running(settings: Settings, job_id: str, worker_id: str, attempt: int) -> bool:
    """Whether the attempt is still recorded as running (nobody wrote how it ended)."""
    return load_claimed(settings, job_id, worker_id, attempt) is not None


def beat(settings: Settings, job_id: str, worker_id: str) -> bool:
    """Beat the job's heartbeat; False when it is no longer ours (reaped, requeued, gone)."""
    with session_scope(settings.database_url) as session:
        return touch_heartbeat(session, job_id, worker_id=worker_id)


def end(settings: Settings, job_id: str, outcome: Outcome, send: Send) -> str:
    """Record how the attempt ended; a job handed back to the queue is re-sent at once.

    Returns the job's new status, or "lost" when it was no longer ours to record."""
    if outcome.status is None:
        log.warning("job %s is no longer ours; leaving it to its new owner", job_id)
        return LOST
    if outcome.status != RETRY:
        return finish(settings, job_id, outcome)
    fields = outcome.fields
    status = hand_back(
        settings, job_id, fields["failure_class"], outcome.reason or "", fields.get("error")
    )
    if status is None:
        return LOST
    if status == JobStatus.queued:
        resend(settings, job_id, send)
    return str(status)


def finish(settings: Settings, job_id: str, outcome: Outcome) -> str:
    """Write a final status. A cancel that arrived after training ended still wins."""
    assert outcome.status is not None
    with session_scope(settings.database_url) as session:
        job = lock_job(session, job_id)
        status, reason = outcome.status, outcome.reason
        if job is not None and job.cancel_requested and status == JobStatus.succeeded:
            status, reason = JobStatus.cancelled, "cancel requested"
        fields = dict(outcome.fields)
        if job is not None:  # the attempt's record says how it ended
            ended = fields.get("failure_class") or status
            fields["attempts"] = close_attempt(job, str(ended), utcnow(), fields.get("error"))
        try:
            transition_job(session, job_id, from_=ACTIVE, to=status, reason=reason, **fields)
        except (TransitionError, LookupError) as exc:
            log.warning("job %s: not recording %s: %s", job_id, status, exc)
            return LOST
    return str(status)


def hand_back(
    settings: Settings,
    job_id: str,
    failure_class: FailureClass,
    reason: str,
    error: dict[str, Any] | None = None,
) -> JobStatus | None:
    """End the running attempt by the retry policy (api.db.recovery.retry_or_fail): queued,
    failed or cancelled. None when the job is not ours any more."""
    with session_scope(settings.database_url) as session:
        try:
            job = retry_or_fail(
                session, job_id, failure_class=failure_class, reason=reason, error=error
            )
        except (TransitionError, LookupError):
            return None
        return JobStatus(job.status)


def resend(settings: Settings, job_id: str, send: Send) -> bool:
    """Put a handed-back job on the broker again, unless someone else already did.

    A failed send leaves it undispatched for the API's reconciler (the outbox)."""
    with session_scope(settings.database_url) as session:
        return resend_job(session, job_id, None, send)
