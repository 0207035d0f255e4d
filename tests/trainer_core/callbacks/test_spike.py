"""SpikeDetection under Lightning and trainer_core: the same batch stops the run, the same
batches are written to skip, and a run without a spike trains the same."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor
from tests.trainer_core.harness import assert_same_value, sub

pytestmark = requires_lightning


@functools.cache
def make_spiking_model(L: ModuleType) -> type:
    class Spiking(make_regressor(L)):
        def __init__(self, spike_at: int = -1, factor: float = 100.0) -> None:
            super().__init__()
            self.spike_at = spike_at
            self.factor = factor

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            return loss * self.factor if batch_idx == self.spike_at else loss

    return Spiking


def _run(L: ModuleType, root: Path, model_kwargs: dict, **spike_kwargs: Any) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_spiking_model(L)(**model_kwargs)
    spike = sub(L, "callbacks").SpikeDetection(**spike_kwargs)
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=2, callbacks=[spike], logger=False,
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    error = None
    try:
        trainer.fit(model)
    except RuntimeError as exc:
        error = str(exc)
    skip_file = root / "skip_batches.json"
    return {
        "error": error,
        "global_step": trainer.global_step,
        "skipped": json.loads(skip_file.read_text()) if skip_file.exists() else None,
        # a NaN loss leaves NaN weights on both sides; NaN never equals NaN, so mark it
        "weights": {k: torch.nan_to_num(v, nan=-123.0) for k, v in model.state_dict().items()},
        "bad_batches": spike.bad_batches,
    }


CASES = {
    "spike": ({"spike_at": 9}, {"window": 4, "warmup": 2}),
    "spike-in-warmup-ignored": ({"spike_at": 1}, {"window": 4, "warmup": 3}),
    "nan": ({"spike_at": 5, "factor": float("nan")}, {}),
    "atol-too-high": ({"spike_at": 9, "factor": 3.0}, {"atol": 1000.0}),
    "max-mode": ({"spike_at": 9, "factor": 0.001}, {"mode": "max"}),
}


@pytest.mark.parametrize(("model_kwargs", "spike_kwargs"), CASES.values(), ids=CASES)
def test_spike_detection_matches_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, model_kwargs: dict, spike_kwargs: dict
) -> None:
    ours = _run(L, tmp_path / "ours", model_kwargs, **spike_kwargs)
    theirs = _run(ref_L, tmp_path / "theirs", model_kwargs, **spike_kwargs)
    assert_same_value("spike", ours, theirs)


def test_a_spike_stops_the_run_and_names_the_batches(L: ModuleType, tmp_path: Path) -> None:
    found = _run(L, tmp_path, {"spike_at": 9}, window=4, warmup=2)
    assert found["error"] == "Training spike detected in batch 9"
    # detected at batch 9's end, after its optimizer step
    assert found["skipped"] == [8, 9] and found["global_step"] == 10
