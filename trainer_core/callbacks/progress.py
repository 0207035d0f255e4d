"""A tqdm progress bar (on by default; ``enable_progress_bar=False`` turns it off)."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from trainer_core.callbacks.base import Callback

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


class ProgressBar(Callback):
    """Base class: anything that shows progress. The ``total_*`` properties and descriptions are
    Lightning's, so a custom bar written for Lightning runs unchanged."""

    _trainer: Trainer | None = None
    _current_eval_dataloader_idx: int | None = None

    @property
    def trainer(self) -> Trainer:
        if self._trainer is None:
            raise TypeError(f"The `{type(self).__name__}._trainer` reference has not been set yet.")
        return self._trainer

    sanity_check_description = "Sanity Checking"
    train_description = "Training"
    validation_description = "Validation"
    test_description = "Testing"
    predict_description = "Predicting"

    @property
    def total_train_batches(self) -> int | float:
        """Training batches this epoch; capped by the steps left when only max_steps bounds."""
        trainer = self.trainer
        if trainer.max_epochs == -1 and trainer.max_steps is not None and trainer.max_steps > 0:
            return min(trainer.num_training_batches, trainer.max_steps - trainer.global_step)
        return trainer.num_training_batches

    def _current(self, batches: list[int | float]) -> int | float:
        assert self._current_eval_dataloader_idx is not None
        return batches[self._current_eval_dataloader_idx]

    @property
    def total_val_batches_current_dataloader(self) -> int | float:
        trainer = self.trainer
        counts = (
            trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        )
        return self._current(counts)

    @property
    def total_test_batches_current_dataloader(self) -> int | float:
        return self._current(self.trainer.num_test_batches)

    @property
    def total_predict_batches_current_dataloader(self) -> int | float:
        return self._current(self.trainer.num_predict_batches)

    @property
    def total_val_batches(self) -> int | float:
        return sum(self.trainer.num_val_batches)

    def has_dataloader_changed(self, dataloader_idx: int) -> bool:
        old = self._current_eval_dataloader_idx
        self._current_eval_dataloader_idx = dataloader_idx
        return old != dataloader_idx

    def reset_dataloader_idx_tracker(self) -> None:
        self._current_eval_dataloader_idx = None

    def disable(self) -> None:
        raise NotImplementedError

    def enable(self) -> None:
        raise NotImplementedError

    def print(self, *args: Any, **kwargs: Any) -> None:
        print(*args, **kwargs)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._trainer = trainer

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        """progress_bar_metrics plus ``v_num`` (the logger version)."""
        metrics: dict[str, Any] = {}
        logger = trainer.logger
        if logger is not None and logger.version is not None and logger.version != "":
            version = logger.version
            metrics["v_num"] = version[-4:] if isinstance(version, str) else version
        metrics.update(trainer.progress_bar_metrics)
        return metrics


class TQDMProgressBar(ProgressBar):
    """One bar per train epoch; refreshes every ``refresh_rate`` batches."""

    def __init__(
        self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False
    ) -> None:
        self.refresh_rate = refresh_rate
        self.process_position = process_position
        self.leave = leave
        self._bar: Any = None
        self._eval_bar: Any = None

    @staticmethod
    def _tqdm(**kwargs: Any) -> Any:
        return tqdm(dynamic_ncols=True, file=sys.stdout, smoothing=0, **kwargs)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        total = trainer.num_training_batches
        self._close(self._bar)
        self._bar = self._tqdm(
            total=None if math.isinf(total) else int(total),
            desc=f"Epoch {trainer.current_epoch}",
            leave=True,
            position=self.process_position,
        )

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._bar is not None and (batch_idx + 1) % self.refresh_rate == 0:
            self._bar.update(batch_idx + 1 - self._bar.n)
            self._bar.set_postfix(self._postfix(trainer, pl_module), refresh=False)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._bar is not None:
            self._bar.set_postfix(self._postfix(trainer, pl_module))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close(self._bar)
        self._bar = None

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            self._start_eval("Sanity Checking", trainer.num_sanity_val_batches)
        else:
            self._start_eval("Validation", trainer.num_val_batches)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start_eval("Testing", trainer.num_test_batches)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start_eval("Predicting", trainer.num_predict_batches)

    def _start_eval(self, desc: str, counts: list[int | float]) -> None:
        self._close(self._eval_bar)
        total = sum(counts)
        self._eval_bar = self._tqdm(
            desc=desc,
            total=None if math.isinf(total) else int(total),
            leave=False,
            position=self.process_position + 1,
        )

    def _eval_step(self, *args: Any, **kwargs: Any) -> None:
        if self._eval_bar is not None:
            self._eval_bar.update(1)

    on_validation_batch_end = on_test_batch_end = on_predict_batch_end = _eval_step  # type: ignore[assignment]

    def _end_eval(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close(self._eval_bar)
        self._eval_bar = None
        if self._bar is not None and trainer.state.stage is not None:
            self._bar.set_postfix(self._postfix(trainer, pl_module))

    on_validation_end = on_test_end = on_predict_end = _end_eval  # type: ignore[assignment]

    def _postfix(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        return {
            k: f"{v:.3g}" if isinstance(v, float) else v
            for k, v in self.get_metrics(trainer, pl_module).items()
        }

    @staticmethod
    def _close(bar: Any) -> None:
        if bar is not None:
            bar.close()
