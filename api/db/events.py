"""Reads of a job's event log (the writes are `append_event(s)` in api/db/jobs.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import EventType, Job, JobEvent


def events_after(
    session: Session,
    job_id: str,
    after: int,
    limit: int,
    types: Sequence[EventType] = (),
) -> list[JobEvent]:
    """Events with seq > `after`, oldest first, at most `limit` (only `types` when given)."""
    query = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after)
    if types:
        query = query.where(JobEvent.type.in_(list(types)))
    return list(session.scalars(query.order_by(JobEvent.seq).limit(limit)))


def last_event(session: Session, job_id: str) -> tuple[int, str] | None:
    """(seq, type) of the job's newest event; None when it has none."""
    row = session.execute(
        select(JobEvent.seq, JobEvent.type)
        .where(JobEvent.job_id == job_id)
        .order_by(JobEvent.seq.desc())
        .limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def job_exists(session: Session, job_id: str) -> bool:
    return session.scalar(select(Job.id).where(Job.id == job_id)) is not None


def tail_start(session: Session, job_id: str, tail: int) -> int:
    """Where "the newest `tail` events, then live" starts. It reaches back to the latest
    `status` event too, so the stream opens with the job's current state (and a finished job's
    stream still ends with `end`)."""
    newest = last_event(session, job_id)
    if newest is None:
        return 0
    status_seq = session.scalar(
        select(func.max(JobEvent.seq)).where(
            JobEvent.job_id == job_id, JobEvent.type == EventType.status
        )
    )
    start = max(newest[0] - tail, 0)
    return min(start, status_seq - 1) if status_seq else start


def latest_events(session: Session, job_id: str, type_: EventType, limit: int) -> list[JobEvent]:
    """The newest `limit` events of one type, oldest first (the dashboard's log tail)."""
    query = (
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.type == type_)
        .order_by(JobEvent.seq.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))
