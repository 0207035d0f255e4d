"""The autoencoder of Lightning's tutorial, with its sizes and learning rate as parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

import trainer_core as L
from catalog.compat import declares
from catalog.components._batches import features
from catalog.components._limits import (
    MAX_FEATURES,
    MAX_WIDTH,
    LearningRate,
    check_parameter_count,
    checked_params,
)


class LitAutoEncoder(L.LightningModule):
    """Encoder Linear-ReLU-Linear to a small latent space and a mirrored decoder; MSE loss.

    `predict_step` returns the reconstruction (same width as the input) by default, or the latent
    encoding with `predict_output="encoding"`. Logs train_loss, val_loss and test_loss.
    """

    def __init__(
        self,
        input_dim: Annotated[
            int, Field(ge=1, le=MAX_FEATURES, description="Width of a flattened sample.")
        ] = 64,
        hidden_dim: Annotated[
            int, Field(ge=1, le=MAX_WIDTH, description="Width of the hidden layer.")
        ] = 64,
        latent_dim: Annotated[
            int, Field(ge=1, le=MAX_WIDTH, description="Width of the encoding.")
        ] = 3,
        lr: LearningRate = 1e-3,
        predict_output: Literal["reconstruction", "encoding"] = "reconstruction",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )

    @declares("input_dim")
    def input_width(params: dict[str, Any]) -> int:  # catalog.compat: checked at submit
        return int(params["input_dim"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def _loss(self, batch: Any) -> torch.Tensor:
        x = features(batch)
        return nn.functional.mse_loss(self(x), x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch))

    def predict_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        x = features(batch)
        if self.hparams["predict_output"] == "encoding":
            return self.encoder(x)
        return self(x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


def _fits(params: Any) -> None:
    inner = params.input_dim * params.hidden_dim + params.hidden_dim * params.latent_dim
    check_parameter_count(2 * inner, "input_dim, hidden_dim or latent_dim")


PARAMS = checked_params(LitAutoEncoder, "autoencoder", _fits)
