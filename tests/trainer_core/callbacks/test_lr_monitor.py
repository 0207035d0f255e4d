"""LearningRateMonitor: the same names, values and logger rows as Lightning's, and its errors."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from tests.trainer_core.harness import assert_same, make_probe_model, run_probe, sub
from trainer_core.utilities.exceptions import MisconfigurationException


@functools.cache
def make_multi_group_model(L: ModuleType) -> type:
    """Adam over two named parameter groups plus an unscheduled SGD: every naming rule at once."""

    class MultiGroup(make_probe_model(L)):  # type: ignore[misc]
        automatic_optimization = False

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.head = torch.nn.Linear(2, 2)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            adam, sgd = self.optimizers()
            loss = self.loss(self.head(self(batch)))
            self.manual_backward(loss)
            adam.step()
            sgd.step()
            adam.zero_grad()
            sgd.zero_grad()
            self.lr_schedulers().step()
            return loss

        def configure_optimizers(self) -> Any:
            groups = [
                {"params": self.layer.parameters(), "name": "body"},
                {"params": self.head.parameters(), "name": "head", "lr": 0.01},
            ]
            adam = torch.optim.Adam(groups, lr=0.02, betas=(0.8, 0.99), weight_decay=0.1)
            sgd = torch.optim.SGD(self.head.parameters(), lr=0.3, momentum=0.5)
            decay = torch.optim.lr_scheduler.StepLR(adam, step_size=1, gamma=0.5)
            return [adam, sgd], [{"scheduler": decay, "interval": "step"}]

    return MultiGroup


def lr_scenario(
    L: ModuleType, root: Path, model: dict, interval: str | None, **monitor: Any
) -> dict[str, Any]:
    callback = sub(L, "callbacks").LearningRateMonitor(logging_interval=interval, **monitor)
    model_cls = model.pop("cls", None)
    run = run_probe(
        L, root, dict(n_train=16, **model), dict(max_epochs=2, log_every_n_steps=2),
        callbacks=(callback,), evaluate=False, model_cls=model_cls,
    )  # fmt: skip
    run["lrs"] = {k: list(v) for k, v in callback.lrs.items()}
    run["momentum"] = dict(callback.last_momentum_values)
    run["weight_decay"] = dict(callback.last_weight_decay_values)
    return run


@requires_lightning
@pytest.mark.parametrize(
    ("scheduler", "interval"),
    [("step", None), ("step_interval", None), ("step_interval", "epoch"), ("none", "step")],
)
def test_learning_rates_logged_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, scheduler: str, interval: str | None
) -> None:
    monitor = dict(log_momentum=True, log_weight_decay=True)
    reference = lr_scenario(ref_L, tmp_path / "ref", dict(scheduler=scheduler), interval, **monitor)
    candidate = lr_scenario(L, tmp_path / "cand", dict(scheduler=scheduler), interval, **monitor)
    assert_same(candidate, reference)
    assert "lr-SGD" in candidate["csv"]["header"]
    assert candidate["callback_metrics"]["lr-SGD"] == pytest.approx(candidate["lrs"]["lr-SGD"][-1])


@requires_lightning
def test_group_names_and_several_optimizers_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        model = dict(cls=make_multi_group_model(L), scheduler="none")
        return lr_scenario(L, root, model, None, log_momentum=True, log_weight_decay=True)

    reference = scenario(ref_L, tmp_path / "ref")
    candidate = scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)
    assert sorted(candidate["lrs"]) == ["lr-Adam/body", "lr-Adam/head", "lr-SGD"]
    assert candidate["momentum"]["lr-Adam/body-momentum"] == 0.8  # betas[0]


def test_needs_a_logger_and_refuses_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(MisconfigurationException, match="logging_interval"):
        TC.callbacks.LearningRateMonitor(logging_interval="batch")  # type: ignore[arg-type]
    trainer = TC.Trainer(
        **quiet_kwargs(tmp_path, max_epochs=1, logger=False),
        callbacks=[TC.callbacks.LearningRateMonitor()],
    )
    with pytest.raises(MisconfigurationException, match="no logger"):
        trainer.fit(make_tiny_module(TC)(), tiny_loader(8))
