"""What the trainer times when a profiler is set, under the names Lightning gives each action.

Lightning times every callback's hooks (``[Callback]<state_key>.<hook>``, overridden or not), the
module's hooks (``[LightningModule]<Class>.<hook>``), the datamodule's (``[LightningDataModule]``),
its strategy's step, backward and transfer calls (``[Strategy]SingleDeviceStrategy.<name>``;
trainer_core has no strategy object, so these are timed at the same points under the same
names), the loops' data fetches, and ``run_training_epoch`` / ``run_training_batch`` /
``save_checkpoint``. With the default ``PassThroughProfiler`` none of this is built: the
dispatcher keeps its table of overridden hooks only and the loops call their plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from trainer_core.events import CALLBACK_ONLY, Event, ModuleHook
from trainer_core.hooks import is_overridden
from trainer_core.module import LightningModule
from trainer_core.profilers.base import Profiler

STRATEGY = "[Strategy]SingleDeviceStrategy"
RUN_TRAINING_EPOCH = "run_training_epoch"
RUN_TRAINING_BATCH = "run_training_batch"
SAVE_CHECKPOINT = "save_checkpoint"
MANUAL_OPTIMIZER_STEP = "optimizer_step"
BACKWARD = f"{STRATEGY}.backward"
BATCH_TO_DEVICE = f"{STRATEGY}.batch_to_device"
TRAIN_NEXT = "[_TrainingEpochLoop].train_dataloader_next"
EVAL_NEXT = {"val": "[_EvaluationLoop].val_next", "test": "[_EvaluationLoop].test_next"}
PREDICT_NEXT = "[_PredictionLoop].predict_next"

# Events after whose module hook Lightning calls its strategy's hook (a no-op on one device).
_STRATEGY_EVENTS = frozenset(
    {Event.ON_TRAIN_START, Event.ON_TRAIN_END, Event.ON_TRAIN_BATCH_START,
     Event.ON_VALIDATION_START, Event.ON_VALIDATION_END, Event.ON_TEST_START, Event.ON_TEST_END,
     Event.ON_PREDICT_START, Event.ON_PREDICT_END}
)  # fmt: skip
# Callback state is gathered and restored without timing; the module has no such hooks.
_UNTIMED_EVENTS = frozenset({Event.STATE_DICT, Event.LOAD_STATE_DICT})
_STEP_HOOKS = frozenset(
    {ModuleHook.TRAINING_STEP, ModuleHook.VALIDATION_STEP, ModuleHook.TEST_STEP,
     ModuleHook.PREDICT_STEP}
)  # fmt: skip
# Called directly by Lightning (or from inside another timed hook): never timed on their own.
_UNTIMED_MODULE_HOOKS = frozenset(
    {ModuleHook.ZERO_GRAD, ModuleHook.BACKWARD, ModuleHook.CLIP_GRADIENTS}
)
# Called, and so timed, only when the module overrides them.
_TIMED_IF_OVERRIDDEN = frozenset(
    {ModuleHook.PREPARE_DATA, ModuleHook.CONFIGURE_MODEL, ModuleHook.ON_VALIDATION_MODEL_TRAIN,
     ModuleHook.ON_TEST_MODEL_TRAIN}
)  # fmt: skip


def callback_action(callback: Any, hook: str) -> str:
    return f"[Callback]{callback.state_key}.{hook}"


def module_action(module: Any, hook: str) -> str:
    return f"[LightningModule]{type(module).__name__}.{hook}"


def datamodule_action(datamodule: Any, hook: str) -> str:
    return f"[LightningDataModule]{type(datamodule).__name__}.{hook}"


def profiled(profiler: Profiler, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` timed as ``name``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with profiler.profile(name):
            return fn(*args, **kwargs)

    return call


def _strategy_noop(*args: Any, **kwargs: Any) -> None:
    return None


def profile_event(
    profiler: Profiler,
    event: Event,
    before: tuple[Any, ...],
    module_hook: Any,
    after: tuple[Any, ...],
) -> tuple[tuple[Any, ...], Any, tuple[Any, ...]]:
    """One dispatch entry with each callback and module hook timed under its Lightning name."""
    name = event._value_
    if event in _UNTIMED_EVENTS:
        return before, None, after
    before = tuple(profiled(profiler, callback_action(h.__self__, name), h) for h in before)
    after = tuple(profiled(profiler, callback_action(h.__self__, name), h) for h in after)
    if module_hook is not None:
        module_hook = profiled(profiler, module_action(module_hook.__self__, name), module_hook)
    if event in _STRATEGY_EVENTS:
        after = (*after, profiled(profiler, f"{STRATEGY}.{name}", _strategy_noop))
    return before, module_hook, after


def module_calls_event(event: Event) -> bool:
    """Lightning calls the module's hook for ``event`` whether or not it is overridden."""
    return event not in CALLBACK_ONLY and event not in _UNTIMED_EVENTS


def profile_module_hooks(
    profiler: Profiler, module: LightningModule
) -> dict[Any, tuple[tuple[Any, ...], Any, tuple[Any, ...]]]:
    """Dispatch entries for the module-only hooks, each timed under its Lightning name."""
    table: dict[Any, tuple[tuple[Any, ...], Any, tuple[Any, ...]]] = {}
    for hook in ModuleHook:
        name = hook._value_
        if hook in _UNTIMED_MODULE_HOOKS:
            continue
        if hook in _TIMED_IF_OVERRIDDEN and not is_overridden(name, module, LightningModule):
            continue
        fn = getattr(module, name, None)
        if fn is None:  # validation_step / test_step are optional
            continue
        label = f"{STRATEGY}.{name}" if hook in _STEP_HOOKS else module_action(module, name)
        table[hook] = ((), profiled(profiler, label, fn), ())
    return table


class ProfiledIterable:
    """Iterates ``iterable`` timing each fetch as ``name`` (Lightning's ``*_next`` actions)."""

    def __init__(self, iterable: Iterable[Any], profiler: Profiler, name: str) -> None:
        self.iterable = iterable
        self.profiler = profiler
        self.name = name

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.iterable)
        profiler, name = self.profiler, self.name
        while True:
            profiler.start(name)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                profiler.stop(name)
            yield item

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.iterable, attribute)  # sampler, dataset, batch_size
