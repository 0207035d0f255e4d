"""Trainer: its public properties (log_dir, max_epochs), callbacks it runs, errors on bad input."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.loggers import CSVLogger, TensorBoardLogger
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


def test_default_logger_is_tensorboard_and_log_dir_follows_versions(tmp_path: Path) -> None:
    first = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    assert isinstance(first.logger, TensorBoardLogger)
    first.fit(TinyModule(), tiny_loader())
    second = L.Trainer(
        default_root_dir=tmp_path,
        logger=CSVLogger(tmp_path),
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    second.fit(TinyModule(), tiny_loader())
    assert first.log_dir == str(tmp_path / "lightning_logs/version_0")
    assert second.log_dir == str(tmp_path / "lightning_logs/version_1")
    assert any(p.startswith("events.out.tfevents") for p in os.listdir(first.log_dir))
    assert L.Trainer(default_root_dir=tmp_path, logger=False).log_dir == str(tmp_path)


def test_progress_bar_and_summary_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trainer = L.Trainer(
        default_root_dir=tmp_path, max_epochs=1, logger=False, enable_checkpointing=False
    )
    trainer.fit(TinyModule(), tiny_loader(), tiny_loader(8))
    out = capsys.readouterr().out
    assert "layer" in out and "Linear" in out and "Trainable params" in out
    assert trainer.progress_bar_callback is not None


def test_on_exception_reaches_callbacks_and_loggers_then_reraises(tmp_path: Path) -> None:
    seen: list[str] = []

    class Boom(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            raise ValueError("boom")

    class Watch(L.Callback):
        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            seen.append(str(exception))

    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, callbacks=[Watch()]))
    with pytest.raises(ValueError, match="boom"):
        trainer.fit(Boom(), tiny_loader())
    assert seen == ["boom"] and trainer.interrupted


def test_trainer_argument_errors() -> None:
    with pytest.raises(MisconfigurationException, match="accumulate_grad_batches"):
        L.Trainer(accumulate_grad_batches=0)
    with pytest.raises(MisconfigurationException, match="gradient_clip_algorithm"):
        L.Trainer(gradient_clip_algorithm="max")
    with pytest.raises(MisconfigurationException, match="val_check_interval"):
        L.Trainer(val_check_interval=1.5)
    with pytest.raises(MisconfigurationException, match="single"):
        L.Trainer(accelerator="cpu", devices=2)
    with pytest.raises(TypeError, match="LightningModule"):
        L.Trainer(logger=False).fit(torch.nn.Linear(1, 1), tiny_loader())  # type: ignore[arg-type]
    with pytest.raises(MisconfigurationException, match="training_step"):
        L.Trainer(logger=False).fit(L.LightningModule(), tiny_loader())


@pytest.mark.parametrize(
    ("limits", "effective"),
    [({}, 1000), ({"max_steps": 2}, -1), ({"max_time": {"days": 1}}, -1), ({"max_epochs": 3}, 3)],
)
def test_max_epochs_reports_the_effective_limit_like_lightning(
    any_L: ModuleType, tmp_path: Path, limits: dict[str, Any], effective: int
) -> None:
    seen: list[Any] = []

    class StopAtOnce(any_L.Callback):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            seen.append((trainer.max_epochs, trainer.fit_loop.max_epochs))
            trainer.should_stop = True

    trainer = any_L.Trainer(
        callbacks=[StopAtOnce()], default_root_dir=tmp_path, logger=False,
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
        **limits,
    )  # fmt: skip
    trainer.fit(make_tiny_module(any_L)(), tiny_loader())
    assert seen == [(effective, effective)]
    assert trainer.max_epochs == effective


def test_max_epochs_is_effective_before_fit_too() -> None:
    """Lightning reports None here until ``fit`` parses the limits; we report the value it will
    use (a documented difference: the same number either way once a run starts)."""
    assert L.Trainer(logger=False).max_epochs == 1000
    assert L.Trainer(logger=False, max_steps=5).max_epochs == -1
    assert L.Trainer(logger=False, max_epochs=7).max_epochs == 7


def test_the_trainer_owns_its_data_sources_from_init(tmp_path: Path) -> None:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    sources = trainer.data_sources
    assert sources.trainer is trainer and sources.explicit == {}
    model, train, val = TinyModule(), tiny_loader(), tiny_loader(8)
    trainer.fit(model, train)
    assert trainer.data_sources is sources and sources.explicit == {"train": train, "val": None}
    trainer.validate(model, val, verbose=False)
    assert trainer.data_sources is sources and sources.explicit == {"val": val}
