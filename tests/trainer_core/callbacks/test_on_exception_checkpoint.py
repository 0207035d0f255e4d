"""OnExceptionCheckpoint: the checkpoint a failed run leaves, compared with Lightning's."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from tests.trainer_core.harness import assert_same_value, load_ckpt, make_probe_model, sub


@functools.cache
def make_failing_model(L: ModuleType) -> type:
    class Failing(make_probe_model(L)):  # type: ignore[misc]
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.current_epoch == 1 and batch_idx == 2:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    return Failing


def failed_run(L: ModuleType, root: Path) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    saver = sub(L, "callbacks").OnExceptionCheckpoint(dirpath=root / "ckpt", filename="crash")
    trainer = L.Trainer(
        default_root_dir=root, logger=False, enable_progress_bar=False,
        enable_model_summary=False, max_epochs=3, callbacks=[saver],
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(make_failing_model(L)(n_train=16))
    checkpoint = load_ckpt(Path(saver.ckpt_path))
    return {
        "file": Path(saver.ckpt_path).name,
        "keys": sorted(checkpoint),
        "epoch": checkpoint["epoch"],
        "global_step": checkpoint["global_step"],
        "state_dict": checkpoint["state_dict"],
        "callbacks": sorted(checkpoint["callbacks"]),
        "default_checkpointing": [type(cb).__name__ for cb in trainer.checkpoint_callbacks],
    }


@requires_lightning
def test_checkpoint_on_exception_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    reference = failed_run(ref_L, tmp_path / "ref")
    candidate = failed_run(L, tmp_path / "cand")
    assert_same_value("checkpoint", candidate, reference)
    assert (candidate["epoch"], candidate["global_step"]) == (1, 6)  # 4 + 2 batches trained


def test_no_file_left_after_a_run_that_ends_well(tmp_path: Path) -> None:
    saver = TC.callbacks.OnExceptionCheckpoint(dirpath=tmp_path / "ckpt")
    trainer = TC.Trainer(**quiet_kwargs(tmp_path, max_epochs=1), callbacks=[saver])
    trainer.fit(make_tiny_module(TC)(), tiny_loader(8))
    assert not Path(saver.ckpt_path).exists()
    assert saver.ckpt_path.endswith("on_exception.ckpt")
    with pytest.raises(ValueError, match="filename"):
        TC.callbacks.OnExceptionCheckpoint(dirpath=tmp_path, filename="")
