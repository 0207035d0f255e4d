"""The search behind ``Tuner.scale_batch_size`` and ``BatchSizeFinder``.

Each trial runs the active loop for ``steps_per_trial`` batches at one batch size. ``power``
doubles the size until a trial runs out of memory (then halves it once); ``binsearch`` doubles,
then bisects between the last size that fit and the first that did not, and takes ``margin`` off.
A size at or above the dataset length stops the search. Afterwards the run is put back as it was
(``trial.py``) and the module (or datamodule) attribute holds the size found.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trainer_core.tuner.trial as trial
from trainer_core.callbacks.base import Callback
from trainer_core.state import TrainerFn
from trainer_core.utilities.exceptions import MisconfigurationException, _TunerExitException
from trainer_core.utilities.memory import garbage_collection_cuda, is_oom_error
from trainer_core.utilities.parsing import (
    lightning_getattr,
    lightning_hasattr,
    lightning_setattr,
)

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer

log = logging.getLogger(__name__)

_EVAL_PREFIX = {
    TrainerFn.VALIDATING: "val",
    TrainerFn.TESTING: "test",
    TrainerFn.PREDICTING: "predict",
}


def scale_batch_size(
    trainer: Trainer,
    mode: str = "power",
    steps_per_trial: int = 3,
    init_val: int = 2,
    max_trials: int = 25,
    batch_arg_name: str = "batch_size",
    margin: float = 0.05,
    max_val: int = 8192,
) -> int | None:
    """The largest batch size whose trial did not run out of memory (None under fast_dev_run)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"`margin` should be between 0 and 1. Found margin={margin}")
    if trainer.fast_dev_run:
        warnings.warn("Skipping batch size scaler since `fast_dev_run` is enabled.", stacklevel=2)
        return None
    saved = trial.save_run(trainer, "scale_batch_size")
    trial.run_only(trainer, [])
    _set_trial_limits(trainer, steps_per_trial)
    try:
        new_size, _ = adjust_batch_size(trainer, batch_arg_name, value=init_val)
        run = _trial_runner(trainer, saved)
        if mode == "power":
            new_size = _power_scaling(trainer, run, new_size, batch_arg_name, max_trials, max_val)
        else:
            new_size = _binsearch_scaling(
                trainer, run, new_size, batch_arg_name, max_trials, margin, max_val
            )
        garbage_collection_cuda(after_oom=False)
        log.info(
            f"Finished batch size finder, will continue with full run using batch size {new_size}"
        )
    finally:
        trial.restore_run(trainer, saved)
    return new_size


def _set_trial_limits(trainer: Trainer, steps_per_trial: int) -> None:
    args = trainer.args
    prefix = _EVAL_PREFIX.get(trainer.state.fn)  # type: ignore[arg-type]
    if prefix is None:
        args.limit_train_batches = 1.0
        args.limit_val_batches = steps_per_trial
        args.max_steps = steps_per_trial
    else:
        setattr(args, f"limit_{prefix}_batches", steps_per_trial)


def _trial_runner(trainer: Trainer, saved: trial.SavedRun) -> Callable[[], None]:
    """One trial of the active loop (fit, or the eval/predict loop of this call)."""
    fn = trainer.state.fn
    if fn == TrainerFn.FITTING:
        return lambda: trial.run_fit_trial(trainer, saved)
    hub = trainer._hub

    def run_eval() -> None:
        trial.back_to_start(trainer, saved)
        results = hub.results  # the interrupted run's collection, to hand back afterwards
        try:
            if fn == TrainerFn.PREDICTING:
                trainer.predict_loop.run()
            else:
                loop = trainer.validate_loop if fn == TrainerFn.VALIDATING else trainer.test_loop
                loop.run_standalone(verbose=False)
        finally:
            hub.results = results

    return run_eval


def _power_scaling(
    trainer: Trainer,
    run: Callable[[], None],
    new_size: int,
    batch_arg_name: str,
    max_trials: int,
    max_val: int,
) -> int:
    """Double until a trial runs out of memory, then halve once (if any trial succeeded)."""
    any_success = False
    for i in range(max_trials):
        garbage_collection_cuda(after_oom=False)
        if new_size >= max_val:
            log.info(f"Reached the maximum batch size limit of {max_val}. Stopping search.")
            break
        try:
            run()
        except RuntimeError as exception:
            if not is_oom_error(exception):
                raise
            garbage_collection_cuda()
            new_size, _ = adjust_batch_size(trainer, batch_arg_name, factor=0.5, desc="failed")
            if any_success:
                break
            continue
        last_successful_size = new_size
        if i + 1 >= max_trials:
            new_size = last_successful_size
            break
        new_size, changed = adjust_batch_size(trainer, batch_arg_name, factor=2.0, desc="succeeded")
        if not changed:
            break
        any_success = True
    return new_size


def _binsearch_scaling(
    trainer: Trainer,
    run: Callable[[], None],
    new_size: int,
    batch_arg_name: str,
    max_trials: int,
    margin: float,
    max_val: int,
) -> int:
    """Double until out of memory, then bisect between the last fit and the first failure."""
    low, high, count = 1, None, 0
    while True:
        garbage_collection_cuda(after_oom=False)
        if new_size >= max_val:
            log.info(f"Reached the maximum batch size limit of {max_val}. Stopping search.")
            break
        try:
            run()
        except RuntimeError as exception:
            if not is_oom_error(exception):
                raise
            garbage_collection_cuda()
            high = new_size
            midval = (high + low) // 2
            new_size, _ = adjust_batch_size(trainer, batch_arg_name, value=midval, desc="failed")
            if high - low <= 1:
                break
            continue
        last_successful_size = new_size
        count += 1
        if count >= max_trials:
            new_size = last_successful_size
            break
        low = new_size
        if high:
            if high - low <= 1:
                break
            new_size, changed = adjust_batch_size(
                trainer, batch_arg_name, value=(high + low) // 2, desc="succeeded", max_val=max_val
            )
        else:
            new_size, changed = adjust_batch_size(
                trainer, batch_arg_name, factor=2.0, desc="succeeded", max_val=max_val
            )
        if not changed:
            break
    if margin > 0:
        reduced = max(1, int(new_size * (1 - margin)))
        if reduced != new_size:
            log.info(
                f"Applying margin of {margin:.1%}, reducing batch size from {new_size} to {reduced}"
            )
            new_size = reduced
            lightning_setattr(trainer.lightning_module, batch_arg_name, new_size)
    return new_size


def adjust_batch_size(
    trainer: Trainer,
    batch_arg_name: str = "batch_size",
    factor: float = 1.0,
    value: int | None = None,
    desc: str | None = None,
    max_val: int = 8192,
) -> tuple[int, bool]:
    """Set the next size to try (``value``, or the current one times ``factor``, capped at
    ``max_val``); unchanged when the current size already covers the whole dataset."""
    model = trainer.lightning_module
    batch_size = lightning_getattr(model, batch_arg_name)
    length = _dataset_length(trainer)
    if length is not None and batch_size >= length:
        log.info(
            f"The batch size {batch_size} is greater or equal than the length of your dataset: {length}."
        )
        return batch_size, False
    new_size = value if value is not None else int(batch_size * factor)
    if new_size > max_val:
        if desc:
            log.info(f"Batch size {new_size} exceeds max_val limit {max_val}, capping at {max_val}")
        new_size = max_val
    if desc:
        log.info(f"Batch size {batch_size} {desc}, trying batch size {new_size}")
    lightning_setattr(model, batch_arg_name, new_size)
    return new_size, new_size != batch_size


def _dataset_length(trainer: Trainer) -> int | None:
    """Rows in the active stage's data: the longest train set, or all eval sets together."""
    prefix = _EVAL_PREFIX.get(trainer.state.fn, "train")  # type: ignore[arg-type]
    loaders = trainer.data_sources.request(prefix)
    lengths = [_sized(getattr(loader, "dataset", None)) for loader in loaders]
    known = [n for n in lengths if n is not None]
    if not known:
        return None  # iterable-style data: no length to stop at
    return max(known) if prefix == "train" else sum(known)


def _sized(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


class BatchSizeFinder(Callback):
    """Finds the largest batch size that fits before the run starts (``fit``: at
    ``on_fit_start``; ``validate``/``test``/``predict``: when that loop starts).

    The batch size is read from and written to ``batch_arg_name`` on the module, its hparams or
    the datamodule; the data must come from the module or datamodule (not loaders passed to the
    call), so the next request builds loaders with the new size.
    """

    SUPPORTED_MODES = ("power", "binsearch")

    def __init__(
        self,
        mode: str = "power",
        steps_per_trial: int = 3,
        init_val: int = 2,
        max_trials: int = 25,
        batch_arg_name: str = "batch_size",
        margin: float = 0.05,
        max_val: int = 8192,
    ) -> None:
        mode = mode.lower()
        if mode not in self.SUPPORTED_MODES:
            raise ValueError(f"`mode` should be either of {self.SUPPORTED_MODES}")
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"`margin` should be between 0 and 1. Found margin={margin}")
        self.optimal_batch_size: int | None = init_val
        self._mode = mode
        self._steps_per_trial = steps_per_trial
        self._init_val = init_val
        self._max_trials = max_trials
        self._batch_arg_name = batch_arg_name
        self._margin = margin
        self._max_val = max_val
        self._early_exit = False  # set by Tuner: end the run once the size is found

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        prefix = "train" if stage == "fit" else _EVAL_PREFIX[TrainerFn(stage)]
        if trainer.data_sources.explicit.get(prefix) is not None:
            raise MisconfigurationException(
                f"The Batch size finder cannot be used with dataloaders passed directly to "
                f"`.{stage}()`. Please disable the feature or incorporate the dataloader into "
                "your LightningModule or LightningDataModule."
            )
        if stage != "fit" and len(trainer.data_sources.request(prefix)) > 1:
            raise MisconfigurationException(
                f"The Batch size finder cannot be used with multiple {prefix} dataloaders."
            )
        name = self._batch_arg_name
        if not lightning_hasattr(pl_module, name):
            raise MisconfigurationException(
                f"Field {name} not found in `model`, `datamodule`, nor their `hparams` attributes."
            )
        if hasattr(pl_module, name) and name in pl_module.hparams:
            warnings.warn(
                f"Field `model.{name}` and `model.hparams.{name}` are mutually exclusive! "
                f"`model.{name}` will be used as the initial batch size for scaling. If this is "
                "not the intended behavior, please remove either one.",
                stacklevel=2,
            )

    def scale_batch_size(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.optimal_batch_size = scale_batch_size(
            trainer, self._mode, self._steps_per_trial, self._init_val, self._max_trials,
            self._batch_arg_name, self._margin, self._max_val,
        )  # fmt: skip
        if self._early_exit:
            raise _TunerExitException()

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.scale_batch_size(trainer, pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.VALIDATING:
            return
        self.scale_batch_size(trainer, pl_module)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.scale_batch_size(trainer, pl_module)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.scale_batch_size(trainer, pl_module)
