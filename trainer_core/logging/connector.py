"""The trainer's three metric dicts and the hand-off to loggers.

``callback_metrics`` / ``logged_metrics`` / ``progress_bar_metrics`` are refreshed lazily from
the active :class:`Results`: a batch only marks them stale, and the merge happens when someone
reads them (or when the loop switches from step to epoch values). That keeps the per-step cost
at a flag write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from trainer_core.logging.results import Results
from trainer_core.state import RunningStage

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


def _to_python(value: Any) -> Any:
    return value.item() if isinstance(value, torch.Tensor) else value


def _on_cpu(value: Any) -> Any:
    return value.cpu() if isinstance(value, torch.Tensor) else value


class MetricsHub:
    """Holds the dicts; the loops tell it when steps and epochs end."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.results: Results | None = None
        self.on_step = False  # which values of ``results`` the dicts show (Lightning's loop iter)
        self._callback: dict[str, torch.Tensor] = {}
        self._logged: dict[str, torch.Tensor] = {}
        self._pbar: dict[str, Any] = {}

    # ---- the dicts ---------------------------------------------------------------------------
    def _merge(self) -> None:
        results = self.results
        if results is None:
            return
        callback, logged, pbar = results.metrics(self.on_step)
        self._callback.update(callback)
        self._logged.update(logged)
        self._pbar.update(pbar)

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        self._merge()
        return self._callback

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        self._merge()
        return self._logged

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        self._merge()
        return {k: _to_python(v) for k, v in self._pbar.items()}

    def reset_metrics(self) -> None:
        self._callback, self._logged, self._pbar = {}, {}, {}

    # ---- loop transitions --------------------------------------------------------------------
    def start_results(self, results: Results) -> None:
        """Make ``results`` the active collection (a new stage or eval run)."""
        self._merge()  # keep what the previous collection showed (Lightning merged per batch)
        self.results = results
        self.on_step = False

    def batch_started(self, batch: Any, dataloader_idx: int | None = None) -> None:
        results = self.results
        results.batch = batch  # type: ignore[union-attr]
        results.batch_size = None  # type: ignore[union-attr]
        results.dataloader_idx = dataloader_idx  # type: ignore[union-attr]
        self.on_step = True

    def epoch_end_reached(self) -> None:
        """Switch from step to epoch values; step values seen so far are kept."""
        if self.on_step:
            self._merge()
        self.on_step = False

    def epoch_metrics(self) -> dict[str, torch.Tensor]:
        """Merge the epoch values now, and return the epoch-level logged ones."""
        self.epoch_end_reached()
        results = self.results
        if results is None:
            return {}
        callback, logged, pbar = results.metrics(False)
        self._callback.update(callback)
        self._logged.update(logged)
        self._pbar.update(pbar)
        return logged

    def step_logged(self) -> dict[str, torch.Tensor]:
        results = self.results
        return results.step_logged() if results is not None else {}

    def log_step(self, step: int | None = None) -> None:
        """Send this batch's logged values to the loggers; with none attached, build nothing."""
        if self.trainer.loggers:
            self.log_metrics(self.step_logged(), step)

    def reset_results(self) -> None:
        """Reset the active collection (after an epoch / eval run); the dicts keep their values."""
        if self.results is not None:
            self._merge()
            self.results.reset()
        self.on_step = False

    def teardown(self) -> None:
        """Detach from the stage and move the kept values to CPU (as Lightning does)."""
        self._merge()
        self.results = None
        # callbacks may put plain numbers in them (ThroughputMonitor, as in Lightning)
        self._callback = {k: _on_cpu(v) for k, v in self._callback.items()}
        self._logged = {k: _on_cpu(v) for k, v in self._logged.items()}

    # ---- loggers -----------------------------------------------------------------------------
    @property
    def should_update_logs(self) -> bool:
        """Lightning's ``_logger_connector.should_update_logs``: is this a logging step?

        Callbacks that write to loggers themselves (LearningRateMonitor, ThroughputMonitor) ask.
        """
        trainer = self.trainer
        every = trainer.log_every_n_steps
        if every == 0:
            return False
        stage = trainer.state.stage
        if stage is None:
            return True
        if stage == RunningStage.TRAINING:
            # + 1: asked before the step (on_train_batch_start) as well as after it
            step = trainer.state.batches_that_stepped + 1
        elif stage == RunningStage.PREDICTING:
            step = trainer.predict_loop.batch_progress.current["ready"]
        else:
            loop = trainer.test_loop if stage == RunningStage.TESTING else trainer.validate_loop
            step = loop.batch_progress.current["ready"]
        return step % every == 0 or trainer.should_stop

    def log_metrics(
        self, metrics: dict[str, Any], step: int | None = None, fallback_step: int | None = None
    ) -> None:
        """Send tensors to every logger as floats; this is where the device sync happens.

        Without ``step``, a logged "step" value wins, else ``fallback_step``, else the trainer's
        stepped-batch count; such rows also carry the epoch.
        """
        trainer = self.trainer
        loggers = trainer.loggers
        if not loggers or not metrics:
            return
        self._logged.update(metrics)
        scalars = {
            k: v.item() if isinstance(v, torch.Tensor) else v for k, v in metrics.items()
        }  # inlined _to_python: this runs on every logged step
        if step is None:
            step_metric = scalars.pop("step", None)
            if step_metric is not None:
                step = int(step_metric)
            else:
                scalars.setdefault("epoch", trainer.current_epoch)
                step = (
                    fallback_step
                    if fallback_step is not None
                    else trainer.state.batches_that_stepped
                )
        for logger in loggers:
            logger.log_metrics(metrics=scalars, step=step)
            logger.save()
