"""How an attempt that did not finish ends, and the queries that find such attempts.

- `retry_or_fail`: the retry policy. A job whose attempt ended by `preempted` goes back to the
  queue always; `infra_lost` and `oom` go back while retries are left (`max_retries`), else fail;
  anything else fails. A cancel that was asked for wins over all of them.
- `reap_lost_jobs`: running jobs whose heartbeat is older than the timeout are declared lost.
- `undispatched_jobs` / `resend_job`: the outbox. A job placed on a worker (api/db/scheduling.py)
  whose message was never sent, or was sent long ago and is gone from the broker, is sent
  again; `resend_job` is also how the scheduler sends what it placed.

Several reapers and reconcilers may run at once (API replicas): a job is taken by a conditional
UPDATE whose WHERE repeats what made it a candidate. The UPDATE takes the row lock (PostgreSQL)
or the database's write lock (SQLite), and a concurrent one re-checks the WHERE against the
committed row, so exactly one of them sees rowcount 1 and acts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from api.db.jobs import lock_job, transition_job
from api.db.models import FailureClass, Job, JobStatus, utcnow

log = logging.getLogger("trainyard.recovery")

ACTIVE = (JobStatus.running, JobStatus.cancelling)
# Failures that use up a retry; a preemption is nobody's fault and never does.
COUNTED = frozenset({FailureClass.infra_lost, FailureClass.oom})
MAX_PER_PASS = 100


def retries_used(job: Job) -> int:
    return sum(1 for a in job.attempts or [] if a.get("outcome") in COUNTED)


def close_attempt(
    job: Job, outcome: str, now: datetime, error: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The job's attempts with the running one marked ended (how, when, and the error's gist)."""
    attempts = [dict(a) for a in job.attempts or []]
    if attempts and "ended_at" not in attempts[-1]:
        attempts[-1].update(ended_at=now.isoformat(), outcome=outcome)
        if error:
            attempts[-1]["error"] = f"{error.get('type')}: {error.get('message')}"[:500]
    return attempts


def retry_or_fail(
    session: Session,
    job_id: str,
    *,
    failure_class: FailureClass,
    reason: str,
    error: dict[str, Any] | None = None,
) -> Job:
    """End the job's running attempt: back to `queued` (undispatched, for the caller or the
    reconciler to send), or `failed`, or `cancelled` when a cancel was asked for.

    Raises TransitionError when the job is no longer running (someone else already ended the
    attempt). The caller commits.
    """
    job = lock_job(session, job_id)
    if job is None:
        raise LookupError(job_id)
    now = utcnow()
    retry = failure_class == FailureClass.preempted or (
        failure_class in COUNTED and retries_used(job) < job.max_retries
    )
    fields: dict[str, Any] = {"attempts": close_attempt(job, str(failure_class), now, error)}
    if job.cancel_requested:
        to, reason = JobStatus.cancelled, f"{reason}; cancel requested"
    elif retry:
        to = JobStatus.queued
        fields.update(
            failure_class=failure_class, worker_id=None, heartbeat_at=None, dispatched_at=None
        )
    else:
        to = JobStatus.failed
        fields.update(failure_class=failure_class, error=error or _error(failure_class, reason))
        reason = f"{reason}; no retries left" if failure_class in COUNTED else reason
    return transition_job(session, job_id, from_=ACTIVE, to=to, reason=reason, **fields)


def _error(failure_class: FailureClass, reason: str) -> dict[str, Any]:
    return {"type": str(failure_class), "message": reason, "traceback": ""}


# ---------------------------------------------------------------- the reaper


def _last_sign_of_life() -> Any:
    # A claimed job always has a heartbeat; updated_at covers rows written by hand.
    return func.coalesce(Job.heartbeat_at, Job.updated_at)


def reap_lost_jobs(session: Session, now: datetime, timeout: float) -> list[Job]:
    """Declare lost every running job whose heartbeat is older than `timeout` seconds.

    Each is requeued as a new attempt (failure_class infra_lost) while retries are left, else
    failed; a job whose cancel was asked for ends cancelled. Commits once per job, so one bad row
    does not hold back the others. Returns the jobs it changed.
    """
    cutoff = now - timedelta(seconds=timeout)
    candidates = session.scalars(
        select(Job.id)
        .where(Job.status.in_([str(s) for s in ACTIVE]), _last_sign_of_life() < cutoff)
        .order_by(_last_sign_of_life())
        .limit(MAX_PER_PASS)
    ).all()
    session.rollback()  # end the read: each job below gets a transaction of its own
    reaped = []
    for job_id in candidates:
        if not _take_lost(session, job_id, cutoff, now):
            session.rollback()  # it beat, or another reaper took it
            continue
        job = retry_or_fail(
            session,
            job_id,
            failure_class=FailureClass.infra_lost,
            reason=f"lost: no heartbeat for {timeout:g}s",
        )
        session.commit()
        reaped.append(job)
    return reaped


def _take_lost(session: Session, job_id: str, cutoff: datetime, now: datetime) -> bool:
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Job)
        .where(
            Job.id == job_id,
            Job.status.in_([str(s) for s in ACTIVE]),
            _last_sign_of_life() < cutoff,
        )
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


# ---------------------------------------------------------------- the outbox


def undispatched_jobs(
    session: Session, now: datetime, *, grace_s: float, stale_after_s: float
) -> list[tuple[str, datetime | None]]:
    """(id, dispatched_at) of placed, queued jobs whose message may be missing, oldest first.

    Never sent and older than `grace_s` (the API sends right after its commit; the grace keeps
    the reconciler out of that window), or sent more than `stale_after_s` ago (the broker may
    have lost it: the caller asks the broker before sending again).
    """
    never = Job.dispatched_at.is_(None) & (Job.updated_at < now - timedelta(seconds=grace_s))
    stale = Job.dispatched_at < now - timedelta(seconds=stale_after_s)
    rows = session.execute(
        select(Job.id, Job.dispatched_at)
        .where(Job.status == str(JobStatus.queued), Job.placement.is_not(None), never | stale)
        .order_by(Job.updated_at)
        .limit(MAX_PER_PASS)
    ).all()
    session.rollback()
    return [(row.id, row.dispatched_at) for row in rows]


def take_for_dispatch(session: Session, job_id: str, seen: datetime | None, now: datetime) -> bool:
    """Stamp `dispatched_at=now` if the job is still queued with the `dispatched_at` we saw.

    Commits. True means this caller, and no concurrent one, sends the message.
    """
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Job)
        .where(
            Job.id == job_id,
            Job.status == str(JobStatus.queued),
            Job.dispatched_at.is_(None) if seen is None else Job.dispatched_at == seen,
        )
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)


def release_dispatch(session: Session, job_id: str, stamped: datetime) -> None:
    """The send failed: unmark the job so that the next pass tries again. Commits."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.dispatched_at == stamped)
        .values(dispatched_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def resend_job(
    session: Session, job_id: str, seen: datetime | None, dispatch: Callable[[str], None]
) -> bool:
    """Send a queued job's message if no one else is sending it; False when skipped or failed.

    `seen` is the `dispatched_at` the caller read (None: never sent, or handed back). A failed
    send is unmarked again, so the reconciler's next pass retries it. Commits.
    """
    now = utcnow()
    if not take_for_dispatch(session, job_id, seen, now):
        return False
    try:
        dispatch(job_id)
    except Exception:
        log.warning("sending job %s failed; the reconciler retries", job_id, exc_info=True)
        release_dispatch(session, job_id, now)
        return False
    return True
