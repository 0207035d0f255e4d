"""Checkpoint queries of the API (the worker's writes live in worker/store.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Checkpoint, Job


def list_checkpoints(session: Session, job_id: str) -> list[Checkpoint]:
    """Live (not deleted) checkpoints of a job, oldest first."""
    return list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
            .order_by(Checkpoint.created_at, Checkpoint.step, Checkpoint.id)
        )
    )


def get_checkpoint(session: Session, checkpoint_id: str, project_id: str) -> Checkpoint | None:
    """A live checkpoint of a job in `project_id`; None for other projects' and deleted ones."""
    return session.scalars(
        select(Checkpoint)
        .join(Job, Job.id == Checkpoint.job_id)
        .where(
            Checkpoint.id == checkpoint_id,
            Job.project_id == project_id,
            Checkpoint.deleted_at.is_(None),
        )
    ).one_or_none()


def best_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    """The row flagged best, else the newest one (a run without a monitored metric)."""
    live = select(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
    best = session.scalars(live.where(Checkpoint.is_best).limit(1)).first()
    return best or last_checkpoint(session, job_id)


def last_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    """The newest checkpoint: highest step, latest written."""
    return session.scalars(
        select(Checkpoint)
        .where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
        .order_by(Checkpoint.step.desc(), Checkpoint.created_at.desc(), Checkpoint.id.desc())
        .limit(1)
    ).first()
