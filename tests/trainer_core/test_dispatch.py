"""The dispatcher: callbacks then the module, monitoring callbacks after it at epoch end."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import (
    make_boring_model,
    make_tiny_module,
    quiet_kwargs,
    tiny_loader,
)
from tests.trainer_core.harness import sub
from trainer_core.callbacks import Callback
from trainer_core.dispatch import current_hook
from trainer_core.events import Event
from trainer_core.hooks import DataHooks, is_overridden
from trainer_core.module import LightningModule

TinyModule = make_tiny_module(L)


def _epoch_end_order(L: ModuleType, root: Path, *callback_classes: type) -> list[str]:
    """Who runs on_train_epoch_end, in order, and what each saw the module log there."""
    log: list[str] = []

    class Module(make_boring_model(L)):  # type: ignore[misc]
        def on_train_epoch_end(self) -> None:
            log.append("module")
            self.log("from_module", 1.0)

    callbacks = [cls(log) for cls in callback_classes]
    trainer = L.Trainer(
        max_epochs=1, limit_train_batches=2, limit_val_batches=0, callbacks=callbacks,
        enable_progress_bar=False, enable_model_summary=False, logger=False,
        default_root_dir=root,
    )  # fmt: skip
    trainer.fit(Module())
    return log


def _named(base: type, label: str, **attrs: Any) -> type:
    def __init__(self: Any, log: list[str]) -> None:
        self.entries = log

    def on_train_epoch_end(self: Any, trainer: Any, pl_module: Any) -> None:
        seen = "from_module" in trainer.callback_metrics
        self.entries.append(f"{label}(saw module: {seen})")

    return type(
        label, (base,), {"__init__": __init__, "on_train_epoch_end": on_train_epoch_end, **attrs}
    )


def test_a_checkpoint_subclass_runs_after_the_module_like_lightning(
    any_L: ModuleType, tmp_path: Path
) -> None:
    """Lightning's rule: EarlyStopping and every ``Checkpoint`` run after the module."""
    callbacks = sub(any_L, "callbacks")
    custom = _named(callbacks.Checkpoint, "MyCheckpoint")
    plain = _named(callbacks.Callback, "Plain")
    assert _epoch_end_order(any_L, tmp_path, custom, plain) == [
        "Plain(saw module: False)",
        "module",
        "MyCheckpoint(saw module: True)",
    ]


def test_a_users_checkpoint_replaces_the_default_model_checkpoint(
    any_L: ModuleType, tmp_path: Path
) -> None:
    callbacks = sub(any_L, "callbacks")
    custom = _named(callbacks.Checkpoint, "MyCheckpoint")([])
    trainer = any_L.Trainer(callbacks=[custom], default_root_dir=tmp_path, logger=False)
    assert trainer.checkpoint_callbacks == [custom]
    assert not any(isinstance(cb, callbacks.ModelCheckpoint) for cb in trainer.callbacks)
    with pytest.raises(Exception, match="enable_checkpointing=False"):
        any_L.Trainer(callbacks=[custom], enable_checkpointing=False, logger=False)


def test_a_users_callback_asks_to_run_after_the_module(tmp_path: Path) -> None:
    watcher = _named(Callback, "Watcher", monitors_metrics=True)
    plain = _named(Callback, "Plain")
    assert _epoch_end_order(L, tmp_path, watcher, plain) == [
        "Plain(saw module: False)",
        "module",
        "Watcher(saw module: True)",
    ]
    # only at the AFTER_MODULE events: elsewhere it keeps its place before the module
    assert Callback.monitors_metrics is False
    assert (
        L.callbacks.EarlyStopping.monitors_metrics and L.callbacks.ModelCheckpoint.monitors_metrics
    )


def test_hook_name_is_restored_when_a_hook_raises(tmp_path: Path) -> None:
    module = make_boring_model(L)()
    with pytest.raises(ValueError), current_hook(module, "training_step"):
        assert module._current_fx_name == "training_step"
        raise ValueError
    assert module._current_fx_name is None


def test_callbacks_see_the_hook_name_for_self_log(tmp_path: Path) -> None:
    seen: list[Any] = []

    class Spy(Callback):
        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            seen.append(pl_module._current_fx_name)

    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, limit_train_batches=1,
                                       limit_val_batches=0, callbacks=[Spy()]))  # fmt: skip
    module = make_boring_model(L)()
    trainer.fit(module)
    assert seen == ["on_train_batch_end"]
    assert module._current_fx_name is None


def test_is_overridden_on_classes_instances_and_missing_base_methods() -> None:
    base = make_boring_model(L)
    module = base()
    assert is_overridden("training_step", module, LightningModule)
    assert is_overridden("validation_step", module, LightningModule)  # LightningModule has none
    assert not is_overridden("on_train_start", module, LightningModule)
    assert not is_overridden("transfer_batch_to_device", module, DataHooks)
    module.on_train_start = lambda: None  # type: ignore[method-assign]
    assert is_overridden("on_train_start", module, LightningModule)
    module.validation_step = None  # Lightning's way to switch a loop off
    assert not is_overridden("validation_step", module, LightningModule)
    assert not is_overridden("setup", None, DataHooks)


def test_a_hook_nobody_overrides_is_not_in_the_table(tmp_path: Path) -> None:
    class OnBackward(Callback):
        def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None: ...

    def fit(callbacks: list[Callback]) -> Any:
        trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, limit_train_batches=1,
                                           limit_val_batches=0, callbacks=callbacks))  # fmt: skip
        trainer.fit(make_boring_model(L)())
        return trainer._table

    assert Event.ON_BEFORE_BACKWARD not in fit([])
    before, module_hook, after = fit([OnBackward()])[Event.ON_BEFORE_BACKWARD]
    assert len(before) == 1 and module_hook is None and after == ()


def test_batches_arrive_on_the_device_through_transfer_hooks(tmp_path: Path) -> None:
    class Hooks(TinyModule):
        def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            return [batch[0] * 0]

        def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
            assert batch[0].device == self.device
            return batch

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            assert batch[0].abs().sum() == 0
            return super().training_step(batch, batch_idx)

    L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(Hooks(), tiny_loader())
