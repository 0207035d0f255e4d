"""The hook dispatcher: ``_fire(event, ...)`` calls callbacks, then the module (spec 1.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.data import move_data_to_device
from trainer_core.events import Event, ModuleHook

if TYPE_CHECKING:
    from trainer_core.module import LightningModule

_MONITORING = ("EarlyStopping", "ModelCheckpoint", "Checkpoint")


class HookDispatch:
    """Mixed into Trainer; ``callbacks`` and ``lightning_module`` come from there."""

    callbacks: list[Callback]
    lightning_module: LightningModule | None
    _hooks: dict[Event, list[Any]]
    _module_hooks: dict[Event, Any]
    _transfer_hooks: list[tuple[Any, str]] | None = None

    def _refresh_hooks(self) -> None:
        """Cache, per event, the callback hooks that are overridden (no-ops are skipped)."""
        from trainer_core.module import LightningModule

        module = self.lightning_module
        self._hooks = {}
        self._module_hooks = {}
        for event in Event:
            name = event.value
            self._hooks[event] = [
                getattr(cb, name) for cb in self.callbacks if _overrides(cb, Callback, name)
            ]
            if module is not None and _overrides(module, LightningModule, name):
                self._module_hooks[event] = getattr(module, name)
        self._resolve_transfer_hooks()

    def _resolve_transfer_hooks(self) -> None:
        """Each transfer hook from the datamodule if it overrides it, else from the module."""
        from trainer_core.data_sources import overrides_data_hook

        names = ("on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer")
        datamodule = getattr(self, "datamodule", None)
        module = self.lightning_module
        hooks = []
        for name in names:
            if overrides_data_hook(datamodule, name):
                hooks.append((datamodule, name))
            else:
                hooks.append((module, name))
        customised = any(owner is datamodule or overrides_data_hook(module, name)
                         for owner, name in hooks)
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
        module = self.lightning_module
        previous = module._current_fx_name  # type: ignore[union-attr]
        module.__dict__["_current_fx_name"] = event.value  # type: ignore[union-attr]
        try:
            for hook in self._hooks[event]:
                hook(self, module, *args)
            hook = self._module_hooks.get(event)
            return hook(*args) if hook is not None else None
        finally:
            module.__dict__["_current_fx_name"] = previous  # type: ignore[union-attr]

    def _fire_train_epoch_end(self) -> None:
        """on_train_epoch_end: plain callbacks, the module, then monitoring callbacks (spec 1.1)."""
        module = self.lightning_module
        hooks = self._hooks[Event.ON_TRAIN_EPOCH_END]
        monitoring = [h for h in hooks if _is_monitoring(h.__self__)]
        module.__dict__["_current_fx_name"] = Event.ON_TRAIN_EPOCH_END.value  # type: ignore[union-attr]
        try:
            for hook in hooks:
                if hook not in monitoring:
                    hook(self, module)
            module_hook = self._module_hooks.get(Event.ON_TRAIN_EPOCH_END)
            if module_hook is not None:
                module_hook()
            for hook in monitoring:
                hook(self, module)
        finally:
            module.__dict__["_current_fx_name"] = None  # type: ignore[union-attr]

    def _fire_callbacks(self, event: Event, *args: Any) -> None:
        """Only the callbacks' hooks (sanity-check hooks, on_exception)."""
        module = self.lightning_module
        module.__dict__["_current_fx_name"] = event.value  # type: ignore[union-attr]
        try:
            for hook in self._hooks.get(event, []):
                hook(self, module, *args)
        finally:
            module.__dict__["_current_fx_name"] = None  # type: ignore[union-attr]

    def _call(self, hook: ModuleHook | Event, *args: Any, **kwargs: Any) -> Any:
        """The module's hook alone, with ``self.log`` checked against its name."""
        module = self.lightning_module
        previous = module._current_fx_name  # type: ignore[union-attr]
        module.__dict__["_current_fx_name"] = hook.value  # type: ignore[union-attr]
        try:
            return getattr(module, hook.value)(*args, **kwargs)
        finally:
            module.__dict__["_current_fx_name"] = previous  # type: ignore[union-attr]


def _overrides(obj: Any, base: type, name: str) -> bool:
    if name in getattr(obj, "__dict__", {}):
        return callable(obj.__dict__[name])
    method = getattr(type(obj), name, None)
    return callable(method) and method is not getattr(base, name, None)


def _is_monitoring(callback: Any) -> bool:
    return any(cls.__name__ in _MONITORING for cls in type(callback).__mro__)
