"""Callbacks named in a job spec, through the whole service: what they log is stored and
streamed like any metric, and a user's own registered callback runs too."""

from __future__ import annotations

import json

import httpx_sse

from tests.e2e.conftest import Stack, wait_job
from tests.e2e.test_service import submit
from tests.service_doubles import tiny_spec


def test_lr_monitor_and_friends_store_and_stream_their_metrics(pg_stack: Stack) -> None:
    client = pg_stack.client()
    spec = tiny_spec(
        module="autoencoder",
        module_params={"input_dim": 8, "hidden_dim": 16, "latent_dim": 2},
        callbacks=[
            {"name": "lr_monitor"},
            {"name": "throughput_monitor", "params": {"window_size": 2}},
            {"name": "ema", "params": {"decay": 0.5}},
            {"name": "scaled_loss_logger", "params": {"factor": 3.0}},
            {"name": "device_stats"},
        ],
    )
    job = wait_job(client, submit(client, spec)["id"], pg_stack)
    assert job["status"] == "succeeded", job
    assert [c["name"] for c in job["spec"]["callbacks"]][:2] == ["lr_monitor", "throughput_monitor"]

    def history(name: str) -> list[dict]:
        response = client.get(f"/v1/jobs/{job['id']}/metrics", params={"name": name})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    # Lightning's name for an Adam without a scheduler; logged at every logging step (8 steps)
    lrs = history("lr-Adam")
    assert [p["step"] for p in lrs] == list(range(8))
    assert {p["value"] for p in lrs} == {1e-3} and {p["stage"] for p in lrs} == {"train"}
    samples = history("train/samples")
    assert [p["value"] for p in samples] == [16.0 * (i + 1) for i in range(8)]  # batch 16
    assert len(history("train/device/samples_per_sec")) == 7  # from the second batch on
    assert len(history("validate/batches")) > 0
    assert len(history("scaled_loss")) == 8
    cpu = history("DeviceStatsMonitor.on_train_batch_start/cpu_percent")
    assert len(cpu) == 8 and all(0 <= p["value"] <= 100 * 1024 for p in cpu)

    with httpx_sse.connect_sse(
        client, "GET", f"/v1/jobs/{job['id']}/events", params={"types": ["metric", "end"]}
    ) as source:
        streamed = set()
        for event in source.iter_sse():
            if event.event == "end":
                break
            if event.event == "metric":
                streamed.add(json.loads(event.data)["name"])
    assert {"lr-Adam", "train/samples", "scaled_loss"} <= streamed


def test_spike_detection_fails_the_job_as_a_user_error(pg_stack: Stack) -> None:
    """mode 'max' with zero tolerances: the first falling loss after warmup is a spike."""
    client = pg_stack.client()
    callbacks = [{"name": "spike_detection", "params": {"mode": "max", "rtol": 0.0, "atol": 0.0}}]
    job = wait_job(client, submit(client, tiny_spec(callbacks=callbacks))["id"], pg_stack)
    assert job["status"] == "failed", job
    assert job["failure_class"] == "user_error"
    assert job["error"]["type"] == "TrainingSpikeException"
    assert "Training spike detected in batch 1" in job["error"]["message"]
