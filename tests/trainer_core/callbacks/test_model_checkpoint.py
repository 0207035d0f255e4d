"""ModelCheckpoint: when it saves, which files it keeps, its state across a resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.callbacks import ModelCheckpoint
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


class ValueByEpoch(TinyModule):
    """Logs ``score`` = the epoch's entry of ``values`` at validation."""

    values = (5.0, 3.0, 4.0, 1.0, 2.0)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("score", self.values[self.current_epoch])


def test_top_k_keeps_the_best_by_mode_with_a_filename_template(tmp_path: Path) -> None:
    callback = ModelCheckpoint(
        monitor="score", save_top_k=2, mode="min", filename="{epoch}-{score:.1f}", save_last=True
    )
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=5, callbacks=[callback]))
    trainer.fit(ValueByEpoch(), tiny_loader(8), tiny_loader(4))
    directory = Path(callback.dirpath)
    assert _ckpts(directory) == ["epoch=3-score=1.0.ckpt", "epoch=4-score=2.0.ckpt", "last.ckpt"]
    assert Path(callback.best_model_path).name == "epoch=3-score=1.0.ckpt"
    assert callback.best_model_score.item() == 1.0
    assert Path(callback.kth_best_model_path).name == "epoch=4-score=2.0.ckpt"
    assert Path(callback.last_model_path).name == "last.ckpt"
    fresh = ValueByEpoch()
    L.Trainer(**quiet_kwargs(tmp_path)).validate(
        fresh, tiny_loader(4), ckpt_path=callback.best_model_path, verbose=False
    )
    saved = torch.load(callback.best_model_path, weights_only=True)["state_dict"]
    assert torch.equal(fresh.layer.weight, saved["layer.weight"])  # validate loaded the best


def test_max_mode_every_n_epochs_and_every_n_train_steps(tmp_path: Path) -> None:
    by_max = ModelCheckpoint(monitor="score", mode="max", save_top_k=1, every_n_epochs=2)
    trainer = L.Trainer(**quiet_kwargs(tmp_path / "a", max_epochs=5, callbacks=[by_max]))
    trainer.fit(ValueByEpoch(), tiny_loader(8), tiny_loader(4))
    assert _ckpts(Path(by_max.dirpath)) == ["epoch=1-step=4.ckpt"]  # epochs 1 and 3 checked: 3 > 1
    assert by_max.best_model_score.item() == 3.0
    by_steps = ModelCheckpoint(every_n_train_steps=3, save_top_k=-1)
    trainer = L.Trainer(**quiet_kwargs(tmp_path / "b", max_epochs=2, callbacks=[by_steps]))
    trainer.fit(TinyModule(), tiny_loader(n=20))
    assert _ckpts(Path(by_steps.dirpath)) == [
        "epoch=0-step=3.ckpt",
        "epoch=1-step=6.ckpt",
        "epoch=1-step=9.ckpt",
    ]


def test_model_checkpoint_state_survives_resume(tmp_path: Path) -> None:
    def callback() -> ModelCheckpoint:
        return ModelCheckpoint(
            dirpath=tmp_path / "ckpts", monitor="score", save_top_k=2, save_last=True
        )

    first_cb = callback()
    first = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=3, callbacks=[first_cb]))
    first.fit(ValueByEpoch(), tiny_loader(8), tiny_loader(4))
    assert _ckpts(tmp_path / "ckpts") == ["epoch=1-step=4.ckpt", "epoch=2-step=6.ckpt", "last.ckpt"]
    resumed_cb = callback()
    second = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=5, callbacks=[resumed_cb]))
    second.fit(ValueByEpoch(), tiny_loader(8), tiny_loader(4), ckpt_path=first_cb.last_model_path)
    # The restored top-k list lets epochs 3 and 4 push out the files of the first run.
    assert _ckpts(tmp_path / "ckpts") == [
        "epoch=3-step=8.ckpt",
        "epoch=4-step=10.ckpt",
        "last.ckpt",
    ]
    assert resumed_cb.best_model_score.item() == 1.0


def test_model_checkpoint_configuration_errors() -> None:
    with pytest.raises(MisconfigurationException, match="monitor=None"):
        ModelCheckpoint(save_top_k=3)
    with pytest.raises(MisconfigurationException, match="mutually exclusive"):
        ModelCheckpoint(every_n_epochs=1, every_n_train_steps=2)
    with pytest.raises(MisconfigurationException, match="mode"):
        ModelCheckpoint(mode="best")
    with pytest.raises(MisconfigurationException, match="enable_checkpointing"):
        L.Trainer(enable_checkpointing=False, callbacks=[ModelCheckpoint()])


def test_strict_monitor_never_logged_raises_once_validation_ran(tmp_path: Path) -> None:
    callback = ModelCheckpoint(monitor="never_logged")
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2, callbacks=[callback]))
    with pytest.raises(MisconfigurationException, match="never_logged"):
        trainer.fit(TinyModule(), tiny_loader(), tiny_loader(8))


def _ckpts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.ckpt"))
