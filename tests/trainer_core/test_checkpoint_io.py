"""Checkpoint files: keys, safe loading, resume, ckpt_path selection, load_from_checkpoint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.callbacks import EarlyStopping, ModelCheckpoint

TinyModule = make_tiny_module(L)


class Scheduled(TinyModule):
    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.parameters(), lr=0.1)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]


def _ckpts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.ckpt"))


def test_default_checkpoint_path_keys_and_replacement(tmp_path: Path) -> None:
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=3,
        logger=L.loggers.CSVLogger(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Scheduled(), tiny_loader(n=20))
    directory = tmp_path / "lightning_logs/version_0/checkpoints"
    assert _ckpts(directory) == ["epoch=2-step=15.ckpt"]  # each save replaced the previous one
    ckpt = torch.load(directory / "epoch=2-step=15.ckpt", weights_only=False)
    assert sorted(ckpt) == [
        "callbacks",
        "epoch",
        "global_step",
        "hparams_name",
        "hyper_parameters",
        "loops",
        "lr_schedulers",
        "optimizer_states",
        "pytorch-lightning_version",
        "state_dict",
    ]
    assert (ckpt["epoch"], ckpt["global_step"], ckpt["hyper_parameters"]) == (2, 15, {"lr": 0.1})
    assert trainer.checkpoint_callback.best_model_path == str(directory / "epoch=2-step=15.ckpt")


def test_weights_only_checkpoints_are_loadable_safely(tmp_path: Path) -> None:
    stopper = EarlyStopping("val_loss", patience=1)
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2, callbacks=[stopper]))
    trainer.fit(TinyModule(), tiny_loader(), tiny_loader(8))
    # Plain values only, callback state included: the file opens with torch's safe loader.
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert set(ckpt["callbacks"]) == {stopper.state_key, trainer.checkpoint_callback.state_key}
    assert ckpt["callbacks"][stopper.state_key]["stopping_reason"] == 0
    assert ckpt["loops"]["fit_loop"]["state_dict"]["trainer_core_rng"]["torch"].dtype == torch.uint8


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    def run(root: Path, max_epochs: int, ckpt_path: Any = None) -> tuple[L.Trainer, Any]:
        L.seed_everything(7, verbose=False)
        model = Scheduled()
        trainer = L.Trainer(**quiet_kwargs(root, max_epochs=max_epochs, deterministic=True))
        trainer.fit(model, tiny_loader(n=20, shuffle=True), tiny_loader(8), ckpt_path=ckpt_path)
        return trainer, model

    straight, straight_model = run(tmp_path / "straight", 4)
    first, _ = run(tmp_path / "first", 2)
    resumed, resumed_model = run(tmp_path / "resumed", 4, first.checkpoint_callback.best_model_path)
    assert (resumed.global_step, resumed.current_epoch) == (straight.global_step, 4)
    for key, value in straight_model.state_dict().items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key
    assert (
        resumed.optimizers[0].param_groups[0]["lr"] == straight.optimizers[0].param_groups[0]["lr"]
    )
    assert resumed.lr_scheduler_configs[0].scheduler.last_epoch == 4


def test_mid_epoch_resume_continues_at_the_saved_batch(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []

    class Track(TinyModule):
        def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
            seen.append((self.current_epoch, batch_idx))

        def on_train_epoch_start(self) -> None:
            seen.append((self.current_epoch, -1))

    callback = ModelCheckpoint(every_n_train_steps=2, save_top_k=-1)
    first = L.Trainer(**quiet_kwargs(tmp_path / "a", max_steps=2, callbacks=[callback]))
    first.fit(Track(), tiny_loader(n=20))
    seen.clear()
    second = L.Trainer(**quiet_kwargs(tmp_path / "b", max_steps=7))
    second.fit(Track(), tiny_loader(n=20), ckpt_path=callback.best_model_path)
    # No on_train_epoch_start for the resumed epoch; batch indices continue at 2.
    assert seen[:3] == [(0, 2), (0, 3), (0, 4)] and seen[3] == (1, -1)
    assert second.global_step == 7


def test_ckpt_path_errors_are_raised_before_any_hook(tmp_path: Path) -> None:
    calls: list[str] = []

    class Spy(TinyModule):
        def setup(self, stage: str) -> None:
            calls.append(stage)

    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    with pytest.raises(FileNotFoundError, match="not found"):
        trainer.fit(Spy(), tiny_loader(), ckpt_path=tmp_path / "missing.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        trainer.fit(Spy(), tiny_loader(), ckpt_path=junk)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="state_dict"):
        trainer.fit(Spy(), tiny_loader(), ckpt_path=tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="ModelCheckpoint"):
        L.Trainer(**quiet_kwargs(tmp_path, enable_checkpointing=False)).validate(
            Spy(), tiny_loader(), ckpt_path="best"
        )
    assert calls == []


def test_weights_only_checkpoint_cannot_resume_training(tmp_path: Path) -> None:
    callback = ModelCheckpoint(save_weights_only=True)
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, callbacks=[callback]))
    trainer.fit(TinyModule(), tiny_loader())
    with pytest.raises(KeyError, match="save_weights_only"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2)).fit(
            TinyModule(), tiny_loader(), ckpt_path=callback.best_model_path
        )


def test_load_from_checkpoint_applies_overrides_and_refuses_instances(tmp_path: Path) -> None:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    model = TinyModule(lr=0.3)
    trainer.fit(model, tiny_loader())
    path = trainer.checkpoint_callback.best_model_path
    loaded = TinyModule.load_from_checkpoint(path)
    assert loaded.hparams.lr == 0.3 and loaded.training
    assert torch.equal(loaded.layer.weight, model.layer.weight)
    assert TinyModule.load_from_checkpoint(path, lr=0.9, map_location="cpu").hparams.lr == 0.9
    with pytest.raises(TypeError, match="classmethod"):
        model.load_from_checkpoint(path)


def test_save_checkpoint_writes_atomically_and_fails_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(AttributeError, match="model is attached"):
        L.Trainer(logger=False).save_checkpoint(tmp_path / "x.ckpt")
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    trainer.fit(TinyModule(), tiny_loader())
    trainer.save_checkpoint(tmp_path / "manual.ckpt")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]
    assert torch.load(tmp_path / "manual.ckpt", weights_only=False)["epoch"] == 1


def test_resume_after_an_in_epoch_validation_logs_the_same_steps(tmp_path: Path) -> None:
    import csv

    def rows(trainer: L.Trainer) -> list[tuple[str, str]]:
        with open(Path(trainer.logger.log_dir) / "metrics.csv", newline="") as handle:
            return [(r["step"], r["epoch"]) for r in csv.DictReader(handle) if r.get("val_loss")]

    def trainer(root: Path, epochs: int, **kwargs: Any) -> L.Trainer:
        return L.Trainer(**quiet_kwargs(root, max_epochs=epochs, val_check_interval=0.5, **kwargs))

    straight = trainer(tmp_path / "straight", 3)
    straight.fit(TinyModule(), tiny_loader(n=16), tiny_loader(8))
    callback = ModelCheckpoint(monitor="val_loss", save_top_k=-1)
    first = trainer(tmp_path / "first", 1, callbacks=[callback])
    first.fit(TinyModule(), tiny_loader(n=16), tiny_loader(8))
    mid = str(Path(callback.dirpath) / "epoch=0-step=2.ckpt")  # saved after the first validation
    resumed = trainer(tmp_path / "resumed", 3)
    resumed.fit(TinyModule(), tiny_loader(n=16), tiny_loader(8), ckpt_path=mid)
    assert rows(resumed) == rows(straight)[1:]
    assert resumed.global_step == straight.global_step
