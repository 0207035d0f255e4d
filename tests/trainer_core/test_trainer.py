"""Seeding and determinism, hyperparameters, datamodules, loggers, callbacks, bad input."""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import yaml
from torch.utils.data import DataLoader

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.loggers import CSVLogger, TensorBoardLogger
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


class Dropout(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.drop(x))


@pytest.fixture
def restore_global_flags() -> Any:
    """deterministic=True and seed_everything change process-wide settings; put them back."""
    algorithms = torch.are_deterministic_algorithms_enabled()
    env = {
        k: os.environ.get(k)
        for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")
    }
    yield
    torch.use_deterministic_algorithms(algorithms)
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.usefixtures("restore_global_flags")
def test_same_seed_gives_bit_identical_weights(tmp_path: Path) -> None:
    def train(root: Path, seed: int) -> dict[str, torch.Tensor]:
        L.seed_everything(seed, workers=True, verbose=False)
        model = Dropout()
        trainer = L.Trainer(**quiet_kwargs(root, max_epochs=2, deterministic=True))
        trainer.fit(model, tiny_loader(n=32, shuffle=True, num_workers=1), tiny_loader(8))
        return model.state_dict()

    first, second, other = (
        train(tmp_path / "a", 1),
        train(tmp_path / "b", 1),
        train(tmp_path / "c", 2),
    )
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.usefixtures("restore_global_flags")
def test_seed_everything_sets_the_environment_and_checks_bounds() -> None:
    assert L.seed_everything(42, workers=True, verbose=False) == 42
    assert os.environ["PL_GLOBAL_SEED"] == "42" and os.environ["PL_SEED_WORKERS"] == "1"
    first = torch.rand(1)
    L.seed_everything(42, verbose=False)
    assert torch.equal(first, torch.rand(1))
    with pytest.raises(ValueError, match="bounds"):
        L.seed_everything(2**32)


@pytest.mark.usefixtures("restore_global_flags")
def test_workers_get_a_worker_init_fn_when_seeded(tmp_path: Path) -> None:
    L.seed_everything(0, workers=True, verbose=False)
    loader = tiny_loader()
    L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(TinyModule(), loader)
    assert loader.worker_init_fn is not None


class WithHparams(L.LightningModule):
    def __init__(self, hidden: int = 7, name: str = "x", net: Any = None, **extra: Any) -> None:
        super().__init__()
        hidden = hidden * 2  # the value at call time is what gets saved
        self.save_hyperparameters(ignore=["net"])
        self.layer = torch.nn.Linear(4, 1)


def test_save_hyperparameters_collects_init_args_and_ignores() -> None:
    model = WithHparams(3, name="y", net=torch.nn.Linear(1, 1), depth=2)
    assert dict(model.hparams) == {"hidden": 6, "name": "y", "depth": 2}
    assert model.hparams.hidden == 6 and model._hparams_name == "kwargs"
    model.hparams.hidden = 100
    assert model.hparams_initial.hidden == 6  # frozen copy for the loggers


def test_save_hyperparameters_by_name_or_container() -> None:
    class Named(L.LightningModule):
        def __init__(self, a: int = 1, b: int = 2, c: int = 3) -> None:
            super().__init__()
            self.save_hyperparameters("a", "c")

    class FromConfig(L.LightningModule):
        def __init__(self, config: Any) -> None:
            super().__init__()
            self.save_hyperparameters(config)

    assert dict(Named().hparams) == {"a": 1, "c": 3}
    model = FromConfig(Namespace(lr=0.1))
    assert dict(model.hparams) == {"lr": 0.1} and model._hparams_name == "config"
    with pytest.raises(ValueError, match="primitive"):
        FromConfig(5)
    assert dict(L.LightningModule().hparams) == {}


def test_hparams_reach_the_csv_logger_and_checkpoint(tmp_path: Path) -> None:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    trainer.fit(TinyModule(lr=0.2), tiny_loader())
    assert yaml.safe_load((Path(trainer.log_dir) / "hparams.yaml").read_text()) == {"lr": 0.2}
    plain = L.Trainer(**quiet_kwargs(tmp_path / "plain", max_epochs=1, log_every_n_steps=1))

    class NoHparams(TinyModule):
        def __init__(self) -> None:
            L.LightningModule.__init__(self)
            self.layer = torch.nn.Linear(4, 1)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    plain.fit(NoHparams(), tiny_loader())
    assert sorted(os.listdir(plain.log_dir)) == ["checkpoints", "metrics.csv"]


class Data(L.LightningDataModule):
    def __init__(self, batch_size: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.calls: list[str] = []

    def prepare_data(self) -> None:
        self.calls.append("prepare_data")

    def setup(self, stage: str) -> None:
        self.calls.append(f"setup:{stage}")

    def train_dataloader(self) -> DataLoader:
        return tiny_loader(batch_size=self.hparams.batch_size)

    def val_dataloader(self) -> DataLoader:
        return tiny_loader(8)

    def state_dict(self) -> dict[str, Any]:
        return {"seen": len(self.calls)}

    def teardown(self, stage: str) -> None:
        self.calls.append(f"teardown:{stage}")


def test_datamodule_drives_the_stages_and_is_saved(tmp_path: Path) -> None:
    data = Data()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    trainer.fit(TinyModule(), data)  # a datamodule in the dataloaders position
    assert data.calls == ["prepare_data", "setup:fit", "teardown:fit"]
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert ckpt["Data"] == {"seen": 2}
    assert ckpt["hyper_parameters"] == {"lr": 0.1}  # each side keeps its own hparams (2.6)
    assert ckpt["datamodule_hyper_parameters"] == {"batch_size": 4}
    with pytest.raises(MisconfigurationException, match="predict_dataloader"):
        trainer.predict(TinyModule(), datamodule=data)
    with pytest.raises(MisconfigurationException, match="both"):
        trainer.fit(TinyModule(), tiny_loader(), datamodule=data)


def test_datamodule_missing_train_loader_fails_before_any_hook(tmp_path: Path) -> None:
    class NoTrain(L.LightningDataModule):
        def setup(self, stage: str) -> None:
            raise AssertionError("setup must not run")

    with pytest.raises(MisconfigurationException, match="train_dataloader"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(TinyModule(), datamodule=NoTrain())


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
