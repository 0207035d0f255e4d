"""Differential harness: run one scenario under two trainers and compare what a user can observe.

A scenario builds its module from a factory that takes the namespace ``L``, so the same class
body runs under Lightning (the reference) and trainer_core (the candidate). ``capture`` collects
hook order, the three metric dicts, metrics.csv, checkpoints and weights; ``assert_same`` compares
two captures field by field and names the field that differs.
"""

from __future__ import annotations

import csv
import functools
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from tests.trainer_core.doubles import (
    RandomDataset,
    make_boring_model,
    make_recorder_callback,
    record_module_hooks,
)

# Same math on both sides; the slack only absorbs a different (equally valid) summation order.
REL, ABS = 1e-5, 1e-6


def sub(L: ModuleType, name: str) -> ModuleType:
    """``L.callbacks`` / ``L.loggers``: Lightning keeps them under ``lightning.pytorch``."""
    prefix = "lightning.pytorch" if L.__name__ == "lightning" else L.__name__
    return importlib.import_module(f"{prefix}.{name}")


@functools.cache
def make_probe_model(L: ModuleType) -> type:
    """BoringModel that logs in each way the spec distinguishes, with switchable data/schedulers."""

    class ProbeModel(make_boring_model(L)):
        def __init__(
            self, lr: float = 0.1, n_train: int = 64, n_val: int = 8, batch_size: int = 4,
            scheduler: str = "step", shuffle: bool = False, dropout: float = 0.0,
            skip_at: int = -1, log: bool = True, val_loaders: int = 1,
        ) -> None:  # fmt: skip
            super().__init__()
            self.save_hyperparameters()
            self.drop = torch.nn.Dropout(dropout)
            self.lr_trace: list[float] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(self.drop(x) if self.hparams.dropout else x)

        def _loader(self, n: int, seed: int, shuffle: bool = False) -> DataLoader:
            data = RandomDataset(32, n, seed=seed)
            return DataLoader(data, batch_size=self.hparams.batch_size, shuffle=shuffle)

        def train_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_train, 1, self.hparams.shuffle)

        def val_dataloader(self) -> DataLoader | list[DataLoader]:
            if self.hparams.val_loaders == 1:
                return self._loader(self.hparams.n_val, 2)
            return [
                self._loader(self.hparams.n_val, 20 + i) for i in range(self.hparams.val_loaders)
            ]

        def test_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_val, 3)

        def predict_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_val, 4)

        def on_train_epoch_start(self) -> None:
            self.lr_trace.append(self.trainer.optimizers[0].param_groups[0]["lr"])

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
            return -1 if batch_idx == self.hparams.skip_at else None

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(self(batch))
            if self.hparams.log:
                idx = torch.tensor(float(batch_idx))
                self.log("train_loss", loss)
                self.log("train_fork", loss, on_step=True, on_epoch=True, prog_bar=True)
                self.log("train_epoch", loss, on_step=False, on_epoch=True)
                self.log("train_hidden", loss, logger=False, prog_bar=True)
                self.log("idx_mean", idx, on_step=False, on_epoch=True)
                self.log("idx_sum", idx, on_step=False, on_epoch=True, reduce_fx="sum")
                self.log("idx_max", idx, on_step=False, on_epoch=True, reduce_fx="max")
                self.log("idx_bs2", idx, on_step=False, on_epoch=True, batch_size=2)
            return loss

        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
            loss = self.loss(self(batch))
            if self.hparams.log:
                self.log("val_loss", loss)
                self.log("val_fork", loss, on_step=True, on_epoch=True)
                self.log("val_idx", torch.tensor(float(batch_idx)))
                self.log("val_hidden", loss, logger=False)
                self.log("val_const", 1.0)
            return loss

        def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(self(batch))
            if self.hparams.log:
                self.log("test_loss", loss)
                self.log("test_fork", loss, on_step=True, on_epoch=True)
            return loss

        def on_train_epoch_end(self) -> None:
            if self.hparams.log:
                self.log("epoch_end_value", float(self.current_epoch) + 0.5)

        def on_validation_epoch_end(self) -> None:
            if self.hparams.log:
                self.log("val_epoch_end", 2.0 * self.current_epoch)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
            kind = self.hparams.scheduler
            if kind == "none":
                return opt
            if kind == "step":
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]
            if kind == "step_interval":
                sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
                config = {"scheduler": sched, "interval": "step", "frequency": 2}
                return {"optimizer": opt, "lr_scheduler": config}
            if kind == "plateau":
                plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
                return {"optimizer": opt, "lr_scheduler": plateau, "monitor": "val_const"}
            raise ValueError(kind)

    return ProbeModel


def quiet_trainer(L: ModuleType, root: Path, callbacks: list[Any], **kwargs: Any) -> Any:
    logger = sub(L, "loggers").CSVLogger(save_dir=root, name="logs")
    return L.Trainer(
        default_root_dir=root, logger=logger, callbacks=callbacks, enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )  # fmt: skip


def run_probe(
    L: ModuleType,
    root: Path,
    model_kwargs: dict[str, Any] | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
    callbacks: tuple[Any, ...] = (),
    evaluate: bool = True,
    model_cls: type | None = None,
    ckpt_path: Path | None = None,
) -> dict[str, Any]:
    """Seed, build, fit (then validate and test) one probe model; return everything observable."""
    L.seed_everything(0, verbose=False)
    log: list[str] = []
    model = record_module_hooks(model_cls or make_probe_model(L), L)(**(model_kwargs or {}))
    model.hook_log = log
    recorder = make_recorder_callback(L, log)
    trainer = quiet_trainer(L, root, [recorder, *callbacks], **(trainer_kwargs or {}))
    # Guard against a mixed-up namespace making a comparison trivially pass.
    assert type(trainer).__module__.split(".")[0] == L.__name__, type(trainer).__module__
    trainer.fit(model, ckpt_path=ckpt_path)
    run = capture(trainer, model, root)
    if evaluate:
        run["validate"] = trainer.validate(model, verbose=False)
        run["test"] = trainer.test(model, verbose=False)
        run["after_eval_callback_metrics"] = floats(trainer.callback_metrics)
        run["predict"] = trainer.predict(model)
    run["hooks"] = list(log)
    csv_files = sorted(root.rglob("metrics.csv"))
    run["csv"] = read_metrics_csv(csv_files[0]) if csv_files else None
    return run


def floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}


def capture(trainer: Any, model: Any, root: Path) -> dict[str, Any]:
    return {
        "global_step": trainer.global_step,
        "current_epoch": trainer.current_epoch,
        "should_stop": trainer.should_stop,
        "logged_metrics": floats(trainer.logged_metrics),
        "callback_metrics": floats(trainer.callback_metrics),
        "progress_bar_metrics": floats(trainer.progress_bar_metrics),
        "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "ckpt_files": sorted(str(p.relative_to(root)) for p in root.rglob("*.ckpt")),
        "lr_trace": list(getattr(model, "lr_trace", [])),
        "final_lr": trainer.optimizers[0].param_groups[0]["lr"],
    }


def read_metrics_csv(path: Path) -> dict[str, Any]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [{k: (float(v) if v != "" else None) for k, v in row.items()} for row in reader]
        return {"header": list(reader.fieldnames or []), "rows": rows}


def load_ckpt(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


# ---- comparison ------------------------------------------------------------------------------


def assert_same_order(got: list[str], expected: list[str]) -> None:
    """Compare whole lists; on failure point at the first position that differs."""
    if got == expected:
        return
    at = next(
        (i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
        min(len(got), len(expected)),
    )
    raise AssertionError(
        f"hook order differs at position {at}:\n"
        f"  expected ...{expected[max(0, at - 3) : at + 4]}\n"
        f"  got      ...{got[max(0, at - 3) : at + 4]}\n"
        f"(lengths: expected {len(expected)}, got {len(got)})"
    )


def assert_same_value(name: str, got: Any, expected: Any) -> None:
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), f"{name}: keys differ"
        for key in expected:
            assert_same_value(f"{name}[{key!r}]", got[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), f"{name}: {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same_value(f"{name}[{i}]", g, e)
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(got, expected, rtol=REL, atol=ABS, msg=lambda m: f"{name}: {m}")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, rel=REL, abs=ABS), f"{name}: {got} != {expected}"
    else:
        assert got == expected, f"{name}: {got!r} != {expected!r}"


def assert_same(candidate: dict[str, Any], reference: dict[str, Any]) -> None:
    """Every field the reference captured must match; hooks first, as the most telling."""
    if "hooks" in reference:
        assert_same_order(candidate["hooks"], reference["hooks"])
    for field, expected in reference.items():
        if field != "hooks":
            assert field in candidate, f"candidate run did not capture {field!r}"
            assert_same_value(field, candidate[field], expected)
