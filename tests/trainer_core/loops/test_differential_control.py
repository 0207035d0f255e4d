"""Differential tests, control flow: early stopping, top-k checkpointing, -1 from
on_train_batch_start, manual optimization, ReduceLROnPlateau, deterministic seeding.

Each runs one scenario under Lightning and trainer_core and compares everything observable; a few
spec numbers are also asserted on the candidate so a failure says what the user would see.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same, make_probe_model, run_probe, sub

pytestmark = requires_lightning


@pytest.fixture(autouse=True)
def _restore_deterministic_flag() -> Any:
    """deterministic=True flips a process-wide torch switch; keep it out of other tests."""
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def both(L: ModuleType, ref_L: ModuleType, tmp_path: Path, fn: Any) -> tuple[dict, dict]:
    return fn(ref_L, tmp_path / "ref"), fn(L, tmp_path / "cand")


def test_early_stopping_on_a_constant_metric(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        es = sub(L, "callbacks").EarlyStopping(monitor="val_const", patience=2)
        run = run_probe(L, root, dict(n_train=8), dict(max_epochs=10), callbacks=(es,))
        run["early_stopping"] = dict(
            stopped_epoch=es.stopped_epoch, wait_count=es.wait_count, best=float(es.best_score)
        )
        return run

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    # §6 observed: epochs 0, 1, 2 run, then stop.
    assert candidate["early_stopping"]["stopped_epoch"] == 2
    assert candidate["current_epoch"] == 3


def test_min_epochs_overrides_an_early_stop(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        es = sub(L, "callbacks").EarlyStopping(monitor="val_const", patience=1)
        trainer_kwargs = dict(max_epochs=10, min_epochs=4)
        run = run_probe(L, root, dict(n_train=8), trainer_kwargs, callbacks=(es,), evaluate=False)
        run["stopped_epoch"] = es.stopped_epoch
        return run

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    assert candidate["current_epoch"] == 4  # the stop asked for after epoch 1 waits for min_epochs


def test_model_checkpoint_keeps_the_top_two(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        mc = sub(L, "callbacks").ModelCheckpoint(
            monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.4f}", save_last=True
        )
        run = run_probe(L, root, dict(n_train=16, lr=0.05), dict(max_epochs=4), callbacks=(mc,))
        run["checkpoint"] = dict(
            best=Path(mc.best_model_path).name,
            best_score=float(mc.best_model_score),
            kth=Path(mc.kth_best_model_path).name,
            top_k={Path(p).name: float(s) for p, s in mc.best_k_models.items()},
            last=Path(mc.last_model_path).name,
        )
        return run

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    names = [Path(p).name for p in candidate["ckpt_files"]]
    assert len(names) == 3 and "last.ckpt" in names


def test_minus_one_from_on_train_batch_start_skips_the_epoch(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        return run_probe(L, root, dict(n_train=20, skip_at=2), dict(max_epochs=2))

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    # §8.1: 2 steps per epoch, no validation, StepLR still stepped at each epoch end.
    assert candidate["global_step"] == 4
    hooks = candidate["hooks"]
    training = hooks[hooks.index("CB.on_sanity_check_end") : hooks.index("CB.on_fit_end")]
    assert "validation_step" not in training
    assert candidate["final_lr"] == pytest.approx(0.025)


def make_manual_model(L: ModuleType) -> type:
    class ManualProbe(make_probe_model(L)):
        """Two optimizers, closures, manual clipping and a user-stepped scheduler (§8.2)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            opt_a, opt_b = self.optimizers()
            loss = self.loss(self(batch))
            opt_a.zero_grad()
            self.manual_backward(loss)
            self.clip_gradients(opt_a, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
            opt_a.step()

            def closure() -> torch.Tensor:
                opt_b.zero_grad()
                inner = self.loss(self(batch)) * 2
                self.manual_backward(inner)
                return inner

            opt_b.step(closure=closure)
            self.log("manual_loss", loss, prog_bar=True)
            if self.trainer.is_last_batch:
                self.lr_schedulers().step()
            return loss

        def configure_optimizers(self) -> Any:
            opt_a = torch.optim.SGD([self.layer.weight], lr=0.1)
            opt_b = torch.optim.Adam([self.layer.bias], lr=0.01)
            sched = torch.optim.lr_scheduler.StepLR(opt_a, step_size=1, gamma=0.5)
            return [opt_a, opt_b], [sched]

    return ManualProbe


def test_manual_optimization(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        return run_probe(
            L, root, dict(n_train=12), dict(max_epochs=2, log_every_n_steps=1),
            model_cls=make_manual_model(L),
        )  # fmt: skip

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    # Every LightningOptimizer.step counts: 2 optimizers x 3 batches x 2 epochs (§1.8).
    assert candidate["global_step"] == 12
    assert candidate["lr_trace"] == [0.1, 0.05]


def test_reduce_lr_on_plateau(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        return run_probe(L, root, dict(n_train=8, scheduler="plateau"), dict(max_epochs=3))

    reference, candidate = both(L, ref_L, tmp_path, scenario)
    assert_same(candidate, reference)
    # Constant monitored value, patience=0: the LR halves after epochs 1 and 2.
    assert candidate["lr_trace"] == [0.1, 0.1, 0.05]
    assert candidate["final_lr"] == pytest.approx(0.025)


def test_seeded_deterministic_runs_are_bit_identical(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    """Shuffled data + dropout: the RNG stream must be consumed exactly as Lightning does."""
    model_kwargs = dict(n_train=24, shuffle=True, dropout=0.5)
    trainer_kwargs = dict(max_epochs=2, deterministic=True)

    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        return run_probe(L, root, model_kwargs, trainer_kwargs, evaluate=False)

    first = scenario(L, tmp_path / "one")
    second = scenario(L, tmp_path / "two")
    for name, tensor in first["weights"].items():
        assert torch.equal(tensor, second["weights"][name]), f"{name} differs between two runs"
    reference = scenario(ref_L, tmp_path / "ref")
    assert_same(first, reference)
