"""Precision: autocast inside the steps, fp16 loss scaling, and its checkpoint state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.precision import MixedPrecision, parse_precision

TinyModule = make_tiny_module(L)


class DtypeSpy(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.dtypes: dict[str, torch.dtype] = {}

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        out = self(batch[0])
        self.dtypes["train"] = out.dtype
        return out.float().pow(2).mean()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.dtypes["val"] = self(batch[0]).dtype


def test_bf16_mixed_autocasts_steps_and_keeps_float32_weights(tmp_path: Path) -> None:
    model = DtypeSpy()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, precision="bf16-mixed"))
    trainer.fit(model, tiny_loader(), tiny_loader(8))
    assert model.dtypes == {"train": torch.bfloat16, "val": torch.bfloat16}
    assert model.layer.weight.dtype == torch.float32


def test_16_mixed_on_cpu_falls_back_to_bf16_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="bf16-mixed"):
        trainer = L.Trainer(accelerator="cpu", precision="16-mixed", logger=False)
    assert trainer.precision_plugin.name == "bf16-mixed"


def test_fp16_grad_scaler_path_steps_and_is_checkpointed(tmp_path: Path) -> None:
    # The fp16 + GradScaler path is the CUDA one; torch also scales on CPU, which exercises it.
    model = DtypeSpy()
    before = model.layer.weight.detach().clone()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    trainer.precision_plugin = MixedPrecision("cpu", "16-mixed")
    trainer.fit(model, tiny_loader())
    assert model.dtypes["train"] == torch.float16
    assert not torch.equal(before, model.layer.weight)  # unscaled updates were applied
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert "scale" in ckpt["MixedPrecision"]


def test_true_precision_converts_model_and_inputs(tmp_path: Path) -> None:
    model = DtypeSpy()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, precision="64-true"))
    trainer.fit(model, tiny_loader())
    assert model.layer.weight.dtype == torch.float64 and model.dtypes["train"] == torch.float64


def test_precision_aliases() -> None:
    assert [parse_precision(v) for v in (32, "32", None, 16, "bf16", 64)] == [
        "32-true", "32-true", "32-true", "16-mixed", "bf16-mixed", "64-true",
    ]  # fmt: skip
