"""The runner in this process against a real PostgreSQL (and SQLite for the embedded mode)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.artifacts import get_artifact_store
from api.db.jobs import transition_job
from api.db.metrics import insert_metrics
from api.db.models import Checkpoint, Job, JobEvent, JobTransition, Metric
from api.db.session import session_scope
from api.settings import Settings
from tests.service_doubles import TinyRegressor, tiny_spec
from tests.worker.conftest import insert_job, worker_settings
from worker.runner import run_job


def load(settings: Settings, job_id: str) -> dict[str, Any]:
    """Everything the job left in the database."""
    with session_scope(settings.database_url) as s:
        return {
            "job": s.get(Job, job_id),
            "metrics": s.scalars(select(Metric).where(Metric.job_id == job_id)).all(),
            "checkpoints": s.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id)).all(),
            "events": s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
            ).all(),
            "transitions": s.scalars(
                select(JobTransition)
                .where(JobTransition.job_id == job_id)
                .order_by(JobTransition.id)
            ).all(),
        }


def series(metrics: list[Metric], name: str, stage: str) -> list[tuple[int, int]]:
    return sorted((m.step, m.epoch) for m in metrics if m.name == name and m.stage == stage)


def test_job_trains_and_stores_metrics_checkpoints_and_events(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec(module_params={"say": "hello from the job"}))

    assert run_job(job_id, settings) == "succeeded"

    got = load(settings, job_id)
    job = got["job"]
    assert (job.status, job.attempt, job.failure_class) == ("succeeded", 1, None)
    assert job.started_at is not None and job.finished_at is not None
    assert job.progress["step"] == 8 and job.progress["total"] == 8
    assert set(job.latest_metrics) >= {"train_loss", "val_loss"}
    # log_every_n_steps=1: one train_loss point per optimizer step; val_loss once per epoch.
    assert series(got["metrics"], "train_loss", "train") == [(s, s // 4) for s in range(8)]
    assert [e for _, e in series(got["metrics"], "val_loss", "validate")] == [0, 1]

    live = [c for c in got["checkpoints"] if c.deleted_at is None]
    assert sorted((c.kind, c.step, c.epoch) for c in live) == [("epoch", 8, 1), ("last", 8, 1)]
    assert [c.kind for c in live if c.is_best] == ["epoch"]
    store = get_artifact_store(settings)
    for row in live:
        with store.open(row.storage_key) as f:
            data = f.read()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (row.size, row.sha256)
    best = next(c for c in live if c.is_best)
    restored = TinyRegressor.load_from_checkpoint(str(store.local_path(best.storage_key)))
    assert restored.hparams["say"] == "hello from the job"
    # The epoch-0 checkpoint fell out of the top 1: its row says so and its file is gone.
    dropped = [c for c in got["checkpoints"] if c.deleted_at is not None]
    assert [c.step for c in dropped] == [4] and not store.exists(dropped[0].storage_key)

    events = got["events"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.data["to"] for e in events if e.type == "status"][:2] == ["queued", "running"]
    assert [e.type for e in events[-2:]] == ["status", "end"]
    assert events[-1].data["status"] == "succeeded"
    types = {e.type for e in events}
    assert {"metric", "progress", "checkpoint", "log"} <= types
    lines = [e.data["line"] for e in events if e.type == "log"]
    assert "hello from the job" in lines
    assert any("logged: hello from the job" in line for line in lines)
    assert [e.data for e in events if e.type == "progress"][-1] == job.progress
    metric_events = [e for e in events if e.type == "metric"]
    assert len(metric_events) == len(got["metrics"])


def test_user_error_fails_the_job_and_the_next_job_still_runs(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    bad = queue_job(tiny_spec(module_params={"fail_at_step": 2}))
    good = queue_job(tiny_spec(max_epochs=1))

    assert run_job(bad, settings) == "failed"
    assert run_job(good, settings) == "succeeded"

    got = load(settings, bad)
    job = got["job"]
    assert (job.status, job.failure_class) == ("failed", "user_error")
    assert job.error["type"] == "ValueError"
    assert job.error["message"] == "boom at step 2"
    assert "training_step" in job.error["traceback"]
    # What was logged before the failure is kept.
    assert series(got["metrics"], "train_loss", "train") == [(0, 0), (1, 0)]
    assert got["events"][-1].type == "end"


def test_unbuildable_component_fails_as_user_error(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec(module_params={"in_dim": "eight"}))
    assert run_job(job_id, settings) == "failed"
    job = load(settings, job_id)["job"]
    assert job.failure_class == "user_error" and "in_dim" in job.error["message"]


def test_a_duplicate_delivery_does_not_run_the_job_twice(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec(max_epochs=1))
    assert run_job(job_id, settings) == "succeeded"
    assert run_job(job_id, settings) == "skipped"
    got = load(settings, job_id)
    assert got["job"].attempt == 1
    assert [t.to_status for t in got["transitions"]] == ["queued", "running", "succeeded"]


def test_a_job_cancelled_while_queued_never_starts(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec())
    with session_scope(settings.database_url) as s:
        transition_job(s, job_id, from_=["queued"], to="cancelled", cancel_requested=True)
    assert run_job(job_id, settings) == "skipped"
    job = load(settings, job_id)["job"]
    assert (job.status, job.started_at, job.attempt) == ("cancelled", None, 0)


def run_in_thread(job_id: str, settings: Settings) -> tuple[threading.Thread, dict[str, str]]:
    result: dict[str, str] = {}
    thread = threading.Thread(target=lambda: result.update(out=run_job(job_id, settings)))
    thread.start()
    return thread, result


def wait_for_step(settings: Settings, job_id: str, step: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(settings.database_url) as s:
            if (s.get(Job, job_id).progress or {}).get("step", 0) >= step:
                return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached step {step}")


def test_cancel_stops_a_running_job_at_a_batch_boundary_with_a_last_checkpoint(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec(max_epochs=50, module_params={"sleep_s": 0.02}))
    thread, result = run_in_thread(job_id, settings)
    wait_for_step(settings, job_id, 3)
    with session_scope(settings.database_url) as s:  # what POST /cancel does
        transition_job(s, job_id, from_=["running"], to="cancelling", cancel_requested=True)
    thread.join(60)

    assert result["out"] == "cancelled"
    got = load(settings, job_id)
    assert got["job"].status == "cancelled"
    last = [c for c in got["checkpoints"] if c.kind == "last" and c.deleted_at is None]
    assert len(last) == 1 and 3 <= last[0].step < 50 * 4
    assert got["job"].progress["step"] == last[0].step
    assert got["events"][-1].type == "end"


def test_a_job_taken_over_by_another_worker_stops_without_touching_its_row(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec(max_epochs=50, module_params={"sleep_s": 0.02}))
    thread, result = run_in_thread(job_id, settings)
    wait_for_step(settings, job_id, 2)
    with session_scope(settings.database_url) as s:  # a reaper gave it to someone else
        s.get(Job, job_id).worker_id = "someone-else"
    thread.join(60)

    assert result["out"] == "lost"
    job = load(settings, job_id)["job"]
    assert (job.status, job.worker_id) == ("running", "someone-else")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_replayed_metric_points_are_stored_once(
    backend: str, pg_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    url = pg_url if backend == "postgresql" else sqlite_url
    job_id = insert_job(url, tiny_spec())
    rows = [
        {"job_id": job_id, "name": "loss", "stage": "train", "step": s, "epoch": 0, "value": 1.0}
        for s in range(3)
    ]
    with session_scope(url) as s:
        assert len(insert_metrics(s, rows)) == 3
    with session_scope(url) as s:
        replay = rows[1:] + [{**rows[0], "step": 3}]
        assert [r["step"] for r in insert_metrics(s, replay)] == [3]
        assert len(s.scalars(select(Metric)).all()) == 4


def test_embedded_sqlite_job(sqlite_url: str, tmp_path: Path) -> None:
    settings = worker_settings(sqlite_url, tmp_path)
    job_id = insert_job(sqlite_url, tiny_spec(max_epochs=1, test_after_fit=True))
    assert run_job(job_id, settings) == "succeeded"
    got = load(settings, job_id)
    assert series(got["metrics"], "train_loss", "train") == [(s, 0) for s in range(4)]
    assert [m.stage for m in got["metrics"] if m.name == "test_loss"] == ["test"]
    assert any(c.is_best for c in got["checkpoints"])


def test_max_runtime_stops_the_job_as_a_timeout_with_a_checkpoint(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    spec = tiny_spec(max_epochs=1000, module_params={"sleep_s": 0.02}, max_runtime_s=1.0)
    job_id = queue_job(spec)
    assert run_job(job_id, settings) == "failed"
    got = load(settings, job_id)
    assert (got["job"].failure_class, got["job"].error["type"]) == ("timeout", "Timeout")
    assert any(c.kind == "last" and c.step > 0 for c in got["checkpoints"])
