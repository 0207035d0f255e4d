"""Every load path reads checkpoints with `weights_only=True` unless told otherwise, as Lightning.

A crafted file (a pickle whose `__reduce__` runs code) is refused by every entry point and its
payload never runs; `weights_only=False` is the explicit opt-out for trusted files whose
hyperparameters hold other objects, and Lightning answers those files the same way. What
trainer_core writes itself (every callback, scheduler, precision and logger) loads in a process
that has only torch and Lightning.
"""

from __future__ import annotations

import enum
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning
import pytest
import torch
import yaml

import trainer_core as L
from tests.interop import Entry, load_in_lightning_only
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.callbacks import EarlyStopping, ModelCheckpoint

TinyModule = make_tiny_module(L)


class Payload:
    """Unpickling this writes `marker`: what a hostile checkpoint would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('payload ran')",))


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """A file that looks like a checkpoint, with the payload among its hyperparameters."""
    state = TinyModule().state_dict()
    torch.save(
        {
            "state_dict": state,
            "epoch": 0,
            "global_step": 0,
            "hyper_parameters": {"lr": Payload(marker)},
        },
        path,
    )
    return path


class Data(L.LightningDataModule):
    def train_dataloader(self) -> Any:
        return tiny_loader()

    def val_dataloader(self) -> Any:
        return tiny_loader()

    def test_dataloader(self) -> Any:
        return tiny_loader()

    def predict_dataloader(self) -> Any:
        return tiny_loader()


def _trainer(root: Path) -> L.Trainer:
    return L.Trainer(**quiet_kwargs(root, max_epochs=1, logger=False))


LOAD_PATHS: dict[str, Callable[[Path, Path], Any]] = {
    "LightningModule.load_from_checkpoint": lambda p, _: TinyModule.load_from_checkpoint(p),
    "LightningModule.load_from_checkpoint(file object)": lambda p, _: (
        TinyModule.load_from_checkpoint(io.BytesIO(p.read_bytes()))
    ),
    "LightningDataModule.load_from_checkpoint": lambda p, _: Data.load_from_checkpoint(p),
    "Trainer.fit(ckpt_path)": lambda p, root: _trainer(root).fit(
        TinyModule(), datamodule=Data(), ckpt_path=p
    ),
    "Trainer.validate(ckpt_path)": lambda p, root: _trainer(root).validate(
        TinyModule(), datamodule=Data(), ckpt_path=p
    ),
    "Trainer.test(ckpt_path)": lambda p, root: _trainer(root).test(
        TinyModule(), datamodule=Data(), ckpt_path=p
    ),
    "Trainer.predict(ckpt_path)": lambda p, root: _trainer(root).predict(
        TinyModule(), datamodule=Data(), ckpt_path=p
    ),
}


@pytest.mark.parametrize("entry_point", sorted(LOAD_PATHS))
def test_a_crafted_checkpoint_is_refused_and_its_payload_never_runs(
    entry_point: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    path = crafted_checkpoint(tmp_path / "crafted.ckpt", marker)

    with pytest.raises(pickle.UnpicklingError, match=r"weights_only=False") as refused:
        LOAD_PATHS[entry_point](path, tmp_path)

    assert "GLOBAL exec" in str(refused.value)  # torch names what it refused
    assert not marker.exists(), "the payload ran"


def test_the_crafted_file_is_live_so_the_refusal_above_means_something(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = crafted_checkpoint(tmp_path / "crafted.ckpt", marker)
    TinyModule.load_from_checkpoint(path, weights_only=False)  # the explicit opt-out: trusted
    assert marker.read_text() == "payload ran"


class Colour(enum.Enum):
    RED = 1


def _module_with(L_: Any) -> type:
    class WithEnum(make_tiny_module(L_)):  # type: ignore[misc]
        def __init__(self, lr: float = 0.1, colour: Colour = Colour.RED) -> None:
            super().__init__(lr)
            self.save_hyperparameters()

    return WithEnum


def test_a_trusted_file_with_other_objects_loads_only_when_asked_as_in_lightning(
    tmp_path: Path,
) -> None:
    WithEnum = _module_with(L)
    callback = ModelCheckpoint(dirpath=tmp_path / "ckpts")
    L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, callbacks=[callback])).fit(
        WithEnum(), tiny_loader()
    )
    path = callback.best_model_path

    for load in (
        lambda **kw: WithEnum.load_from_checkpoint(path, **kw),
        lambda **kw: L.Trainer(**quiet_kwargs(tmp_path, max_epochs=2)).fit(
            WithEnum(), tiny_loader(), ckpt_path=path, **kw
        ),
    ):
        with pytest.raises(pickle.UnpicklingError, match=r"Colour.*|weights_only=False"):
            load()
        load(weights_only=False)
    assert WithEnum.load_from_checkpoint(path, weights_only=False).hparams["colour"] is Colour.RED

    # Lightning 2.6 reads the same file the same way: refused by default, loaded when asked.
    LightningTwin = _module_with(lightning)
    with pytest.raises(pickle.UnpicklingError):
        LightningTwin.load_from_checkpoint(path)
    assert (
        LightningTwin.load_from_checkpoint(path, weights_only=False).hparams["colour"] is Colour.RED
    )


def test_a_file_that_is_no_checkpoint_is_named_as_such_not_as_a_refusal(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        TinyModule.load_from_checkpoint(junk)


class Manual(TinyModule):
    """Manual optimization with two optimizers and a plateau scheduler."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__(lr)
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        first, second = self.optimizers()
        loss = self.loss(batch)
        self.manual_backward(loss)
        first.step()
        second.step()
        first.zero_grad()
        second.zero_grad()
        self.log("train_loss", loss)

    def configure_optimizers(self) -> Any:
        first = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        second = torch.optim.Adam(self.parameters(), lr=0.01)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(first)
        return [first, second], [{"scheduler": plateau, "monitor": "val_loss"}]


class Scheduled(TinyModule):
    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class StatefulData(Data):
    def __init__(self, batch_size: int = 4, shape: tuple[int, ...] = (4,)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.seen = 0

    def state_dict(self) -> dict[str, Any]:
        return {"seen": self.seen}


CONFIGS: dict[str, Callable[[Path], tuple[Any, dict[str, Any]]]] = {
    "defaults (CSVLogger, ModelCheckpoint)": lambda root: (TinyModule(), {}),
    "monitored top-k, last, EarlyStopping, pathlib dirpath": lambda root: (
        TinyModule(),
        {
            "callbacks": [
                ModelCheckpoint(
                    dirpath=root / "ckpts", monitor="val_loss", save_top_k=2, save_last=True
                ),
                EarlyStopping("val_loss", patience=0, min_delta=10.0, check_finite=True),
            ]
        },
    ),
    "every n steps, TensorBoardLogger, OneCycleLR": lambda root: (
        Scheduled(),
        {
            "callbacks": [ModelCheckpoint(every_n_train_steps=2, save_top_k=-1)],
            "logger": L.loggers.TensorBoardLogger(root),
        },
    ),
    "manual optimization, two optimizers, ReduceLROnPlateau": lambda root: (Manual(), {}),
    "16-mixed (GradScaler state)": lambda root: (TinyModule(), {"precision": "16-mixed"}),
    "bf16-mixed": lambda root: (TinyModule(), {"precision": "bf16-mixed"}),
    "64-true": lambda root: (TinyModule(), {"precision": "64-true"}),
}


def test_every_file_trainer_core_writes_loads_in_a_process_with_only_torch_and_lightning(
    tmp_path: Path,
) -> None:
    entries: list[Entry] = []
    for n, (name, make) in enumerate(CONFIGS.items()):
        root = tmp_path / f"run{n}"
        model, options = make(root)
        trainer = L.Trainer(**quiet_kwargs(root, **{"max_epochs": 2, **options}))
        trainer.fit(model, datamodule=StatefulData())
        trainer.save_checkpoint(root / "manual.ckpt")
        files = sorted(root.rglob("*.ckpt"))
        assert files, name
        entries += [Entry(path, "tiny_module") for path in files]
        for hparams_file in root.rglob("hparams.yaml"):
            # The module's and the datamodule's, as Lightning merges them; the tuple as a list.
            hparams = yaml.safe_load(hparams_file.read_text())
            assert hparams == {"lr": 0.1, "batch_size": 4, "shape": [4]}, name

    report = load_in_lightning_only(entries, tmp_path / "child")

    assert report["leaks"] == []
    failures = {p: r["error"] for p, r in report["results"].items() if "error" in r}
    assert failures == {}
    for entry in entries:
        result = report["results"][str(entry.path)]
        assert result["weights_equal"] and result["hparams"] == {"lr": 0.1}
        assert result["datamodule_hparams"] == {"batch_size": 4, "shape": [4]}
