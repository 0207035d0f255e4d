"""api/db/checkpoints.py: what "best" and "latest" mean.

After a resume, "best" is decided over every attempt's checkpoints, not the new attempt's only;
"latest" breaks a tie of step and time by id, so that resume and predict pick the same row.
"""

from __future__ import annotations

import pytest

from api.db.checkpoints import best_by_value, best_checkpoint, latest_checkpoint, mark_best
from api.db.models import Checkpoint, utcnow
from api.db.session import session_scope
from tests.worker.conftest import insert_job, worker_settings
from worker import lifecycle

SPEC = {"module": {"name": "autoencoder"}, "datamodule": {"name": "synthetic"}}


def add_row(url: str, job_id: str, attempt: int, step: int, value: float | None) -> str:
    with session_scope(url) as session:
        row = Checkpoint(
            job_id=job_id, attempt=attempt, storage_key=f"k{attempt}-{step}", step=step, epoch=0,
            monitor="val_loss", monitor_value=value, size=1, sha256="0" * 64,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.parametrize(("mode", "expected"), [("min", "first"), ("max", "later")])
def test_an_earlier_attempt_can_hold_the_best(pg_url: str, mode: str, expected: str) -> None:
    job_id = insert_job(pg_url, SPEC)
    first = add_row(pg_url, job_id, attempt=1, step=10, value=0.1)
    later = add_row(pg_url, job_id, attempt=2, step=20, value=0.3)
    add_row(pg_url, job_id, attempt=2, step=30, value=0.2)
    add_row(pg_url, job_id, attempt=2, step=40, value=None)  # last.ckpt before any validation

    with session_scope(pg_url) as session:
        best = best_by_value(session, job_id, "val_loss", mode)
        mark_best(session, job_id, best)
    assert best == {"first": first, "later": later}[expected]
    with session_scope(pg_url) as session:
        flagged = [r.id for r in session.query(Checkpoint).filter_by(job_id=job_id, is_best=True)]
    assert flagged == [best]


def test_deleted_rows_never_count(pg_url: str) -> None:
    job_id = insert_job(pg_url, SPEC)
    gone = add_row(pg_url, job_id, attempt=1, step=10, value=0.01)
    kept = add_row(pg_url, job_id, attempt=2, step=20, value=0.5)
    with session_scope(pg_url) as session:
        session.get(Checkpoint, gone).deleted_at = utcnow()
    with session_scope(pg_url) as session:
        assert best_by_value(session, job_id, "val_loss", "min") == kept


def test_latest_breaks_a_tie_of_step_and_time_by_id(pg_url: str) -> None:
    job_id = insert_job(pg_url, SPEC)
    ids = [add_row(pg_url, job_id, attempt=1, step=10, value=None) for _ in range(3)]
    add_row(pg_url, job_id, attempt=1, step=5, value=None)
    with session_scope(pg_url) as session:
        now = utcnow()
        for row in session.query(Checkpoint).filter_by(job_id=job_id):
            row.created_at = now
    with session_scope(pg_url) as session:
        latest = latest_checkpoint(session, job_id)
        assert latest is not None and latest.id == max(ids)
        # No row flagged best: "best" is the latest one.
        best = best_checkpoint(session, job_id)
        assert best is not None and best.id == latest.id


def test_a_new_attempt_resumes_from_the_latest_row(pg_url: str, tmp_path) -> None:
    job_id = insert_job(pg_url, SPEC)
    tied = [add_row(pg_url, job_id, attempt=1, step=7, value=None) for _ in range(2)]
    with session_scope(pg_url) as session:
        now = utcnow()
        for row in session.query(Checkpoint).filter_by(job_id=job_id):
            row.created_at = now
    settings = worker_settings(pg_url, tmp_path)
    job = lifecycle.claim(settings, job_id, "w1")
    assert job is not None
    assert job.attempts[-1]["resumed_from"] == max(tied)
    assert job.attempts[-1]["resumed_from_step"] == 7
