"""The learning-rate range test behind ``Tuner.lr_find`` and ``LearningRateFinder``.

From ``min_lr`` the learning rate grows (exponentially or linearly) every step for
``num_training`` steps while a smoothed loss is recorded; the suggestion is the rate at the
steepest descent of that curve. The run is then put back as it was (see ``trial.py``).
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

import trainer_core.tuner.trial as trial
from trainer_core.callbacks.base import Callback
from trainer_core.optim import LRSchedulerConfig
from trainer_core.seed import isolate_rng
from trainer_core.utilities.exceptions import MisconfigurationException, _TunerExitException
from trainer_core.utilities.parsing import lightning_hasattr, lightning_setattr

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer

log = logging.getLogger(__name__)


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def determine_lr_attr_name(model: LightningModule, attr_name: str = "") -> str:
    """``attr_name`` if given and found, else ``lr`` or ``learning_rate``."""
    if attr_name:
        if not lightning_hasattr(model, attr_name):
            raise AttributeError(
                f"The attribute name for the learning rate was set to {attr_name}, but could not "
                "find this as a field in `model` or `model.hparams`."
            )
        return attr_name
    for attr in ("lr", "learning_rate"):
        if lightning_hasattr(model, attr):
            return attr
    raise AttributeError(
        "When using the learning rate finder, either `model` or `model.hparams` should have one "
        "of these fields: ('lr', 'learning_rate'). If your model has a different name for the "
        "learning rate, set it with `.lr_find(attr_name=...)`."
    )


class _LRFinder:
    """The result of ``lr_find``: ``results`` ({"lr": [...], "loss": [...]}), ``suggestion()``,
    ``plot()``."""

    def __init__(self, mode: str, lr_min: float, lr_max: float, num_training: int) -> None:
        if mode not in ("linear", "exponential"):
            raise MisconfigurationException(
                f"`mode` should be either 'linear' or 'exponential', got {mode!r}."
            )
        self.mode = mode
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.num_training = num_training
        self.results: dict[str, Any] = {}
        self._total_batch_idx = 0
        self._optimal_idx: int | None = None

    def _exchange_scheduler(self, trainer: Trainer) -> None:
        """The user's optimizer, starting at ``lr_min``, driven by the range-test scheduler."""
        if len(trainer.optimizers) != 1:
            raise MisconfigurationException(
                f"`model.configure_optimizers()` returned {len(trainer.optimizers)}, but learning "
                "rate finder only works with single optimizer"
            )
        optimizer = trainer.optimizers[0]
        for group in optimizer.param_groups:
            group["lr"] = self.lr_min
            group["initial_lr"] = self.lr_min
        make = _LinearLR if self.mode == "linear" else _ExponentialLR
        scheduler = make(optimizer, self.lr_max, self.num_training)
        trainer.lr_scheduler_configs = [LRSchedulerConfig(scheduler, interval="step")]

    def plot(self, suggest: bool = False, show: bool = False, ax: Any = None) -> Any:
        """Loss against learning rate (log scale in exponential mode); needs matplotlib."""
        if not matplotlib_available():
            raise MisconfigurationException(
                "To use the `plot` method, you must have Matplotlib installed. Install it by "
                "running `pip install -U matplotlib`."
            )
        import matplotlib.pyplot as plt

        lrs, losses = self.results["lr"], self.results["loss"]
        if ax is None:
            fig, ax = plt.subplots()
        else:
            fig = ax.figure
        ax.plot(lrs, losses)
        if self.mode == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        if suggest:
            self.suggestion()
            if self._optimal_idx:
                idx = self._optimal_idx
                ax.plot(lrs[idx], losses[idx], markersize=10, marker="o", color="red")
        if show:
            plt.show()
        return fig

    def suggestion(self, skip_begin: int = 10, skip_end: int = 1) -> float | None:
        """The learning rate at the steepest negative gradient of the (finite) loss curve."""
        losses = torch.tensor(self.results["loss"][skip_begin:-skip_end])
        lrs = torch.tensor(self.results["lr"][skip_begin:-skip_end])
        finite = torch.isfinite(losses)
        losses, lrs = losses[finite], lrs[finite]
        if len(losses) < 2:
            log.error(
                "Failed to compute suggestion for learning rate because there are not enough "
                "points. Increase the loop iteration limits or the size of your dataset/dataloader."
            )
            self._optimal_idx = None
            return None
        gradients = torch.gradient(losses, spacing=[lrs])[0]
        steepest = int(torch.argmin(gradients).item())
        kept = torch.arange(len(self.results["loss"]))[skip_begin:-skip_end][finite]
        self._optimal_idx = int(kept[steepest].item())
        return self.results["lr"][self._optimal_idx]  # type: ignore[no-any-return]


def lr_find(
    trainer: Trainer,
    model: LightningModule,
    min_lr: float = 1e-8,
    max_lr: float = 1,
    num_training: int = 100,
    mode: str = "exponential",
    early_stop_threshold: float | None = 4.0,
    update_attr: bool = False,
    attr_name: str = "",
) -> _LRFinder | None:
    """Run the range test on ``trainer``'s current fit; set the suggestion if ``update_attr``."""
    if trainer.fast_dev_run:
        warnings.warn(
            "Skipping learning rate finder since `fast_dev_run` is enabled.", stacklevel=2
        )
        return None
    if update_attr:
        attr_name = determine_lr_attr_name(model, attr_name)
    saved = trial.save_run(trainer, "lr_find")
    start_steps = trainer.global_step
    callback = _LRCallback(num_training, early_stop_threshold, progress_bar_refresh_rate=1)
    trainer.lr_scheduler_configs = []
    trial.run_only(trainer, [callback])
    trainer.args.max_steps = num_training + trainer.global_step
    trainer.args.limit_val_batches = num_training
    finder = _LRFinder(mode, min_lr, max_lr, num_training)
    finished = False
    try:
        finder._exchange_scheduler(trainer)
        trial.run_fit_trial(trainer, saved)
        if trainer.global_step != num_training + start_steps:
            log.info(
                f"LR finder stopped early after {trainer.global_step} steps due to diverging loss."
            )
        finder.results.update({"lr": callback.lrs, "loss": callback.losses})
        finder._total_batch_idx = trainer.fit_loop.total_batch_idx
        finished = True
    finally:
        callback.close()
        trial.restore_run(trainer, saved)
    if update_attr and finished:
        lr = finder.suggestion()
        if lr is not None:
            lightning_setattr(model, attr_name, lr)
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = lr
            log.info(f"Learning rate set to {lr}")
    return finder


class _LRCallback(Callback):
    """Records the learning rate before each step and the smoothed loss after it; asks to stop
    when the loss diverges past ``early_stop_threshold`` times the best."""

    def __init__(
        self,
        num_training: int,
        early_stop_threshold: float | None = 4.0,
        progress_bar_refresh_rate: int = 0,
        beta: float = 0.98,
    ) -> None:
        self.num_training = num_training
        self.early_stop_threshold = early_stop_threshold
        self.beta = beta
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.avg_loss = 0.0
        self.best_loss = 0.0
        self.progress_bar_refresh_rate = progress_bar_refresh_rate
        self.progress_bar: Any = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if (trainer.fit_loop.batch_idx + 1) % trainer.accumulate_grad_batches != 0:
            return
        if self.progress_bar_refresh_rate and self.progress_bar is None:
            self.progress_bar = tqdm(desc="Finding best initial lr", total=self.num_training)
        self.lrs.append(trainer.lr_scheduler_configs[0].scheduler.lr[0])

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if (trainer.fit_loop.batch_idx + 1) % trainer.accumulate_grad_batches != 0:
            return
        if not outputs:  # training_step returned None: keep lrs and losses aligned
            self.losses.append(float("nan"))
            return
        if self.progress_bar is not None:
            self.progress_bar.update()
        loss = outputs if isinstance(outputs, torch.Tensor) else outputs["loss"]
        current_loss, step = loss.item(), trainer.global_step
        self.avg_loss = self.beta * self.avg_loss + (1 - self.beta) * current_loss
        smoothed = self.avg_loss / (1 - self.beta ** (step + 1))
        threshold = self.early_stop_threshold
        if threshold is not None and step > 1 and smoothed > threshold * self.best_loss:
            trainer.should_stop = True
            self.close()
        if smoothed < self.best_loss or step == 1:
            self.best_loss = smoothed
        self.losses.append(smoothed)

    def close(self) -> None:
        if self.progress_bar is not None:
            self.progress_bar.close()


class _LinearLR(LRScheduler):
    """From each group's base lr to ``end_lr`` in a straight line over ``num_iter`` steps."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, end_lr: float, num_iter: int, last_epoch: int = -1
    ) -> None:
        self.end_lr = end_lr
        self.num_iter = num_iter
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Any]:
        ratio = (self.last_epoch + 1) / self.num_iter
        if self.last_epoch > 0:
            value = [base + ratio * (self.end_lr - base) for base in self.base_lrs]
        else:
            value = list(self.base_lrs)
        self._lr = value
        return value

    @property
    def lr(self) -> list[Any]:
        return self._lr


class _ExponentialLR(LRScheduler):
    """From each group's base lr to ``end_lr`` geometrically over ``num_iter`` steps."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, end_lr: float, num_iter: int, last_epoch: int = -1
    ) -> None:
        self.end_lr = end_lr
        self.num_iter = num_iter
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[Any]:
        ratio = (self.last_epoch + 1) / self.num_iter
        if self.last_epoch > 0:
            value = [base * (self.end_lr / base) ** ratio for base in self.base_lrs]
        else:
            value = list(self.base_lrs)
        self._lr = value
        return value

    @property
    def lr(self) -> list[Any]:
        return self._lr


class LearningRateFinder(Callback):
    """Runs the learning-rate range test at ``on_fit_start`` and sets the suggestion.

    Override ``on_fit_start`` (to do nothing) and call ``lr_find`` from another hook to tune at
    other points, e.g. when a backbone is unfrozen.
    """

    SUPPORTED_MODES = ("linear", "exponential")

    def __init__(
        self,
        min_lr: float = 1e-8,
        max_lr: float = 1,
        num_training_steps: int = 100,
        mode: str = "exponential",
        early_stop_threshold: float | None = 4.0,
        update_attr: bool = True,
        attr_name: str = "",
    ) -> None:
        mode = mode.lower()
        if mode not in self.SUPPORTED_MODES:
            raise ValueError(f"`mode` should be either of {self.SUPPORTED_MODES}")
        self._min_lr = min_lr
        self._max_lr = max_lr
        self._num_training_steps = num_training_steps
        self._mode = mode
        self._early_stop_threshold = early_stop_threshold
        self._update_attr = update_attr
        self._attr_name = attr_name
        self._early_exit = False  # set by Tuner: end the run once the search is done
        self.optimal_lr: _LRFinder | None = None

    def lr_find(self, trainer: Trainer, pl_module: LightningModule) -> None:
        with isolate_rng():  # the search leaves the random streams as it found them
            self.optimal_lr = lr_find(
                trainer,
                pl_module,
                min_lr=self._min_lr,
                max_lr=self._max_lr,
                num_training=self._num_training_steps,
                mode=self._mode,
                early_stop_threshold=self._early_stop_threshold,
                update_attr=self._update_attr,
                attr_name=self._attr_name,
            )
        if self._early_exit:
            raise _TunerExitException()

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.lr_find(trainer, pl_module)
