"""Every query of checkpoint rows: the API's reads, the worker's writes, and what "latest" and
"best" mean (one definition each, so resume, predict and download pick the same row).

The worker's writes take an open session whose job row the caller has locked (`lock_job`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.db.models import Checkpoint, Job, utcnow
from trainyard.schemas.checkpoints import CheckpointPublic


def _live(job_id: str) -> Select[Checkpoint]:
    return select(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))


# ---------------------------------------------------------------- reads


def list_checkpoints(session: Session, job_id: str) -> list[Checkpoint]:
    """Live (not deleted) checkpoints of a job, oldest first."""
    query = _live(job_id).order_by(Checkpoint.created_at, Checkpoint.step, Checkpoint.id)
    return list(session.scalars(query))


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


def storage_key_of(session: Session, checkpoint_id: str) -> str | None:
    """Where a checkpoint's file is (a resumed attempt fetches the row it recorded at claim)."""
    return session.scalar(select(Checkpoint.storage_key).where(Checkpoint.id == checkpoint_id))


def latest_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    """The newest live checkpoint: highest step, then latest written, then highest id.

    What a new attempt resumes from and what predict's "last" loads; the id breaks a tie of
    step and time, so both always pick the same row.
    """
    order = (Checkpoint.step.desc(), Checkpoint.created_at.desc(), Checkpoint.id.desc())
    return session.scalars(_live(job_id).order_by(*order).limit(1)).first()


def best_checkpoint(session: Session, job_id: str) -> Checkpoint | None:
    """The live row flagged best, else the latest one (a run without a monitored metric)."""
    best = session.scalars(_live(job_id).where(Checkpoint.is_best).limit(1)).first()
    return best or latest_checkpoint(session, job_id)


def best_by_value(session: Session, job_id: str, monitor: str, mode: str) -> str | None:
    """The live row with the best `monitor` value over every attempt of the job.

    A resumed attempt's ModelCheckpoint only knows its own files; an earlier attempt may still
    hold the best model, so "best" is decided over all stored rows (ties: the later step).
    """
    rows = session.scalars(
        _live(job_id).where(Checkpoint.monitor == monitor, Checkpoint.monitor_value.is_not(None))
    ).all()
    if not rows:
        return None
    sign = 1.0 if mode == "min" else -1.0
    best = min(rows, key=lambda r: (sign * float(r.monitor_value or 0.0), -r.step))
    return best.id


# ---------------------------------------------------------------- the worker's writes


def save_checkpoint_row(session: Session, row_id: str | None, values: dict[str, Any]) -> Checkpoint:
    """Insert a checkpoint row, or refresh row `row_id` when its file was rewritten (last.ckpt)."""
    row = session.get(Checkpoint, row_id) if row_id is not None else None
    if row is None:
        row = Checkpoint(**values, created_at=utcnow())
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.created_at = utcnow()
        row.deleted_at = None
    session.flush()
    return row


def mark_best(session: Session, job_id: str, best_id: str | None) -> None:
    """Keep exactly one row of the job (`best_id`) flagged best; None clears the flag on all."""
    for row in session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id)):
        row.is_best = row.id == best_id and row.deleted_at is None


def mark_deleted(session: Session, row_ids: list[str]) -> None:
    """Flag rows whose files the trainer removed (a checkpoint that fell out of the top k)."""
    if not row_ids:
        return
    for row in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(row_ids))):
        row.deleted_at = utcnow()
        row.is_best = False


# ---------------------------------------------------------------- the public view


def checkpoint_public(row: Checkpoint) -> CheckpointPublic:
    """What clients see of a row: in job reads, checkpoint lists and `checkpoint` events."""
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
