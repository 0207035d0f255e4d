"""BasePredictionWriter: the files a writer makes hold the same predictions and sample indices
as under Lightning (per batch, per epoch, shuffled data, two dataloaders)."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import RandomDataset
from tests.trainer_core.harness import assert_same_value, make_probe_model, sub
from trainer_core.utilities.exceptions import MisconfigurationException


@functools.cache
def make_writer(L: ModuleType) -> type:
    class FileWriter(sub(L, "callbacks").BasePredictionWriter):  # type: ignore[misc]
        def __init__(self, out: Path, write_interval: str) -> None:
            super().__init__(write_interval)
            self.out = out

        def write_on_batch_end(
            self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: Any, batch: Any,
            batch_idx: int, dataloader_idx: int,
        ) -> None:  # fmt: skip
            name = f"batch-{dataloader_idx}-{batch_idx}.pt"
            torch.save({"prediction": prediction, "indices": batch_indices}, self.out / name)

        def write_on_epoch_end(
            self, trainer: Any, pl_module: Any, predictions: Any, batch_indices: Any
        ) -> None:
            torch.save({"predictions": predictions, "indices": batch_indices}, self.out / "all.pt")

    return FileWriter


@functools.cache
def make_shuffled_predict_model(L: ModuleType) -> type:
    class Shuffled(make_probe_model(L)):  # type: ignore[misc]
        def predict_dataloader(self) -> Any:
            loaders = [
                DataLoader(
                    RandomDataset(32, 10, seed=4 + i),
                    batch_size=3,
                    shuffle=True,
                    generator=torch.Generator().manual_seed(7 + i),
                )  # fmt: skip
                for i in range(self.hparams.val_loaders)
            ]
            return loaders[0] if len(loaders) == 1 else loaders

        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            return self(batch)

    return Shuffled


def written(L: ModuleType, root: Path, interval: str, loaders: int, keep: bool) -> dict[str, Any]:
    root.mkdir(parents=True)
    L.seed_everything(0, verbose=False)
    model = make_shuffled_predict_model(L)(val_loaders=loaders)
    trainer = L.Trainer(
        default_root_dir=root, logger=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[make_writer(L)(root, interval)],
    )  # fmt: skip
    returned = trainer.predict(model, return_predictions=keep)
    files = {p.name: torch.load(p, weights_only=False) for p in sorted(root.glob("*.pt"))}
    return {"files": files, "returned": returned}


@requires_lightning
@pytest.mark.parametrize(
    ("interval", "loaders", "keep"),
    [("batch", 1, True), ("epoch", 1, False), ("batch_and_epoch", 2, True)],
)
def test_written_predictions_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, interval: str, loaders: int, keep: bool
) -> None:
    reference = written(ref_L, tmp_path / "ref", interval, loaders, keep)
    candidate = written(L, tmp_path / "cand", interval, loaders, keep)
    assert_same_value("written", candidate, reference)
    assert candidate["files"], "the writer wrote nothing"
    if interval != "epoch":  # shuffled: the indices are not 0, 1, 2
        assert candidate["files"]["batch-0-0.pt"]["indices"] != [0, 1, 2]


def test_write_interval_must_be_known() -> None:
    with pytest.raises(MisconfigurationException, match="write_interval"):
        TC.callbacks.BasePredictionWriter("sometimes")  # type: ignore[arg-type]
