"""What the CSV and TensorBoard loggers have on disk while a run is still going.

Lightning calls ``logger.save()`` after every row, so a CSVLogger's ``metrics.csv`` gains each row
as it is logged (``flush_logs_every_n_steps`` only matters for direct ``log_metrics`` calls), a
deleted ``metrics.csv`` is started again with a header, and ``hparams.yaml`` is written when
hparams are logged. Run against both trainers via ``any_L``: passing under ``lightning`` proves
the written expectations.
"""

from __future__ import annotations

import copy
import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.trainer_core.doubles import make_tiny_module, tiny_loader


def _sub(L: ModuleType, name: str) -> ModuleType:
    prefix = "lightning.pytorch" if L.__name__ == "lightning" else L.__name__
    return importlib.import_module(f"{prefix}.{name}")


def _fit_watching(L: ModuleType, logger: Any, root: Path, watch: Any) -> None:
    """Six batches, a row per step; ``watch(trainer, batch_idx)`` runs at each batch end."""

    class Watch(_sub(L, "callbacks").Callback):  # type: ignore[misc]
        def on_train_batch_end(self, trainer: Any, module: Any, out: Any, batch: Any, i: int):
            watch(trainer, i)

    trainer = L.Trainer(
        default_root_dir=root, max_epochs=1, log_every_n_steps=1, logger=logger,
        callbacks=[Watch()], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(make_tiny_module(L)(), tiny_loader(n=24))


def _data_rows(path: Path) -> int | None:
    return len(path.read_text().splitlines()) - 1 if path.exists() else None


def test_metrics_csv_gains_each_row_as_it_is_logged(any_L: ModuleType, tmp_path: Path) -> None:
    logger = _sub(any_L, "loggers").CSVLogger(tmp_path)
    csv_path = Path(logger.log_dir) / "metrics.csv"
    seen: list[int | None] = []

    def watch(trainer: Any, batch_idx: int) -> None:
        seen.append(_data_rows(csv_path))
        if batch_idx == 2:
            csv_path.unlink()  # the next row starts a new file, header first

    _fit_watching(any_L, logger, tmp_path, watch)
    # a batch's row is written after its on_train_batch_end: batch k sees k rows; after the
    # unlink at batch 2, its row opens the new file
    assert seen == [None, 1, 2, 1, 2, 3]
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "epoch,step,train_loss"
    assert [line.split(",")[1] for line in lines[1:]] == ["2", "3", "4", "5"]


def test_hparams_yaml_is_written_when_hparams_are_logged(any_L: ModuleType, tmp_path: Path) -> None:
    csv_logger = _sub(any_L, "loggers").CSVLogger(tmp_path / "csv")
    hparams_path = Path(csv_logger.log_dir) / "hparams.yaml"
    seen: list[Any] = []

    def watch(trainer: Any, batch_idx: int) -> None:
        seen.append(yaml.safe_load(hparams_path.read_text()) if hparams_path.exists() else None)
        if batch_idx == 1:
            os.remove(hparams_path)  # not rewritten by the row saves that follow

    _fit_watching(any_L, csv_logger, tmp_path, watch)
    assert seen == [{"lr": 0.1}, {"lr": 0.1}, None, None, None, None]


def test_tensorboard_hparams_yaml_comes_back_if_deleted(any_L: ModuleType, tmp_path: Path) -> None:
    tb_logger = _sub(any_L, "loggers").TensorBoardLogger(tmp_path)
    hparams_path = Path(tb_logger.log_dir) / "hparams.yaml"
    seen: list[Any] = []

    def watch(trainer: Any, batch_idx: int) -> None:
        seen.append(yaml.safe_load(hparams_path.read_text()) if hparams_path.exists() else None)
        if batch_idx == 1:
            os.remove(hparams_path)  # TensorBoard's save() writes it again when it is missing

    _fit_watching(any_L, tb_logger, tmp_path, watch)
    assert seen == [{"lr": 0.1}, {"lr": 0.1}, {"lr": 0.1}, {"lr": 0.1}, {"lr": 0.1}, {"lr": 0.1}]


def test_a_csv_logger_in_use_can_be_deep_copied(any_L: ModuleType, tmp_path: Path) -> None:
    logger = _sub(any_L, "loggers").CSVLogger(tmp_path)
    copies: list[Any] = []
    _fit_watching(any_L, logger, tmp_path, lambda trainer, i: copies.append(copy.deepcopy(logger)))
    assert len(copies) == 6 and copies[-1].log_dir == logger.log_dir
