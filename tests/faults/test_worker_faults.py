"""A worker dies (kill -9) or is told to stop (SIGTERM) in the middle of a real job.

Real API, real Celery workers on Redis + PostgreSQL. The API's recovery loop is the reaper.
"""

from __future__ import annotations

import signal
from typing import Any

from tests.faults.conftest import FaultStack, metric_steps, submit, wait_job
from tests.helpers_services import wait_until
from tests.service_doubles import tiny_spec

EPOCHS, BATCHES = 6, 4  # 64 samples in batches of 16
STEPS = EPOCHS * BATCHES


def slow_spec(sleep_s: float = 0.25, **extra: Any) -> dict[str, Any]:
    """Long enough to hit mid-job: STEPS steps of `sleep_s` each."""
    return tiny_spec(max_epochs=EPOCHS, module_params={"sleep_s": sleep_s}, **extra)


def step_at_least(step: int) -> Any:
    return lambda job: job["status"] == "running" and (job["progress"].get("step") or 0) >= step


def checkpoints(client: Any, job_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/jobs/{job_id}/checkpoints").json()["items"]


def test_a_killed_worker_s_job_is_declared_lost_and_resumes_elsewhere(
    fault_stack: FaultStack,
) -> None:
    stack = fault_stack
    stack.ensure_workers(2)
    client = stack.client()
    job = submit(client, slow_spec(checkpoint={"every_n_train_steps": 3}))
    job = wait_job(client, job["id"], stack, until=step_at_least(8))
    saved = max(c["step"] for c in checkpoints(client, job["id"]))
    victim = stack.worker_running(job)

    victim.kill()  # SIGKILL: no goodbye, no checkpoint, the heartbeat just stops

    done = wait_job(client, job["id"], stack)
    assert done["status"] == "succeeded", stack.logs()
    first, second = done["attempts"]
    assert first["outcome"] == "infra_lost"
    assert second["worker_id"] != first["worker_id"]
    assert second["resumed_from_step"] >= saved >= 6  # from its last checkpoint, not from 0
    assert second["resumed_from"] in {c["id"] for c in checkpoints(client, job["id"])}
    assert any(
        t["from_status"] == "running" and t["to_status"] == "queued" and "heartbeat" in t["reason"]
        for t in done["transitions"]
    )
    assert metric_steps(client, job["id"]) == list(range(STEPS))  # each step once


def test_sigterm_checkpoints_requeues_and_resumes_on_the_next_worker(
    fault_stack: FaultStack,
) -> None:
    stack = fault_stack
    stack.ensure_workers(2)
    client = stack.client()
    job = submit(client, slow_spec())
    job = wait_job(client, job["id"], stack, until=step_at_least(6))
    victim = stack.worker_running(job)

    assert victim.terminate(timeout=30) == 0  # a warm shutdown: it finished its part cleanly

    done = wait_job(client, job["id"], stack)
    assert done["status"] == "succeeded", stack.logs()
    first, second = done["attempts"]
    assert first["outcome"] == "preempted"
    # It checkpointed where it stopped (not at an older epoch end) and went on from there.
    assert second["resumed_from_step"] >= 6
    stopped = [t for t in done["transitions"] if t["to_status"] == "queued"][-1]
    assert "preempted" in stopped["reason"]
    assert (done["failure_class"], done["attempt"]) == (None, 2)
    assert metric_steps(client, job["id"]) == list(range(STEPS))


def test_a_second_sigterm_stops_at_once_and_the_job_still_finishes(
    fault_stack: FaultStack,
) -> None:
    stack = fault_stack
    stack.ensure_workers(2)
    client = stack.client()
    # Steps of 2 s: the first SIGTERM alone would wait for the end of the step.
    job = submit(client, tiny_spec(max_epochs=1, train_size=48, module_params={"sleep_s": 2.0}))
    job = wait_job(client, job["id"], stack, until=step_at_least(1))
    victim = stack.worker_running(job)

    victim.popen.send_signal(signal.SIGTERM)
    # The second signal must find the first one handled (a warm shutdown under way), or the
    # two could be taken for one.
    wait_until(lambda: "preemption requested" in victim.log_text(), 30, "the first SIGTERM", victim)
    victim.popen.send_signal(signal.SIGTERM)
    assert victim.popen.wait(10) == 75  # the hard stop's exit status

    done = wait_job(client, job["id"], stack)
    assert done["status"] == "succeeded", stack.logs()
    assert done["attempts"][0]["outcome"] == "preempted"
    assert any("hard stop" in (t["reason"] or "") for t in done["transitions"])
    assert metric_steps(client, job["id"]) == list(range(3))
