"""The checkpoint format (spec section 4): what goes in, how it is written, how it is restored.

The ``loops`` entry is written in Lightning's progress-counter layout so that Lightning can
resume from our files and we from theirs; the trainer's own position lives in TrainerState.
"""

from __future__ import annotations

import copy
import os
import random
import tempfile
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trainer_core.events import Event
from trainer_core.progress import eval_loop_state
from trainer_core.saving import load_checkpoint_file
from trainer_core.state import RunningStage, TrainerFn
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

VERSION_KEY = "pytorch-lightning_version"
WRITTEN_VERSION = "2.6.2"  # the Lightning release the spec describes


# ---- saving ------------------------------------------------------------------------------------
def dump_checkpoint(trainer: Trainer, weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint dict, built in the order of spec 1.1 (checkpoint saving)."""
    model = trainer.lightning_module
    assert model is not None
    state = trainer.state
    checkpoint: dict[str, Any] = {
        "epoch": state.current_epoch,
        "global_step": state.global_step,
        VERSION_KEY: WRITTEN_VERSION,
        "state_dict": model.state_dict(),
        "loops": _loops_state(trainer),
    }
    if not weights_only:
        callback_states = {}
        for callback in trainer.callbacks:
            callback_state = callback.state_dict()
            if callback_state:
                callback_states[callback.state_key] = callback_state
        checkpoint["callbacks"] = callback_states
        checkpoint["optimizer_states"] = [opt.state_dict() for opt in trainer.optimizers]
        checkpoint["lr_schedulers"] = [
            c.scheduler.state_dict() for c in trainer.lr_scheduler_configs
        ]
        precision = trainer.precision_plugin
        precision_state = precision.state_dict()
        if precision_state and precision.state_key:
            checkpoint[precision.state_key] = precision_state
    datamodule = trainer.datamodule
    # The datamodule's hparams get their own keys (as Lightning 2.6 writes them), so the
    # module's `load_from_checkpoint` never sees the datamodule's arguments.
    for obj, prefix in ((model, ""), (datamodule, "datamodule_")):
        if obj is not None and obj.hparams:
            if getattr(obj, "_hparams_name", None):
                checkpoint[f"{prefix}hparams_name"] = obj._hparams_name
            checkpoint[f"{prefix}hyper_parameters"] = dict(obj.hparams)
    if datamodule is not None:
        datamodule_state = trainer._call_datamodule("state_dict")
        if datamodule_state:
            checkpoint[type(datamodule).__qualname__] = datamodule_state
    trainer._fire(Event.ON_SAVE_CHECKPOINT, checkpoint, to_callbacks=not weights_only)
    return checkpoint


def write_checkpoint(checkpoint: dict[str, Any], filepath: str | os.PathLike) -> None:
    """Write atomically: a crash mid-write never leaves a truncated .ckpt behind."""
    path = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".ckpt")
    os.close(handle)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _loops_state(trainer: Trainer) -> dict[str, Any]:
    """Lightning's ``loops`` layout; our RNG streams ride along in fit_loop.state_dict."""
    state = trainer.state
    fit_loop = state.progress.state_dict(
        state.batches_that_stepped, {"trainer_core_rng": _rng_state()}
    )
    return {
        "fit_loop": fit_loop,
        "validate_loop": eval_loop_state(),
        "test_loop": eval_loop_state(),
        "predict_loop": eval_loop_state(predict=True),
    }


def _rng_state() -> dict[str, Any]:
    """RNG streams as plain values, so the file still loads with weights_only=True."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "python": [version, list(py_state), py_gauss],
    }


def _set_rng_state(rng: dict[str, Any]) -> None:
    torch.set_rng_state(rng["torch"])
    name, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = rng["python"]
    random.setstate((version, tuple(py_state), py_gauss))


# ---- choosing and loading ----------------------------------------------------------------------
def resolve_ckpt_path(trainer: Trainer, fn: TrainerFn, ckpt_path: Any, model_provided: bool) -> Any:
    """A concrete file path (or None) for ckpt_path=None / "best" / "last" / a path."""
    if ckpt_path is None:
        callback = trainer.checkpoint_callback
        best = getattr(callback, "best_model_path", "")
        if (
            fn == TrainerFn.FITTING
            or model_provided
            or trainer.lightning_module is None
            or not best
        ):
            return None
        warnings.warn(
            f"`.{fn.value}(ckpt_path=None)` was called without a model. The best model of the "
            f"previous `fit` call will be used. You can pass `.{fn.value}(ckpt_path='best')` to use "
            f"the best model or `.{fn.value}(ckpt_path='last')` to use the last model. If you "
            "pass a value, this warning will be silenced.",
            stacklevel=4,
        )
        ckpt_path = "best"
    if ckpt_path == "best":
        callback = trainer.checkpoint_callback
        if callback is None:
            raise ValueError(
                f'`.{fn.value}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured.'
            )
        if not callback.best_model_path:
            raise ValueError(
                f'`.{fn.value}(ckpt_path="best")` is set but `ModelCheckpoint` has not saved a '
                "checkpoint yet: run `fit` first, or pass an exact path."
            )
        return callback.best_model_path
    if ckpt_path == "last":
        candidates = [getattr(cb, "last_model_path", "") for cb in trainer.checkpoint_callbacks]
        candidates = [p for p in candidates if p and os.path.isfile(p)]
        if not candidates:
            warnings.warn(
                f'.{fn.value}(ckpt_path="last") is set, but there is no last checkpoint available. '
                "No checkpoint will be loaded.",
                stacklevel=4,
            )
            return None
        return max(candidates, key=os.path.getmtime)
    if ckpt_path in ("hpc", "registry") or str(ckpt_path).startswith("registry:"):
        raise ValueError(
            f"`ckpt_path={ckpt_path!r}` is not supported by trainer_core: pass a path."
        )
    return os.fspath(ckpt_path)


def load_for_run(path: str, weights_only: bool | None = None) -> dict[str, Any]:
    """Read the file before any hook runs, so a bad path fails before work is done.

    Safe by default (``weights_only=True``): every checkpoint trainer_core writes loads that way.
    """
    checkpoint = load_checkpoint_file(path, weights_only=weights_only)
    if "state_dict" not in checkpoint:
        raise ValueError(
            f"{path!r} is not a trainer checkpoint: it has no 'state_dict' key (keys: "
            f"{sorted(checkpoint)[:8]}). Pass a .ckpt written by ModelCheckpoint or save_checkpoint."
        )
    return checkpoint


def restore_modules_and_callbacks(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Module hook + weights, datamodule state, then callbacks (spec 1.1, checkpoint loading)."""
    model = trainer.lightning_module
    assert model is not None
    trainer._fire(Event.ON_LOAD_CHECKPOINT, checkpoint, to_callbacks=False)
    model.load_state_dict(checkpoint["state_dict"], strict=model.strict_loading)
    datamodule = trainer.datamodule
    if datamodule is not None and type(datamodule).__qualname__ in checkpoint:
        datamodule.load_state_dict(checkpoint[type(datamodule).__qualname__])
    trainer._fire(Event.ON_LOAD_CHECKPOINT, checkpoint, to_module=False)
    states = checkpoint.get("callbacks") or {}
    matched = set()
    for callback in trainer.callbacks:
        for key in (callback.state_key, callback._legacy_state_key):
            if key in states:
                matched.add(key)
                callback.load_state_dict(copy.deepcopy(states[key]))
                break
    unmatched = [k for k in states if k not in matched]
    if unmatched:
        warnings.warn(
            f"Be aware that when using `ckpt_path`, callbacks used to create the checkpoint need to "
            f"be provided during `Trainer` instantiation. Please add the following callbacks: "
            f"{unmatched}.",
            stacklevel=4,
        )


def restore_training_state(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    """Precision, loop position, optimizers and schedulers (fit only; spec 4.2)."""
    precision = trainer.precision_plugin
    if precision.state_key and precision.state_key in checkpoint:
        precision.load_state_dict(checkpoint[precision.state_key])
    _restore_loops(trainer, checkpoint)
    if "optimizer_states" not in checkpoint or "lr_schedulers" not in checkpoint:
        raise KeyError(
            "Trying to restore optimizer state but checkpoint contains only the model. This is "
            "probably due to `ModelCheckpoint.save_weights_only` being set to `True`."
        )
    for optimizer, opt_state in zip(
        trainer.optimizers, checkpoint["optimizer_states"], strict=False
    ):
        optimizer.load_state_dict(opt_state)
    for config, sched_state in zip(
        trainer.lr_scheduler_configs, checkpoint["lr_schedulers"], strict=False
    ):
        config.scheduler.load_state_dict(sched_state)


def _restore_loops(trainer: Trainer, checkpoint: dict[str, Any]) -> None:
    state = trainer.state
    fit = (checkpoint.get("loops") or {}).get("fit_loop")
    if not fit:  # a checkpoint without progress: trust its epoch / global_step
        state.current_epoch = int(checkpoint.get("epoch", 0))
        state.global_step = int(checkpoint.get("global_step", 0))
        state.progress.epoch.total.update(
            dict.fromkeys(state.progress.epoch.keys, state.current_epoch)
        )
        state.progress.epoch.current.update(state.progress.epoch.total)
    else:
        state.progress.load_state_dict(fit)
        state.batches_that_stepped = int(
            fit["epoch_loop.state_dict"].get("_batches_that_stepped", 0)
        )
        _restore_fit_progress(trainer, fit)
        state.global_step = _global_step(fit, checkpoint)
        rng = (fit.get("state_dict") or {}).get("trainer_core_rng")
        if rng:
            _set_rng_state(rng)
    max_epochs = trainer.fit_loop.max_epochs
    if max_epochs not in (-1, None) and state.current_epoch > max_epochs:
        raise MisconfigurationException(
            f"You restored a checkpoint with current_epoch={state.current_epoch}, but you have set "
            f"Trainer(max_epochs={max_epochs}). Raise max_epochs to continue training."
        )
    state.stage = RunningStage.TRAINING


def _restore_fit_progress(trainer: Trainer, fit: dict[str, Any]) -> None:
    """Where to continue, decided from the counters the way Lightning decides it.

    A run restarts *inside* an epoch when that epoch was started but not completed, or when
    training is step-based (max_steps set); otherwise it continues with the next whole epoch.
    """
    state, progress = trainer.state, trainer.state.progress
    epoch, batch = progress.epoch, progress.batch
    current = epoch.current
    step_based = trainer.args.max_steps != -1
    unfinished = (
        current["processed"] != current["ready"] or current["processed"] != current["started"]
    )
    restarting = unfinished or step_based
    ready, started, processed, completed = (epoch.total[k] for k in epoch.keys)
    on_epoch_start = restarting and started == ready - 1 and processed == started == completed
    mid_epoch = (
        restarting and started == ready and processed == started - 1 and completed == processed
    )
    on_epoch_end = started == ready and processed == started and completed == processed - 1
    on_batch_end = batch.total["completed"] == batch.total["processed"] - 1
    batches_done = len(set(batch.total.values())) == 1
    if restarting and not batches_done:
        state.batches_that_stepped += 1  # Lightning saves it before counting the current batch
    # Saved at on_validation_end inside an epoch: that batch's bookkeeping is finished on resume.
    state.finish_validated_batch = restarting and batches_done and not batch.is_last_batch
    resume_inside = mid_epoch or (restarting and on_epoch_end)
    if restarting:
        stays_in_epoch = _reset_for_restart(progress, mid_epoch, on_batch_end, on_epoch_start)
        resume_inside = resume_inside and stays_in_epoch
    elif on_epoch_end:
        epoch.inc("completed")  # resumed from an end-of-epoch checkpoint: that epoch is done
    position = batch.current["completed"]
    state.current_epoch = epoch.current["completed"]
    state.resume_mid_epoch = resume_inside
    state.epoch_batches_done = position if resume_inside else 0
    state.batch_idx = position - 1 if resume_inside else -1
    state.restarting = restarting


def _reset_for_restart(
    progress: Any, mid_epoch: bool, on_batch_end: bool, on_epoch_start: bool
) -> bool:
    """Lightning's restart bookkeeping; False when the run moves on to the next epoch."""
    epoch, batch = progress.epoch, progress.batch
    continue_inside = True
    if on_batch_end:
        batch.inc("completed")
    if mid_epoch and on_batch_end and batch.is_last_batch:
        progress.start_epoch()  # saved at the very end of an epoch: go on with the next one
        epoch.inc("processed")
        epoch.inc("completed")
        continue_inside = False
    for tracker in (batch, progress.scheduler, progress.optimizer_step, progress.zero_grad,
                    progress.manual_step):  # fmt: skip
        tracker.reset_current_on_restart()
    if on_epoch_start:
        epoch.reset_current_on_restart()
    return continue_inside


def _global_step(fit: dict[str, Any], checkpoint: dict[str, Any]) -> int:
    auto = fit["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"]["total"]
    manual = fit["epoch_loop.manual_optimization.optim_step_progress"]["total"]
    steps = int(auto["completed"]) + int(manual["completed"])
    return steps if steps or "global_step" not in checkpoint else int(checkpoint["global_step"])
