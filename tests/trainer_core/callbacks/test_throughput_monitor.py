"""ThroughputMonitor: the same metric names, logging steps and counts as Lightning's; rates
(wall-clock values) are compared by presence only."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same, make_probe_model, run_probe, sub
from trainer_core.utilities.throughput import Throughput

TIMED = ("time", "per_sec", "mfu")


@functools.cache
def make_flops_model(L: ModuleType) -> type:
    class WithFlops(make_probe_model(L)):  # type: ignore[misc]
        flops_per_batch = 2 * 4 * 32 * 2  # batch 4, Linear(32, 2)

    return WithFlops


def timeless(values: dict[str, Any]) -> dict[str, Any]:
    """Wall-clock values become 'there, and positive'."""
    return {
        k: (v is not None and v > 0) if any(t in k for t in TIMED) else v for k, v in values.items()
    }


def throughput_scenario(L: ModuleType, root: Path) -> dict[str, Any]:
    monitor = sub(L, "callbacks").ThroughputMonitor(
        batch_size_fn=lambda batch: batch.shape[0], window_size=3
    )
    run = run_probe(
        L, root, dict(n_train=24, n_val=12), dict(max_epochs=2, log_every_n_steps=2,
        accumulate_grad_batches=2), callbacks=(monitor,), model_cls=make_flops_model(L),
    )  # fmt: skip
    for key in ("logged_metrics", "callback_metrics", "after_eval_callback_metrics"):
        run[key] = timeless(run[key])
    run["csv"]["rows"] = [timeless(row) for row in run["csv"]["rows"]]
    return run


@requires_lightning
def test_throughput_logged_like_lightning(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    reference = throughput_scenario(ref_L, tmp_path / "ref")
    candidate = throughput_scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)
    header = candidate["csv"]["header"]
    for name in ("train/samples", "train/device/samples_per_sec", "train/device/flops_per_sec",
                 "validate/batches", "test/samples"):  # fmt: skip
        assert name in header, name


def test_throughput_window_and_bad_counters() -> None:
    throughput = Throughput(window_size=2)
    throughput.update(time=1.0, batches=1, samples=4)
    assert "device/samples_per_sec" not in throughput.compute()  # the window is not full
    throughput.update(time=3.0, batches=2, samples=8, flops=10)
    metrics = throughput.compute()
    assert metrics["device/samples_per_sec"] == 2.0 and metrics["device/batches_per_sec"] == 0.5
    assert math.isclose(metrics["samples"], 8)
    with pytest.raises(ValueError, match="increase"):
        throughput.update(time=2.0, batches=3, samples=12)
    with pytest.raises(ValueError, match="samples"):
        Throughput().update(time=1.0, batches=4, samples=2)
    with pytest.raises(ValueError, match="window_size"):
        Throughput(window_size=1)
    assert TC.callbacks.ThroughputMonitor(batch_size_fn=len).available_flops is None
