"""StochasticWeightAveraging: same final weights, learning rates and checkpoint state as Lightning."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same, load_ckpt, make_probe_model, run_probe, sub
from trainer_core.utilities.exceptions import MisconfigurationException


@functools.cache
def make_batch_norm_model(L: ModuleType) -> type:
    """The probe model with a BatchNorm1d: SWA adds an epoch to recompute its statistics."""

    class WithBatchNorm(make_probe_model(L)):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.norm = torch.nn.BatchNorm1d(32)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(self.norm(x))

    return WithBatchNorm


def swa_scenario(
    L: ModuleType, root: Path, model_cls: type | None = None, **swa: Any
) -> dict[str, Any]:
    callbacks = sub(L, "callbacks")
    averaging = callbacks.StochasticWeightAveraging(**{"swa_lrs": 0.05, **swa})
    saver = callbacks.ModelCheckpoint(dirpath=root / "ckpt", save_last=True, save_top_k=-1)
    run = run_probe(
        L, root, dict(n_train=16), dict(max_epochs=4), callbacks=(averaging, saver),
        model_cls=model_cls,
    )  # fmt: skip
    last = load_ckpt(Path(saver.last_model_path))
    state = last["callbacks"][averaging.state_key]
    run["ckpt_callback_keys"] = sorted(last["callbacks"])
    run["swa_state"] = {
        "keys": sorted(state),
        "n_averaged": state["n_averaged"],
        "latest_update_epoch": state["latest_update_epoch"],
        "average_model_state": state["average_model_state"],
        "scheduler_last_lr": state["scheduler_state"]["_last_lr"],
    }
    run["n_averaged"] = int(averaging.n_averaged)
    return run


@requires_lightning
@pytest.mark.parametrize(
    "swa", [dict(swa_epoch_start=2), dict(swa_epoch_start=0.5, annealing_strategy="linear")]
)
def test_swa_weights_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, swa: dict
) -> None:
    reference = swa_scenario(ref_L, tmp_path / "ref", **swa)
    candidate = swa_scenario(L, tmp_path / "cand", **swa)
    assert_same(candidate, reference)
    assert candidate["n_averaged"] == 3  # epochs 1, 2, 3 (0-based) were averaged


@requires_lightning
def test_swa_batch_norm_epoch_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    reference = swa_scenario(
        ref_L, tmp_path / "ref", make_batch_norm_model(ref_L), swa_epoch_start=2
    )
    candidate = swa_scenario(L, tmp_path / "cand", make_batch_norm_model(L), swa_epoch_start=2)
    assert_same(candidate, reference)
    assert candidate["current_epoch"] == 5  # 4 epochs and the batch-norm update epoch


@requires_lightning
def test_swa_resumes_like_lightning(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    """Stopped after epoch 2 (inside the SWA phase) and resumed to 4: the averaging goes on."""

    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        callbacks = sub(L, "callbacks")
        first = callbacks.ModelCheckpoint(dirpath=root / "first", save_last=True)
        run_probe(
            L, root / "a", dict(n_train=16), dict(max_epochs=3),
            callbacks=(callbacks.StochasticWeightAveraging(0.05, swa_epoch_start=2), first),
            evaluate=False,
        )  # fmt: skip
        swa = callbacks.StochasticWeightAveraging(0.05, swa_epoch_start=2)
        run = run_probe(
            L, root / "b", dict(n_train=16), dict(max_epochs=5), callbacks=(swa,),
            evaluate=False, ckpt_path=Path(first.last_model_path),
        )  # fmt: skip
        run["n_averaged"] = int(swa.n_averaged)
        run.pop("ckpt_files")
        return run

    reference = scenario(ref_L, tmp_path / "ref")
    candidate = scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)


def test_swa_refuses_bad_arguments() -> None:
    SWA = TC.callbacks.StochasticWeightAveraging
    with pytest.raises(MisconfigurationException, match="swa_epoch_start"):
        SWA(0.1, swa_epoch_start=0)
    with pytest.raises(MisconfigurationException, match="swa_epoch_start"):
        SWA(0.1, swa_epoch_start=1.5)
    with pytest.raises(MisconfigurationException, match="swa_lrs"):
        SWA(-0.1)
    with pytest.raises(MisconfigurationException, match="swa_lrs"):
        SWA([0.1, 2])  # type: ignore[list-item]
    with pytest.raises(MisconfigurationException, match="avg_fn"):
        SWA(0.1, avg_fn=3)  # type: ignore[arg-type]
