"""Timer: time spent per stage, and a stop once training has run for ``duration``.

``Trainer(max_time=...)`` adds one (interval "step") unless the callbacks hold a Timer already,
as Lightning does; its state (``time_elapsed`` per stage) rides in checkpoints, so a resumed run
counts the time the earlier attempt trained.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.state import RunningStage
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer

log = logging.getLogger(__name__)


class Interval(StrEnum):
    step = "step"
    epoch = "epoch"


def parse_duration(duration: str | timedelta | dict[str, int] | None) -> float | None:
    """Seconds from "DD:HH:MM:SS", a timedelta or a dict of timedelta arguments."""
    if isinstance(duration, str):
        match = re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", duration.strip())
        if not match:
            raise MisconfigurationException(
                f"`Timer(duration={duration!r})` is not a valid duration. "
                "Expected a string in the format DD:HH:MM:SS."
            )
        days, hours, minutes, seconds = (int(g) for g in match.groups())
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    elif isinstance(duration, dict):
        duration = timedelta(**duration)
    return duration.total_seconds() if duration is not None else None


class Timer(Callback):
    """Tracks train/validate/test time and stops training after ``duration``.

    ``interval="step"`` checks after every training batch, ``"epoch"`` after every epoch.
    """

    def __init__(
        self,
        duration: str | timedelta | dict[str, int] | None = None,
        interval: str = Interval.step,
        verbose: bool = True,
    ) -> None:
        super().__init__()
        seconds = parse_duration(duration)
        if interval not in set(Interval):
            raise MisconfigurationException(
                f"Unsupported parameter value `Timer(interval={interval})`. Possible choices are:"
                f" {', '.join(set(Interval))}"
            )
        self._duration = seconds
        self._interval = interval
        self._verbose = verbose
        self._start_time: dict[RunningStage, float | None] = dict.fromkeys(RunningStage)
        self._end_time: dict[RunningStage, float | None] = dict.fromkeys(RunningStage)
        self._offset: float = 0

    def start_time(self, stage: str = RunningStage.TRAINING) -> float | None:
        """When ``stage`` last started (``time.monotonic`` seconds)."""
        return self._start_time[RunningStage(stage)]

    def end_time(self, stage: str = RunningStage.TRAINING) -> float | None:
        """When ``stage`` last ended (``time.monotonic`` seconds)."""
        return self._end_time[RunningStage(stage)]

    def time_elapsed(self, stage: str = RunningStage.TRAINING) -> float:
        """Seconds spent in ``stage``; training time includes that of a resumed checkpoint."""
        start, end = self.start_time(stage), self.end_time(stage)
        offset = self._offset if stage == RunningStage.TRAINING else 0
        if start is None:
            return offset
        if end is None:
            return time.monotonic() - start + offset
        return end - start + offset

    def time_remaining(self, stage: str = RunningStage.TRAINING) -> float | None:
        return self._duration - self.time_elapsed(stage) if self._duration is not None else None

    def _mark(self, table: dict[RunningStage, float | None], stage: RunningStage) -> None:
        table[stage] = time.monotonic()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._start_time, RunningStage.TRAINING)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._end_time, RunningStage.TRAINING)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._start_time, RunningStage.VALIDATING)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._end_time, RunningStage.VALIDATING)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._start_time, RunningStage.TESTING)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._mark(self._end_time, RunningStage.TESTING)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # after a restore: a checkpoint whose time is already spent stops at once
        if self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_batch_end(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if self._interval == Interval.step and self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_epoch_end(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if self._interval == Interval.epoch and self._duration is not None:
            self._check_time_remaining(trainer)

    def state_dict(self) -> dict[str, Any]:
        return {"time_elapsed": {stage.value: self.time_elapsed(stage) for stage in RunningStage}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._offset = state_dict.get("time_elapsed", {}).get(RunningStage.TRAINING.value, 0)

    def _check_time_remaining(self, trainer: Trainer) -> None:
        assert self._duration is not None
        should_stop = self.time_elapsed() >= self._duration
        trainer.should_stop = trainer.should_stop or should_stop
        if should_stop and self._verbose:
            elapsed = timedelta(seconds=int(self.time_elapsed(RunningStage.TRAINING)))
            log.info(f"Time limit reached. Elapsed time is {elapsed}. Signaling Trainer to stop.")
