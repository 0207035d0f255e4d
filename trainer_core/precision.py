"""Precision: autocast and loss scaling around the step, backward and optimizer step."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

from trainer_core.data import _apply_to_tensors
from trainer_core.utilities.exceptions import MisconfigurationException

_ALIASES = {
    "32": "32-true", "32-true": "32-true", "16": "16-mixed", "16-mixed": "16-mixed",
    "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed", "64": "64-true", "64-true": "64-true",
    "16-true": "16-true", "bf16-true": "bf16-true",
}  # fmt: skip
_NO_AUTOCAST = contextlib.nullcontext()  # reusable: full precision needs no per-step object
_TRUE_DTYPES = {"64-true": torch.float64, "16-true": torch.float16, "bf16-true": torch.bfloat16}


def parse_precision(value: Any) -> str:
    name = _ALIASES.get(str(value if value is not None else "32-true"))
    if name is None:
        raise MisconfigurationException(
            f"Unsupported precision={value!r}: use '32-true', '16-mixed', 'bf16-mixed', '64-true', "
            "'16-true' or 'bf16-true'."
        )
    return name


class Precision:
    """Full precision: no autocast, no scaling. ``after_closure`` runs hooks + clipping."""

    name = "32-true"
    state_key: str | None = None  # checkpoint key for precision state, when there is any

    def __init__(self, device_type: str) -> None:
        self.device_type = device_type

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return _NO_AUTOCAST

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module

    def convert_input(self, batch: Any) -> Any:
        return batch

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return loss

    def optimizer_step(
        self,
        optimizer: Optimizer,
        closure: Callable[[], Any],
        after_closure: Callable[[Optimizer], None],
        **kwargs: Any,
    ) -> Any:
        def wrapped() -> Any:
            result = closure()
            after_closure(optimizer)
            return result

        return optimizer.step(closure=wrapped, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class MixedPrecision(Precision):
    """torch.autocast, plus a GradScaler for float16."""

    state_key = "MixedPrecision"

    def __init__(self, device_type: str, precision: str) -> None:
        super().__init__(device_type)
        self.name = precision
        self.dtype = torch.float16 if precision == "16-mixed" else torch.bfloat16
        self.scaler = torch.amp.GradScaler(device_type) if precision == "16-mixed" else None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def optimizer_step(
        self,
        optimizer: Optimizer,
        closure: Callable[[], Any],
        after_closure: Callable[[Optimizer], None],
        **kwargs: Any,
    ) -> Any:
        if self.scaler is None:
            return super().optimizer_step(optimizer, closure, after_closure, **kwargs)
        result = closure()
        self.scaler.unscale_(optimizer)  # hooks and clipping see real gradient values
        after_closure(optimizer)
        if result is None and getattr(closure, "automatic", False):
            return None  # the step was skipped (training_step returned None)
        output = self.scaler.step(optimizer, **kwargs)
        self.scaler.update()
        return output

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


class TruePrecision(Precision):
    """The whole model and its float inputs in one dtype (64-true, 16-true, bf16-true)."""

    def __init__(self, device_type: str, precision: str) -> None:
        super().__init__(device_type)
        self.name = precision
        self.dtype = _TRUE_DTYPES[precision]

    def convert_module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(self.dtype)

    def convert_input(self, batch: Any) -> Any:
        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.to(self.dtype) if torch.is_floating_point(t) else t

        return _apply_to_tensors(batch, cast)


def make_precision(precision: str, device_type: str) -> Precision:
    if precision == "32-true":
        return Precision(device_type)
    if precision in ("16-mixed", "bf16-mixed"):
        if precision == "16-mixed" and device_type == "cpu":
            warnings.warn(
                "You passed `Trainer(accelerator='cpu', precision='16-mixed')` but AMP with fp16 is "
                "not supported on CPU. Using `precision='bf16-mixed'` instead.",
                stacklevel=3,
            )
            precision = "bf16-mixed"
        return MixedPrecision(device_type, precision)
    return TruePrecision(device_type, precision)
