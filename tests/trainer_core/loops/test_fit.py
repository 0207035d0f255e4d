"""The fit loop: limits, validation scheduling, sanity check, fast_dev_run, overfit, stopping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


class Counting(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.train_batches: list[tuple[int, int]] = []
        self.val_runs: list[tuple[int, int]] = []  # (epoch, train batch index before it)
        self._last_train_idx = -1

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.train_batches.append((self.current_epoch, batch_idx))
        self._last_train_idx = batch_idx
        return super().training_step(batch, batch_idx)

    def on_validation_start(self) -> None:
        if not self.trainer.sanity_checking:
            self.val_runs.append((self.current_epoch, self._last_train_idx))


def _fit(tmp_path: Path, model: Any, n_train: int = 64, n_val: int = 8, **kwargs: Any) -> L.Trainer:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, **kwargs))
    trainer.fit(model, tiny_loader(n=n_train, batch_size=1), tiny_loader(n=n_val, batch_size=1))
    return trainer


@pytest.mark.parametrize(
    ("limit", "batches"), [(0.25, 16), (0.1, 6), (5, 5), (1, 1), (1.0, 64), (2.0, 2)]
)
def test_train_limits_as_count_or_fraction(tmp_path: Path, limit: float, batches: int) -> None:
    trainer = _fit(
        tmp_path, Counting(), max_epochs=1, limit_train_batches=limit, limit_val_batches=0
    )
    assert trainer.num_training_batches == batches
    assert trainer.global_step == batches


def test_limit_errors(tmp_path: Path) -> None:
    with pytest.raises(MisconfigurationException, match="limit_train_batches"):
        _fit(tmp_path, Counting(), max_epochs=1, limit_train_batches=0.001)
    with pytest.raises(MisconfigurationException, match="limit_val_batches"):
        L.Trainer(limit_val_batches=1.5)
    with pytest.raises(MisconfigurationException, match="limit_test_batches"):
        L.Trainer(limit_test_batches=-1)


def test_val_check_interval_fraction_and_every_n_epochs(tmp_path: Path) -> None:
    model = Counting()
    _fit(tmp_path, model, n_train=4, max_epochs=2, val_check_interval=0.5)
    assert model.val_runs == [(0, 1), (0, 3), (1, 1), (1, 3)]
    model = Counting()
    _fit(tmp_path / "b", model, n_train=2, max_epochs=4, check_val_every_n_epoch=2)
    assert [epoch for epoch, _ in model.val_runs] == [1, 3]


def test_int_val_check_interval_across_epochs(tmp_path: Path) -> None:
    model = Counting()
    _fit(
        tmp_path, model, n_train=4, max_epochs=2, val_check_interval=3, check_val_every_n_epoch=None
    )
    assert model.val_runs == [(0, 2), (1, 1)]
    with pytest.raises(ValueError, match="val_check_interval"):
        _fit(tmp_path / "b", Counting(), n_train=4, max_epochs=1, val_check_interval=10)


def test_sanity_check_runs_min_of_steps_and_batches_and_keeps_training_rng(tmp_path: Path) -> None:
    class Draws(Counting):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            torch.rand(1)  # consumes RNG only during validation
            super().validation_step(batch, batch_idx)

        def on_train_start(self) -> None:
            self.first_draw = torch.rand(1).item()

    draws = []
    for sanity in (0, 2):
        L.seed_everything(3, verbose=False)
        model = Draws()
        trainer = _fit(
            tmp_path / str(sanity),
            model,
            n_val=1,
            max_epochs=1,
            limit_train_batches=1,
            num_sanity_val_steps=sanity,
        )
        draws.append(model.first_draw)
    assert trainer.num_sanity_val_batches == [1]
    assert draws[0] == draws[1]  # the sanity check did not move the training RNG stream


def test_fast_dev_run_runs_n_batches_and_writes_nothing(tmp_path: Path) -> None:
    model = Counting()
    trainer = L.Trainer(
        default_root_dir=tmp_path / "root",
        fast_dev_run=2,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, tiny_loader(n=64, batch_size=1), tiny_loader(n=8, batch_size=1))
    assert trainer.global_step == 2 and model.val_runs == [(0, 1)]
    assert not (tmp_path / "root").exists()


def test_overfit_batches_uses_the_same_unshuffled_batches(tmp_path: Path) -> None:
    seen: list[float] = []

    class FirstValue(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            seen.append(batch[0][0, 0].item())
            return super().training_step(batch, batch_idx)

    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2, overfit_batches=2))
    trainer.fit(FirstValue(), tiny_loader(shuffle=True), tiny_loader(8))
    assert seen[:2] == seen[2:] and trainer.num_training_batches == 2
    assert seen[0] == tiny_loader().dataset[0][0][0].item()


def test_should_stop_ends_after_the_batch_and_counts_the_epoch(tmp_path: Path) -> None:
    class Stop(Counting):
        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            if batch_idx == 2:
                self.trainer.should_stop = True

    model = Stop()
    trainer = _fit(tmp_path, model, max_epochs=5, limit_val_batches=0)
    assert trainer.global_step == 3 and trainer.current_epoch == 1


def test_min_epochs_delays_a_stop_request(tmp_path: Path) -> None:
    class Stop(Counting):
        def on_train_epoch_start(self) -> None:
            self.trainer.should_stop = True

    trainer = _fit(tmp_path, Stop(), n_train=2, max_epochs=5, min_epochs=3, limit_val_batches=0)
    assert trainer.current_epoch == 3


def test_minus_one_skips_the_rest_of_the_epoch_but_not_epoch_end(tmp_path: Path) -> None:
    class Skip(Counting):
        def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
            return -1 if batch_idx == 2 else None

        def on_train_epoch_end(self) -> None:
            self.epoch_ends = getattr(self, "epoch_ends", 0) + 1

    model = Skip()
    trainer = _fit(tmp_path, model, n_train=5, max_epochs=2)
    assert trainer.global_step == 4 and model.epoch_ends == 2
    assert model.val_runs == []  # validation does not run in a skipped epoch
    assert trainer.fit_loop.batch_idx == 2 and trainer.is_last_batch


def test_max_steps_stops_mid_epoch(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, Counting(), n_train=10, max_steps=7, limit_val_batches=0)
    assert trainer.global_step == 7 and trainer.current_epoch == 1
