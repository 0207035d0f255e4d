"""Preemption, resume and retries in this process (the runner on a real PostgreSQL).

`Preemption.request()` is what the worker's SIGTERM handler calls; the job checkpoints at the next
batch end, leaves at the next batch start and goes back to the queue, and the next run_job resumes
it from that checkpoint. (tests/faults/ does the same with real signals and worker processes.)
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from sqlalchemy import select

from api.artifacts import get_artifact_store
from api.db.models import Checkpoint, Job, Metric
from api.db.session import session_scope
from api.settings import Settings
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job
from tests.worker.test_runner import wait_for_step
from worker.preemption import Preemption
from worker.runner import run_job


@pytest.fixture
def preemption() -> Iterator[Preemption]:
    stop = Preemption()
    yield stop
    stop.reset()  # cancels a grace timer, should a test have started one


def deterministic_spec(**extra: Any) -> dict[str, Any]:
    spec = tiny_spec(**extra)
    spec["trainer"]["deterministic"] = True
    return spec


def run_until_preempted(settings: Settings, job_id: str, at_step: int) -> tuple[str, list[str]]:
    """Run the job in a thread, preempt it once it reached `at_step`; (result, ids re-sent)."""
    sent: list[str] = []
    result: dict[str, str] = {}
    preemption = Preemption()
    thread = threading.Thread(
        target=lambda: result.update(
            out=run_job(job_id, settings, send=sent.append, preemption=preemption)
        )
    )
    thread.start()
    wait_for_step(settings, job_id, at_step)
    preemption.request()
    thread.join(60)
    assert not thread.is_alive(), "the preempted job did not stop"
    return result["out"], sent


def final_weights(settings: Settings, job_id: str) -> dict[str, torch.Tensor]:
    with session_scope(settings.database_url) as s:
        row = s.scalars(
            select(Checkpoint)
            .where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
            .order_by(Checkpoint.step.desc(), Checkpoint.created_at.desc())
        ).first()
    with get_artifact_store(settings).open(row.storage_key) as f:
        return torch.load(io.BytesIO(f.read()), weights_only=False)["state_dict"]


def train_losses(settings: Settings, job_id: str) -> list[tuple[int, float]]:
    with session_scope(settings.database_url) as s:
        rows = s.scalars(
            select(Metric).where(Metric.job_id == job_id, Metric.name == "train_loss")
        ).all()
    return sorted((m.step, m.value) for m in rows)


def job_row(settings: Settings, job_id: str) -> Job:
    with session_scope(settings.database_url) as s:
        return s.get(Job, job_id)


def test_a_preempted_job_resumes_to_the_same_weights_bit_for_bit(settings: Settings) -> None:
    # One batch per epoch: every checkpoint is an end-of-epoch one, which resumes exactly
    # (a mid-epoch one restarts that epoch's data iterator, as Lightning does).
    spec = deterministic_spec(
        max_epochs=14, train_size=16, batch_size=16, module_params={"sleep_s": 0.05}
    )
    reference = insert_job(settings.database_url, spec)
    assert run_job(reference, settings) == "succeeded"

    job_id = insert_job(settings.database_url, spec)
    out, sent = run_until_preempted(settings, job_id, at_step=4)
    assert out == "queued" and sent == [job_id]
    row = job_row(settings, job_id)
    assert (row.status, row.failure_class, row.worker_id) == ("queued", "preempted", None)
    assert row.attempts[0]["outcome"] == "preempted"

    assert run_job(job_id, settings) == "succeeded"
    row = job_row(settings, job_id)
    first, second = row.attempts
    assert 4 <= second["resumed_from_step"] < 14 and second["resumed_from"] is not None
    assert (second["outcome"], row.attempt, row.failure_class) == ("succeeded", 2, None)

    expected, got = final_weights(settings, reference), final_weights(settings, job_id)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    # The metric history is the uninterrupted one: every step once, the same values.
    assert train_losses(settings, job_id) == train_losses(settings, reference)


def test_a_job_preempted_mid_epoch_resumes_from_that_step(settings: Settings) -> None:
    spec = tiny_spec(max_epochs=6, train_size=64, batch_size=16, module_params={"sleep_s": 0.05})
    job_id = insert_job(settings.database_url, spec)
    out, _ = run_until_preempted(settings, job_id, at_step=5)
    assert out == "queued"
    stopped_at = job_row(settings, job_id).progress["step"]

    assert run_job(job_id, settings) == "succeeded"
    row = job_row(settings, job_id)
    assert row.attempts[1]["resumed_from_step"] == stopped_at
    steps = [step for step, _ in train_losses(settings, job_id)]
    assert steps == list(range(6 * 4))  # each step once, none missing


def test_a_job_preempted_before_its_first_step_leaves_at_once(
    settings: Settings, preemption: Preemption
) -> None:
    job_id = insert_job(settings.database_url, tiny_spec(max_epochs=1))
    preemption.request()
    sent: list[str] = []
    assert run_job(job_id, settings, send=sent.append, preemption=preemption) == "skipped"
    assert sent == [job_id]  # the message goes back to the broker for the next worker
    assert job_row(settings, job_id).status == "queued"


def test_out_of_memory_is_retried_up_to_max_retries_then_fails(settings: Settings) -> None:
    spec = tiny_spec(module="oom_regressor", module_params={"fail_at_step": 1}, max_retries=1)
    job_id = insert_job(settings.database_url, spec)
    with session_scope(settings.database_url) as s:
        s.get(Job, job_id).max_retries = 1
    sent: list[str] = []
    assert run_job(job_id, settings, send=sent.append) == "queued"
    assert sent == [job_id]
    assert run_job(job_id, settings, send=sent.append) == "failed"
    row = job_row(settings, job_id)
    assert (row.failure_class, row.attempt, row.error["type"]) == ("oom", 2, "OutOfMemoryError")
    assert [a["outcome"] for a in row.attempts] == ["oom", "oom"]
    assert sent == [job_id]  # no third attempt


def test_user_errors_are_not_retried(settings: Settings) -> None:
    job_id = insert_job(settings.database_url, tiny_spec(module_params={"fail_at_step": 1}))
    sent: list[str] = []
    assert run_job(job_id, settings, send=sent.append) == "failed"
    row = job_row(settings, job_id)
    assert (row.failure_class, row.attempts[-1]["outcome"], sent) == (
        "user_error",
        "user_error",
        [],
    )
