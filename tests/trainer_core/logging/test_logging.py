"""self.log: reduction and batch weighting, key forking, the three metric dicts, logger rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


def _fit(tmp_path: Path, model: Any, train=None, val=None, **kwargs: Any) -> L.Trainer:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, **{"max_epochs": 1, **kwargs}))
    trainer.fit(model, train or tiny_loader(), val)
    return trainer


def _rows(trainer: L.Trainer) -> list[dict[str, str]]:
    with open(Path(trainer.logger.log_dir) / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


class IndexLogger(TinyModule):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        idx = torch.tensor(float(batch_idx))
        self.log("mean", idx, on_step=False, on_epoch=True)
        self.log("sum", idx, on_step=False, on_epoch=True, reduce_fx="sum")
        self.log("max", idx, on_step=False, on_epoch=True, reduce_fx=torch.max)
        self.log("min", idx, on_step=False, on_epoch=True, reduce_fx="min")
        self.log("fixed_bs", idx, on_step=False, on_epoch=True, batch_size=1)
        return super().training_step(batch, batch_idx)


def test_epoch_mean_is_weighted_by_batch_size(tmp_path: Path) -> None:
    # 10 rows in batches of 4, 4, 2: the spec's example gives 0.8, not the plain mean 1.0.
    trainer = _fit(tmp_path, IndexLogger(), tiny_loader(n=10, batch_size=4))
    metrics = trainer.callback_metrics
    assert metrics["mean"].item() == pytest.approx(0.8)
    assert metrics["sum"].item() == 3.0
    assert metrics["max"].item() == 2.0
    assert metrics["min"].item() == 0.0
    assert metrics["fixed_bs"].item() == pytest.approx(1.0)  # explicit batch_size wins


class Forking(TinyModule):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log("both", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("hidden", loss, logger=False)
        self.log("bar_only", loss, prog_bar=True, logger=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("v", self.loss(batch), on_step=True, on_epoch=True)


def test_forked_keys_land_in_the_right_dicts(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, Forking(), val=tiny_loader(8))
    assert set(trainer.logged_metrics) == {
        "train_loss",
        "both_step",
        "both_epoch",
        "v_step",
        "v_epoch",
    }
    assert set(trainer.progress_bar_metrics) == {
        "both_step",
        "both_epoch",
        "bar_only_step",
        "bar_only_epoch",
    }
    assert set(trainer.callback_metrics) == {
        "train_loss",
        "both",
        "both_step",
        "both_epoch",
        "hidden",
        "bar_only",
        "bar_only_step",
        "bar_only_epoch",
        "v",
        "v_epoch",
    }  # eval metrics never get a _step key here
    # After the epoch the plain name holds the epoch value.
    assert torch.equal(trainer.callback_metrics["both"], trainer.callback_metrics["both_epoch"])
    assert all(isinstance(v, float) for v in trainer.progress_bar_metrics.values())
    assert all(isinstance(v, torch.Tensor) for v in trainer.callback_metrics.values())


def test_rows_reach_the_logger_every_n_steps_and_at_epoch_end(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, TinyModule(), tiny_loader(n=40), max_epochs=2, log_every_n_steps=4)
    step_rows = [r for r in _rows(trainer) if r["train_loss"]]
    # 10 batches per epoch; the step counter runs across epochs and is 0-based.
    assert [int(r["step"]) for r in step_rows] == [3, 7, 11, 15, 19]
    assert [int(r["epoch"]) for r in step_rows] == [0, 0, 1, 1, 1]


def test_validate_returns_epoch_logger_metrics_per_dataloader(tmp_path: Path) -> None:
    class Eval(TinyModule):
        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
            self.log("val", float(dataloader_idx + 1))
            self.log("secret", 5.0, logger=False)

        def on_validation_epoch_end(self) -> None:
            self.log("end", 7.0)

    trainer = L.Trainer(**quiet_kwargs(tmp_path))
    result = trainer.validate(Eval(), [tiny_loader(8), tiny_loader(4)], verbose=False)
    assert result == [
        {"val/dataloader_idx_0": 1.0, "end": 7.0},
        {"val/dataloader_idx_1": 2.0, "end": 7.0},
    ]
    assert trainer.callback_metrics["secret/dataloader_idx_0"].item() == 5.0


def test_validate_with_no_batches_returns_empty_list(tmp_path: Path) -> None:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, limit_val_batches=0))
    assert trainer.validate(TinyModule(), tiny_loader(), verbose=False) == []


def test_logging_does_not_convert_to_python_each_step(tmp_path: Path) -> None:
    """Step values stay tensors until a logger row is written (no per-step device sync)."""
    seen: list[Any] = []

    class Spy(TinyModule):
        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            seen.append(
                self.trainer._hub.results.metrics_by_key[
                    ("training_step", "train_loss", None)
                ].step_value
            )

    _fit(tmp_path, Spy())
    assert seen and all(isinstance(v, torch.Tensor) and not v.requires_grad for v in seen)


@pytest.mark.parametrize(
    ("hook_body", "error", "match"),
    [
        ("self.log('x', torch.ones(3))", ValueError, "single element"),
        ("self.log('x', {'a': 1})", ValueError, "nested dicts"),
        ("self.log('x', 'text')", ValueError, "cannot be logged"),
        (
            "self.log('x', 1.0, on_step=False, on_epoch=False)",
            MisconfigurationException,
            "logs nothing",
        ),
        ("self.log('x/dataloader_idx_0', 1.0)", MisconfigurationException, "reserved"),
        ("self.log('x', 1.0, reduce_fx='median')", MisconfigurationException, "reduce_fx"),
    ],
)
def test_bad_log_calls_raise_with_the_fix(
    tmp_path: Path, hook_body: str, error: type, match: str
) -> None:
    class Bad(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            exec(hook_body, {"self": self, "torch": torch})
            return super().training_step(batch, batch_idx)

    with pytest.raises(error, match=match):
        _fit(tmp_path, Bad())


def test_logging_twice_with_different_options_raises(tmp_path: Path) -> None:
    class Twice(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.log("x", 1.0, prog_bar=batch_idx == 1)
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match="twice"):
        _fit(tmp_path, Twice())


def test_epoch_hooks_refuse_step_logging_and_predict_refuses_logging(tmp_path: Path) -> None:
    class EpochStep(TinyModule):
        def on_train_epoch_end(self) -> None:
            self.log("x", 1.0, on_step=True)

    with pytest.raises(MisconfigurationException, match="on_train_epoch_end"):
        _fit(tmp_path, EpochStep())

    class PredictLog(TinyModule):
        def predict_step(self, batch: Any, batch_idx: int) -> Any:
            self.log("x", 1.0)

    with pytest.raises(MisconfigurationException, match="predict_step"):
        L.Trainer(**quiet_kwargs(tmp_path)).predict(PredictLog(), tiny_loader())


def test_integer_values_warn_and_become_floats(tmp_path: Path) -> None:
    class IntLog(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.log("count", torch.tensor(batch_idx))
            return super().training_step(batch, batch_idx)

    with pytest.warns(UserWarning, match="floating"):
        trainer = _fit(tmp_path, IntLog())
    assert trainer.callback_metrics["count"].dtype == torch.float32


def test_callbacks_may_log_with_the_hooks_defaults(tmp_path: Path) -> None:
    class Logs(L.Callback):
        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            pl_module.log("from_cb", 2.0)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            pl_module.log("cb_epoch", 3.0)

    trainer = _fit(tmp_path, TinyModule(), callbacks=[Logs()], log_every_n_steps=1)
    assert trainer.logged_metrics["from_cb"].item() == 2.0  # on_step default for batch hooks
    assert trainer.logged_metrics["cb_epoch"].item() == 3.0


def test_sanity_check_metrics_do_not_leak(tmp_path: Path) -> None:
    seen = {}

    class Peek(TinyModule):
        def on_train_start(self) -> None:
            seen.update(self.trainer.callback_metrics)

    trainer = _fit(tmp_path, Peek(), val=tiny_loader(8), limit_train_batches=1)
    assert seen == {}
    assert "val_loss" in trainer.callback_metrics
