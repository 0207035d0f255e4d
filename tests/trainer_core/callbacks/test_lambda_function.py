"""LambdaCallback: every hook function is called where Lightning calls it, with its arguments."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same_order, run_probe, sub


def lambda_scenario(L: ModuleType, root: Path) -> list[str]:
    LambdaCallback = sub(L, "callbacks").LambdaCallback
    calls: list[str] = []

    def recorder(name: str) -> Any:
        def hook(trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
            # Lightning passes setup/teardown's stage by keyword; trainer_core by position
            assert isinstance(trainer, L.Trainer) and isinstance(pl_module, L.LightningModule)
            calls.append(f"{name}/{len(args) + len(kwargs)}")

        return hook

    names = [p for p in inspect.signature(LambdaCallback.__init__).parameters if p != "self"]
    callback = LambdaCallback(**{name: recorder(name) for name in names})
    run_probe(L, root, dict(n_train=8), dict(max_epochs=1), callbacks=(callback,))
    return calls


@requires_lightning
def test_every_lambda_runs_like_lightning(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    reference = lambda_scenario(ref_L, tmp_path / "ref")
    candidate = lambda_scenario(L, tmp_path / "cand")
    assert_same_order(candidate, reference)
    assert "on_train_batch_end/3" in candidate  # outputs, batch, batch_idx
    assert "on_predict_epoch_end/0" in candidate
