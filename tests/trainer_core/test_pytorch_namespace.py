"""``trainer_core.pytorch`` mirrors ``lightning.pytorch``: the same import paths work, and a
lightning-hydra-template style config (callbacks, logger and trainer named by ``_target_``
import paths) runs on trainer_core once its top-level name is switched."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

import trainer_core
import trainer_core.pytorch as pl
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import RandomDataset, make_boring_model

# configs/callbacks/default.yaml, configs/logger/csv.yaml and configs/trainer/default.yaml of
# lightning-hydra-template, as the dict hydra composes from them (paths filled in by the test)
TEMPLATE_CONFIG: dict[str, Any] = {
    "callbacks": {
        "model_checkpoint": {
            "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
            "filename": "epoch_{epoch:03d}", "monitor": "val_loss", "mode": "min",
            "save_last": True, "auto_insert_metric_name": False,
        },
        "early_stopping": {
            "_target_": "lightning.pytorch.callbacks.EarlyStopping",
            "monitor": "val_loss", "patience": 100, "mode": "min",
        },
        "model_summary": {"_target_": "lightning.pytorch.callbacks.RichModelSummary",
                          "max_depth": -1},
        "rich_progress_bar": {"_target_": "lightning.pytorch.callbacks.RichProgressBar"},
        "lr_monitor": {"_target_": "lightning.pytorch.callbacks.LearningRateMonitor",
                       "logging_interval": "step"},
        "ema": {"_target_": "lightning.pytorch.callbacks.EMAWeightAveraging", "decay": 0.9},
    },
    "logger": {"csv": {"_target_": "lightning.pytorch.loggers.csv_logs.CSVLogger",
                       "name": "csv/"}},
    "trainer": {
        "_target_": "lightning.pytorch.trainer.Trainer",
        "min_epochs": 1, "max_epochs": 2, "accelerator": "cpu", "devices": 1,
        "check_val_every_n_epoch": 1, "deterministic": False, "log_every_n_steps": 4,
    },
}  # fmt: skip


def locate(path: str) -> Any:
    """hydra.utils's ``_locate``: import the longest module prefix, then walk attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def instantiate(config: dict[str, Any], top_level: str, **extra: Any) -> Any:
    """``hydra.utils.instantiate`` for flat configs, with ``lightning`` switched to ``top_level``."""
    target = config["_target_"].replace("lightning", top_level, 1)
    kwargs = {k: v for k, v in config.items() if k != "_target_"}
    return locate(target)(**kwargs, **extra)


def run_template(top_level: str, root: Path) -> dict[str, Any]:
    """src/train.py of the template: instantiate callbacks, loggers, trainer; fit; test."""
    L = importlib.import_module(top_level)
    L.seed_everything(12345, workers=True)
    callbacks = [
        instantiate(c, top_level, **({"dirpath": root / "checkpoints"} if "Checkpoint" in c["_target_"] else {}))
        for c in TEMPLATE_CONFIG["callbacks"].values()
    ]  # fmt: skip
    logger = [instantiate(c, top_level, save_dir=root) for c in TEMPLATE_CONFIG["logger"].values()]
    trainer = instantiate(
        TEMPLATE_CONFIG["trainer"], top_level, callbacks=callbacks, logger=logger,
        default_root_dir=root,
    )  # fmt: skip
    model = make_boring_model(L)()
    loaders = [DataLoader(RandomDataset(32, 16, seed=s), batch_size=4) for s in (1, 2, 3)]

    class Logged(type(model)):  # type: ignore[misc]
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self.loss(self(batch)))

        def test_step(self, batch: Any, batch_idx: int) -> None:
            self.log("test_loss", self.loss(self(batch)))

    model = Logged()
    trainer.fit(model, loaders[0], loaders[1])
    lr_logged = "lr-SGD" in trainer.callback_metrics
    tested = trainer.test(model, loaders[2], ckpt_path="best", verbose=False)
    return {
        "callbacks": [type(cb).__name__ for cb in trainer.callbacks],
        "best": Path(trainer.checkpoint_callback.best_model_path).name,
        "test": tested,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "lr_logged": lr_logged,
    }


def test_lightning_import_paths_resolve_to_trainer_core_objects() -> None:
    from trainer_core.pytorch.callbacks import LearningRateMonitor
    from trainer_core.pytorch.loggers.csv_logs import CSVLogger
    from trainer_core.pytorch.trainer import Trainer

    assert pl.Trainer is Trainer is trainer_core.Trainer
    assert pl.LightningModule is trainer_core.LightningModule
    assert LearningRateMonitor is trainer_core.callbacks.LearningRateMonitor
    assert CSVLogger is trainer_core.loggers.CSVLogger
    assert importlib.import_module("trainer_core.pytorch.callbacks") is trainer_core.callbacks
    assert pl.profilers.SimpleProfiler is trainer_core.profilers.SimpleProfiler
    assert importlib.import_module("trainer_core.pytorch.tuner").Tuner is trainer_core.tuner.Tuner
    assert pl.tuner is trainer_core.tuner
    assert pl.utilities.rank_zero_only(lambda: 7)() == 7
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("trainer_core.pytorch.no_such_module")
    with pytest.raises(AttributeError):
        pl.no_such_module  # noqa: B018


@requires_lightning
def test_template_config_runs_on_both(tmp_path: Path) -> None:
    reference = run_template("lightning", tmp_path / "ref")
    candidate = run_template("trainer_core", tmp_path / "cand")
    assert candidate["callbacks"] == reference["callbacks"]
    assert candidate["best"] == reference["best"]
    assert candidate["test"][0] == pytest.approx(reference["test"][0], rel=1e-5)
    for name, value in reference["weights"].items():
        torch.testing.assert_close(candidate["weights"][name], value)
    assert candidate["lr_logged"] and reference["lr_logged"]
    assert (tmp_path / "cand" / "csv").is_dir()
