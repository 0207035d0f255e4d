"""The seed tutorial's callback and logger pages, run through trainer_core with only the import
changed: a printing Callback, EarlyStopping, CSVLogger and TensorBoardLogger.
"""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.trainer_core.data import digits_loader


def loaders() -> dict[str, Any]:
    return dict(train_dataloaders=digits_loader("train"), val_dataloaders=digits_loader("val"))


def test_printing_callback_prints_at_train_start_and_end(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tutorial.LitAutoEncoder(tutorial.make_encoder(), tutorial.make_decoder())
    trainer = L.Trainer(
        callbacks=[tutorial.MyPrintingCallback()], max_epochs=1, limit_train_batches=3,
        limit_val_batches=1, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())
    lines = capsys.readouterr().out.splitlines()
    assert "Training is starting" in lines and "Training is ending" in lines
    assert lines.index("Training is starting") < lines.index("Training is ending")


def test_early_stopping_ends_training_when_val_loss_stops_improving(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    # learning_rate=0 keeps val_loss exactly constant: epoch 0 sets the best, epochs 1 and 2 do not
    # improve, and patience=2 stops after epoch 2 (spec §6's observed case).
    model = tutorial.LitAutoEncoderHP(learning_rate=0.0)
    early_stopping = tutorial.EarlyStopping(monitor="val_loss", mode="min", patience=2)
    trainer = L.Trainer(
        callbacks=[early_stopping], max_epochs=20, limit_train_batches=2, limit_val_batches=2,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())
    assert trainer.should_stop
    assert early_stopping.stopped_epoch == 2
    assert trainer.current_epoch == 3
    assert trainer.global_step == 6


def test_early_stopping_lets_an_improving_run_reach_max_epochs(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    L.seed_everything(0)
    model = tutorial.LitAutoEncoderHP(learning_rate=1e-2)
    early_stopping = tutorial.EarlyStopping(monitor="val_loss", mode="min", patience=1)
    trainer = L.Trainer(
        callbacks=[early_stopping], max_epochs=3, limit_train_batches=10, limit_val_batches=3,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())
    assert early_stopping.stopped_epoch == 0 and trainer.current_epoch == 3


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_csv_logger_writes_metrics_csv_and_hparams_yaml(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    model = tutorial.LitAutoEncoderHP(hidden_dim=32)
    logger = tutorial.CSVLogger(save_dir=tmp_path)
    trainer = L.Trainer(
        logger=logger, max_epochs=2, limit_train_batches=10, limit_val_batches=3,
        log_every_n_steps=5, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())

    version_dir = tmp_path / "lightning_logs/version_0"
    assert Path(trainer.log_dir) == version_dir
    header, rows = read_csv(version_dir / "metrics.csv")
    assert header == sorted(header) and {"epoch", "step", "train_loss", "val_loss"} <= set(header)
    # Step rows every 5 optimizer steps (0-based step), one val row per epoch at its last step.
    train_steps = [int(r["step"]) for r in rows if r["train_loss"]]
    assert train_steps == [4, 9, 14, 19]
    val_rows = [(int(r["epoch"]), int(r["step"])) for r in rows if r["val_loss"]]
    assert val_rows == [(0, 9), (1, 19)]
    assert all(float(r["train_loss"]) > 0 for r in rows if r["train_loss"])

    hparams = yaml.safe_load((version_dir / "hparams.yaml").read_text())
    assert hparams == {"hidden_dim": 32, "latent_dim": 3, "learning_rate": 1e-3}
    assert (version_dir / "checkpoints/epoch=1-step=20.ckpt").is_file()


def test_tensorboard_is_the_default_logger_and_records_scalars(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = tutorial.LitAutoEncoderHP()
    trainer = L.Trainer(
        max_epochs=1, limit_train_batches=6, limit_val_batches=2, log_every_n_steps=2,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())

    version_dir = tmp_path / "lightning_logs/version_0"
    assert isinstance(trainer.logger, tutorial.TensorBoardLogger)
    events = list(version_dir.glob("events.out.tfevents.*"))
    assert events, sorted(p.name for p in version_dir.iterdir())
    accumulator = EventAccumulator(str(version_dir))
    accumulator.Reload()
    scalars = accumulator.Tags()["scalars"]
    assert {"train_loss", "val_loss", "epoch"} <= set(scalars)
    assert [e.step for e in accumulator.Scalars("train_loss")] == [1, 3, 5]
    assert len(accumulator.Scalars("val_loss")) == 1
    assert yaml.safe_load((version_dir / "hparams.yaml").read_text())["hidden_dim"] == 64


def test_explicit_tensorboard_logger_uses_its_name_and_version(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    logger = tutorial.TensorBoardLogger(save_dir=tmp_path, name="autoencoder", version="run-a")
    model = tutorial.LitAutoEncoder(tutorial.make_encoder(), tutorial.make_decoder())
    trainer = L.Trainer(
        logger=logger, max_epochs=1, limit_train_batches=2, limit_val_batches=1,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, **loaders())
    run_dir = tmp_path / "autoencoder/run-a"
    assert Path(trainer.log_dir) == run_dir
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert (run_dir / "checkpoints/epoch=0-step=2.ckpt").is_file()
