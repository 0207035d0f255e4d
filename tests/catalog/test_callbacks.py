"""Callbacks in the registry: built-ins with declared schemas and factories, a user's own
callback registered like a module, and the groups that cannot be combined."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import trainer_core as L
from catalog.components.callbacks import batch_size_of
from catalog.registry import (
    InvalidParamsError,
    Registry,
    build_registry,
    infer_kind,
    make_component,
)
from trainer_core.callbacks import (
    DeviceStatsMonitor,
    EMAWeightAveraging,
    GradientAccumulationScheduler,
    LearningRateMonitor,
    SpikeDetection,
    StochasticWeightAveraging,
    ThroughputMonitor,
    Timer,
)


class EveryNSteps(L.Callback):
    """Counts optimizer steps; `every` must be at least 1."""

    def __init__(self, every: int = 2, label: str = "steps") -> None:
        self.every, self.label = every, label

    def on_train_batch_end(self, *args: Any) -> None: ...


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def test_builtins_build_lightning_callbacks(registry: Registry) -> None:
    built = {
        name: registry.get("callback", name).build(params)
        for name, params in [
            ("lr_monitor", {"logging_interval": "step"}),
            ("swa", {"swa_lrs": 0.05, "swa_epoch_start": 3}),
            ("ema", {"decay": 0.9, "update_every_n_steps": 5}),
            ("grad_accum_schedule", {"scheduling": {"0": 1, "3": 4}}),
            ("timer", {"duration": "00:02:30:00", "interval": "epoch"}),
            ("throughput_monitor", {"window_size": 10}),
            ("spike_detection", {"mode": "max", "rtol": 0.5, "window": 4}),
            ("device_stats", {"cpu_stats": True}),
        ]
    }
    assert isinstance(built["lr_monitor"], LearningRateMonitor)
    assert built["lr_monitor"].logging_interval == "step"
    assert isinstance(built["swa"], StochasticWeightAveraging) and built["swa"].swa_start == 2
    assert isinstance(built["ema"], EMAWeightAveraging) and built["ema"].update_every_n_steps == 5
    schedule = built["grad_accum_schedule"]
    assert isinstance(schedule, GradientAccumulationScheduler)
    assert schedule.get_accumulate_grad_batches(5) == 4  # JSON's "3" became epoch 3
    assert isinstance(built["timer"], Timer) and built["timer"].time_remaining() == 9000
    assert isinstance(built["throughput_monitor"], ThroughputMonitor)
    assert built["throughput_monitor"].kwargs == {"window_size": 10}
    spike = built["spike_detection"]
    assert isinstance(spike, SpikeDetection) and (spike.mode, spike.rtol) == ("max", 0.5)
    assert spike.running_mean.maxlen == 4 and spike.exclude_batches_path is None
    assert isinstance(built["device_stats"], DeviceStatsMonitor)
    groups = {c.name: c.exclusive for c in registry.all() if c.kind == "callback"}
    assert groups["swa"] == groups["ema"] == "weight_averaging"
    assert groups["lr_monitor"] is None


def test_a_users_callback_registers_like_a_module() -> None:
    assert infer_kind(EveryNSteps) == "callback"
    component = make_component(EveryNSteps, name="every_n")
    assert component.kind == "callback"
    assert component.json_schema["properties"]["every"]["default"] == 2
    callback = component.build({"every": 5})
    assert isinstance(callback, EveryNSteps) and callback.every == 5
    with pytest.raises(InvalidParamsError) as info:
        component.validate({"every": "5"})  # strict: a string is not an int
    assert info.value.errors[0]["field"] == "every"


def test_bad_builtin_params_name_the_field(registry: Registry) -> None:
    with pytest.raises(InvalidParamsError) as info:
        registry.get("callback", "throughput_monitor").validate({"window_size": 1})
    assert info.value.errors[0]["field"] == "window_size"


def test_batch_size_of_finds_the_first_tensor() -> None:
    assert batch_size_of(torch.zeros(7, 3)) == 7
    assert batch_size_of((torch.zeros(5, 2), torch.zeros(5))) == 5
    assert batch_size_of({"x": [torch.zeros(4, 1)], "y": 3}) == 4
    assert batch_size_of("text") == 1
