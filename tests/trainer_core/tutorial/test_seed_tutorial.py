"""The seed tutorial (LitAutoEncoder) run through trainer_core with only the import changed.

``tutorial`` is tests/trainer_core/seed_tutorial.py, bound to the trainer under test (see
conftest.py); run with TRAINYARD_COMPAT_CANDIDATE=lightning to check these tests on Lightning.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from tests.trainer_core.data import digits_loader, digits_split

LIMIT = 20  # training batches per epoch in these tests: enough to move the loss, a second of CPU


def quiet(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    return dict(
        default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False, **kwargs
    )


def full_mse(model: nn.Module, split: str) -> float:
    """Mean reconstruction error over every image of ``split``, computed without any trainer."""
    x = torch.stack([digits_split(split)[i][0] for i in range(len(digits_split(split)))])
    x = x.view(x.size(0), -1)
    with torch.no_grad():
        return nn.functional.mse_loss(model.decoder(model.encoder(x)), x).item()


def trained_autoencoder(L: ModuleType, tutorial: ModuleType, tmp_path: Path) -> tuple[Any, Any]:
    L.seed_everything(0)
    autoencoder = tutorial.LitAutoEncoder(tutorial.make_encoder(), tutorial.make_decoder())
    trainer = L.Trainer(limit_train_batches=LIMIT, max_epochs=1, **quiet(tmp_path))
    trainer.fit(model=autoencoder, train_dataloaders=digits_loader("train", shuffle=True))
    return autoencoder, trainer


def test_tutorial_is_bound_to_the_trainer_under_test(L: ModuleType, tutorial: ModuleType) -> None:
    """Guard: the tutorial's classes must derive from the candidate, or every test proves nothing."""
    assert tutorial.L is L
    assert issubclass(tutorial.LitAutoEncoder, L.LightningModule)
    assert issubclass(tutorial.DigitsDataModule, L.LightningDataModule)
    assert tutorial.EarlyStopping.__module__.split(".")[0] == L.__name__


def test_fit_with_limits_trains_and_writes_the_tutorial_checkpoint(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    L.seed_everything(0)
    autoencoder = tutorial.LitAutoEncoder(tutorial.make_encoder(), tutorial.make_decoder())
    before = full_mse(autoencoder, "val")
    # The tutorial's own call, with defaults (progress bar, summary, logger, checkpointing) on.
    trainer = L.Trainer(limit_train_batches=LIMIT, max_epochs=1, default_root_dir=tmp_path)
    trainer.fit(model=autoencoder, train_dataloaders=digits_loader("train", shuffle=True))

    assert trainer.global_step == LIMIT
    assert trainer.current_epoch == 1
    assert full_mse(autoencoder, "val") < 0.8 * before, "training did not reduce the loss"
    ckpt = tmp_path / f"lightning_logs/version_0/checkpoints/epoch=0-step={LIMIT}.ckpt"
    assert ckpt.is_file(), sorted(p.name for p in tmp_path.rglob("*"))
    assert "train_loss" in trainer.callback_metrics


def test_load_from_checkpoint_restores_the_trained_weights(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    autoencoder, _ = trained_autoencoder(L, tutorial, tmp_path)
    checkpoint = tmp_path / f"lightning_logs/version_0/checkpoints/epoch=0-step={LIMIT}.ckpt"
    # As in the tutorial: modules not saved as hyperparameters are passed back in.
    loaded = tutorial.LitAutoEncoder.load_from_checkpoint(
        checkpoint, encoder=tutorial.make_encoder(), decoder=tutorial.make_decoder()
    )
    encoder = loaded.encoder
    encoder.eval()
    fake_image_batch = torch.rand(4, 28 * 28, device=loaded.device)
    with torch.no_grad():
        embeddings = encoder(fake_image_batch)
        expected = autoencoder.encoder(fake_image_batch)
    assert embeddings.shape == (4, 3)
    torch.testing.assert_close(embeddings, expected, rtol=0, atol=0)


def test_validate_and_test_return_the_dataset_mean_loss(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    autoencoder, trainer = trained_autoencoder(L, tutorial, tmp_path)
    val = trainer.validate(autoencoder, dataloaders=digits_loader("val"))
    test = trainer.test(autoencoder, dataloaders=digits_loader("test"), verbose=False)

    # Batch-size-weighted epoch means of per-batch MSEs == the MSE over the whole split.
    expected = full_mse(autoencoder, "val")
    assert list(val[0]) == ["val_loss"] and len(val) == 1
    assert val[0]["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert list(test[0]) == ["test_loss"] and len(test) == 1
    assert test[0]["test_loss"] == pytest.approx(full_mse(autoencoder, "test"), rel=1e-5)


def test_predict_returns_one_embedding_batch_per_input_batch(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    autoencoder, trainer = trained_autoencoder(L, tutorial, tmp_path)
    predictions = trainer.predict(autoencoder, dataloaders=digits_loader("predict"))

    n = len(digits_split("predict"))
    assert len(predictions) == math.ceil(n / 32)
    assert all(p.shape[1:] == (3,) and p.device.type == "cpu" for p in predictions)
    x = torch.stack([digits_split("predict")[i][0] for i in range(n)]).view(n, -1)
    with torch.no_grad():
        torch.testing.assert_close(torch.cat(predictions), autoencoder.encoder(x))


def test_save_hyperparameters_round_trips_through_the_checkpoint(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    model = tutorial.LitAutoEncoderHP(hidden_dim=32, latent_dim=4)
    assert dict(model.hparams) == {"hidden_dim": 32, "latent_dim": 4, "learning_rate": 1e-3}
    assert model.hparams.hidden_dim == 32
    trainer = L.Trainer(limit_train_batches=5, max_epochs=1, **quiet(tmp_path))
    trainer.fit(model, train_dataloaders=digits_loader("train"))

    ckpt_path = tmp_path / "lightning_logs/version_0/checkpoints/epoch=0-step=5.ckpt"
    raw = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    assert raw["hyper_parameters"] == {"hidden_dim": 32, "latent_dim": 4, "learning_rate": 1e-3}

    # No init args needed: they come from the checkpoint, and the shapes follow them.
    loaded = tutorial.LitAutoEncoderHP.load_from_checkpoint(ckpt_path)
    assert loaded.encoder[2].out_features == 4
    for name, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value, rtol=0, atol=0)
    # Keyword arguments override the saved hyperparameters.
    overridden = tutorial.LitAutoEncoderHP.load_from_checkpoint(ckpt_path, learning_rate=0.5)
    assert overridden.hparams.learning_rate == 0.5 and overridden.hparams.hidden_dim == 32


def test_datamodule_drives_fit_validate_test_and_predict(
    L: ModuleType, tutorial: ModuleType, tmp_path: Path
) -> None:
    L.seed_everything(0)
    dm = tutorial.DigitsDataModule(batch_size=32)
    model = tutorial.LitAutoEncoder(tutorial.make_encoder(), tutorial.make_decoder())
    trainer = L.Trainer(max_epochs=1, limit_train_batches=10, **quiet(tmp_path))
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 10

    val = trainer.validate(model, datamodule=dm, verbose=False)
    test = trainer.test(model, datamodule=dm, verbose=False)
    predictions = trainer.predict(model, datamodule=dm)
    assert dm.stages_set_up == ["fit", "validate", "test", "predict"]
    # The datamodule's loaders give the same numbers as passing the loaders directly.
    direct = trainer.validate(model, dataloaders=digits_loader("val"), verbose=False)
    assert val[0]["val_loss"] == pytest.approx(direct[0]["val_loss"], rel=1e-6)
    assert test[0]["test_loss"] == pytest.approx(full_mse(model, "test"), rel=1e-5)
    assert sum(len(p) for p in predictions) == len(digits_split("predict"))
