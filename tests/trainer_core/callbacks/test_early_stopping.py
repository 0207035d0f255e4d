"""EarlyStopping: the stopping rules, its state in checkpoints, and a run it ends."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from tests.trainer_core.harness import sub
from trainer_core.callbacks import EarlyStopping
from trainer_core.callbacks.early_stopping import EarlyStoppingReason

TinyModule = make_tiny_module(L)


def test_early_stopping_patience_thresholds_and_state() -> None:
    def check(values: list[float], **kwargs: Any) -> tuple[int, EarlyStoppingReason]:
        stopper = EarlyStopping("m", **kwargs)
        for i, value in enumerate(values):
            stop, _ = stopper._evaluate_stopping_criteria(torch.tensor(value))
            if stop:
                return i, stopper.stopping_reason
        return -1, stopper.stopping_reason

    assert check([1.0, 1.0, 1.0, 1.0], patience=2) == (2, EarlyStoppingReason.PATIENCE_EXHAUSTED)
    assert check([1.0, 0.95, 0.9], patience=1, min_delta=0.1)[0] == 1
    assert check([5.0, 0.5], stopping_threshold=1.0) == (1, EarlyStoppingReason.STOPPING_THRESHOLD)
    assert check([1.0, 9.0], divergence_threshold=5.0) == (
        1,
        EarlyStoppingReason.DIVERGENCE_THRESHOLD,
    )
    assert check([float("nan")]) == (0, EarlyStoppingReason.NON_FINITE_METRIC)
    assert check([1.0, 2.0, 3.0], mode="max", patience=1) == (-1, EarlyStoppingReason.NOT_STOPPED)
    stopper = EarlyStopping("m", patience=3)
    stopper._evaluate_stopping_criteria(torch.tensor(1.0))
    stopper._evaluate_stopping_criteria(torch.tensor(2.0))
    restored = EarlyStopping("m", patience=3)
    restored.load_state_dict(stopper.state_dict())
    assert (restored.wait_count, restored.best_score.item()) == (1, 1.0)


def test_early_stopping_in_a_run(tmp_path: Path) -> None:
    class Flat(TinyModule):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("flat", 1.0)

    stopper = EarlyStopping("flat", patience=2)
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=10, callbacks=[stopper]))
    trainer.fit(Flat(), tiny_loader(8), tiny_loader(4))
    assert (stopper.stopped_epoch, trainer.current_epoch) == (2, 3)
    with pytest.raises(RuntimeError, match="not available"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2, callbacks=[EarlyStopping("nope")])).fit(
            Flat(), tiny_loader(8), tiny_loader(4)
        )


def test_checkpoint_with_callback_state_loads_with_weights_only(
    any_L: ModuleType, tmp_path: Path
) -> None:
    """EarlyStopping and ModelCheckpoint state must be plain values, as Lightning writes them:
    ``torch.load(weights_only=True)`` refuses any other class (an Enum member, say)."""
    callbacks = sub(any_L, "callbacks")

    class Flat(make_tiny_module(any_L)):  # type: ignore[misc]
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("flat", 1.0)

    stopper = callbacks.EarlyStopping("flat", patience=1)
    saver = callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="flat", save_last=True)
    trainer = any_L.Trainer(
        max_epochs=5, callbacks=[stopper, saver], default_root_dir=tmp_path, logger=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(Flat(), tiny_loader(8), tiny_loader(4))
    assert trainer.current_epoch == 2  # stopped by patience after the second flat epoch
    during = torch.load(saver.last_model_path, weights_only=True)["callbacks"]
    assert isinstance(during[stopper.state_key]["stopping_reason"], int)
    trainer.save_checkpoint(tmp_path / "after.ckpt")
    states = torch.load(tmp_path / "after.ckpt", weights_only=True)["callbacks"]
    stopper_state = states[stopper.state_key]
    assert stopper_state["stopping_reason"] == EarlyStoppingReason.PATIENCE_EXHAUSTED.value
    assert stopper_state["wait_count"] == 1
    assert states[saver.state_key]["best_model_path"] == saver.best_model_path
    restored = callbacks.EarlyStopping("flat", patience=1)
    restored.load_state_dict(stopper_state)
    assert restored.stopping_reason.name == "PATIENCE_EXHAUSTED"


def test_an_older_checkpoint_holding_the_enum_still_restores() -> None:
    stopper = EarlyStopping("m")
    state = {**stopper.state_dict(), "stopping_reason": EarlyStoppingReason.NON_FINITE_METRIC}
    stopper.load_state_dict(state)
    assert stopper.stopping_reason is EarlyStoppingReason.NON_FINITE_METRIC
    assert EarlyStopping("m").state_dict()["stopping_reason"] == 0
