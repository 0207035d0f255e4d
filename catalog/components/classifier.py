"""A small multilayer perceptron classifier that logs loss and accuracy."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

import trainer_core as L
from catalog.compat import declares
from catalog.components._batches import features
from catalog.components._limits import (
    MAX_CLASSES,
    MAX_FEATURES,
    MAX_WIDTH,
    LearningRate,
    check_parameter_count,
    checked_params,
)


class MLPClassifier(L.LightningModule):
    """Linear-ReLU-(Dropout)-Linear classifier with cross-entropy loss.

    Logs `<stage>_loss` and `<stage>_acc` for train, val and test. `predict_step` returns the
    class probabilities of each sample (softmax over `num_classes`).
    """

    def __init__(
        self,
        input_dim: Annotated[
            int, Field(ge=1, le=MAX_FEATURES, description="Width of a flattened sample.")
        ] = 64,
        hidden_dim: Annotated[
            int, Field(ge=1, le=MAX_WIDTH, description="Width of the hidden layer.")
        ] = 64,
        num_classes: Annotated[
            int, Field(ge=2, le=MAX_CLASSES, description="Number of classes.")
        ] = 10,
        dropout: Annotated[float, Field(ge=0, lt=1, description="Dropout probability.")] = 0.0,
        lr: LearningRate = 1e-3,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )

    @declares("input_dim")
    def input_width(params: dict[str, Any]) -> int:  # catalog.compat: checked at submit
        return int(params["input_dim"])

    @declares("num_classes")
    def class_count(params: dict[str, Any]) -> int:
        return int(params["num_classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _shared_step(self, batch: Any, stage: str) -> torch.Tensor:
        x, y = features(batch), batch[1]
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        acc = (logits.argmax(dim=1) == y).float().mean()
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        self.log(f"{stage}_acc", acc, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        return torch.softmax(self(features(batch)), dim=1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


def _fits(params: Any) -> None:
    count = params.input_dim * params.hidden_dim + params.hidden_dim * params.num_classes
    check_parameter_count(count, "input_dim, hidden_dim or num_classes")


PARAMS = checked_params(MLPClassifier, "mlp_classifier", _fits)
