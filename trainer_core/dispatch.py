"""The hook dispatcher: ``_fire(event, ...)`` calls callbacks, then the module (spec 1.1).

Which hooks exist is worked out once per stage (``_refresh_hooks``): a callback or module hook
that is not overridden is a no-op, so it is left out of the table and costs nothing per batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.data import move_data_to_device
from trainer_core.events import MONITORING_CALLBACK_NAMES, Event, ModuleHook

if TYPE_CHECKING:
    from trainer_core.module import LightningModule

_NOTHING: tuple[tuple[Any, ...], Any] = ((), None)


class HookDispatch:
    """Mixed into Trainer; ``callbacks`` and ``lightning_module`` come from there."""

    callbacks: list[Callback]
    lightning_module: LightningModule | None
    _table: dict[Event, tuple[tuple[Any, ...], Any]]
    _transfer_hooks: list[tuple[Any, str]] | None = None

    def _refresh_hooks(self) -> None:
        """Cache, per event, the overridden callback hooks and the module hook."""
        from trainer_core.module import LightningModule

        module = self.lightning_module
        self._table = {}
        for event in Event:
            name = event._value_
            callbacks = tuple(
                getattr(cb, name) for cb in self.callbacks if _overrides(cb, Callback, name)
            )
            module_hook = None
            if module is not None and _overrides(module, LightningModule, name):
                module_hook = getattr(module, name)
            if callbacks or module_hook is not None:
                self._table[event] = (callbacks, module_hook)
        self._resolve_transfer_hooks()

    def _hooks_of(self, event: Event) -> tuple[Any, ...]:
        return self._table.get(event, _NOTHING)[0]

    def _resolve_transfer_hooks(self) -> None:
        """Each transfer hook from the datamodule if it overrides it, else from the module."""
        from trainer_core.data_sources import overrides_data_hook

        names = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")
        datamodule = getattr(self, "datamodule", None)
        module = self.lightning_module
        hooks = [
            (datamodule, name) if overrides_data_hook(datamodule, name) else (module, name)
            for name in names
        ]
        customised = any(
            owner is datamodule or overrides_data_hook(module, name) for owner, name in hooks
        )
        self._transfer_hooks = hooks if customised else None

    def _transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Batch to the device through the three transfer hooks (spec 1.3, per-batch block)."""
        batch = self.precision_plugin.convert_input(batch)  # type: ignore[attr-defined]
        hooks = self._transfer_hooks
        device = self.strategy_device  # type: ignore[attr-defined]
        if hooks is None:
            return move_data_to_device(batch, device)
        (before_owner, before), (move_owner, move), (after_owner, after) = hooks
        batch = self._call_on(before_owner, before, batch, dataloader_idx)
        batch = self._call_on(move_owner, move, batch, device, dataloader_idx)
        return self._call_on(after_owner, after, batch, dataloader_idx)

    def _call_on(self, owner: Any, name: str, *args: Any) -> Any:
        if owner is self.lightning_module:
            return self._call(ModuleHook(name), *args)
        return getattr(owner, name)(*args)

    def _fire(self, event: Event, *args: Any) -> Any:
        """Every callback's hook, then the module's (spec 1.1); returns the module's result."""
        callbacks, module_hook = self._table.get(event, _NOTHING)
        if not callbacks and module_hook is None:
            return None
        module = self.lightning_module
        state = module.__dict__  # type: ignore[union-attr]
        previous = state["_current_fx_name"]
        state["_current_fx_name"] = event._value_
        try:
            for hook in callbacks:
                hook(self, module, *args)
            return module_hook(*args) if module_hook is not None else None
        finally:
            state["_current_fx_name"] = previous

    def _fire_train_epoch_end(self) -> None:
        """on_train_epoch_end: plain callbacks, the module, then monitoring callbacks (spec 1.1)."""
        callbacks, module_hook = self._table.get(Event.ON_TRAIN_EPOCH_END, _NOTHING)
        monitoring = [h for h in callbacks if _is_monitoring(h.__self__)]
        module = self.lightning_module
        state = module.__dict__  # type: ignore[union-attr]
        previous = state["_current_fx_name"]
        state["_current_fx_name"] = Event.ON_TRAIN_EPOCH_END._value_
        try:
            for hook in callbacks:
                if hook not in monitoring:
                    hook(self, module)
            if module_hook is not None:
                module_hook()
            for hook in monitoring:
                hook(self, module)
        finally:
            state["_current_fx_name"] = previous

    def _fire_callbacks(self, event: Event, *args: Any) -> None:
        """Only the callbacks' hooks (sanity-check and checkpoint hooks, on_exception)."""
        callbacks = self._table.get(event, _NOTHING)[0] if hasattr(self, "_table") else ()
        if not callbacks:
            return
        module = self.lightning_module
        state = module.__dict__  # type: ignore[union-attr]
        previous = state["_current_fx_name"]
        state["_current_fx_name"] = event._value_
        try:
            for hook in callbacks:
                hook(self, module, *args)
        finally:
            state["_current_fx_name"] = previous

    def _call(self, hook: ModuleHook | Event, *args: Any, **kwargs: Any) -> Any:
        """The module's hook alone, with ``self.log`` checked against its name."""
        module = self.lightning_module
        state = module.__dict__  # type: ignore[union-attr]
        previous = state["_current_fx_name"]
        name = hook._value_
        state["_current_fx_name"] = name
        try:
            return getattr(module, name)(*args, **kwargs)
        finally:
            state["_current_fx_name"] = previous


def _overrides(obj: Any, base: type, name: str) -> bool:
    if name in getattr(obj, "__dict__", {}):
        return callable(obj.__dict__[name])
    method = getattr(type(obj), name, None)
    return callable(method) and method is not getattr(base, name, None)


def overrides(obj: Any, base: type, name: str) -> bool:
    """Whether ``obj`` (or its class) replaces ``base``'s method ``name``."""
    return _overrides(obj, base, name)


def _is_monitoring(callback: Any) -> bool:
    return any(cls.__name__ in MONITORING_CALLBACK_NAMES for cls in type(callback).__mro__)
