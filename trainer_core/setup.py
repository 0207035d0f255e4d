"""Turning Trainer(...) arguments into checked settings, loggers and the callback list."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from trainer_core.callbacks.base import Callback
from trainer_core.callbacks.model_checkpoint import Checkpoint, ModelCheckpoint
from trainer_core.callbacks.model_summary import ModelSummary
from trainer_core.callbacks.progress import ProgressBar, TQDMProgressBar
from trainer_core.callbacks.timer import Timer
from trainer_core.data import check_limit
from trainer_core.loggers.base import DummyLogger, Logger
from trainer_core.loggers.csv_logs import CSVLogger
from trainer_core.loggers.tensorboard import TensorBoardLogger, tensorboard_available
from trainer_core.utilities.exceptions import MisconfigurationException


@dataclass
class TrainerArgs:
    """Loop settings after defaults and fast_dev_run/overfit_batches are applied."""

    max_epochs: int | None
    min_epochs: int | None
    max_steps: int
    min_steps: int | None
    limit_train_batches: int | float
    limit_val_batches: int | float
    limit_test_batches: int | float
    limit_predict_batches: int | float
    overfit_batches: int | float
    val_check_interval: int | float
    check_val_every_n_epoch: int | None
    num_sanity_val_steps: int | float
    log_every_n_steps: int
    accumulate_grad_batches: int
    gradient_clip_val: float | None
    gradient_clip_algorithm: str | None
    fast_dev_run: int
    inference_mode: bool
    reload_dataloaders_every_n_epochs: int
    default_root_dir: str
    enable_autolog_hparams: bool
    barebones: bool
    max_time_s: float | None
    detect_anomaly: bool


def parse_args(**kw: Any) -> TrainerArgs:
    """Validate and normalise the loop arguments (spec section 7)."""
    fast_dev_run = _fast_dev_run(kw["fast_dev_run"])
    limits = {}
    for stage in ("train", "val", "test", "predict"):
        value = kw[f"limit_{stage}_batches"]
        limits[stage] = check_limit(f"limit_{stage}_batches", 1.0 if value is None else value)
    overfit = check_limit("overfit_batches", kw["overfit_batches"])
    if overfit > 0:
        limits["train"] = limits["val"] = overfit
    val_check = 1.0 if kw["val_check_interval"] is None else kw["val_check_interval"]
    _check_val_interval(val_check, kw["check_val_every_n_epoch"])
    sanity = 2 if kw["num_sanity_val_steps"] is None else kw["num_sanity_val_steps"]
    max_epochs, max_steps = kw["max_epochs"], kw["max_steps"]
    if fast_dev_run:
        limits = {stage: fast_dev_run for stage in limits}
        max_steps, max_epochs, sanity, val_check = fast_dev_run, 1, 0, 1.0
    accumulate = kw["accumulate_grad_batches"]
    if not isinstance(accumulate, int) or accumulate < 1:
        raise MisconfigurationException(
            f"`accumulate_grad_batches` must be an int >= 1, got {accumulate!r}."
        )
    algorithm = kw["gradient_clip_algorithm"]
    if algorithm is not None and algorithm not in ("norm", "value"):
        raise MisconfigurationException(
            f"`gradient_clip_algorithm` {algorithm!r} is invalid. Allowed algorithms: 'norm', 'value'."
        )
    root = kw["default_root_dir"]
    root = os.getcwd() if root is None else os.path.normpath(os.path.expanduser(os.fspath(root)))
    return TrainerArgs(
        max_epochs=max_epochs,
        min_epochs=kw["min_epochs"],
        max_steps=-1 if max_steps is None else max_steps,
        min_steps=kw["min_steps"],
        limit_train_batches=limits["train"],
        limit_val_batches=limits["val"],
        limit_test_batches=limits["test"],
        limit_predict_batches=limits["predict"],
        overfit_batches=overfit,
        val_check_interval=val_check,
        check_val_every_n_epoch=kw["check_val_every_n_epoch"],
        num_sanity_val_steps=float("inf") if sanity == -1 else sanity,
        log_every_n_steps=50 if kw["log_every_n_steps"] is None else kw["log_every_n_steps"],
        accumulate_grad_batches=accumulate,
        gradient_clip_val=kw["gradient_clip_val"],
        gradient_clip_algorithm=algorithm,
        fast_dev_run=fast_dev_run,
        inference_mode=kw["inference_mode"],
        reload_dataloaders_every_n_epochs=kw["reload_dataloaders_every_n_epochs"],
        default_root_dir=root,
        enable_autolog_hparams=kw["enable_autolog_hparams"],
        barebones=kw["barebones"],
        max_time_s=_seconds(kw["max_time"]),
        detect_anomaly=kw["detect_anomaly"],
    )


def _seconds(max_time: Any) -> float | None:
    """max_time as "DD:HH:MM:SS", a timedelta or a dict of timedelta arguments."""
    if max_time is None:
        return None
    if isinstance(max_time, timedelta):
        return max_time.total_seconds()
    if isinstance(max_time, dict):
        return timedelta(**max_time).total_seconds()
    if isinstance(max_time, str):
        parts = max_time.split(":")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            days, hours, minutes, seconds = map(int, parts)
            return timedelta(
                days=days, hours=hours, minutes=minutes, seconds=seconds
            ).total_seconds()
    raise MisconfigurationException(
        f"`max_time={max_time!r}` is not understood: use 'DD:HH:MM:SS', a timedelta or a dict "
        "such as {'hours': 1}."
    )


def _fast_dev_run(value: Any) -> int:
    if value is True:
        return 1
    if value is False or value is None:
        return 0
    if not isinstance(value, int) or value < 0:
        raise MisconfigurationException(
            f"fast_dev_run={value!r} is not a valid configuration. It should be >= 0."
        )
    return value


def _check_val_interval(val_check: Any, every_n_epoch: Any) -> None:
    if isinstance(val_check, float) and not 0.0 < val_check <= 1.0:
        raise MisconfigurationException(
            f"`val_check_interval` should be a fraction in (0.0, 1.0] or an int, got {val_check}."
        )
    if isinstance(val_check, int) and val_check < 1:
        raise MisconfigurationException(f"`val_check_interval` must be >= 1, got {val_check}.")
    if every_n_epoch is not None and (not isinstance(every_n_epoch, int) or every_n_epoch < 1):
        raise MisconfigurationException(
            f"`check_val_every_n_epoch` should be an integer >= 1 or None, got {every_n_epoch!r}."
        )
    if every_n_epoch is None and isinstance(val_check, float):
        raise MisconfigurationException(
            "`check_val_every_n_epoch=None` needs an int `val_check_interval` (validate every N "
            "training batches)."
        )


def build_loggers(logger: Any, default_root_dir: str, fast_dev_run: int) -> list[Logger]:
    """True/None -> TensorBoard if installed else CSV; False -> none; one or a list as given."""
    if fast_dev_run:
        return [DummyLogger()] if logger is not False else []
    if logger is None or logger is True:
        if tensorboard_available():
            return [TensorBoardLogger(save_dir=default_root_dir)]
        warnings.warn(
            "Starting from v1.9.0, `tensorboardX` has been removed as a dependency of the "
            "`lightning.pytorch` package. Using the CSVLogger as the default logger.",
            stacklevel=3,
        )
        return [CSVLogger(save_dir=default_root_dir)]
    if logger is False:
        return []
    return list(logger) if isinstance(logger, (list, tuple)) else [logger]


def build_callbacks(
    callbacks: Any,
    enable_checkpointing: bool,
    enable_progress_bar: bool,
    enable_model_summary: bool,
    max_time: Any = None,
) -> list[Callback]:
    """User callbacks, then the defaults; checkpoint callbacks move to the end.

    ``max_time`` adds a Timer (Lightning's default callback), unless the user passed one.
    """
    user = (
        list(callbacks)
        if isinstance(callbacks, (list, tuple))
        else ([callbacks] if callbacks is not None else [])
    )
    has_checkpoint = any(isinstance(cb, Checkpoint) for cb in user)  # a user's own counts too
    if has_checkpoint and not enable_checkpointing:
        raise MisconfigurationException(
            "Trainer was configured with `enable_checkpointing=False` but found `ModelCheckpoint` "
            "in callbacks list. Remove it or set enable_checkpointing=True."
        )
    result = list(user)
    if enable_checkpointing and not has_checkpoint:
        result.append(ModelCheckpoint())
    if max_time is not None and not any(isinstance(cb, Timer) for cb in user):
        result.append(Timer(duration=max_time, interval="step"))
    if enable_progress_bar and not any(isinstance(cb, ProgressBar) for cb in user):
        result.append(TQDMProgressBar())
    if enable_model_summary and not any(isinstance(cb, ModelSummary) for cb in user):
        result.append(ModelSummary())
    if not enable_progress_bar:
        bars = [cb for cb in user if isinstance(cb, ProgressBar)]
        if bars:
            raise MisconfigurationException(
                f"Trainer was configured with `enable_progress_bar=False` but found `{bars[0]}` in "
                "callbacks list. Remove it or set enable_progress_bar=True."
            )
    return checkpoints_last(result)


def checkpoints_last(callbacks: list[Callback]) -> list[Callback]:
    """Every ``Checkpoint`` moves to the end, as Lightning's ``_reorder_callbacks`` does."""
    others = [cb for cb in callbacks if not isinstance(cb, Checkpoint)]
    return others + [cb for cb in callbacks if isinstance(cb, Checkpoint)]


def merge_model_callbacks(
    trainer_callbacks: list[Callback], model_callbacks: Any
) -> list[Callback]:
    """configure_callbacks(): each replaces trainer callbacks of the same (or a parent) type."""
    extra = (
        list(model_callbacks)
        if isinstance(model_callbacks, (list, tuple))
        else ([model_callbacks] if model_callbacks else [])
    )
    if not extra:
        return trainer_callbacks
    kept = [cb for cb in trainer_callbacks if not any(isinstance(new, type(cb)) for new in extra)]
    return checkpoints_last(kept + extra)
