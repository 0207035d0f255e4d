"""Queries and status changes of jobs. Every status change goes through `transition_job`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from api.db.models import EventType, Job, JobEvent, JobStatus, JobTransition, utcnow
from api.db.workers import release_slots

# Every status change the service makes. A call that asks for another is a bug: it is refused
# before the row is touched. (A cancelling job never succeeds or goes back to the queue: its
# cancel wins, see worker/lifecycle.py and api/db/recovery.py.)
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.queued: frozenset({JobStatus.running, JobStatus.cancelled}),
    JobStatus.running: frozenset(
        {
            JobStatus.cancelling,
            JobStatus.succeeded,
            JobStatus.failed,
            JobStatus.cancelled,
            JobStatus.queued,
        }
    ),
    JobStatus.cancelling: frozenset({JobStatus.cancelled, JobStatus.failed}),
    JobStatus.succeeded: frozenset(),
    JobStatus.failed: frozenset(),
    JobStatus.cancelled: frozenset(),
}


class IllegalTransition(ValueError):
    """A status change the service never makes (a terminal job is final, ...)."""


class TransitionError(Exception):
    """The job was not in any of the expected from-states."""

    def __init__(self, job_id: str, actual: JobStatus, expected: Iterable[JobStatus]) -> None:
        self.job_id, self.actual, self.expected = job_id, actual, tuple(expected)
        super().__init__(f"job {job_id} is {actual}, expected one of {self.expected}")


def lock_job(session: Session, job_id: str) -> Job | None:
    """Load the job under a row lock: SELECT ... FOR UPDATE on PostgreSQL; on SQLite, the
    database's write lock, held until the transaction ends.

    SQLite ignores FOR UPDATE, and Python's sqlite3 opens a transaction only at the first
    write, so a plain SELECT locks nothing: two writers would read the same max(seq) and one
    would fail on the events' unique index. A no-op UPDATE as the first statement makes SQLite
    take its write lock (waiting out the busy timeout for any other writer) before anything
    is read.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Job).where(Job.id == job_id).values(id=Job.id))
    return session.scalars(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def append_event(session: Session, job: Job, type_: EventType, data: dict[str, Any]) -> JobEvent:
    """Add an event with the next per-job sequence number. Call with the job row locked."""
    last = session.scalar(select(func.max(JobEvent.seq)).where(JobEvent.job_id == job.id))
    event = JobEvent(job_id=job.id, seq=(last or 0) + 1, type=type_, data=data)
    session.add(event)
    return event


def append_events(
    session: Session, job: Job, events: list[tuple[EventType, dict[str, Any]]]
) -> list[JobEvent]:
    """Add several events in one go (metric batches). Call with the job row locked."""
    last = session.scalar(select(func.max(JobEvent.seq)).where(JobEvent.job_id == job.id)) or 0
    rows = [
        JobEvent(job_id=job.id, seq=last + i, type=type_, data=data)
        for i, (type_, data) in enumerate(events, start=1)
    ]
    session.add_all(rows)
    return rows


def transition_job(
    session: Session,
    job_id: str,
    *,
    from_: Iterable[JobStatus],
    to: JobStatus,
    reason: str | None = None,
    **fields: Any,
) -> Job:
    """Move a job from one of `from_` to `to` under a row lock, record it, and set `fields`.

    Raises TransitionError when the job is in another state, LookupError when it does not exist,
    IllegalTransition when its state may never become `to`. The caller commits.
    """
    expected = {JobStatus(s) for s in from_}
    to = JobStatus(to)
    job = lock_job(session, job_id)
    if job is None:
        raise LookupError(job_id)
    previous = JobStatus(job.status)
    if previous not in expected:
        raise TransitionError(job_id, previous, sorted(expected))
    if to not in ALLOWED_TRANSITIONS[previous]:
        raise IllegalTransition(f"job {job_id}: {previous} -> {to} is not allowed")
    now = utcnow()
    job.status = to
    job.updated_at = now
    for name, value in fields.items():
        setattr(job, name, value)
    session.add(
        JobTransition(job_id=job_id, from_status=previous, to_status=to, reason=reason, at=now)
    )
    append_event(
        session,
        job,
        EventType.status,
        {"from": previous, "to": to, "reason": reason, "at": now.isoformat()},
    )
    if to.is_terminal:
        job.finished_at = job.finished_at or now
        append_event(session, job, EventType.end, {"status": to})
    if to.is_terminal or to == JobStatus.queued:
        # Its worker slots are free again; a job back in the queue is placed anew.
        release_slots(session, job_id)
    if to == JobStatus.queued:
        job.placement, job.placed_at, job.queued_at = None, None, now
    return job


def touch_heartbeat(session: Session, job_id: str, *, worker_id: str) -> bool:
    """Beat the heartbeat of a running job owned by `worker_id`; False if it is no longer ours."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.worker_id == worker_id,
            Job.status.in_([JobStatus.running, JobStatus.cancelling]),
        )
        .values(heartbeat_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))  # a CursorResult for an UPDATE


def is_cancel_requested(session: Session, job_id: str) -> bool:
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


# ---------------------------------------------------------------- API reads and submission


def get_job(session: Session, job_id: str, project_id: str) -> Job | None:
    """The job if it exists in `project_id`; other projects' jobs are invisible (None)."""
    return session.scalars(
        select(Job).where(Job.id == job_id, Job.project_id == project_id)
    ).one_or_none()


def list_jobs(
    session: Session,
    project_id: str,
    *,
    statuses: Iterable[JobStatus] = (),
    tags: Iterable[str] = (),
    search: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[Job]:
    """Jobs newest first; `before` is the (created_at, id) of the last job of the previous page.

    Every tag in `tags` must be on the job; `search` must be in its name (any case).
    """
    query = select(Job).where(Job.project_id == project_id)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Job.name).like(f"%{escaped.lower()}%", escape="\\"))
    statuses = list(statuses)
    if statuses:
        query = query.where(Job.status.in_(statuses))
    for tag in tags:
        query = query.where(_has_tag(session, tag))
    if before is not None:
        created, job_id = before
        query = query.where(
            or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id))
        )
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(session.scalars(query))


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    """Whether the job's tags hold exactly `tag` (case-sensitive on both databases; SQLite's
    LIKE would ignore case and answer differently from PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(Job.tags, JSONB).contains([tag])
    element = func.json_each(Job.tags).table_valued("value")
    return exists(select(element.c.value).where(element.c.value == tag))


def list_transitions(session: Session, job_id: str) -> list[JobTransition]:
    return list(
        session.scalars(
            select(JobTransition)
            .where(JobTransition.job_id == job_id)
            .order_by(JobTransition.at, JobTransition.id)
        )
    )


def find_by_idempotency_key(session: Session, project_id: str, key: str) -> Job | None:
    return session.scalars(
        select(Job).where(Job.project_id == project_id, Job.idempotency_key == key)
    ).one_or_none()


def insert_job(session: Session, *, project_id: str, spec: dict[str, Any], **fields: Any) -> Job:
    """Insert a `queued` job with its first transition and status event. The caller commits."""
    now = utcnow()
    resources = spec.get("resources") or {}
    job = Job(
        project_id=project_id,
        spec=spec,
        status=JobStatus.queued,
        created_at=now,
        updated_at=now,
        queued_at=now,
        priority=int(spec.get("priority") or 0),
        pool=str(resources.get("pool") or "default"),
        gpus=int(resources.get("gpus") or 0),
        labels=dict(resources.get("labels") or {}),
        **fields,
    )
    session.add(job)
    session.flush()
    session.add(
        JobTransition(
            job_id=job.id, from_status=None, to_status=JobStatus.queued, reason="submitted", at=now
        )
    )
    append_event(
        session,
        job,
        EventType.status,
        {"from": None, "to": JobStatus.queued, "reason": "submitted", "at": now.isoformat()},
    )
    return job


def mark_dispatched(session: Session, job_id: str) -> None:
    """Record that the broker accepted the job's message (the outbox is what stays unmarked)."""
    session.execute(update(Job).where(Job.id == job_id).values(dispatched_at=utcnow()))
