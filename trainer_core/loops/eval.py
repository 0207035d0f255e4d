"""Evaluation (validation / test) and prediction loops."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from trainer_core.callbacks.prediction_writer import BasePredictionWriter
from trainer_core.data import IndexBatchSamplerWrapper, move_data_to_device
from trainer_core.events import Event, ModuleHook
from trainer_core.hooks import is_overridden
from trainer_core.logging.results import Results
from trainer_core.loops.fit import iterate_batches
from trainer_core.module import LightningModule
from trainer_core.profilers import actions
from trainer_core.progress import Tracker
from trainer_core.state import RunningStage

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


@dataclass(frozen=True)
class _EvalHooks:
    """The hook names of one evaluation stage (validation or test)."""

    prefix: str
    step: ModuleHook
    eval: ModuleHook
    train: ModuleHook
    start: Event
    epoch_start: Event
    batch_start: Event
    batch_end: Event
    epoch_end: Event
    end: Event


_VAL = _EvalHooks(
    "val", ModuleHook.VALIDATION_STEP, ModuleHook.ON_VALIDATION_MODEL_EVAL,
    ModuleHook.ON_VALIDATION_MODEL_TRAIN, Event.ON_VALIDATION_START,
    Event.ON_VALIDATION_EPOCH_START, Event.ON_VALIDATION_BATCH_START,
    Event.ON_VALIDATION_BATCH_END, Event.ON_VALIDATION_EPOCH_END, Event.ON_VALIDATION_END,
)  # fmt: skip
_TEST = _EvalHooks(
    "test", ModuleHook.TEST_STEP, ModuleHook.ON_TEST_MODEL_EVAL, ModuleHook.ON_TEST_MODEL_TRAIN,
    Event.ON_TEST_START, Event.ON_TEST_EPOCH_START, Event.ON_TEST_BATCH_START,
    Event.ON_TEST_BATCH_END, Event.ON_TEST_EPOCH_END, Event.ON_TEST_END,
)  # fmt: skip


def capture_modes(module: torch.nn.Module) -> dict[torch.nn.Module, bool]:
    return {m: m.training for m in module.modules()}


def restore_modes(modes: dict[torch.nn.Module, bool]) -> None:
    for submodule, training in modes.items():
        submodule.training = training


def _takes(fn: Any, name: str, position: int) -> bool:
    """Does ``fn`` accept a positional argument at ``position`` (or one named ``name``)?"""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > position or any(p.name == name for p in params)


def _timed_fetches(trainer: Trainer, loader: Any, action: str) -> Any:
    """The loader, its fetches timed as ``action`` when a profiler is set."""
    if not trainer._profiling:
        return loader
    return actions.ProfiledIterable(loader, trainer.profiler, action)


def _inference_context(trainer: Trainer) -> contextlib.AbstractContextManager[Any]:
    return torch.inference_mode() if trainer.args.inference_mode else torch.no_grad()


class EvalLoop:
    """One pass over every eval dataloader; returns one dict of epoch metrics per loader."""

    def __init__(self, trainer: Trainer, stage: RunningStage) -> None:
        self.trainer = trainer
        self.stage = stage
        self.hooks = _TEST if stage == RunningStage.TESTING else _VAL
        self._fit_loaders: list[Any] | None = None
        self.has_run = False  # a (non-sanity) validation finished during this fit
        self._seen: dict[int, int] = {}  # logger step per dataloader; reset with the loaders
        self._progress: Any = None  # the fit's val batch counters while validating in fit
        self._standalone_progress = Tracker(has_last=True)  # validate()/test() calls

    @property
    def batch_progress(self) -> Tracker:
        """The batch counters of the run going on (inside fit: the fit loop's val counters)."""
        return self._progress if self._progress is not None else self._standalone_progress

    def reset_fit_data(self) -> None:
        self._fit_loaders = None
        self.has_run = False

    def load_fit_loaders(self) -> None:
        self._loaders()

    def _loaders(self) -> list[Any]:
        """Val loaders are requested once per fit (at the sanity check or first validation)."""
        if self._fit_loaders is None:
            self._fit_loaders = self.trainer.data_sources.request("val")
            self._seen = {}
        return self._fit_loaders

    def run_sanity(self) -> None:
        trainer = self.trainer
        loaders = self._loaders()
        counts = trainer.data_sources.num_batches("val", loaders)
        trainer.num_val_batches = counts
        trainer.num_sanity_val_batches = [min(trainer.num_sanity_val_steps, c) for c in counts]
        self._run(loaders, trainer.num_sanity_val_batches, sanity=True)

    def run_in_fit(self) -> None:
        trainer = self.trainer
        loaders = self._loaders()
        trainer.num_val_batches = trainer.data_sources.num_batches("val", loaders)
        self._progress = trainer.state.progress.val_batch
        self._progress.reset_current()
        self._run(loaders, trainer.num_val_batches)
        self._progress = None
        self.has_run = True

    def run_standalone(self, verbose: bool) -> list[dict[str, Any]]:
        trainer = self.trainer
        prefix = self.hooks.prefix
        limit = trainer.limit_test_batches if prefix == "test" else trainer.limit_val_batches
        if limit == 0:
            return []  # the loop is skipped, dataloader request included
        self._progress = self._standalone_progress
        self._progress.reset_current()
        with _inference_context(trainer):
            loaders = trainer.data_sources.request(prefix)
            self._seen = {}
            counts = trainer.data_sources.num_batches(prefix, loaders)
            if self.stage == RunningStage.TESTING:
                trainer.num_test_batches = counts
            else:
                trainer.num_val_batches = counts
            outputs = self._run(loaders, counts)
        self._progress = None
        if verbose and outputs:
            _print_results(outputs, prefix)
        return outputs

    def _run(
        self, loaders: list[Any], counts: list[int | float], sanity: bool = False
    ) -> list[dict]:
        trainer, hooks, hub = self.trainer, self.hooks, self.trainer._hub
        if not loaders or all(c == 0 for c in counts):
            return []
        module = trainer.lightning_module
        assert module is not None
        hub.start_results(Results(training=False))
        modes = capture_modes(module)
        trainer._fire(hooks.eval)
        trainer._fire(hooks.start)
        trainer._fire(hooks.epoch_start)
        multiple = len(loaders) > 1
        step_fn = getattr(module, hooks.step.value)
        step_takes_idx = _takes(step_fn, "batch_idx", 1)
        per_loader: list[dict] = []
        for dl_idx, (loader, count) in enumerate(zip(loaders, counts, strict=True)):
            self._run_loader(loader, count, dl_idx if multiple else None, step_takes_idx, sanity)
            per_loader.append({} if sanity else hub.epoch_metrics())
        hub.epoch_end_reached()
        hub.results.dataloader_idx = None  # type: ignore[union-attr]
        trainer._fire(hooks.epoch_end)
        end_logged = {} if sanity else hub.epoch_metrics()
        for outputs in per_loader:
            outputs.update(end_logged)
        if not sanity:
            merged: dict = {}
            for outputs in per_loader:
                merged.update(outputs)
            hub.log_metrics(merged)
        trainer._fire(hooks.end)
        hub.reset_results()
        if is_overridden(hooks.train.value, module, LightningModule):
            trainer._fire(hooks.train)
        else:
            restore_modes(modes)
        return per_loader

    def _run_loader(
        self, loader: Any, count: int | float, dl_idx: int | None, takes_idx: bool, sanity: bool
    ) -> None:
        trainer, hooks, hub = self.trainer, self.hooks, self.trainer._hub
        precision = trainer.precision_plugin
        loader_key = dl_idx or 0
        progress = self._progress
        fetches = _timed_fetches(trainer, loader, actions.EVAL_NEXT[hooks.prefix])
        for batch_idx, batch, is_last in iterate_batches(fetches, 0, count):
            batch = trainer._transfer(batch, dl_idx or 0)
            if progress is not None:
                progress.is_last_batch = is_last
                progress.inc("ready")
            hub.batch_started(batch, dl_idx)
            args: tuple = (batch, batch_idx) if dl_idx is None else (batch, batch_idx, dl_idx)
            trainer._fire(hooks.batch_start, *args)
            step_args = args if takes_idx else (batch, *args[2:])
            with precision.autocast():
                output = trainer._fire(hooks.step, *step_args)
            trainer._fire(hooks.batch_end, output, *args)
            if progress is not None:
                for counter in ("started", "processed", "completed"):
                    progress.inc(counter)
            if not sanity:
                step = self._seen.get(loader_key, 0)
                hub.log_step(step)
                self._seen[loader_key] = step + 1


def _print_results(outputs: list[dict], prefix: str) -> None:
    """The table Lightning prints after validate/test (rank 0, verbose=True)."""
    rows = [(k, v) for d in outputs for k, v in d.items()]
    if not rows:
        return
    title = "Validate metric" if prefix == "val" else "Test metric"
    width = max(len(title), *(len(k) for k, _ in rows)) + 2
    line = "─" * (width + 22)
    print(line)
    print(f"{title:^{width}}{'DataLoader 0':^22}")
    print(line)
    for key, value in rows:
        number = value.item() if torch.is_tensor(value) else value
        print(f"{key:^{width}}{number:^22.10g}")
    print(line)


class PredictLoop:
    """predict_step over every predict dataloader; outputs moved to CPU.

    ``predictions``, ``current_batch_indices`` and ``epoch_batch_indices`` are what
    ``BasePredictionWriter`` reads, filled as Lightning's prediction loop fills them.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.return_predictions = True
        self._predictions: list[list[Any]] = []  # dataloaders x batches
        self.current_batch_indices: list[int] = []
        self.epoch_batch_indices: list[list[list[int]]] = []  # dataloaders x batches x samples
        self._writers: tuple[bool, bool] = (False, False)  # any batch writer, any epoch writer
        self.batch_progress = Tracker()

    @property
    def predictions(self) -> list[Any]:
        """One list per dataloader; the list itself when there is one dataloader."""
        if self._predictions == []:
            return self._predictions
        return self._predictions[0] if len(self._predictions) == 1 else self._predictions

    def run(self) -> Any:
        trainer = self.trainer
        module = trainer.lightning_module
        assert module is not None
        with _inference_context(trainer):
            loaders = trainer.data_sources.request("predict")
            counts = trainer.data_sources.num_batches("predict", loaders)
            trainer.num_predict_batches = counts
            if not loaders or all(c == 0 for c in counts):
                return [] if self.return_predictions else None
            self._start(len(loaders))
            modes = capture_modes(module)
            trainer._fire(ModuleHook.ON_PREDICT_MODEL_EVAL)
            trainer._fire(Event.ON_PREDICT_START)
            trainer._fire(Event.ON_PREDICT_EPOCH_START)
            multiple = len(loaders) > 1
            takes_idx = _takes(module.predict_step, "batch_idx", 1)
            for i, (loader, count) in enumerate(zip(loaders, counts, strict=True)):
                self._run_loader(loader, count, i, multiple, takes_idx)
            trainer._fire(Event.ON_PREDICT_EPOCH_END)
            result = self.predictions if self.return_predictions else None
            if not self.return_predictions:
                self._predictions = []
            self.epoch_batch_indices = []
            trainer._fire(Event.ON_PREDICT_END)
            restore_modes(modes)
        return result

    def _start(self, num_loaders: int) -> None:
        writers = [cb for cb in self.trainer.callbacks if isinstance(cb, BasePredictionWriter)]
        self._writers = (
            any(cb.interval.on_batch for cb in writers),
            any(cb.interval.on_epoch for cb in writers),
        )
        self._predictions = [[] for _ in range(num_loaders)]
        self.epoch_batch_indices = [[] for _ in range(num_loaders)]
        self.batch_progress.reset_current()

    def _run_loader(
        self, loader: Any, count: int | float, dl_idx: int, multiple: bool, takes_idx: bool
    ) -> None:
        trainer = self.trainer
        precision = trainer.precision_plugin
        keep = self.return_predictions or self._writers[1]
        fetches = _timed_fetches(trainer, loader, actions.PREDICT_NEXT)
        for batch_idx, batch, _ in iterate_batches(fetches, 0, count):
            batch = trainer._transfer(batch, dl_idx)
            self.batch_progress.inc("ready")
            self._note_batch_indices(loader, batch_idx, dl_idx)
            args: tuple = (batch, batch_idx, dl_idx) if multiple else (batch, batch_idx)
            trainer._fire(Event.ON_PREDICT_BATCH_START, *args)
            step_args = args if takes_idx else (batch, *args[2:])
            with precision.autocast():
                prediction = trainer._fire(ModuleHook.PREDICT_STEP, *step_args)
            trainer._fire(Event.ON_PREDICT_BATCH_END, prediction, *args)
            if keep:
                self._predictions[dl_idx].append(move_data_to_device(prediction, "cpu"))

    def _note_batch_indices(self, loader: Any, batch_idx: int, dl_idx: int) -> None:
        on_batch, on_epoch = self._writers
        if not (on_batch or on_epoch):
            return
        sampler = getattr(loader, "batch_sampler", None)
        if not isinstance(sampler, IndexBatchSamplerWrapper):
            warnings.warn(
                "Couldn't infer the batch indices fetched from your dataloader: "
                f"`{type(loader).__name__}`",
                stacklevel=2,
            )
            return
        indices = sampler.seen_batch_indices[batch_idx]
        if on_epoch:
            self.epoch_batch_indices[dl_idx].append(indices)
        if on_batch:
            self.current_batch_indices = indices
