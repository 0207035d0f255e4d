"""Hyperparameters in checkpoints: what is kept, and where.

A module and a datamodule that both save hyperparameters keep them apart: if the datamodule's
arguments landed in `hyper_parameters`, the module's `load_from_checkpoint` would build the
module from the wrong arguments (and every job checkpoint would be unusable).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
from argparse import Namespace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader

TinyModule = make_tiny_module(L)


def make_pair(L: ModuleType) -> tuple[type, type]:
    class Net(L.LightningModule):
        def __init__(self, hidden: int = 3):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, hidden)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Data(L.LightningDataModule):
        def __init__(self, batch_size: int = 2, hidden: int = 100):
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self):
            return DataLoader(TensorDataset(torch.randn(4, 4)), batch_size=self.hparams.batch_size)

    return Net, Data


def test_module_and_datamodule_hparams_stay_apart(any_L: ModuleType, tmp_path: Path) -> None:
    Net, Data = make_pair(any_L)
    trainer = any_L.Trainer(
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Net(hidden=5), datamodule=Data(batch_size=2, hidden=100))
    path = trainer.checkpoint_callback.best_model_path
    checkpoint = torch.load(path, weights_only=False)

    assert checkpoint["hyper_parameters"] == {"hidden": 5}
    assert checkpoint["datamodule_hyper_parameters"] == {"batch_size": 2, "hidden": 100}
    assert Net.load_from_checkpoint(path).layer.out_features == 5
    assert Data.load_from_checkpoint(path).hparams.batch_size == 2


NET_SOURCE = """
import torch



class UserNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
"""


def _net_from_a_file(tmp_path: Path) -> torch.nn.Module:
    """An nn.Module whose class pickle cannot find again: its module is not in sys.modules."""
    path = tmp_path / "user_net_file.py"
    path.write_text(NET_SOURCE)
    spec = importlib.util.spec_from_file_location("user_net_file", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UserNet()


def test_unpicklable_hparams_are_dropped_so_checkpoints_save(
    any_L: ModuleType, tmp_path: Path
) -> None:
    class WithNet(any_L.LightningModule):
        def __init__(self, net: torch.nn.Module, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = net

        def training_step(self, batch, batch_idx):
            return self.net.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    net = _net_from_a_file(tmp_path)
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(net)
    model = WithNet(net)
    assert "net" in model.hparams  # kept until a run starts, as in Lightning
    trainer = any_L.Trainer(
        max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    loader = DataLoader(TensorDataset(torch.randn(4, 4)), batch_size=2)
    message = "Attribute 'net' removed from hparams because it cannot be pickled"
    with pytest.warns(UserWarning, match=message):
        trainer.fit(model, loader)
    assert dict(model.hparams) == {"lr": 0.1}
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=False)
    assert ckpt["hyper_parameters"] == {"lr": 0.1}


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
