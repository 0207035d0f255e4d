"""GradientAccumulationScheduler: the accumulation factor changes per epoch as in Lightning."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from tests.trainer_core.harness import assert_same, run_probe, sub
from trainer_core.utilities.exceptions import MisconfigurationException


def schedule_scenario(L: ModuleType, root: Path) -> dict[str, Any]:
    scheduler = sub(L, "callbacks").GradientAccumulationScheduler(scheduling={1: 2, 2: 3})
    factors: list[int] = []

    class Spy(L.Callback):  # type: ignore[name-defined, misc]
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            factors.append(trainer.accumulate_grad_batches)

    run = run_probe(
        L, root, dict(n_train=28, scheduler="step_interval"), dict(max_epochs=3, log_every_n_steps=1),
        callbacks=(scheduler, Spy()), evaluate=False,
    )  # fmt: skip
    run["factors"] = factors
    return run


@requires_lightning
def test_accumulation_follows_the_schedule_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    reference = schedule_scenario(ref_L, tmp_path / "ref")
    candidate = schedule_scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)
    assert candidate["factors"] == [1, 2, 3]
    # 7 batches per epoch: 7 steps, then ceil(7/2) = 4, then ceil(7/3) = 3
    assert candidate["global_step"] == 7 + 4 + 3


def test_schedule_rules_and_conflicts(tmp_path: Path) -> None:
    scheduler = TC.callbacks.GradientAccumulationScheduler({3: 4})
    assert scheduler.scheduling == {3: 4, 0: 1}  # epochs before the first key accumulate 1
    assert [scheduler.get_accumulate_grad_batches(e) for e in (0, 2, 3, 9)] == [1, 1, 4, 4]
    with pytest.raises(TypeError):
        TC.callbacks.GradientAccumulationScheduler({})
    with pytest.raises(MisconfigurationException, match="Epoch"):
        TC.callbacks.GradientAccumulationScheduler({-1: 2})
    with pytest.raises(MisconfigurationException, match="factor"):
        TC.callbacks.GradientAccumulationScheduler({0: 0})
    trainer = TC.Trainer(
        **quiet_kwargs(tmp_path, max_epochs=1, accumulate_grad_batches=2),
        callbacks=[TC.callbacks.GradientAccumulationScheduler({0: 2})],
    )
    with pytest.raises(ValueError, match="remove `accumulate_grad_batches`"):
        trainer.fit(make_tiny_module(TC)(), tiny_loader(8))
