"""``Tuner.scale_batch_size`` and ``BatchSizeFinder`` under Lightning and trainer_core.

Out of memory is simulated the way a CPU test can: the module raises the allocator's own error
(CUDA's or the CPU allocator's message, which is what Lightning's ``is_oom_error`` recognises)
for a batch above a set size. Both trainers must find the same size and leave the run as it was.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import CPU_OOM, make_regressor
from tests.trainer_core.harness import assert_same_value, sub

pytestmark = requires_lightning


def _trainer(L: ModuleType, root: Path, **kwargs: Any) -> Any:
    return L.Trainer(
        default_root_dir=root, logger=sub(L, "loggers").CSVLogger(root), enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )  # fmt: skip


def _scale(
    L: ModuleType, root: Path, model_kwargs: dict[str, Any], **scale_kwargs: Any
) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_regressor(L)(**model_kwargs)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = _trainer(L, root, max_epochs=1)
    found = sub(L, "tuner").Tuner(trainer).scale_batch_size(model, **scale_kwargs)
    return {
        "found": found,
        "hparam": model.hparams.batch_size,
        "weights_restored": all(torch.equal(initial[k], v) for k, v in model.state_dict().items()),
        "global_step": trainer.global_step,
        "callbacks": [type(cb).__name__ for cb in trainer.callbacks],
        "leftover_files": sorted(p.name for p in root.glob(".scale_batch_size_*")),
    }


CASES = {
    "power-cuda": ({"oom_above": 21}, {"mode": "power"}, 16),
    "power-cpu": ({"oom_above": 21, "oom_message": CPU_OOM}, {"mode": "power"}, 16),
    "binsearch": ({"oom_above": 21}, {"mode": "binsearch"}, 19),  # 21 fits, less 5% margin
    "binsearch-no-margin": ({"oom_above": 21}, {"mode": "binsearch", "margin": 0.0}, 21),
    "dataset-bound": ({"n_train": 40}, {"mode": "power"}, 64),  # stops once it covers the data
    "max-val": ({}, {"mode": "power", "max_val": 8}, 8),
    "max-trials": ({}, {"mode": "power", "max_trials": 2, "init_val": 3}, 6),
    "first-size-too-big": ({"oom_above": 3}, {"mode": "power", "init_val": 8}, 2),
}


@pytest.mark.parametrize(("model_kwargs", "scale_kwargs", "expected"), CASES.values(), ids=CASES)
def test_scale_batch_size_finds_lightnings_size(
    L: ModuleType,
    ref_L: ModuleType,
    tmp_path: Path,
    model_kwargs: dict[str, Any],
    scale_kwargs: dict[str, Any],
    expected: int,
) -> None:
    ours = _scale(L, tmp_path / "ours", model_kwargs, **scale_kwargs)
    theirs = _scale(ref_L, tmp_path / "theirs", model_kwargs, **scale_kwargs)
    assert_same_value("scale_batch_size", ours, theirs)
    assert ours["found"] == ours["hparam"] == expected
    assert ours["weights_restored"] and ours["global_step"] == 0 and ours["leftover_files"] == []


@pytest.mark.parametrize("method", ["validate", "test", "predict"])
def test_scale_batch_size_for_evaluation_matches_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, method: str
) -> None:
    kwargs = {"method": method, "mode": "binsearch", "margin": 0.0}
    ours = _scale(L, tmp_path / "ours", {"oom_above": 13, "n_eval": 64}, **kwargs)
    theirs = _scale(ref_L, tmp_path / "theirs", {"oom_above": 13, "n_eval": 64}, **kwargs)
    assert_same_value(method, ours, theirs)
    assert ours["found"] == 13


def _fit_with_finder(L: ModuleType, root: Path) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_regressor(L)(oom_above=12)
    finder = sub(L, "callbacks").BatchSizeFinder(mode="binsearch", margin=0.0)
    trainer = _trainer(L, root, max_epochs=2, callbacks=[finder])
    trainer.fit(model)
    return {
        "found": finder.optimal_batch_size,
        "global_step": trainer.global_step,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "logged": {k: float(v) for k, v in trainer.logged_metrics.items()},
    }


def test_batch_size_finder_callback_then_trains_with_the_size_found(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    ours = _fit_with_finder(L, tmp_path / "ours")
    theirs = _fit_with_finder(ref_L, tmp_path / "theirs")
    assert_same_value("finder_fit", ours, theirs)
    assert ours["found"] == 12 and ours["global_step"] == 2 * 8  # 96 rows / 12, two epochs
