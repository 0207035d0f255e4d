"""BackboneFinetuning / BaseFinetuning under Lightning and trainer_core: the same freeze and
unfreeze schedule, learning rates, final weights and checkpointed state (and resume)."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as tc
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor
from tests.trainer_core.harness import assert_same_value, load_ckpt, sub
from trainer_core.callbacks import BackboneFinetuning
from trainer_core.utilities.exceptions import MisconfigurationException


@functools.cache
def make_backbone_model(L: ModuleType) -> type:
    class BackboneModel(make_regressor(L)):
        """A BatchNorm backbone and a head; the optimizer gets only what is trainable."""

        def __init__(self) -> None:
            super().__init__(lr=0.05)
            self.backbone = torch.nn.Sequential(
                torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU()
            )
            self.layer = torch.nn.Linear(16, 1)
            self.schedule: list[dict[str, Any]] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(self.backbone(x))

        def on_train_epoch_start(self) -> None:  # after the callbacks' hook: the new schedule
            optimizer = self.trainer.optimizers[0]
            self.schedule.append({
                "lrs": [group["lr"] for group in optimizer.param_groups],
                "backbone_trainable": [p.requires_grad for p in self.backbone.parameters()],
                "bn_tracks_stats": self.backbone[1].track_running_stats,
            })  # fmt: skip

        def configure_optimizers(self) -> Any:
            trainable = [p for p in self.parameters() if p.requires_grad]
            optimizer = torch.optim.SGD(trainable, lr=self.hparams.lr)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.8)]

    return BackboneModel


def _finetune(L: ModuleType, root: Path, max_epochs: int, ckpt_path: Path | None = None) -> dict:
    L.seed_everything(0, verbose=False)
    model = make_backbone_model(L)()
    finetuning = sub(L, "callbacks").BackboneFinetuning(
        unfreeze_backbone_at_epoch=1, lambda_func=lambda epoch: 1.5, train_bn=False
    )
    checkpoint = sub(L, "callbacks").ModelCheckpoint(dirpath=root / "ckpt", save_top_k=-1)
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=max_epochs, callbacks=[finetuning, checkpoint],
        logger=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, ckpt_path=ckpt_path)
    last = load_ckpt(sorted((root / "ckpt").glob("*.ckpt"))[-1])
    return {
        "schedule": model.schedule,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "state": last["callbacks"]["BackboneFinetuning"],
        "optimizer_groups": len(last["optimizer_states"][0]["param_groups"]),
    }


@requires_lightning
def test_backbone_schedule_weights_and_state_match_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    ours = _finetune(L, tmp_path / "ours", max_epochs=4)
    theirs = _finetune(ref_L, tmp_path / "theirs", max_epochs=4)
    assert_same_value("finetuning", ours, theirs)
    schedule = ours["schedule"]
    # frozen before training except BatchNorm (freeze keeps it trainable, so the optimizer
    # built after setup already holds it); the Linear joins as a second group at epoch 1
    assert schedule[0]["backbone_trainable"] == [False, False, True, True]
    assert len(schedule[0]["lrs"]) == 1
    assert schedule[1]["backbone_trainable"] == [True] * 4 and len(schedule[1]["lrs"]) == 2
    assert schedule[1]["lrs"][1] == pytest.approx(0.05 * 0.8 * 0.1)
    assert schedule[2]["lrs"][1] == pytest.approx(schedule[1]["lrs"][1] * 1.5)


@requires_lightning
def test_resume_rebuilds_the_param_groups_as_lightning_does(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    results = {}
    for name, impl in (("ours", L), ("theirs", ref_L)):
        first = _finetune(impl, tmp_path / name / "a", max_epochs=2)
        ckpt = sorted((tmp_path / name / "a" / "ckpt").glob("*.ckpt"))[-1]
        resumed = _finetune(impl, tmp_path / name / "b", max_epochs=4, ckpt_path=ckpt)
        results[name] = {"first": first["state"], "resumed": resumed}
    assert_same_value("resume", results["ours"], results["theirs"])


def test_a_module_without_backbone_is_refused(tmp_path: Path) -> None:
    trainer = tc.Trainer(
        default_root_dir=tmp_path, max_epochs=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
        callbacks=[_NoFreeze()],
    )  # fmt: skip
    with pytest.raises(MisconfigurationException, match="`backbone` attribute"):
        trainer.fit(make_regressor(tc)())


class _NoFreeze(BackboneFinetuning):
    def freeze_before_training(self, pl_module: Any) -> None:
        pass  # the module has no backbone: the check at fit start must say so
