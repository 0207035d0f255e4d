"""The hook dispatcher: ``_fire(hook, ...)`` calls callbacks, then the module (spec 1.1).

Which hooks exist is worked out once per stage (``_refresh_hooks``): a callback or module hook
that is not overridden is a no-op, so it is left out of the table and costs nothing per batch.
A ``ModuleHook`` (training_step, backward, ...) has no callbacks and its default does work, so it
is looked up on the module at call time.
"""

from __future__ import annotations

from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.data import move_data_to_device
from trainer_core.events import AFTER_MODULE, CALLBACK_ONLY, Event, ModuleHook
from trainer_core.hooks import DataHooks, is_overridden
from trainer_core.module import LightningModule
from trainer_core.profilers import actions
from trainer_core.profilers.base import PassThroughProfiler, Profiler

if TYPE_CHECKING:
    from trainer_core.datamodule import LightningDataModule
    from trainer_core.precision import Precision

# per event: callbacks called before the module, the module's hook, callbacks called after it
_Entry = tuple[tuple[Any, ...], Any, tuple[Any, ...]]
_TRANSFER_HOOKS = (
    ModuleHook.ON_BEFORE_BATCH_TRANSFER,
    ModuleHook.TRANSFER_BATCH_TO_DEVICE,
    ModuleHook.ON_AFTER_BATCH_TRANSFER,
)


class current_hook:  # noqa: N801 - a context manager, used like a function
    """Sets ``module._current_fx_name`` for the hook running now; ``self.log`` checks it.

    A class rather than ``@contextmanager``: it runs several times per batch.
    """

    __slots__ = ("state", "name", "previous")

    def __init__(self, module: Any, name: str) -> None:
        self.state = module.__dict__
        self.name = name

    def __enter__(self) -> None:
        state = self.state
        self.previous = state["_current_fx_name"]
        state["_current_fx_name"] = self.name

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.state["_current_fx_name"] = self.previous


class HookDispatch:
    """Mixed into Trainer; ``callbacks`` and ``lightning_module`` come from there."""

    callbacks: list[Callback]
    lightning_module: LightningModule | None
    datamodule: LightningDataModule | None
    precision_plugin: Precision
    strategy_device: Any
    _table: dict[Event | ModuleHook, _Entry]  # ModuleHooks only when profiling
    _transfer_hooks: tuple[Any, Any, Any] | None = None
    _profiler: Profiler = PassThroughProfiler()
    _profiling = False  # a real profiler is set: every hook goes through the table, timed

    @property
    def profiler(self) -> Profiler:
        return self._profiler

    @profiler.setter
    def profiler(self, profiler: Profiler) -> None:
        self._profiler = profiler
        self._profiling = not isinstance(profiler, PassThroughProfiler)

    def _refresh_hooks(self) -> None:
        """Cache, per event, the overridden callback hooks and the module hook.

        With a profiler, every callback's and the module's hooks are called (and timed), as
        Lightning calls them, and the module-only hooks get timed entries too.
        """
        module = self.lightning_module
        profiler = self._profiler if self._profiling else None
        self._table = {}
        for event in Event:
            name = event._value_
            overriding = [
                cb for cb in self.callbacks if profiler or is_overridden(name, cb, Callback)
            ]
            late = event in AFTER_MODULE
            before = tuple(
                getattr(cb, name) for cb in overriding if not (late and cb.monitors_metrics)
            )
            after = tuple(getattr(cb, name) for cb in overriding if late and cb.monitors_metrics)
            module_hook = None
            if event not in CALLBACK_ONLY and is_overridden(name, module, LightningModule):
                module_hook = getattr(module, name)
            if profiler is not None:
                if actions.module_calls_event(event):
                    module_hook = getattr(module, name)
                before, module_hook, after = actions.profile_event(
                    profiler, event, before, module_hook, after
                )
            if before or after or module_hook is not None:
                self._table[event] = (before, module_hook, after)
        if profiler is not None and module is not None:
            self._table.update(actions.profile_module_hooks(profiler, module))
        self._transfer_hooks = self._resolve_transfer_hooks()

    def _call_datamodule(self, name: str, *args: Any) -> Any:
        """A datamodule hook, timed as ``[LightningDataModule]<Class>.<name>`` when profiling."""
        hook = getattr(self.datamodule, name)
        if self._profiling:
            action = actions.datamodule_action(self.datamodule, name)
            with self._profiler.profile(action):
                return hook(*args)
        return hook(*args)

    def _fire(
        self,
        hook: Event | ModuleHook,
        *args: Any,
        to_callbacks: bool = True,
        to_module: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Callbacks' hooks, then the module's (spec 1.1); returns the module's result.

        ``to_callbacks`` / ``to_module`` pick one side, for the checkpoint hooks whose two
        halves run at different points (see checkpoint_io.py).
        """
        module = self.lightning_module
        entry = self._table.get(hook)
        if entry is None:
            if not isinstance(hook, ModuleHook):
                return None  # nobody overrides this event: the common case, kept cheap
            with current_hook(module, hook._value_):
                return getattr(module, hook._value_)(*args, **kwargs)
        before, module_hook, after = entry
        if not to_callbacks:
            before = after = ()
        if not to_module:
            module_hook = None
        if not before and module_hook is None and not after:
            return None
        result = None
        with current_hook(module, hook._value_):
            for callback_hook in before:
                callback_hook(self, module, *args, **kwargs)
            if module_hook is not None:
                result = module_hook(*args, **kwargs)
            for callback_hook in after:
                callback_hook(self, module, *args, **kwargs)
        return result

    def _resolve_transfer_hooks(self) -> tuple[Any, Any, Any] | None:
        """Each transfer hook from the datamodule if it overrides it, else from the module.

        None when neither customises any: the batch then goes straight to the device.
        """
        datamodule, module = self.datamodule, self.lightning_module
        if not self._profiling and not any(
            is_overridden(hook._value_, owner, DataHooks)
            for hook in _TRANSFER_HOOKS
            for owner in (datamodule, module)
        ):
            return None
        before, move, after = (
            partial(self._call_datamodule, hook._value_)
            if is_overridden(hook._value_, datamodule, DataHooks)
            else partial(self._fire, hook)
            for hook in _TRANSFER_HOOKS
        )
        return before, move, after

    def _transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Batch to the device through the three transfer hooks (spec 1.3, per-batch block)."""
        batch = self.precision_plugin.convert_input(batch)
        device = self.strategy_device
        if self._transfer_hooks is None:
            return move_data_to_device(batch, device)
        before, move, after = self._transfer_hooks
        batch = before(batch, dataloader_idx)
        if self._profiling:  # Lightning's strategy hook covers the move and the hook after it
            with self._profiler.profile(actions.BATCH_TO_DEVICE):
                return after(move(batch, device, dataloader_idx), dataloader_idx)
        batch = move(batch, device, dataloader_idx)
        return after(batch, dataloader_idx)
