"""WeightAveraging / EMAWeightAveraging: averaged weights, validation on them, checkpoint layout
and resume, each compared with Lightning's callbacks."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from tests.trainer_core.harness import assert_same, load_ckpt, run_probe, sub


def make_averaging(L: ModuleType, kind: str) -> Any:
    callbacks = sub(L, "callbacks")
    if kind == "ema":
        return callbacks.EMAWeightAveraging(
            decay=0.8, update_every_n_steps=2, update_starting_at_step=3
        )
    if kind == "ema_epochs":
        return callbacks.EMAWeightAveraging(
            decay=0.5, update_every_n_steps=0, update_starting_at_epoch=1
        )
    return callbacks.WeightAveraging()  # equal-weight average after every step


def averaging_scenario(L: ModuleType, root: Path, kind: str) -> dict[str, Any]:
    averaging = make_averaging(L, kind)
    saver = sub(L, "callbacks").ModelCheckpoint(dirpath=root / "ckpt", save_last=True)
    run = run_probe(
        L, root, dict(n_train=16, scheduler="none"), dict(max_epochs=3),
        callbacks=(averaging, saver),
    )  # fmt: skip
    last = load_ckpt(Path(saver.last_model_path))
    run["ckpt_keys"] = sorted(last)
    run["ckpt_state_dict"] = last["state_dict"]
    run["ckpt_current_model_state"] = last["current_model_state"]
    run["ckpt_averaging_state"] = last["averaging_state"]
    run["ckpt_callback_state"] = last["callbacks"][averaging.state_key]
    return run


@requires_lightning
@pytest.mark.parametrize("kind", ["swa", "ema", "ema_epochs"])
def test_averaged_weights_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, kind: str
) -> None:
    reference = averaging_scenario(ref_L, tmp_path / "ref", kind)
    candidate = averaging_scenario(L, tmp_path / "cand", kind)
    assert_same(candidate, reference)
    # the checkpoint's weights are the averaged ones, the live ones sit beside them
    assert "current_model_state" in candidate["ckpt_keys"]
    assert not torch.equal(
        candidate["ckpt_state_dict"]["layer.weight"],
        candidate["ckpt_current_model_state"]["layer.weight"],
    )


@requires_lightning
def test_ema_resumes_like_lightning(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        saver = sub(L, "callbacks").ModelCheckpoint(dirpath=root / "first", save_last=True)
        run_probe(
            L, root / "a", dict(n_train=16, scheduler="none"), dict(max_epochs=2),
            callbacks=(make_averaging(L, "ema"), saver), evaluate=False,
        )  # fmt: skip
        run = run_probe(
            L, root / "b", dict(n_train=16, scheduler="none"), dict(max_epochs=3),
            callbacks=(make_averaging(L, "ema"),), ckpt_path=Path(saver.last_model_path),
        )  # fmt: skip
        run.pop("ckpt_files")
        return run

    reference = scenario(ref_L, tmp_path / "ref")
    candidate = scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)


def test_validation_sees_the_average_and_training_resumes_the_live_weights(
    tmp_path: Path,
) -> None:
    """Between validations the module trains its own weights; validate_step sees the average."""
    seen: list[torch.Tensor] = []

    class Probe(make_tiny_module(TC)):  # type: ignore[misc]
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            seen.append(self.layer.weight.detach().clone())

    averaging = TC.callbacks.EMAWeightAveraging(decay=0.5)
    trainer = TC.Trainer(
        **quiet_kwargs(tmp_path, max_epochs=1, num_sanity_val_steps=0), callbacks=[averaging]
    )
    model = Probe()
    trainer.fit(model, tiny_loader(16), tiny_loader(4))
    average = averaging._average_model.module.layer.weight  # type: ignore[union-attr]
    assert torch.equal(seen[-1], model.layer.weight.detach())  # training ended on the average
    assert torch.equal(seen[-1], average.detach())
