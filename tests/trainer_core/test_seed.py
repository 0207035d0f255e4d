"""seed_everything and deterministic runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader

TinyModule = make_tiny_module(L)


class Dropout(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.drop(x))


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
