"""What the trainer is doing: stage enums and the typed progress state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trainer_core.progress import FitProgress


class TrainerStatus(StrEnum):
    INITIALIZING = "initializing"
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"

    @property
    def stopped(self) -> bool:
        return self in (TrainerStatus.FINISHED, TrainerStatus.INTERRUPTED)


class TrainerFn(StrEnum):
    FITTING = "fit"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"


class RunningStage(StrEnum):
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
        return {"train": "train", "validate": "val", "test": "test", "predict": "predict"}[
            self.value
        ]


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
    batches_that_stepped: int = 0  # the logger step: batches that ended in an optimizer step
    should_stop: bool = False
    is_last_batch: bool = False
    resume_mid_epoch: bool = False  # restored mid-epoch: no on_train_epoch_start, keep batch_idx
    restarting: bool = False  # restored mid-run from a checkpoint: no sanity check
    finish_validated_batch: bool = False  # restored right after an in-epoch validation
    # where the fit loop is, for the progress counters a checkpoint records:
    # "batch_end" (in on_train_batch_end), "val" (validating after a batch), "epoch_end", ""
    phase: str = ""
    progress: FitProgress = field(default_factory=FitProgress)  # Lightning's loop counters

    @property
    def total_batch_idx(self) -> int:
        return self.progress.batch.total["ready"] - 1

    @property
    def finished(self) -> bool:
        return self.status == TrainerStatus.FINISHED

    @property
    def stopped(self) -> bool:
        return self.status.stopped
