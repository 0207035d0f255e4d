"""Reading checkpoints back into modules: ``load_from_checkpoint`` and friends."""

from __future__ import annotations

import csv
import functools
import inspect
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
import yaml

from trainer_core.hooks import ModelHooks, is_overridden
from trainer_core.utilities.exceptions import MisconfigurationException


class restricted_classmethod:  # noqa: N801 - used as a decorator, like classmethod
    """A classmethod that refuses to run from an instance (the result would be discarded)."""

    def __init__(self, method: Any) -> None:
        self.method = method
        functools.update_wrapper(self, method)  # type: ignore[arg-type]

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return functools.partial(self.method, owner)

        @functools.wraps(self.method)
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise TypeError(
                f"The classmethod `{owner.__name__}.{self.method.__name__}` cannot be called on an "
                "instance. Please call it on the class type and make sure the return value is used."
            )

        return refuse


def load_checkpoint_file(
    path: Any, map_location: Any = None, weights_only: bool | None = None
) -> dict[str, Any]:
    """torch.load with an error that names the problem when the file is missing or not a ckpt.

    ``weights_only=None`` means True, as in Lightning 2.6 on torch >= 2.6: only tensors, plain
    containers and numbers are unpickled, so a crafted file cannot run code. Pass
    ``weights_only=False`` for a file you trust that holds other objects (an Enum or a dataclass
    in the hyperparameters, say).
    """
    safe = resolve_weights_only(weights_only)
    if not isinstance(path, (str, os.PathLike)):  # a file-like object
        return _load(path, map_location, safe, name=repr(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Checkpoint file not found: {str(path)!r}. Pass an existing .ckpt path, 'last' or "
            "'best'."
        )
    checkpoint = _load(path, map_location or _default_map_location, safe, name=repr(str(path)))
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{str(path)!r} does not hold a checkpoint dict; got {type(checkpoint)}.")
    return checkpoint


def resolve_weights_only(weights_only: bool | None) -> bool:
    """The one default of every load path: safe unless the caller opts out explicitly."""
    return True if weights_only is None else bool(weights_only)


def _load(source: Any, map_location: Any, weights_only: bool, name: str) -> Any:
    try:
        return torch.load(source, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        if weights_only and _refused_an_object(exc):
            # Lightning lets torch's UnpicklingError through: the same type, saying what to do.
            raise pickle.UnpicklingError(
                f"{name} holds objects that `weights_only=True` refuses to unpickle (only "
                "tensors, plain containers and numbers load that way, so a crafted file cannot "
                "run code). If you trust the file, load it with `weights_only=False`. "
                f"{_refusal_reason(exc)}"
            ) from exc
        raise _unreadable(name, exc) from exc
    except Exception as exc:
        raise _unreadable(name, exc) from exc


def _refused_an_object(exc: Exception) -> bool:
    """torch refused a class or function (a crafted payload, an Enum in hparams), as opposed
    to a file that is no pickle at all (torch words both as "Weights only load failed")."""
    return any(cue in str(exc) for cue in ("GLOBAL", "add_safe_globals", "allowlist"))


def _refusal_reason(exc: Exception) -> str:
    """torch's one line naming the refused global, without its page of advice."""
    lines = [line.strip() for line in str(exc).splitlines()]
    return next((line for line in lines if line.startswith("WeightsUnpickler error")), "")


def _unreadable(name: str, exc: Exception) -> ValueError:
    return ValueError(
        f"{name} is not a readable checkpoint ({type(exc).__name__}: {exc}). Pass a file "
        "written by Trainer.save_checkpoint or ModelCheckpoint."
    )


def _default_map_location(storage: Any, location: str) -> Any:
    """Keep storages where they were saved unless that device is missing here."""
    if location.startswith("cuda") and not torch.cuda.is_available():
        return storage.cpu()
    if location.startswith("mps") and not torch.backends.mps.is_available():
        return storage.cpu()
    return None


class _HparamsLoader(yaml.SafeLoader):
    """yaml's safe loader, plus the one python tag Lightning's hparams.yaml files carry."""


_HparamsLoader.add_constructor(
    "tag:yaml.org,2002:python/tuple",
    lambda loader, node: tuple(loader.construct_sequence(node)),  # type: ignore[arg-type]
)


def _load_hparams_file(path: Any) -> dict[str, Any]:
    suffix = Path(path).suffix
    if suffix in (".yaml", ".yml"):
        with open(path) as handle:
            return yaml.load(handle, Loader=_HparamsLoader) or {}  # noqa: S506 - a safe loader
    if suffix == ".csv":
        with open(path) as handle:
            return {row["key"]: yaml.safe_load(row["value"]) for row in csv.DictReader(handle)}
    raise ValueError(f"`hparams_file` must be a .yaml or .csv file, got {path!r}.")


def _init_kwargs(
    cls: Any, checkpoint: dict[str, Any], hparams: dict[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Filter hparams to the __init__ signature, or wrap them in the one named container arg."""
    params = inspect.signature(cls).parameters
    takes_var_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    name = checkpoint.get(f"{prefix}hparams_name")
    if name and name != "kwargs" and name in params:
        return {name: hparams}
    if takes_var_kwargs:
        return dict(hparams)
    return {k: v for k, v in hparams.items() if k in params}


def load_module_from_checkpoint(
    cls: Any,
    checkpoint_path: Any,
    map_location: Any = None,
    hparams_file: Any = None,
    strict: bool | None = None,
    weights_only: bool | None = None,
    **kwargs: Any,
) -> Any:
    """The steps of spec 9.2: hparams (+file, +kwargs) -> instance -> hooks -> weights."""
    checkpoint = load_checkpoint_file(checkpoint_path, map_location, weights_only)
    model = _instantiate(cls, checkpoint, hparams_file, kwargs, prefix="")
    return _restore_module(model, checkpoint, strict)


def load_datamodule_from_checkpoint(
    cls: Any,
    checkpoint_path: Any,
    map_location: Any = None,
    hparams_file: Any = None,
    weights_only: bool | None = None,
    **kwargs: Any,
) -> Any:
    """A datamodule from its own ``datamodule_hyper_parameters`` and its saved state."""
    checkpoint = load_checkpoint_file(checkpoint_path, map_location, weights_only)
    datamodule = _instantiate(cls, checkpoint, hparams_file, kwargs, prefix="datamodule_")
    state = checkpoint.get(cls.__qualname__)
    if state:
        datamodule.load_state_dict(state)
    return datamodule


def _instantiate(
    cls: Any, checkpoint: dict[str, Any], hparams_file: Any, kwargs: dict[str, Any], prefix: str
) -> Any:
    hparams = dict(checkpoint.get(f"{prefix}hyper_parameters") or {})
    if hparams_file is not None:
        hparams.update(_load_hparams_file(hparams_file))
    hparams.update(kwargs)
    return cls(**_init_kwargs(cls, checkpoint, hparams, prefix))


def _restore_module(model: Any, checkpoint: dict[str, Any], strict: bool | None) -> Any:
    if is_overridden("configure_model", model, ModelHooks):
        model.configure_model()
    model.on_load_checkpoint(checkpoint)
    if strict is not None and model._strict_loading is not None and strict != model.strict_loading:
        raise ValueError(
            f"You set `.load_from_checkpoint(..., strict={strict!r})` which is in conflict with "
            f"`{type(model).__name__}.strict_loading={model.strict_loading!r}`. Set one of them."
        )
    strict = model.strict_loading if strict is None else strict
    if "state_dict" not in checkpoint:
        raise MisconfigurationException("The checkpoint has no 'state_dict': is it a checkpoint?")
    keys = model.load_state_dict(checkpoint["state_dict"], strict=strict)
    if not strict and (keys.missing_keys or keys.unexpected_keys):
        warnings.warn(
            f"Found keys that are not in the model state dict but in the checkpoint: "
            f"{keys.unexpected_keys}; missing: {keys.missing_keys}",
            stacklevel=3,
        )
    device = next((t.device for t in checkpoint["state_dict"].values() if torch.is_tensor(t)), None)
    if device is not None:
        model.to(device)
    return model
