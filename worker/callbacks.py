"""The service's callbacks and logger: they feed JobSync and never touch the database themselves.

- `DatabaseLogger` receives what `self.log` sends to loggers (Lightning's own timing:
  `log_every_n_steps`, epoch ends, eval runs) and buffers one row per value.
- `ServiceCallback` reports progress, turns a cancel/lost signal into `trainer.should_stop` at
  batch boundaries, and hands freshly written checkpoint files to the CheckpointSync.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

import trainer_core as L
from trainer_core.loggers import Logger
from worker.preemption import Preempted, Preemption
from worker.sync import JobSync, json_number

if TYPE_CHECKING:
    from worker.checkpoints import CheckpointSync


def stage_of(trainer: Any) -> str:
    """The running stage, as stored with each metric: train, validate or test."""
    stage = getattr(getattr(trainer, "state", None), "stage", None)
    value = getattr(stage, "value", stage)
    if value == "sanity_check":  # never sent to loggers, but name it like validation
        return "validate"
    if value in ("train", "validate", "test"):
        return str(value)
    return "test" if getattr(trainer, "testing", False) else "train"


class DatabaseLogger(Logger):
    """A Lightning logger whose sink is the job's metric table (through JobSync)."""

    def __init__(self, sync: JobSync) -> None:
        super().__init__()
        self.sync = sync
        self.trainer: Any = None  # set by ServiceCallback.setup: loggers are not given one
        # Per-batch eval values restart their step at 0 on every eval run; a running counter
        # per stage keeps each run's points instead of colliding with the first run's.
        self._eval_batches: dict[str, int] = {}

    @property
    def name(self) -> str:
        return "trainyard"

    @property
    def version(self) -> str:
        return self.sync.job_id

    @property
    def save_dir(self) -> str | None:
        return None

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # the job spec already holds them

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = dict(metrics)
        epoch = int(values.pop("epoch", getattr(self.trainer, "current_epoch", 0)))
        stage = stage_of(self.trainer)
        step = int(step if step is not None else getattr(self.trainer, "global_step", 0))
        if stage != "train" and any(name.endswith("_step") for name in values):
            step = self._eval_batches.get(stage, 0)
            self._eval_batches[stage] = step + 1
        rows = []
        for name, value in values.items():
            number = float(value.item() if isinstance(value, torch.Tensor) else value)
            rows.append(
                {
                    "job_id": self.sync.job_id,
                    "name": name,
                    "stage": stage,
                    "step": step,
                    "epoch": epoch,
                    "value": number,
                }
            )
        self.sync.add_metrics(rows)

    def save(self) -> None:
        # The trainer calls this after every log_metrics: ask for a write soon. The sync thread
        # spaces its writes (min_flush_gap_s), so logging every step still batches rows.
        self.sync.request_flush()

    def finalize(self, status: str) -> None:
        self.sync.request_flush()

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        pass  # ServiceCallback notices the file on its next hook


def batch_size_of(batch: Any) -> int:
    """size(0) of the first tensor in the batch (0 when there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for item in batch:
            size = batch_size_of(item)
            if size:
                return size
    return 0


def total_steps(trainer: Any) -> int | None:
    """The number of optimizer steps fit will take, when the trainer can say."""
    estimate = getattr(trainer, "estimated_stepping_batches", None)
    if isinstance(estimate, (int, float)) and 0 < estimate < float("inf"):
        return int(estimate)
    max_steps = getattr(trainer, "max_steps", -1)
    return max_steps if isinstance(max_steps, int) and max_steps > 0 else None


class ServiceCallback(L.Callback):
    def __init__(
        self,
        sync: JobSync,
        logger: DatabaseLogger,
        checkpoints: CheckpointSync,
        preemption: Preemption,
    ) -> None:
        self.sync, self.logger, self.checkpoints = sync, logger, checkpoints
        self.preemption = preemption
        self._started = 0.0
        self._first_step = 0
        self._samples = 0
        self._total: int | None = None
        self._preempt_saved = False

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.logger.trainer = trainer

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._started = time.monotonic()
        self._first_step = trainer.global_step
        self._total = total_steps(trainer)

    # -- stopping and checkpoints, at batch boundaries

    def _boundary(self, trainer: Any) -> None:
        if self.checkpoints.pending:
            self.checkpoints.sync_files()
        if self.sync.stop_reason is not None:
            trainer.should_stop = True

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self._boundary(trainer)
        self._leave_if_preempted(trainer)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kw: Any) -> None:
        if self.sync.stop_reason is not None:
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._boundary(trainer)
        self._leave_if_preempted(trainer)

    # -- preemption (worker/preemption.py): save at a batch or epoch end, leave at the next start.
    # Not through should_stop: that would end the epoch early and resume at the next one.

    def _save_if_preempted(self, trainer: Any) -> None:
        if self.preemption.requested() and not self._preempt_saved:
            self.checkpoints.dirpath.mkdir(parents=True, exist_ok=True)
            trainer.save_checkpoint(str(self.checkpoints.dirpath / "last.ckpt"))
            self._preempt_saved = True

    def _leave_if_preempted(self, trainer: Any) -> None:
        # Leave once the checkpoint is stored, or at once when nothing was trained since start.
        if self.preemption.requested() and (
            self._preempt_saved or trainer.global_step == self._first_step
        ):
            raise Preempted(f"preempted at step {trainer.global_step}")

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._boundary(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._boundary(trainer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._boundary(trainer)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        # Stamp the file with what its row needs; the file is written after this hook returns.
        monitor = self.checkpoints.monitor
        value = trainer.callback_metrics.get(monitor) if monitor else None
        checkpoint["trainyard"] = {
            "job_id": self.sync.job_id,
            "monitor": monitor,
            "monitor_value": None if value is None else json_number(float(value)),
        }
        self.checkpoints.pending = True

    # -- progress and flushing

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._samples += batch_size_of(batch)
        self.sync.set_progress(self._progress(trainer))
        if self.sync.stop_reason is not None:
            trainer.should_stop = True
        self._save_if_preempted(trainer)

    def _progress(self, trainer: Any) -> dict[str, Any]:
        step, elapsed = trainer.global_step, max(time.monotonic() - self._started, 1e-9)
        steps_per_s = (step - self._first_step) / elapsed
        eta = None
        if self._total is not None and steps_per_s > 0:
            eta = round(max(self._total - step, 0) / steps_per_s, 1)
        return {
            "step": step,
            "total": self._total,
            "epoch": trainer.current_epoch,
            "samples_per_s": round(self._samples / elapsed, 1),
            "eta_s": eta,
        }

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.sync.request_flush()
        if self.preemption.requested():  # an end-of-epoch state resumes exactly at the next epoch
            self._preempt_saved = False
            self._save_if_preempted(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.sync.request_flush()

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self.sync.request_flush()
