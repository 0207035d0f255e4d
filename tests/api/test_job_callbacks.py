"""Job specs with `callbacks`: listed at GET /v1/components, resolved with their defaults, and
every bad entry a 422 naming its field with nothing stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "module": {"name": "autoencoder", "params": {"hidden_dim": 16}},
    "datamodule": {"name": "digits", "params": {"batch_size": 64}},
    "trainer": {"max_epochs": 4, "limit_train_batches": 5},
}
TABLES = ("jobs", "job_transitions", "job_events")
BUILTIN = {
    "lr_monitor", "swa", "ema", "grad_accum_schedule", "timer", "throughput_monitor",
    "spike_detection", "device_stats",
}  # fmt: skip


def spec_with(callbacks: list[Any], **trainer: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["callbacks"] = callbacks
    spec["trainer"].update(trainer)
    return spec


def test_callbacks_are_components_with_schemas(client: TestClient, auth: dict[str, str]) -> None:
    items = client.get("/v1/components", headers=auth).json()["items"]
    callbacks = {c["name"]: c for c in items if c["kind"] == "callback"}
    assert BUILTIN <= set(callbacks)
    ema = callbacks["ema"]["params_schema"]
    assert ema["properties"]["decay"]["exclusiveMaximum"] == 1
    assert ema["additionalProperties"] is False
    assert callbacks["swa"]["params_schema"]["required"] == ["swa_lrs"]
    assert "learning rate" in callbacks["lr_monitor"]["description"]
    kinds = [c["kind"] for c in items]
    assert kinds == sorted(kinds, key=["module", "datamodule", "callback"].index)


def test_dry_run_resolves_callbacks_with_their_defaults(
    client: TestClient, auth: dict[str, str], count_rows
) -> None:
    body = spec_with([
        {"name": "lr_monitor"},
        {"name": "grad_accum_schedule", "params": {"scheduling": {"2": 4}}},
        {"name": "swa", "params": {"swa_lrs": 0.01}},
    ])  # fmt: skip
    response = client.post("/v1/jobs?dry_run=true", json=body, headers=auth)
    assert response.status_code == 200, response.text
    resolved = response.json()["spec"]["callbacks"]
    assert resolved[0] == {
        "name": "lr_monitor",
        "params": {"logging_interval": None, "log_momentum": False, "log_weight_decay": False},
    }
    assert resolved[1]["params"] == {"scheduling": {"2": 4}}
    assert resolved[2]["params"]["swa_epoch_start"] == 0.8
    assert count_rows("jobs") == 0


BAD = [
    pytest.param([{"name": "lr_monitor"}, {"name": "print_everything"}], {}, "unknown_component",
                 "callbacks.1.name", id="unknown-callback"),
    pytest.param([{"name": "autoencoder"}], {}, "unknown_component", "callbacks.0.name",
                 id="a-module-is-not-a-callback"),
    pytest.param([{"name": "ema", "params": {"decay": 1.5}}], {}, "invalid_params",
                 "callbacks.0.params.decay", id="bad-param"),
    pytest.param([{"name": "ema", "params": {"device": "cuda:7"}}], {}, "invalid_params",
                 "callbacks.0.params.device", id="param-not-offered"),
    pytest.param([{"name": "timer", "params": {"duration": "1 hour"}}], {}, "invalid_params",
                 "callbacks.0.params.duration", id="bad-duration"),
    pytest.param([{"name": "grad_accum_schedule", "params": {"scheduling": {"x": 2}}}], {},
                 "invalid_params", "callbacks.0.params.scheduling", id="bad-epoch-key"),
    pytest.param([{"name": "swa", "params": {"swa_lrs": 0.1}}, {"name": "ema"}], {},
                 "validation_error", "callbacks.1.name", id="swa-and-ema"),
    pytest.param([{"name": "lr_monitor"}, {"name": "lr_monitor"}], {}, "validation_error",
                 "callbacks.1.name", id="duplicate"),
    pytest.param([{"name": "grad_accum_schedule", "params": {"scheduling": {"1": 2}}}],
                 {"accumulate_grad_batches": 4}, "validation_error", "callbacks.0.name",
                 id="schedule-and-fixed-accumulation"),
    pytest.param([{"name": "swa", "params": {"swa_lrs": 0.1, "swa_epoch_start": 0.5}}],
                 {"max_epochs": None, "max_steps": 100}, "validation_error",
                 "callbacks.0.params.swa_epoch_start", id="swa-fraction-without-epochs"),
    pytest.param([{"name": "spike_detection", "params": {"window": 0}}], {}, "invalid_params",
                 "callbacks.0.params.window", id="spike-window"),
    pytest.param([{"name": "spike_detection", "params": {"exclude_batches_path": "/etc"}}], {},
                 "invalid_params", "callbacks.0.params.exclude_batches_path",
                 id="no-file-paths"),
    pytest.param(["lr_monitor"], {}, "validation_error", "callbacks.0", id="not-an-object"),
    pytest.param([{"name": "lr_monitor"}] * 17, {}, "validation_error", "callbacks",
                 id="too-many"),
]  # fmt: skip


@pytest.mark.parametrize(("callbacks", "trainer", "code", "field"), BAD)
def test_bad_callbacks_are_422_naming_the_field_and_store_nothing(
    client: TestClient, auth: dict[str, str], dispatched: list[str], count_rows,
    callbacks: list[Any], trainer: dict[str, Any], code: str, field: str,
) -> None:  # fmt: skip
    response = client.post("/v1/jobs", json=spec_with(callbacks, **trainer), headers=auth)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error_code"] == code
    assert field in error["detail"], error
    assert [count_rows(t) for t in TABLES] == [0, 0, 0]
    assert dispatched == []
