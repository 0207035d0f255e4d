"""save_hyperparameters / hparams, shared by LightningModule and LightningDataModule."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import types
import warnings
from argparse import Namespace
from collections.abc import MutableMapping, Sequence
from typing import Any

import torch.nn as nn

from trainer_core.utilities.parsing import AttributeDict

_PRIMITIVES = (bool, int, float, str, bytes, type(None))


class HyperparametersMixin:
    """Records the ``__init__`` arguments as ``self.hparams``."""

    __jit_unused_properties__: list[str] = ["hparams", "hparams_initial"]
    _hparams: Any
    _hparams_initial: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log_hyperparams = False

    def save_hyperparameters(
        self,
        *args: Any,
        ignore: Sequence[str] | str | None = None,
        frame: types.FrameType | None = None,
        logger: bool = True,
    ) -> None:
        """Save init arguments (all of them, the named ones, or one container) as hparams."""
        self._log_hyperparams = logger
        if frame is None:
            current = inspect.currentframe()
            frame = current.f_back if current is not None else None
        init_args = _collect_init_args(self, frame) if frame is not None else {}
        if dataclasses.is_dataclass(self) and not init_args:
            init_args = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        hparams, name = _select_hparams(args, init_args)
        ignored = [ignore] if isinstance(ignore, str) else list(ignore or [])
        for key in ignored:
            hparams.pop(key, None)
            if hasattr(self, "_hparams"):
                self._hparams.pop(key, None)
        for key, value in hparams.items():
            if isinstance(value, nn.Module):
                warnings.warn(
                    f"Attribute {key!r} is an instance of `nn.Module` and is already saved during "
                    f"checkpointing. It is recommended to ignore them using "
                    f"`self.save_hyperparameters(ignore=[{key!r}])`.",
                    stacklevel=2,
                )
        self._hparams_name = name
        self._set_hparams(hparams)
        self._hparams_initial = copy.deepcopy(self._hparams)

    def _set_hparams(self, hp: Any) -> None:
        if isinstance(hp, Namespace):
            hp = vars(hp)
        if isinstance(hp, dict):
            hp = AttributeDict(hp)
        elif not isinstance(hp, MutableMapping):
            raise ValueError(f"Unsupported hparams type {type(hp).__name__}: pass a dict.")
        if hasattr(self, "_hparams") and isinstance(self._hparams, AttributeDict):
            merged = AttributeDict(self._hparams)
            merged.update(hp)
            hp = merged
        self._hparams = hp

    @property
    def hparams(self) -> AttributeDict | MutableMapping:
        """The saved hyperparameters; mutable, and what a checkpoint stores."""
        if not hasattr(self, "_hparams"):
            self._hparams = AttributeDict()
        return self._hparams

    @property
    def hparams_initial(self) -> AttributeDict:
        """A frozen copy taken at save time; this is what loggers receive."""
        if not hasattr(self, "_hparams_initial"):
            return AttributeDict()
        return copy.deepcopy(self._hparams_initial)


def drop_unpicklable(hparams: MutableMapping) -> None:
    """Remove values a checkpoint could not store, as Lightning does when a run starts."""
    for key in [k for k, v in hparams.items() if not _is_picklable(v)]:
        warnings.warn(
            f"Attribute '{key}' removed from hparams because it cannot be pickled. You can "
            f"suppress this warning by setting `self.save_hyperparameters(ignore=['{key}'])`.",
            stacklevel=2,
        )
        del hparams[key]


def _is_picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except (pickle.PickleError, AttributeError, RuntimeError, TypeError):
        return False
    return True


def _collect_init_args(obj: Any, frame: types.FrameType) -> dict[str, Any]:
    """Arguments of every ``__init__`` of ``obj`` on the stack; derived classes win."""
    collected: list[dict[str, Any]] = []
    current: types.FrameType | None = frame
    while current is not None and current.f_code.co_name == "__init__":
        info = inspect.getargvalues(current)
        if not info.args or current.f_locals.get(info.args[0]) is not obj:
            break
        local_vars = info.locals
        args = {name: local_vars[name] for name in info.args[1:] if name in local_vars}
        if info.keywords and isinstance(local_vars.get(info.keywords), dict):
            args.update(local_vars[info.keywords])
        args.pop("__class__", None)
        collected.append(args)
        current = current.f_back
    result: dict[str, Any] = {}
    for args in collected:  # nearest frame is the base class; later (derived) ones override
        result.update(args)
    return result


def _select_hparams(args: tuple[Any, ...], init_args: dict[str, Any]) -> tuple[Any, str | None]:
    """Pick what to save from the positional arguments of ``save_hyperparameters``."""
    if not args:
        return dict(init_args), "kwargs"
    if len(args) == 1 and not isinstance(args[0], str):
        container = args[0]
        if isinstance(container, _PRIMITIVES):
            raise ValueError(
                f"save_hyperparameters() got a primitive value {container!r}: pass init argument "
                "names as strings, or one dict/Namespace."
            )
        name = next((k for k, v in init_args.items() if v is container), None)
        hp = vars(container) if isinstance(container, Namespace) else container
        return (dict(hp) if not _is_omegaconf(hp) else hp), name
    names = [a for a in args if isinstance(a, str)]
    missing = [n for n in names if n not in init_args]
    if missing:
        raise ValueError(f"save_hyperparameters(): {missing} are not arguments of __init__.")
    return {n: init_args[n] for n in names}, "kwargs"


def _is_omegaconf(value: Any) -> bool:
    return type(value).__module__.startswith("omegaconf")
