"""``Tuner.lr_find`` and ``LearningRateFinder`` under Lightning and trainer_core: the same curve,
the same suggestion, and the run put back the same way afterwards."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor
from tests.trainer_core.harness import assert_same_value, sub

pytestmark = requires_lightning


def _trainer(L: ModuleType, root: Path, **kwargs: Any) -> Any:
    return L.Trainer(
        default_root_dir=root, logger=sub(L, "loggers").CSVLogger(root), enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )  # fmt: skip


def _tune_lr(L: ModuleType, root: Path, **find_kwargs: Any) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_regressor(L)()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = _trainer(L, root, max_epochs=3)
    tuner = importlib_tuner(L).Tuner(trainer)
    result = tuner.lr_find(model, **find_kwargs)
    return {
        "lr": [float(v) for v in result.results["lr"]],
        "loss": [float(v) for v in result.results["loss"]],
        "suggestion": result.suggestion(),
        "model_lr": float(model.hparams.lr),
        "weights_restored": all(torch.equal(initial[k], v) for k, v in model.state_dict().items()),
        "global_step": trainer.global_step,
        "callbacks": [type(cb).__name__ for cb in trainer.callbacks],
        "leftover_files": sorted(p.name for p in root.glob(".lr_find_*")),
    }


def importlib_tuner(L: ModuleType) -> ModuleType:
    return sub(L, "tuner")


@pytest.mark.parametrize(
    "find_kwargs",
    [
        {"num_training": 40, "min_lr": 1e-4, "max_lr": 1.0},
        {"num_training": 30, "mode": "linear", "min_lr": 1e-3, "max_lr": 0.5},
        {"num_training": 60, "min_lr": 1e-3, "max_lr": 50.0},  # diverges: stops early
    ],
    ids=["exponential", "linear", "diverging"],
)
def test_lr_find_gives_lightnings_curve_and_suggestion(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, find_kwargs: dict[str, Any]
) -> None:
    ours = _tune_lr(L, tmp_path / "ours", **find_kwargs)
    theirs = _tune_lr(ref_L, tmp_path / "theirs", **find_kwargs)
    assert_same_value("lr_find", ours, theirs)
    assert ours["weights_restored"] and ours["global_step"] == 0 and ours["leftover_files"] == []
    assert ours["model_lr"] == pytest.approx(ours["suggestion"])  # update_attr=True sets it


def test_diverging_search_stopped_before_num_training(L: ModuleType, tmp_path: Path) -> None:
    found = _tune_lr(L, tmp_path, num_training=60, min_lr=1e-3, max_lr=50.0)
    assert 12 < len(found["loss"]) < 60


def _fit_with_finder(L: ModuleType, root: Path) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_regressor(L)()
    finder = sub(L, "callbacks").LearningRateFinder(num_training_steps=30, min_lr=1e-4)
    trainer = _trainer(L, root, max_epochs=2, callbacks=[finder])
    trainer.fit(model)
    return {
        "suggestion": finder.optimal_lr.suggestion(),
        "lr_after": trainer.optimizers[0].param_groups[0]["lr"],
        "global_step": trainer.global_step,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "logged": {k: float(v) for k, v in trainer.logged_metrics.items()},
    }


def test_learning_rate_finder_callback_then_trains_as_lightning_does(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    ours = _fit_with_finder(L, tmp_path / "ours")
    theirs = _fit_with_finder(ref_L, tmp_path / "theirs")
    assert_same_value("finder_fit", ours, theirs)
    assert ours["lr_after"] == pytest.approx(ours["suggestion"])
    assert ours["global_step"] == 48  # the search's 30 steps do not count: 2 epochs x 24 batches
