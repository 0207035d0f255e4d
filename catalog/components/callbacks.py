"""Built-in callbacks a job spec may list under `callbacks: [{name, params}]`.

Each has a declared parameter model with bounds, so a spec gets a 422 naming the field instead
of a failed job. What they log (learning rates, throughput) goes to the job's metrics like any
logged value. Callbacks that write files for the user or draw in a terminal are not offered
(spike_detection's list of skipped batches stays in the attempt's scratch folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

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

# A JSON object's keys are strings: epochs are given as "0", "5"...
EpochKey = Annotated[str, Field(pattern=r"^[0-9]{1,5}$")]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LearningRateMonitorParams(_Params):
    logging_interval: Literal["step", "epoch"] | None = Field(
        None, description="Log every logging step, at epoch starts, or (null) each scheduler's own."
    )
    log_momentum: bool = Field(False, description="Also log momentum (Adam's beta1).")
    log_weight_decay: bool = Field(False, description="Also log weight decay.")


class SWAParams(_Params):
    swa_lrs: Annotated[float, Field(gt=0, le=10)] = Field(
        description="The learning rate during weight averaging."
    )
    swa_epoch_start: (
        Annotated[int, Field(ge=1, le=100_000)] | Annotated[float, Field(gt=0, le=1)]
    ) = Field(0.8, description="First averaged epoch (from 1), or a fraction of max_epochs.")
    annealing_epochs: Annotated[int, Field(ge=1, le=100_000)] = Field(
        10, description="Epochs to anneal to swa_lrs."
    )
    annealing_strategy: Literal["cos", "linear"] = Field("cos", description="Annealing shape.")


class EMAParams(_Params):
    decay: Annotated[float, Field(gt=0, lt=1)] = Field(0.999, description="EMA decay per update.")
    update_every_n_steps: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        1, description="Update the average every N optimizer steps."
    )
    update_starting_at_step: Annotated[int, Field(ge=0)] | None = Field(
        None, description="First optimizer step (0-based) that updates the average."
    )
    update_starting_at_epoch: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Also update at the end of each epoch from this one."
    )
    use_buffers: bool = Field(True, description="Average buffers (batch-norm statistics) too.")


class AccumulationScheduleParams(_Params):
    scheduling: dict[EpochKey, Annotated[int, Field(ge=1, le=1024)]] = Field(
        min_length=1,
        max_length=100,
        description="From epoch (a string key, 0-based) on, accumulate this many batches: "
        '{"0": 1, "4": 2}.',
    )


class TimerParams(_Params):
    duration: Annotated[str, Field(pattern=r"^[0-9]{1,3}:[0-9]{2}:[0-9]{2}:[0-9]{2}$")] = Field(
        description="Stop training after this long, as DD:HH:MM:SS."
    )
    interval: Literal["step", "epoch"] = Field(
        "step", description="Check after every batch or every epoch."
    )


class ThroughputMonitorParams(_Params):
    window_size: Annotated[int, Field(ge=2, le=10_000)] = Field(
        100, description="Batches in the rolling average of the per-second rates."
    )


class SpikeDetectionParams(_Params):
    mode: Literal["min", "max"] = Field("min", description="Whether the loss should fall or rise.")
    window: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10, description="Losses in the running mean a new loss is compared with."
    )
    warmup: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        1, description="Batches of each epoch before checking starts."
    )
    atol: Annotated[float, Field(ge=0)] | None = Field(
        None, description="A spike is at least this far from the running mean."
    )
    rtol: Annotated[float, Field(ge=0)] | None = Field(
        2.0, description="...and at least this fraction of it away."
    )
    finite_only: bool = Field(True, description="A NaN or infinite loss is a spike too.")


class DeviceStatsParams(_Params):
    cpu_stats: bool | None = Field(None, description="Log CPU stats too (null: on a CPU job only).")


def batch_size_of(batch: Any) -> int:
    """size(0) of the first tensor in the batch (1 when there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    items = list(batch.values()) if isinstance(batch, Mapping) else batch
    if isinstance(items, (list, tuple)):
        for item in items:
            if isinstance(item, (torch.Tensor, list, tuple, Mapping)):
                return batch_size_of(item)
    return 1


def make_accumulation_schedule(scheduling: dict[str, int]) -> GradientAccumulationScheduler:
    return GradientAccumulationScheduler(
        {int(epoch): factor for epoch, factor in scheduling.items()}
    )


def make_throughput_monitor(window_size: int) -> ThroughputMonitor:
    return ThroughputMonitor(batch_size_fn=batch_size_of, window_size=window_size)


def make_timer(duration: str, interval: str) -> Timer:
    return Timer(duration=duration, interval=interval, verbose=False)


def make_swa(**params: Any) -> StochasticWeightAveraging:
    return StochasticWeightAveraging(device=None, **params)  # averaged where the model trains


# name -> (class, params, factory, exclusive group, description)
BUILTIN_CALLBACKS: dict[str, tuple[type, type[BaseModel], Any, str | None, str]] = {
    "lr_monitor": (
        LearningRateMonitor, LearningRateMonitorParams, None, None,
        "Logs each optimizer's learning rate as lr-<Optimizer> (Lightning's LearningRateMonitor).",
    ),
    "swa": (
        StochasticWeightAveraging, SWAParams, make_swa, "weight_averaging",
        "Stochastic weight averaging over the last epochs; cannot be combined with ema.",
    ),
    "ema": (
        EMAWeightAveraging, EMAParams, None, "weight_averaging",
        "Exponential moving average of the weights; validation and checkpoints use the "
        "average. Cannot be combined with swa.",
    ),
    "grad_accum_schedule": (
        GradientAccumulationScheduler, AccumulationScheduleParams, make_accumulation_schedule,
        None, "Changes accumulate_grad_batches at given epochs; leave trainer."
        "accumulate_grad_batches unset.",
    ),
    "timer": (
        Timer, TimerParams, make_timer, None,
        "Stops training after a duration (checked every batch or epoch); its time survives "
        "a resumed attempt.",
    ),
    "throughput_monitor": (
        ThroughputMonitor, ThroughputMonitorParams, make_throughput_monitor, None,
        "Logs train/validate/test time, batches, samples and per-second rates.",
    ),
    "spike_detection": (
        SpikeDetection, SpikeDetectionParams, None, None,
        "Fails the job (TrainingSpikeException) when the loss jumps away from its running mean.",
    ),
    "device_stats": (
        DeviceStatsMonitor, DeviceStatsParams, None, None,
        "Logs device (GPU memory and utilisation, or CPU) stats at logging steps.",
    ),
}  # fmt: skip
