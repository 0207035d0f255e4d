"""ModelPruning under Lightning and trainer_core: the same masks each epoch, the same final
(permanently pruned) weights, the same checkpointed state dict."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import trainer_core as tc
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor
from tests.trainer_core.harness import assert_same_value, load_ckpt, sub
from trainer_core.callbacks import ModelPruning
from trainer_core.utilities.exceptions import MisconfigurationException


@functools.cache
def make_two_layer_model(L: ModuleType) -> type:
    class TwoLayer(make_regressor(L)):
        def __init__(self) -> None:
            super().__init__(lr=0.05)
            self.hidden = torch.nn.Linear(8, 16)
            self.layer = torch.nn.Linear(16, 1)
            self.masks: list[dict[str, torch.Tensor]] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(torch.relu(self.hidden(x)))

        def on_train_epoch_end(self) -> None:  # runs after the pruning callback's hook
            self.masks.append(
                {k: v.clone() for k, v in self.named_buffers() if k.endswith("_mask")}
            )

    return TwoLayer


def _prune(L: ModuleType, root: Path, make_callback: Any) -> dict[str, Any]:
    L.seed_everything(0, verbose=False)
    model = make_two_layer_model(L)()
    checkpoint = sub(L, "callbacks").ModelCheckpoint(dirpath=root / "ckpt")
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=3, callbacks=[make_callback(L, model), checkpoint],
        logger=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model)
    saved = load_ckpt(next((root / "ckpt").glob("*.ckpt")))
    return {
        "masks": model.masks,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
        "checkpoint_state_dict": saved["state_dict"],
    }


CASES = {
    "global-l1-lottery": lambda L, m: sub(L, "callbacks").ModelPruning(
        "l1_unstructured", amount=0.3
    ),
    "local-ln-structured-schedule": lambda L, m: sub(L, "callbacks").ModelPruning(
        "ln_structured",
        parameters_to_prune=[(m.hidden, "weight")],
        pruning_dim=0,
        pruning_norm=1,
        use_global_unstructured=False,
        amount=lambda epoch: 0.25 * (epoch + 1),
        use_lottery_ticket_hypothesis=False,
    ),  # fmt: skip
    "on-validation-weights-only": lambda L, m: sub(L, "callbacks").ModelPruning(
        "l1_unstructured",
        parameter_names=["weight"],
        amount=2,
        prune_on_train_epoch_end=False,
        apply_pruning=lambda epoch: epoch != 1,
    ),  # fmt: skip
}


@requires_lightning
@pytest.mark.parametrize("make_callback", CASES.values(), ids=CASES)
def test_pruning_masks_and_weights_match_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, make_callback: Any
) -> None:
    ours = _prune(L, tmp_path / "ours", make_callback)
    theirs = _prune(ref_L, tmp_path / "theirs", make_callback)
    assert_same_value("pruning", ours, theirs)
    assert all(not k.endswith(("_orig", "_mask")) for k in ours["weights"])  # made permanent
    zeros = sum(int((v == 0).sum()) for v in ours["weights"].values())
    assert zeros > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pruning_fn": "l2_magic"}, "isn't available in PyTorch"),
        ({"pruning_fn": "ln_structured", "use_global_unstructured": False}, "pruning_dim"),
        ({"pruning_fn": "l1_unstructured", "parameter_names": ["gamma"]}, "parameter_names"),
        ({"pruning_fn": "random_structured", "pruning_dim": 0}, "unstructured"),
        ({"pruning_fn": "l1_unstructured", "amount": "half"}, "`amount` should be provided"),
        ({"pruning_fn": "l1_unstructured", "verbose": 3}, "`verbose` must be"),
    ],
)
def test_bad_pruning_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(MisconfigurationException, match=match):
        ModelPruning(**kwargs)


def test_parameters_not_in_the_model_are_named() -> None:
    model = make_two_layer_model(tc)()
    stray = torch.nn.Linear(2, 2)
    with pytest.raises(MisconfigurationException, match="missing modules"):
        ModelPruning.sanitize_parameters_to_prune(model, [(stray, "weight")])
