"""What the trainer is doing: stage enums and the typed progress state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrainerStatus(str, Enum):
    INITIALIZING = "initializing"
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"

    @property
    def stopped(self) -> bool:
        return self in (TrainerStatus.FINISHED, TrainerStatus.INTERRUPTED)


class TrainerFn(str, Enum):
    FITTING = "fit"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"


class RunningStage(str, Enum):
    TRAINING = "train"
    SANITY_CHECKING = "sanity_check"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"

    @property
    def evaluating(self) -> bool:
        return self in (RunningStage.VALIDATING, RunningStage.TESTING, RunningStage.SANITY_CHECKING)

    @property
    def dataloader_prefix(self) -> str | None:
        if self is RunningStage.SANITY_CHECKING:
            return "val"
        return {"train": "train", "validate": "val", "test": "test", "predict": "predict"}[self.value]


@dataclass
class TrainerState:
    """Status/stage plus the loop position a checkpoint must restore."""

    status: TrainerStatus = TrainerStatus.INITIALIZING
    fn: TrainerFn | None = None
    stage: RunningStage | None = None
    current_epoch: int = 0
    global_step: int = 0
    batch_idx: int = -1  # index of the training batch started last (-1 at epoch start)
    epoch_batches_done: int = 0  # training batches finished in the current epoch
    total_batch_idx: int = -1  # like batch_idx, counted across epochs
    batches_that_stepped: int = 0  # the logger step: batches that ended in an optimizer step
    scheduler_steps: int = 0
    should_stop: bool = False
    is_last_batch: bool = False
    resume_mid_epoch: bool = False  # restored mid-epoch: no on_train_epoch_start, keep batch_idx
    restarting: bool = False  # restored from a checkpoint: no sanity check
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status == TrainerStatus.FINISHED

    @property
    def stopped(self) -> bool:
        return self.status.stopped
