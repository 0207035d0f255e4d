"""Shared tiny doubles for the trainer_core tests: a boring module, random data, a hook recorder.

Everything here is built *per namespace* (``L`` is either ``trainer_core`` or ``lightning``), so the
very same class body runs under both trainers: that is what makes the differential tests fair.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from trainer_core.loggers import CSVLogger

# --- compat proof: random data, boring module, hook recorder ------------------------------------


class RandomDataset(Dataset):
    """``length`` rows of ``size`` features from a private generator (global RNG untouched)."""

    def __init__(self, size: int = 32, length: int = 64, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.data = torch.randn(length, size, generator=gen)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.data[index]

    def __len__(self) -> int:
        return len(self.data)


@functools.cache
def make_boring_model(L: ModuleType) -> type:
    """Lightning's BoringModel (Linear(32, 2), SGD + StepLR) for namespace ``L``."""

    class BoringModel(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def loss(self, preds: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.mse_loss(preds, torch.ones_like(preds))

        def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
            return {"loss": self.loss(self(batch))}

        def validation_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
            return {"x": self.loss(self(batch))}

        def test_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
            return {"y": self.loss(self(batch))}

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.layer.parameters(), lr=0.1)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1)]

        def train_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=1))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=2))

        def test_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=3))

        def predict_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=4))

    return BoringModel


# Every LightningModule method the spec's §1 names. Recording one at class level makes it count as
# "overridden" for both trainers, which is what Lightning's own test_hooks.py does too.
MODULE_HOOKS = (
    "configure_callbacks", "prepare_data", "setup", "configure_model", "configure_optimizers",
    "on_fit_start", "on_fit_end", "zero_grad", "train", "teardown",
    "train_dataloader", "val_dataloader", "test_dataloader", "predict_dataloader",
    "on_validation_model_zero_grad", "on_validation_model_eval", "on_test_model_eval",
    "on_predict_model_eval", "on_train_start", "on_train_end", "on_train_epoch_start",
    "on_train_epoch_end", "on_train_batch_start", "on_train_batch_end", "on_validation_start",
    "on_validation_end", "on_validation_epoch_start", "on_validation_epoch_end",
    "on_validation_batch_start", "on_validation_batch_end", "on_test_start", "on_test_end",
    "on_test_epoch_start", "on_test_epoch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_start", "on_predict_end", "on_predict_epoch_start", "on_predict_epoch_end",
    "on_predict_batch_start", "on_predict_batch_end",
    "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer",
    "forward", "training_step", "validation_step", "test_step", "predict_step",
    "on_before_zero_grad", "optimizer_zero_grad", "on_before_backward", "backward",
    "on_after_backward", "on_before_optimizer_step", "configure_gradient_clipping",
    "clip_gradients", "optimizer_step", "lr_scheduler_step", "manual_backward",
    "on_save_checkpoint", "on_load_checkpoint", "load_state_dict",
    "on_validation_model_train", "on_test_model_train",
)  # fmt: skip

# Wrapping these when the user did not write them would change behaviour (a step method switches a
# loop on; a model_train hook is called only when overridden), so they are recorded only if the
# recorded class defines them itself.
RECORD_ONLY_IF_OVERRIDDEN = frozenset(
    {"training_step", "validation_step", "test_step", "on_validation_model_train",
     "on_test_model_train"}
)  # fmt: skip

CALLBACK_HOOKS = (
    "setup", "teardown", "on_fit_start", "on_fit_end", "on_sanity_check_start",
    "on_sanity_check_end", "on_train_start", "on_train_end", "on_train_epoch_start",
    "on_train_epoch_end", "on_train_batch_start", "on_train_batch_end", "on_validation_start",
    "on_validation_end", "on_validation_epoch_start", "on_validation_epoch_end",
    "on_validation_batch_start", "on_validation_batch_end", "on_test_start", "on_test_end",
    "on_test_epoch_start", "on_test_epoch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_start", "on_predict_end", "on_predict_epoch_start", "on_predict_epoch_end",
    "on_predict_batch_start", "on_predict_batch_end", "on_before_zero_grad",
    "on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_exception",
    "state_dict", "on_save_checkpoint", "on_load_checkpoint", "load_state_dict",
)  # fmt: skip


def _label(prefix: str, name: str, args: tuple, kwargs: dict, stage_pos: int) -> str:
    """``setup``/``teardown`` carry their stage and ``train`` its mode; other hooks just a name."""
    if name in ("setup", "teardown"):
        stage = kwargs.get("stage", args[stage_pos] if len(args) > stage_pos else None)
        # Lightning passes a str-Enum (TrainerFn.FITTING == "fit"); record the plain string.
        return f"{prefix}{name}({getattr(stage, 'value', stage)})"
    if name == "train":
        mode = kwargs.get("mode", args[0] if args else True)
        return f"{prefix}train({mode})"
    return f"{prefix}{name}"


def _recording_method(base: type, name: str, prefix: str, stage_pos: int) -> Any:
    def hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        log = self.__dict__.get("hook_log")
        if log is not None:
            log.append(_label(prefix, name, args, kwargs, stage_pos))
        return getattr(base, name)(self, *args, **kwargs)

    hook.__name__ = name
    return hook


def record_module_hooks(cls: type, L: ModuleType) -> type:
    """A subclass of ``cls`` whose instances append each hook's name to ``self.hook_log`` on entry.

    Set ``model.hook_log = []`` after construction; without it the hooks record nothing (so a
    model rebuilt by ``load_from_checkpoint`` works unchanged).
    """
    base_module = L.LightningModule
    names = [
        n
        for n in MODULE_HOOKS
        if n not in RECORD_ONLY_IF_OVERRIDDEN
        or getattr(cls, n) is not getattr(base_module, n, None)
    ]
    body = {n: _recording_method(cls, n, "", 0) for n in names}
    return type(cls.__name__, (cls,), body)


def make_recorder_callback(L: ModuleType, log: list[str], state: dict | None = None) -> Any:
    """A Callback recording every hook as ``CB.<name>`` into ``log``.

    ``state`` is what its ``state_dict`` returns: only callbacks with a non-empty state get
    ``load_state_dict`` on resume, so resume scenarios pass one.
    """

    class HookRecorder(L.Callback):
        def __init__(self) -> None:
            self.hook_log = log

        def state_dict(self) -> dict[str, Any]:
            self.hook_log.append("CB.state_dict")
            return dict(state or {})

    for name in CALLBACK_HOOKS:
        if name == "state_dict":
            continue
        setattr(HookRecorder, name, _recording_method(L.Callback, name, "CB.", 2))
    return HookRecorder()


DATAMODULE_HOOKS = (
    "prepare_data", "setup", "teardown", "train_dataloader", "val_dataloader", "test_dataloader",
    "predict_dataloader", "state_dict", "load_state_dict", "on_before_batch_transfer",
    "transfer_batch_to_device", "on_after_batch_transfer",
)  # fmt: skip


@functools.cache
def make_boring_datamodule(L: ModuleType) -> type:
    """A datamodule with BoringModel's data and a non-empty state (so it is checkpointed)."""

    class BoringDataModule(L.LightningDataModule):
        def __init__(self) -> None:
            super().__init__()
            self.loaded_state: dict | None = None

        def prepare_data(self) -> None:
            pass

        def setup(self, stage: str) -> None:
            pass

        def teardown(self, stage: str) -> None:
            pass

        def train_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=1))

        def val_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=2))

        def test_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=3))

        def predict_dataloader(self) -> DataLoader:
            return DataLoader(RandomDataset(32, 64, seed=4))

        def state_dict(self) -> dict[str, Any]:
            return {"epoch_seen": 1}

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self.loaded_state = state_dict

    return BoringDataModule


def record_datamodule_hooks(cls: type) -> type:
    """Like ``record_module_hooks``, for a datamodule: entries are ``DM.<name>``."""
    body = {n: _recording_method(cls, n, "DM.", 0) for n in DATAMODULE_HOOKS}
    return type(cls.__name__, (cls,), body)


# --- unit-test doubles (trainer_core only; added by the trainer_core engineer) ------------------


def tiny_loader(
    n: int = 20, batch_size: int = 4, dim: int = 4, seed: int = 0, **kwargs: Any
) -> DataLoader:
    """``n`` rows of ``dim`` random features as 1-tuples, from a private generator."""
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(torch.randn(n, dim, generator=gen)), batch_size=batch_size, **kwargs
    )


def make_tiny_module(L: ModuleType) -> type:
    """Linear(4, 1) regressor: logs ``train_loss`` and ``val_loss``, SGD(lr) and no scheduler."""

    class TinyModule(L.LightningModule):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def loss(self, batch: Any) -> torch.Tensor:
            return self(batch[0]).pow(2).mean()

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self.loss(batch))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return TinyModule


def quiet_kwargs(root: Any, **overrides: Any) -> dict[str, Any]:
    """Trainer kwargs for unit tests: files under ``root``, no bar, no summary, CSV logs."""
    kwargs: dict[str, Any] = dict(
        default_root_dir=root, enable_progress_bar=False, enable_model_summary=False,
        logger=CSVLogger(root),
    )  # fmt: skip
    kwargs.update(overrides)
    return kwargs


# --- tuner / callback doubles (issue 16) ---------------------------------------------------------

CUDA_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 8.00 GiB total capacity)"
CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes."


def regression_data(n: int, seed: int) -> TensorDataset:
    """``n`` rows of y = x . w + noise (8 features), from a private generator."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    y = x @ torch.linspace(-1.0, 1.0, 8) + 0.1 * torch.randn(n, generator=gen)
    return TensorDataset(x, y.unsqueeze(1))


@functools.cache
def make_regressor(L: ModuleType) -> type:
    """Linear regression with ``hparams.lr`` and ``hparams.batch_size`` (what the tuners tune).

    ``oom_above``: a batch larger than this raises the out-of-memory error ``oom_message``
    (a CUDA or CPU allocator message), the way a too-large batch fails on a real device.
    """

    class Regressor(L.LightningModule):
        def __init__(
            self, lr: float = 0.05, batch_size: int = 4, n_train: int = 96, n_eval: int = 32,
            oom_above: int | None = None, oom_message: str = CUDA_OOM,
        ) -> None:  # fmt: skip
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer(x)

        def _step(self, batch: Any) -> torch.Tensor:
            x, y = batch
            limit = self.hparams.oom_above
            if limit is not None and len(x) > limit:
                raise torch.OutOfMemoryError(self.hparams.oom_message)
            return torch.nn.functional.mse_loss(self(x), y)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self._step(batch)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self._step(batch))

        def test_step(self, batch: Any, batch_idx: int) -> None:
            self.log("test_loss", self._step(batch))

        def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self._step(batch)
            return self(batch[0])

        def _loader(self, n: int, seed: int) -> DataLoader:
            return DataLoader(regression_data(n, seed), batch_size=self.hparams.batch_size)

        def train_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_train, 1)

        def val_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_eval, 2)

        def test_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_eval, 3)

        def predict_dataloader(self) -> DataLoader:
            return self._loader(self.hparams.n_eval, 4)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Regressor
