"""Validation, test and predict loops: outputs, and the training flags they restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader

TinyModule = make_tiny_module(L)


def test_predict_returns_cpu_outputs_per_batch_and_per_loader(tmp_path: Path) -> None:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, limit_predict_batches=3))

    class Predict(TinyModule):
        def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
            return self(batch[0])

    out = trainer.predict(Predict(), tiny_loader(n=20, batch_size=2))
    assert [tuple(t.shape) for t in out] == [(2, 1)] * 3 and out[0].device.type == "cpu"
    both = trainer.predict(Predict(), [tiny_loader(4, batch_size=2), tiny_loader(2, batch_size=2)])
    assert [len(x) for x in both] == [2, 1]
    assert trainer.predict(Predict(), tiny_loader(), return_predictions=False) is None


def test_eval_restores_each_submodules_training_flag(tmp_path: Path) -> None:
    class Frozen(TinyModule):
        def __init__(self) -> None:
            super().__init__()
            self.frozen = torch.nn.Linear(1, 1).eval()

    model = Frozen()
    L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(model, tiny_loader(), tiny_loader(8))
    assert model.training and not model.frozen.training
