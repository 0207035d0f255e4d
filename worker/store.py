"""The worker's database writes that are not status changes: metrics, events, checkpoint rows.

Each function takes an open session whose job row the caller has locked (`lock_job`), because
event sequence numbers are allocated under that lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db.models import Checkpoint, Metric, utcnow

MetricRow = dict[str, Any]  # job_id, name, stage, step, epoch, value


def insert_metrics(session: Session, rows: list[MetricRow]) -> list[MetricRow]:
    """Insert metric points, skipping any (job, name, stage, step) already stored.

    Returns the rows actually inserted, so a replayed step (a resumed attempt, a retried flush)
    is neither stored nor announced twice.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Metric).on_conflict_do_nothing(constraint="uq_metrics_point")
    elif dialect == "sqlite":
        stmt = sqlite.insert(Metric).on_conflict_do_nothing(
            index_elements=["job_id", "name", "stage", "step"]
        )
    else:  # pragma: no cover - settings only allow the two above
        stmt = insert(Metric)
    now = utcnow()
    cols = (Metric.name, Metric.stage, Metric.step, Metric.epoch, Metric.value)
    result = session.execute(stmt.returning(*cols), [{**row, "created_at": now} for row in rows])
    return [dict(r._mapping) for r in result]


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


def best_by_value(session: Session, job_id: str, monitor: str, mode: str) -> str | None:
    """The live row with the best `monitor` value over every attempt of the job.

    A resumed attempt's ModelCheckpoint only knows its own files; an earlier attempt may still
    hold the best model, so "best" is decided over all stored rows (ties: the later step).
    """
    rows = session.scalars(
        select(Checkpoint).where(
            Checkpoint.job_id == job_id,
            Checkpoint.deleted_at.is_(None),
            Checkpoint.monitor == monitor,
            Checkpoint.monitor_value.is_not(None),
        )
    ).all()
    if not rows:
        return None
    sign = 1.0 if mode == "min" else -1.0
    best = min(rows, key=lambda r: (sign * float(r.monitor_value or 0.0), -r.step))
    return best.id


def mark_deleted(session: Session, row_ids: list[str]) -> None:
    """Flag rows whose files the trainer removed (a checkpoint that fell out of the top k)."""
    if not row_ids:
        return
    for row in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(row_ids))):
        row.deleted_at = utcnow()
        row.is_best = False


def checkpoint_public(row: Checkpoint) -> dict[str, Any]:
    """What the `checkpoint` event carries."""
    return {
        "id": row.id,
        "attempt": row.attempt,
        "kind": row.kind,
        "step": row.step,
        "epoch": row.epoch,
        "monitor": row.monitor,
        "monitor_value": row.monitor_value,
        "is_best": row.is_best,
        "size": row.size,
        "sha256": row.sha256,
    }
