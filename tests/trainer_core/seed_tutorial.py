"""The seed tutorial's programs (Lightning's LitAutoEncoder), written for ``import lightning as L``
with only the imports changed to trainer_core.

Keep this file as a user would write it: the compatibility tests load it unchanged for
trainer_core, and with exactly the three import lines below swapped back for Lightning.
"""

import torch
from torch import nn, optim

import trainer_core as L
from tests.trainer_core.data import digits_split
from trainer_core.callbacks import EarlyStopping  # noqa: F401  (used by the tests)
from trainer_core.loggers import CSVLogger, TensorBoardLogger  # noqa: F401


def make_encoder() -> nn.Module:
    return nn.Sequential(nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 3))


def make_decoder() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 28 * 28))


class LitAutoEncoder(L.LightningModule):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def _reconstruction_loss(self, batch):
        x, _ = batch
        x = x.view(x.size(0), -1)
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return nn.functional.mse_loss(x_hat, x)

    def training_step(self, batch, batch_idx):
        # training_step defines the train loop. It is independent of forward
        loss = self._reconstruction_loss(batch)
        # Logging to TensorBoard (if installed) by default
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        val_loss = self._reconstruction_loss(batch)
        self.log("val_loss", val_loss)

    def test_step(self, batch, batch_idx):
        test_loss = self._reconstruction_loss(batch)
        self.log("test_loss", test_loss)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        x, _ = batch
        return self.encoder(x.view(x.size(0), -1))

    def configure_optimizers(self):
        optimizer = optim.Adam(self.parameters(), lr=1e-3)
        return optimizer


class LitAutoEncoderHP(LitAutoEncoder):
    """The tutorial's "save your hyperparameters" variant: the init args go into the checkpoint."""

    def __init__(self, hidden_dim: int = 64, latent_dim: int = 3, learning_rate: float = 1e-3):
        encoder = nn.Sequential(
            nn.Linear(28 * 28, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 28 * 28)
        )
        super().__init__(encoder, decoder)
        self.save_hyperparameters()

    def configure_optimizers(self):
        return optim.Adam(self.parameters(), lr=self.hparams.learning_rate)


class DigitsDataModule(L.LightningDataModule):
    """The tutorial's MNISTDataModule, over the bundled digits instead of a download."""

    def __init__(self, batch_size: int = 32):
        super().__init__()
        self.batch_size = batch_size
        self.stages_set_up = []

    def prepare_data(self):
        # download would happen here; the digits ship with scikit-learn
        pass

    def setup(self, stage: str):
        self.stages_set_up.append(stage)
        if stage == "fit":
            self.digits_train = digits_split("train")
            self.digits_val = digits_split("val")
        if stage == "validate":
            self.digits_val = digits_split("val")
        if stage == "test":
            self.digits_test = digits_split("test")
        if stage == "predict":
            self.digits_predict = digits_split("predict")

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.digits_train, batch_size=self.batch_size)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.digits_val, batch_size=self.batch_size)

    def test_dataloader(self):
        return torch.utils.data.DataLoader(self.digits_test, batch_size=self.batch_size)

    def predict_dataloader(self):
        return torch.utils.data.DataLoader(self.digits_predict, batch_size=self.batch_size)


class MyPrintingCallback(L.Callback):
    def on_train_start(self, trainer, pl_module):
        print("Training is starting")

    def on_train_end(self, trainer, pl_module):
        print("Training is ending")
