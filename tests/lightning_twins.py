"""The built-in components (and the service tests' TinyRegressor) written against `lightning`.

Loaded by the interop tests in a process that has only torch and Lightning: this file must import
nothing else. Same `__init__` signatures and layer names as the originals, so Lightning's own
`load_from_checkpoint` rebuilds them from a Trainyard checkpoint (tests/test_interop_twins.py
keeps the two in step).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import nn


class LitAutoEncoder(L.LightningModule):
    def __init__(
        self,
        input_dim: int = 64,
        hidden_dim: int = 64,
        latent_dim: int = 3,
        lr: float = 1e-3,
        predict_output: str = "reconstruction",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )


class MLPClassifier(L.LightningModule):
    def __init__(
        self,
        input_dim: int = 64,
        hidden_dim: int = 64,
        num_classes: int = 10,
        dropout: float = 0.0,
        lr: float = 1e-3,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )


class TinyRegressor(L.LightningModule):
    def __init__(
        self,
        in_dim: int = 8,
        lr: float = 0.05,
        sleep_s: float = 0.0,
        fail_at_step: int = -1,
        say: str = "",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(in_dim, 1)


class TinyModule(L.LightningModule):
    """tests/trainer_core/doubles.py's make_tiny_module."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(4, 1)


class DataModuleTwin(L.LightningDataModule):
    """Any built-in datamodule: Lightning rebuilds it from `datamodule_hyper_parameters`."""

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.save_hyperparameters()


MODULES: dict[str, type[L.LightningModule]] = {
    "autoencoder": LitAutoEncoder,
    "mlp_classifier": MLPClassifier,
    "tiny_regressor": TinyRegressor,
    "tiny_module": TinyModule,
}
