"""configure_optimizers forms, scheduler stepping, accumulation, clipping, manual optimization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.optim import LightningOptimizer, configure_optimizers
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


def _sgd(lr: float = 1.0) -> torch.optim.SGD:
    return torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=lr)


def _step_lr(opt: torch.optim.Optimizer) -> Any:
    return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)


def test_every_documented_return_form_is_accepted() -> None:
    opt, opt2 = _sgd(), _sgd()
    sched = _step_lr(opt)
    assert configure_optimizers(opt)[0] == [opt]
    assert configure_optimizers([opt, opt2])[0] == [opt, opt2]
    assert configure_optimizers(([opt], [sched]))[1][0].scheduler is sched
    assert configure_optimizers(([opt], sched))[1][0].scheduler is sched
    optimizers, configs, _ = configure_optimizers(
        {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 3}}
    )
    assert optimizers == [opt] and (configs[0].interval, configs[0].frequency) == ("step", 3)
    both = configure_optimizers([{"optimizer": opt}, {"optimizer": opt2, "lr_scheduler": sched}])
    assert both[0] == [opt, opt2] and len(both[1]) == 1
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    _, configs, monitor = configure_optimizers(
        {"optimizer": opt, "lr_scheduler": plateau, "monitor": "m"}
    )
    assert configs[0].reduce_on_plateau and configs[0].monitor == "m" and monitor == "m"


@pytest.mark.parametrize(
    "value",
    [
        "sgd",
        3,
        [],
        {"lr_scheduler": None},
        ([1], []),
        {"optimizer": _sgd(), "lr_scheduler": {"interval": "step"}},
    ],
)
def test_unsupported_return_values_name_the_accepted_forms(value: Any) -> None:
    with pytest.raises(MisconfigurationException):
        configure_optimizers(value)


def test_bad_interval_and_plateau_without_monitor_are_refused() -> None:
    opt = _sgd()
    with pytest.raises(MisconfigurationException, match="interval"):
        configure_optimizers(
            {"optimizer": opt, "lr_scheduler": {"scheduler": _step_lr(opt), "interval": "batch"}}
        )
    with pytest.raises(MisconfigurationException, match="monitor"):
        configure_optimizers(([opt], [torch.optim.lr_scheduler.ReduceLROnPlateau(opt)]))


def test_none_runs_with_a_mock_optimizer_that_still_counts_steps(tmp_path: Path) -> None:
    class NoOpt(TinyModule):
        def configure_optimizers(self) -> None:
            return None

    model = NoOpt()
    before = model.layer.weight.detach().clone()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    with pytest.warns(UserWarning, match="no optimizer"):
        trainer.fit(model, tiny_loader())
    assert trainer.global_step == 5
    assert torch.equal(before, model.layer.weight)


class Scheduled(TinyModule):
    def __init__(self, interval: str = "epoch", frequency: int = 1) -> None:
        super().__init__(lr=1.0)
        self.interval, self.frequency = interval, frequency

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=1.0)
        config = {
            "scheduler": _step_lr(opt),
            "interval": self.interval,
            "frequency": self.frequency,
        }
        return {"optimizer": opt, "lr_scheduler": config}


@pytest.mark.parametrize(("interval", "frequency", "lr"), [("epoch", 1, 0.25), ("step", 2, 0.0625)])
def test_schedulers_step_per_interval_and_frequency(
    tmp_path: Path, interval: str, frequency: int, lr: float
) -> None:
    # spec 8.4: 2 epochs x 4 batches; epoch interval steps twice, step/2 steps four times.
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2))
    trainer.fit(Scheduled(interval, frequency), tiny_loader(n=16))
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(lr)


def test_plateau_scheduler_reads_the_monitored_metric(tmp_path: Path) -> None:
    class Plateau(TinyModule):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("flat", 1.0)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=1.0)
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
            return {"optimizer": opt, "lr_scheduler": sched, "monitor": "flat"}

    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2, num_sanity_val_steps=0))
    trainer.fit(Plateau(), tiny_loader(8), tiny_loader(4))
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.5)


class Recording(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def optimizer_step(
        self, epoch: int, batch_idx: int, optimizer: Any, closure: Any = None
    ) -> None:
        self.events.append(("step", batch_idx))
        super().optimizer_step(epoch, batch_idx, optimizer, closure)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
        self.events.append(("zero_grad", batch_idx))
        super().optimizer_zero_grad(epoch, batch_idx, optimizer)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.events.append(("loss", round(outputs["loss"].item() / self.loss(batch).item(), 3)))


def test_accumulation_steps_on_window_ends_and_the_last_batch(tmp_path: Path) -> None:
    model = Recording()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, accumulate_grad_batches=2))
    trainer.fit(model, tiny_loader(n=20))  # 5 batches
    assert [i for kind, i in model.events if kind == "step"] == [1, 3, 4]
    assert [i for kind, i in model.events if kind == "zero_grad"] == [0, 2, 4]
    assert trainer.global_step == 3
    # outputs["loss"] is the divided loss (batch 4 is the window's only batch, still halved)
    losses = [ratio for kind, ratio in model.events if kind == "loss"]
    assert losses[0] == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_limits_the_gradients(tmp_path: Path, algorithm: str) -> None:
    norms: list[float] = []

    class Spy(TinyModule):
        def on_before_optimizer_step(self, optimizer: Any) -> None:
            grad = self.layer.weight.grad
            norms.append(grad.norm().item() if algorithm == "norm" else grad.abs().max().item())

    trainer = L.Trainer(
        **quiet_kwargs(
            tmp_path, max_epochs=1, gradient_clip_val=0.01, gradient_clip_algorithm=algorithm
        )
    )
    trainer.fit(Spy(), tiny_loader())
    # on_before_optimizer_step runs before clipping; read the clipped grads from the weights.
    assert norms and max(norms) > 0.01
    grad = trainer.lightning_module.layer.weight.grad
    value = grad.norm().item() if algorithm == "norm" else grad.abs().max().item()
    assert value <= 0.01 + 1e-6


class Manual(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.other = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt_a, opt_b = self.optimizers()
        sched = self.lr_schedulers()
        loss = self.loss(batch) + self.other(batch[0]).pow(2).mean()
        opt_a.zero_grad()
        opt_b.zero_grad()
        self.manual_backward(loss)
        opt_a.step()
        opt_b.step()
        if self.trainer.is_last_batch:
            sched.step()
        return loss

    def configure_optimizers(self) -> Any:
        opt_a = torch.optim.SGD(self.layer.parameters(), lr=1.0)
        opt_b = torch.optim.Adam(self.other.parameters())
        return [opt_a, opt_b], [_step_lr(opt_a)]


def test_manual_optimization_counts_every_optimizer_step(tmp_path: Path) -> None:
    model = Manual()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2))
    trainer.fit(model, tiny_loader(n=12))  # 3 batches x 2 optimizers x 2 epochs
    assert trainer.global_step == 12
    opt_a, opt_b = model.optimizers()
    assert isinstance(opt_a, LightningOptimizer) and isinstance(opt_a, torch.optim.SGD)
    assert type(opt_b).__name__ == "LightningAdam"
    assert model.optimizers(use_pl_optimizer=False)[0] is trainer.optimizers[0]
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.25)


def test_manual_optimization_refuses_trainer_clipping_and_accumulation(tmp_path: Path) -> None:
    for kwargs in ({"gradient_clip_val": 1.0}, {"accumulate_grad_batches": 2}):
        trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, **kwargs))
        with pytest.raises(MisconfigurationException, match="manual optimization"):
            trainer.fit(Manual(), tiny_loader())


def test_two_optimizers_need_manual_optimization(tmp_path: Path) -> None:
    class Two(TinyModule):
        def configure_optimizers(self) -> Any:
            return [
                torch.optim.SGD(self.parameters(), lr=0.1),
                torch.optim.SGD(self.parameters(), lr=0.1),
            ]

    with pytest.raises(RuntimeError, match="manual optimization"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(Two(), tiny_loader())


def test_manual_backward_in_automatic_mode_raises(tmp_path: Path) -> None:
    class Wrong(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.manual_backward(self.loss(batch))
            return self.loss(batch)

    with pytest.raises(MisconfigurationException, match="automatic_optimization"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(Wrong(), tiny_loader())


def test_training_step_returning_none_skips_backward_but_counts_the_step(tmp_path: Path) -> None:
    class Skip(TinyModule):
        def training_step(self, batch: Any, batch_idx: int) -> None:
            return None

    model = Skip()
    before = model.layer.weight.detach().clone()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    with pytest.warns(UserWarning, match="returned `None`"):
        trainer.fit(model, tiny_loader())
    assert trainer.global_step == 5 and torch.equal(before, model.layer.weight)
