"""Hyperparameters in checkpoints: what is kept, and where.

A module and a datamodule that both save hyperparameters keep them apart: if the datamodule's arguments landed in `hyper_parameters`, the module's `load_from_checkpoint`
would build the module from the wrong arguments (and every job checkpoint would be unusable).
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset


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
