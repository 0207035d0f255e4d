"""The fit loop: sanity check, then epochs of training batches with validation inside."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from trainer_core.data import CycleLoaders
from trainer_core.events import Event, ModuleHook
from trainer_core.hooks import is_overridden
from trainer_core.logging.results import Results
from trainer_core.module import LightningModule
from trainer_core.profilers import actions
from trainer_core.seed import isolate_rng
from trainer_core.state import RunningStage
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


def iterate_batches(loader: Any, start: int, num: int | float) -> Iterator[tuple[int, Any, bool]]:
    """(batch_idx, batch, is_last) from ``start`` up to ``num`` batches; looks ahead if unsized."""
    iterator = iter(loader)
    if not math.isinf(num):
        for batch_idx in range(start, int(num)):
            try:
                batch = next(iterator)
            except StopIteration:
                return
            yield batch_idx, batch, batch_idx + 1 == num
        return
    batch_idx = start
    try:
        batch = next(iterator)
    except StopIteration:
        return
    for upcoming in iterator:
        yield batch_idx, batch, False
        batch, batch_idx = upcoming, batch_idx + 1
    yield batch_idx, batch, True


class FitLoop:
    """Epochs and batches; ``trainer.state`` holds the position a checkpoint restores."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.epoch_loop = self  # Lightning code reads trainer.fit_loop.epoch_loop.<counter>
        self._val_enabled = False

    # ---- Lightning-compatible counters ------------------------------------------------------
    @property
    def max_epochs(self) -> int:
        args = self.trainer.args
        if args.max_epochs is not None:
            return args.max_epochs
        return 1000 if args.max_steps == -1 and args.max_time_s is None else -1

    @max_epochs.setter
    def max_epochs(self, value: int) -> None:
        # SWA adds an epoch for its batch-norm update, as it does to Lightning's fit loop.
        self.trainer.args.max_epochs = value

    @property
    def _skip_backward(self) -> bool:
        return self.trainer._optimization.skip_backward

    @_skip_backward.setter
    def _skip_backward(self, value: bool) -> None:
        self.trainer._optimization.skip_backward = value

    @property
    def min_epochs(self) -> int | None:
        return self.trainer.args.min_epochs

    @property
    def max_steps(self) -> int:
        return self.trainer.args.max_steps

    @property
    def batch_idx(self) -> int:
        return self.trainer.state.batch_idx

    @property
    def total_batch_idx(self) -> int:
        return self.trainer.state.total_batch_idx

    @property
    def _batches_that_stepped(self) -> int:
        return self.trainer.state.batches_that_stepped

    @property
    def global_step(self) -> int:
        return self.trainer.state.global_step

    # ---- decisions ---------------------------------------------------------------------------
    def validation_enabled(self) -> bool:
        trainer = self.trainer
        model = trainer.lightning_module
        if model is None or trainer.limit_val_batches == 0:
            return False
        return is_overridden("validation_step", model, LightningModule) and (
            trainer.data_sources.is_defined("val")
        )

    def _can_stop_early(self) -> bool:
        state, args = self.trainer.state, self.trainer.args
        epochs_met = state.current_epoch >= args.min_epochs if args.min_epochs else True
        steps_met = state.global_step >= args.min_steps if args.min_steps else True
        return epochs_met and steps_met

    def _max_steps_reached(self) -> bool:
        max_steps = self.trainer.args.max_steps
        return max_steps != -1 and self.trainer.state.global_step >= max_steps

    def done(self) -> bool:
        trainer, state = self.trainer, self.trainer.state
        max_epochs = self.max_epochs
        if max_epochs == 0 or trainer.num_training_batches == 0 or self._max_steps_reached():
            return True
        if max_epochs != -1 and state.current_epoch >= max_epochs:
            return True
        return state.should_stop and self._can_stop_early()

    def _should_validate(self, batch_idx: int, is_last: bool) -> bool:
        trainer = self.trainer
        if not self._val_enabled:
            return False
        every_n = trainer.check_val_every_n_epoch
        if every_n is not None and (trainer.current_epoch + 1) % every_n != 0:
            return False
        check_batch = trainer.val_check_batch
        if is_last and math.isinf(check_batch):
            return True
        if trainer.should_stop and self._can_stop_early():
            return True
        index = trainer.state.total_batch_idx if every_n is None else batch_idx
        return (index + 1) % check_batch == 0 if not math.isinf(check_batch) else is_last

    def _val_check_batch(self) -> int | float:
        trainer = self.trainer
        interval, batches = trainer.val_check_interval, trainer.num_training_batches
        if isinstance(interval, int) and not isinstance(interval, bool):
            if interval > batches and trainer.check_val_every_n_epoch is not None:
                raise ValueError(
                    f"`val_check_interval` ({interval}) must be less than or equal to the number "
                    f"of the training batches ({batches}). If you want to disable validation set "
                    "`limit_val_batches` to 0.0 instead. If you want to validate based on the "
                    "total training batches, set `check_val_every_n_epoch=None`."
                )
            return interval
        if math.isinf(batches):
            if interval != 1.0:
                raise MisconfigurationException(
                    "When the train dataloader has no length, `Trainer(val_check_interval)` must "
                    "be `1.0` or an int."
                )
            return batches
        return max(1, int(batches * interval))

    def estimated_stepping_batches(self) -> int | float:
        trainer = self.trainer
        if math.isinf(trainer.num_training_batches):
            return float("inf") if trainer.max_steps == -1 else trainer.max_steps
        per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
        total = per_epoch * self.max_epochs if self.max_epochs != -1 else float("inf")
        return min(total, trainer.max_steps) if trainer.max_steps != -1 else total

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, sanity_check: bool = True) -> None:
        """events.py's fit pseudocode: one ``_fire`` line per hook point, counters beside them.

        ``sanity_check=False``: the tuner's trial runs, which Lightning runs without one.
        """
        trainer, state, hub = self.trainer, self.trainer.state, self.trainer._hub
        optimization, profiler = trainer._optimization, trainer.profiler
        run_batch = optimization.run_batch
        if trainer._profiling:
            run_batch = actions.profiled(profiler, actions.RUN_TRAINING_BATCH, run_batch)
        batches, epochs = state.progress.batch, state.progress.epoch
        first_loader = self._prepare(sanity_check)
        if first_loader is None:
            return
        hub.start_results(Results(training=True))
        trainer._fire(Event.ON_TRAIN_START)
        for loader in self._epochs(first_loader):
            if state.resume_mid_epoch:
                self._finish_restored_batch()
            else:
                self._new_epoch()
                trainer._fire(Event.ON_TRAIN_EPOCH_START)
                epochs.inc("started")
            state.is_last_batch, state.resume_mid_epoch, state.phase = False, False, "train"
            first, count = state.epoch_batches_done, trainer.num_training_batches
            profiler.start(actions.RUN_TRAINING_EPOCH)
            for batch_idx, batch, is_last in iterate_batches(self._fetching(loader), first, count):
                batch = trainer._transfer(batch, 0)
                self._batch_ready(batch, batch_idx, is_last)
                if trainer._fire(Event.ON_TRAIN_BATCH_START, batch, batch_idx) == -1:
                    self._skip_rest_of_epoch(batch_idx)  # spec 8.1
                    break
                batches.inc("started")
                accumulating = optimization.should_accumulate(batch_idx, is_last)
                outputs = run_batch(batch, batch_idx, accumulating)
                state.epoch_batches_done = batch_idx + 1
                batches.inc("processed")
                if not accumulating:
                    optimization.update_lr_schedulers("step", False, batch_idx)
                if is_last:
                    optimization.update_lr_schedulers("epoch", False, batch_idx)
                state.phase = "batch_end"
                trainer._fire(Event.ON_TRAIN_BATCH_END, outputs, batch, batch_idx)
                batches.inc("completed")
                state.phase = "val"
                if not accumulating and self._logs_this_step():
                    hub.log_step()
                if self._should_validate(batch_idx, is_last):
                    if not accumulating:
                        trainer._fire(ModuleHook.ON_VALIDATION_MODEL_ZERO_GRAD)
                    self._validate()
                if not accumulating:
                    optimization.update_lr_schedulers("step", True, batch_idx)
                    state.batches_that_stepped += 1
                state.phase = "train"
                if self._stop_after_batch():
                    break
            profiler.stop(actions.RUN_TRAINING_EPOCH)
            state.phase = "epoch_end"
            epochs.inc("processed")
            hub.epoch_end_reached()
            trainer._fire(Event.ON_TRAIN_EPOCH_END)
            epoch_logged = hub.epoch_metrics()
            if state.is_last_batch:
                optimization.update_lr_schedulers("epoch", True, state.batch_idx)
            # epoch metrics share the last batch's logger step (spec 2.6)
            hub.log_metrics(epoch_logged, fallback_step=state.batches_that_stepped - 1)
            hub.reset_results()
            state.current_epoch += 1
            epochs.inc("completed")
            state.phase = ""
        trainer._fire(Event.ON_TRAIN_END)

    def _fetching(self, loader: Any) -> Any:
        """The loader, its fetches timed when a profiler is set."""
        trainer = self.trainer
        if not trainer._profiling:
            return loader
        return actions.ProfiledIterable(loader, trainer.profiler, actions.TRAIN_NEXT)

    def _prepare(self, sanity_check: bool = True) -> Any:
        """Limits, sanity check and the train loader; None when there is nothing to train."""
        trainer, state, args = self.trainer, self.trainer.state, self.trainer.args
        if args.max_epochs is None and args.max_steps == -1 and args.max_time_s is None:
            warnings.warn(
                "`max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch "
                "limit, set `max_epochs=-1`.",
                stacklevel=5,
            )
        trainer._optimization.start()
        self._val_enabled = self.validation_enabled()
        trainer.validate_loop.reset_fit_data()
        if not state.restarting:
            if sanity_check:
                self._sanity_check()
        loader = self._train_loader()
        trainer.val_check_batch = self._val_check_batch()
        if args.max_steps == -1:  # epoch-based: a processed epoch counts as completed
            state.progress.epoch.current["completed"] = state.progress.epoch.current["processed"]
        state.restarting = False
        if self.done() or trainer.limit_train_batches == 0:
            return None
        every_n = trainer.check_val_every_n_epoch
        if self._val_enabled and (every_n is None or (state.current_epoch + 1) % every_n == 0):
            trainer.validate_loop.load_fit_loaders()  # Lightning asks for them before training
        return loader

    def _epochs(self, loader: Any) -> Iterator[Any]:
        """The train loader of each epoch until ``done()``; reloaded every n epochs if asked."""
        trainer, state = self.trainer, self.trainer.state
        reload_every = trainer.args.reload_dataloaders_every_n_epochs
        while not self.done():
            if reload_every and state.current_epoch and state.current_epoch % reload_every == 0:
                loader = self._train_loader()
                trainer.validate_loop.reset_fit_data()
            set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
            if callable(set_epoch):  # e.g. a DistributedSampler reshuffles per epoch
                set_epoch(state.progress.epoch.current["processed"])
            yield loader

    def _train_loader(self) -> Any:
        """The train loader; several loaders run together, as Lightning's max_size_cycle."""
        data = self.trainer.data_sources
        loaders = data.request("train")
        loader = (
            loaders[0]
            if len(loaders) == 1
            else CycleLoaders(data.explicit_train_structure(loaders))
        )
        self.trainer.num_training_batches = data.num_batches("train", [loader])[0]
        return loader

    def _sanity_check(self) -> None:
        trainer = self.trainer
        if not self._val_enabled or trainer.num_sanity_val_steps == 0:
            return
        trainer.state.stage = RunningStage.SANITY_CHECKING
        trainer._hub.reset_metrics()
        with isolate_rng():
            trainer._fire(Event.ON_SANITY_CHECK_START)
            with torch.no_grad():
                trainer.validate_loop.run_sanity()
            trainer._fire(Event.ON_SANITY_CHECK_END)
        trainer._hub.reset_metrics()
        trainer.state.progress.val_batch.reset()
        trainer.state.stage = RunningStage.TRAINING

    def _new_epoch(self) -> None:
        state = self.trainer.state
        state.batch_idx, state.epoch_batches_done = -1, 0
        state.progress.start_epoch()
        state.progress.epoch.inc("ready")

    def _finish_restored_batch(self) -> None:
        """Restored from a checkpoint written by an in-epoch validation: that batch is done.

        Lightning's first step after such a resume skips the validation that already ran and
        only counts the batch for logging.
        """
        state = self.trainer.state
        if state.finish_validated_batch and self._should_validate(state.batch_idx, False):
            state.batches_that_stepped += 1
        state.finish_validated_batch = False

    def _batch_ready(self, batch: Any, batch_idx: int, is_last: bool) -> None:
        state = self.trainer.state
        state.batch_idx, state.is_last_batch = batch_idx, is_last
        state.progress.batch.is_last_batch = is_last
        state.progress.batch.inc("ready")
        self.trainer._hub.batch_started(batch)

    def _skip_rest_of_epoch(self, batch_idx: int) -> None:
        """on_train_batch_start returned -1: this batch is the epoch's last (spec 8.1)."""
        state, optimization = self.trainer.state, self.trainer._optimization
        state.is_last_batch = state.progress.batch.is_last_batch = True
        state.progress.batch.inc("processed")
        optimization.update_lr_schedulers("step", False, batch_idx)
        optimization.update_lr_schedulers("epoch", False, batch_idx)

    def _logs_this_step(self) -> bool:
        """A logger row every ``log_every_n_steps`` stepped batches, and when stopping (spec 2.6)."""
        trainer, state = self.trainer, self.trainer.state
        log_every = trainer.args.log_every_n_steps
        if not log_every:
            return False
        next_step = state.batches_that_stepped + 1
        return next_step % log_every == 0 or state.should_stop or bool(trainer.args.fast_dev_run)

    def _stop_after_batch(self) -> bool:
        state = self.trainer.state  # max_time: the Timer callback sets should_stop
        return self._max_steps_reached() or (state.should_stop and self._can_stop_early())

    def _validate(self) -> None:
        trainer, hub = self.trainer, self.trainer._hub
        saved = hub.results, hub.on_step
        trainer.state.stage = RunningStage.VALIDATING
        with torch.no_grad():
            trainer.validate_loop.run_in_fit()
        trainer.state.stage = RunningStage.TRAINING
        hub.results, hub.on_step = saved
