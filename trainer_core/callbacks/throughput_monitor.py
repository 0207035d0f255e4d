"""ThroughputMonitor: batches, samples (and FLOPs) per second, logged per stage.

Metric names are Lightning's: ``train/time``, ``train/batches``, ``train/samples``, and once
``window_size`` batches were seen ``train/device/batches_per_sec``,
``train/device/samples_per_sec`` (plus ``.../flops_per_sec`` and ``.../mfu`` when the module
has a ``flops_per_batch`` attribute); ``validate/...``, ``test/...`` and ``predict/...`` alike.
Training values are logged at the trainer's logging steps once an accumulation window closes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from trainer_core.callbacks.base import Callback
from trainer_core.precision import MixedPrecision, TruePrecision
from trainer_core.state import RunningStage, TrainerFn
from trainer_core.utilities.throughput import Throughput, get_available_flops

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.precision import Precision
    from trainer_core.trainer import Trainer


def compute_dtype(plugin: Precision) -> torch.dtype:
    """The dtype the module computes in under a precision plugin."""
    if isinstance(plugin, (MixedPrecision, TruePrecision)):
        return plugin.dtype
    return torch.float32


class ThroughputMonitor(Callback):
    """``batch_size_fn(batch)`` gives the samples in a batch, ``length_fn(batch)`` the items
    (tokens...); other keyword arguments go to :class:`Throughput` (``window_size``...)."""

    def __init__(
        self,
        batch_size_fn: Callable[[Any], int],
        length_fn: Callable[[Any], int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.kwargs = kwargs
        self.batch_size_fn = batch_size_fn
        self.length_fn = length_fn
        self.available_flops: int | None = None
        self._throughputs: dict[RunningStage, Throughput] = {}
        self._t0s: dict[RunningStage, float] = {}
        self._lengths: dict[RunningStage, int] = {}
        self._samples: dict[RunningStage, int] = {}
        self._batches: dict[RunningStage, int] = {}
        self._module_has_flops: bool | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        dtype = compute_dtype(trainer.precision_plugin)
        self.available_flops = get_available_flops(trainer.device, dtype)
        if stage == TrainerFn.FITTING and trainer.enable_validation:
            self._throughputs[RunningStage.VALIDATING] = self._new_throughput()  # inside fit
        running = trainer.state.stage
        assert running is not None
        self._throughputs[running] = self._new_throughput()

    def _new_throughput(self) -> Throughput:
        return Throughput(available_flops=self.available_flops, world_size=1, **self.kwargs)

    def _start(self, trainer: Trainer) -> None:
        stage = trainer.state.stage
        assert stage is not None
        if trainer.state.fn == TrainerFn.FITTING or stage not in self._samples:
            self._throughputs[stage].reset()
            self._lengths[stage] = self._samples[stage] = self._batches[stage] = 0
        self._t0s[stage] = time.perf_counter()

    @torch.inference_mode()  # in case length_fn or batch_size_fn build a graph
    def _update(self, trainer: Trainer, pl_module: LightningModule, batch: Any) -> None:
        stage = trainer.state.stage
        assert stage is not None
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()  # or perf_counter would not see the queued kernels
        elapsed = time.perf_counter() - self._t0s[stage]
        if self.length_fn is not None:
            self._lengths[stage] += self.length_fn(batch)
        if self._module_has_flops is None:
            self._module_has_flops = hasattr(pl_module, "flops_per_batch")
            if not self._module_has_flops:
                warnings.warn(
                    "When using the `ThroughputMonitor`, you need to define a `flops_per_batch` "
                    f"attribute or property in {type(pl_module).__name__} to compute the FLOPs.",
                    stacklevel=2,
                )
        self._samples[stage] += self.batch_size_fn(batch)
        self._batches[stage] += 1
        self._throughputs[stage].update(
            time=elapsed,
            batches=self._batches[stage],
            samples=self._samples[stage],  # assumes one batch size throughout
            lengths=None if self.length_fn is None else self._lengths[stage],
            flops=getattr(pl_module, "flops_per_batch", None) if self._module_has_flops else None,
        )

    def _compute(self, trainer: Trainer, iter_num: int | None = None) -> None:
        if not trainer._hub.should_update_logs:
            return
        stage = trainer.state.stage
        assert stage is not None
        throughput = self._throughputs[stage]
        metrics = {
            f"{stage.value}{throughput.separator}{k}": v for k, v in throughput.compute().items()
        }
        trainer._hub.log_metrics(metrics, step=iter_num)

    def on_train_start(self, trainer: Trainer, *_: Any) -> None:
        self._start(trainer)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, *_: Any
    ) -> None:
        self._update(trainer, pl_module, batch)
        # only once the accumulation window closed, so the optimizer step's time is included
        if not trainer._optimization.should_accumulate(
            trainer.state.batch_idx, trainer.is_last_batch
        ):
            self._compute(trainer)

    def on_validation_start(self, trainer: Trainer, *_: Any) -> None:
        if not trainer.sanity_checking:
            self._start(trainer)

    def on_validation_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, *_: Any,
        **__: Any,
    ) -> None:  # fmt: skip
        if trainer.sanity_checking:
            return
        iter_num = trainer.validate_loop.batch_progress.total["ready"]
        self._update(trainer, pl_module, batch)
        self._compute(trainer, iter_num)

    def on_validation_end(self, trainer: Trainer, *_: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        # move the training clock past validation, so it does not sink the training throughput
        train_times = self._throughputs[RunningStage.TRAINING]._time
        val_times = self._throughputs[RunningStage.VALIDATING]._time
        train_elapsed = train_times[-1] if train_times else 0.0
        val_elapsed = val_times[-1] if val_times else 0.0
        training_finished = self._t0s[RunningStage.TRAINING] + train_elapsed
        gap = self._t0s[RunningStage.VALIDATING] - training_finished
        self._t0s[RunningStage.TRAINING] += gap + val_elapsed

    def on_test_start(self, trainer: Trainer, *_: Any) -> None:
        self._start(trainer)

    def on_test_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, *_: Any,
        **__: Any,
    ) -> None:  # fmt: skip
        iter_num = trainer.test_loop.batch_progress.total["ready"]
        self._update(trainer, pl_module, batch)
        self._compute(trainer, iter_num)

    def on_predict_start(self, trainer: Trainer, *_: Any) -> None:
        self._start(trainer)

    def on_predict_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, *_: Any,
        **__: Any,
    ) -> None:  # fmt: skip
        iter_num = trainer.predict_loop.batch_progress.total["ready"]
        self._update(trainer, pl_module, batch)
        self._compute(trainer, iter_num)
