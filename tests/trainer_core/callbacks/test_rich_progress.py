"""RichProgressBar: the same bars (descriptions, totals, progress, visibility) and metrics text
as Lightning's, through fit (sanity check, validation), test and predict."""

from __future__ import annotations

import io
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rich

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same_value, make_probe_model, sub


def bars(bar: Any) -> list[tuple]:
    return [(t.description, t.total, t.completed, t.visible) for t in bar.progress.tasks]


def rich_scenario(L: ModuleType, root: Path, leave: bool) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    bar = sub(L, "callbacks").RichProgressBar(leave=leave, console_kwargs={"file": io.StringIO()})
    trainer = L.Trainer(
        default_root_dir=root, logger=sub(L, "loggers").CSVLogger(root), max_epochs=2,
        callbacks=[bar], enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    model = make_probe_model(L)(n_train=16, n_val=12)
    try:
        trainer.fit(model)
        seen = {"fit": bars(bar), "metrics": dict(bar._metric_component._metrics)}
        trainer.test(model, verbose=False)
        seen["test"] = bars(bar)
        trainer.predict(model)
        seen["predict"] = bars(bar)
    finally:
        rich.reconfigure()
    seen["train_id"] = bar.train_progress_bar_id
    return seen


@requires_lightning
@pytest.mark.parametrize("leave", [False, True])
def test_rich_bars_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, leave: bool
) -> None:
    reference = rich_scenario(ref_L, tmp_path / "ref", leave)
    candidate = rich_scenario(L, tmp_path / "cand", leave)
    assert_same_value("bars", candidate, reference)
    assert ("Epoch 1/1 ", 4, 4, True) in candidate["fit"]
    assert "train_fork_step" in candidate["metrics"] and "v_num" in candidate["metrics"]


def test_refresh_rate_zero_draws_nothing(tmp_path: Path) -> None:
    bar = TC.callbacks.RichProgressBar(refresh_rate=0)
    trainer = TC.Trainer(
        default_root_dir=tmp_path, logger=False, max_epochs=1, callbacks=[bar],
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(make_probe_model(TC)(n_train=8))
    assert bar.is_disabled and bar.progress is None
    assert trainer.progress_bar_callback is bar
