"""Differential tests, logging and loop shape: the same probe module, data and seed through Lightning
and trainer_core must give the same hooks, metric dicts, metrics.csv rows and eval results.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same, run_probe

pytestmark = requires_lightning

# name -> (probe model kwargs, Trainer kwargs); each is a spec rule that is easy to get wrong.
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # §7 accumulate_grad_batches: steps at batch 1, 3 and the last (4); loss divided by k.
    "accumulate_2_of_5": (
        dict(n_train=20),
        dict(max_epochs=2, accumulate_grad_batches=2, log_every_n_steps=1),
    ),
    # §7 val_check_interval=0.5: validation after batches 2 and 4 of each epoch.
    "val_check_half": (dict(n_train=16), dict(max_epochs=2, val_check_interval=0.5)),
    # §2.6 step rows when (batches_that_stepped + 1) % n == 0, counted across epochs.
    "log_every_3_steps": (dict(n_train=32), dict(max_epochs=2, log_every_n_steps=3)),
    # §2.4/2.5 forked names in all three dicts, prog_bar and logger=False split.
    "forking_defaults": (dict(n_train=12), dict(max_epochs=1, log_every_n_steps=1)),
    # §2.3 batch sizes 4, 4, 2: weighted mean of batch_idx 0.8, sum 3.0, max 2.0.
    "batch_weighted_mean": (
        dict(n_train=10, n_val=10, batch_size=4),
        dict(max_epochs=2, log_every_n_steps=1),
    ),
    # §8.4 step-interval scheduler with frequency 2.
    "step_interval_scheduler": (
        dict(n_train=16, scheduler="step_interval"),
        dict(max_epochs=2, log_every_n_steps=2),
    ),
    # §2.4/§3 two val loaders: "/dataloader_idx_i" keys, one validate() dict per loader.
    "two_val_loaders": (dict(n_train=8, val_loaders=2), dict(max_epochs=2)),
    # §7 validation only when (epoch + 1) % 2 == 0; an int val_check_interval.
    "check_val_every_2_epochs": (dict(n_train=8), dict(max_epochs=4, check_val_every_n_epoch=2)),
    "val_check_every_3_batches": (dict(n_train=32), dict(max_epochs=1, val_check_interval=3)),
    # §7 gradient clipping by norm and by value.
    "clip_norm": (dict(n_train=8, lr=1.0), dict(max_epochs=1, gradient_clip_val=0.05)),
    "clip_value": (
        dict(n_train=8, lr=1.0),
        dict(max_epochs=1, gradient_clip_val=0.01, gradient_clip_algorithm="value"),
    ),
    # §7 fast_dev_run=2: 2 batches, one validation, no files at all.
    "fast_dev_run": (dict(n_train=32), dict(fast_dev_run=2)),
    # §3 limit_val_batches=0 disables validation; validate() then returns [].
    "no_validation": (dict(n_train=8), dict(max_epochs=2, limit_val_batches=0)),
    # bf16 autocast on CPU.
    "bf16_mixed": (dict(n_train=8), dict(max_epochs=1, precision="bf16-mixed")),
    # §7 limit as a fraction, sanity check over 2 val batches, several epochs.
    "fractional_limits": (
        dict(n_train=40, n_val=16),
        dict(max_epochs=3, limit_train_batches=0.5, limit_val_batches=0.5),
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_hooks_metrics_and_results(
    scenario: str, L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    model_kwargs, trainer_kwargs = SCENARIOS[scenario]
    reference = run_probe(ref_L, tmp_path / "ref", model_kwargs, trainer_kwargs)
    candidate = run_probe(L, tmp_path / "cand", model_kwargs, trainer_kwargs)
    assert_same(candidate, reference)


def test_batch_weighted_epoch_means_match_the_spec_numbers(L: ModuleType, tmp_path: Path) -> None:
    """The spec's observed numbers, independent of the reference run: 0.8, 3.0, 2.0."""
    run = run_probe(L, tmp_path, dict(n_train=10, batch_size=4), dict(max_epochs=1), evaluate=False)
    metrics = run["callback_metrics"]
    assert metrics["idx_mean"] == pytest.approx(0.8)
    assert metrics["idx_sum"] == pytest.approx(3.0)
    assert metrics["idx_max"] == pytest.approx(2.0)
    assert metrics["idx_bs2"] == pytest.approx(1.0)  # explicit batch_size: equal weights


def test_forked_metric_names_land_in_the_right_dicts(L: ModuleType, tmp_path: Path) -> None:
    """§2.5: logged has no bare forked name; callback has it; prog bar only prog_bar metrics."""
    run = run_probe(L, tmp_path, dict(n_train=8), dict(max_epochs=1), evaluate=True)
    logged, callback = set(run["logged_metrics"]), set(run["callback_metrics"])
    progress = set(run["progress_bar_metrics"])
    assert {"train_fork_step", "train_fork_epoch", "val_fork_epoch", "val_fork_step"} <= logged
    assert not {"train_fork", "train_hidden", "val_hidden"} & logged
    assert {"train_fork", "train_fork_step", "train_fork_epoch", "val_hidden"} <= callback
    assert "val_fork_step" not in callback
    assert progress == {"train_fork_step", "train_fork_epoch", "train_hidden"}
    assert run["validate"][0].keys() >= {"val_loss", "val_fork_epoch", "val_epoch_end"}
    assert "val_hidden" not in run["validate"][0]
    assert run["test"][0].keys() == {"test_loss", "test_fork_epoch"}
