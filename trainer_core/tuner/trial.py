"""What both tuners do around their trial runs, as Lightning does it.

Before: write a checkpoint to ``default_root_dir/.<name>_<uuid>.ckpt`` and note the callbacks,
loggers, settings and loop position. During: only the tuner's callbacks, a DummyLogger, tuner
limits; each trial starts from the noted loop position. After: the settings, callbacks and
loggers come back, the checkpoint restores weights, optimizer and scheduler state (firing the
checkpoint-loading hooks), the loop position is the one noted, and the file is removed. The RNG
streams are left where the trials took them (Lightning's LR finder isolates them itself).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer_core import checkpoint_io
from trainer_core.loggers.base import DummyLogger
from trainer_core.profilers import actions
from trainer_core.saving import load_checkpoint_file
from trainer_core.state import TrainerState

if TYPE_CHECKING:
    from trainer_core.callbacks.base import Callback
    from trainer_core.trainer import Trainer


@dataclass
class SavedRun:
    """Everything the trials change, as it was before them."""

    checkpoint_path: str
    callbacks: list[Any]
    loggers: list[Any]
    args: Any
    state: TrainerState
    optimizers: list[Any] = field(default_factory=list)
    lr_scheduler_configs: list[Any] = field(default_factory=list)


def save_run(trainer: Trainer, name: str) -> SavedRun:
    path = os.path.join(trainer.default_root_dir, f".{name}_{uuid.uuid4()}.ckpt")
    trainer.save_checkpoint(path)
    return SavedRun(
        checkpoint_path=path,
        callbacks=list(trainer.callbacks),
        loggers=list(trainer.loggers),
        args=dataclasses.replace(trainer.args),
        state=copy.deepcopy(trainer.state),
        optimizers=list(trainer.optimizers),
        lr_scheduler_configs=list(trainer.lr_scheduler_configs),
    )


def run_only(trainer: Trainer, callbacks: list[Callback]) -> None:
    """Trials run with only ``callbacks`` and log nowhere (a DummyLogger if there was a logger)."""
    trainer.callbacks = list(callbacks)
    trainer.logger = DummyLogger() if trainer.logger is not None else None
    trainer._refresh_hooks()


def back_to_start(trainer: Trainer, saved: SavedRun) -> None:
    """Put the loop position (counters, epoch, step) back to where the tuning started."""
    for item in dataclasses.fields(TrainerState):
        setattr(trainer.state, item.name, copy.deepcopy(getattr(saved.state, item.name)))


def run_fit_trial(trainer: Trainer, saved: SavedRun) -> None:
    """One trial of the fit loop from the saved position, without a sanity check (Lightning's)."""
    back_to_start(trainer, saved)
    try:
        trainer.fit_loop.run(sanity_check=False)
    except BaseException:
        # a trial that ran out of memory left its epoch's profiler action open: close it, so
        # the next trial can start it again (Lightning's ``with`` block does the same)
        if trainer._profiling:
            with contextlib.suppress(ValueError):
                trainer.profiler.stop(actions.RUN_TRAINING_EPOCH)
        raise


def restore_run(trainer: Trainer, saved: SavedRun) -> None:
    """Settings, callbacks, loggers and the saved checkpoint back; the file removed."""
    trainer.callbacks, trainer.loggers = saved.callbacks, saved.loggers
    for item in dataclasses.fields(saved.args):
        setattr(trainer.args, item.name, getattr(saved.args, item.name))
    trainer.optimizers = saved.optimizers
    trainer.lr_scheduler_configs = saved.lr_scheduler_configs
    back_to_start(trainer, saved)
    trainer._refresh_hooks()
    try:
        # our own file, written moments ago: it may hold a callback's non-tensor state
        checkpoint = load_checkpoint_file(saved.checkpoint_path, weights_only=False)
        _restore_checkpoint(trainer, checkpoint)
    finally:
        if os.path.exists(saved.checkpoint_path):
            os.remove(saved.checkpoint_path)
    trainer.state.restarting = False
    trainer.should_stop = False


def _restore_checkpoint(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    checkpoint_io.restore_modules_and_callbacks(trainer, checkpoint)
    precision = trainer.precision_plugin
    if precision.state_key and precision.state_key in checkpoint:
        precision.load_state_dict(checkpoint[precision.state_key])
    for optimizer, state in zip(
        trainer.optimizers, checkpoint.get("optimizer_states", []), strict=False
    ):
        optimizer.load_state_dict(state)
    for config, state in zip(
        trainer.lr_scheduler_configs, checkpoint.get("lr_schedulers", []), strict=False
    ):
        config.scheduler.load_state_dict(state)
