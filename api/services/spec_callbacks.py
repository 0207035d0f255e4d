"""The `callbacks` of a job spec: registered names, valid params, and combinations that work.

A bad entry is a 422 naming its field (`callbacks.1.name`, `callbacks.0.params.decay`), found
before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.errors import AppError, ErrorCode
from catalog.registry import Registry
from trainyard.schemas.jobs import ComponentRef, JobCreate

ResolveOne = Callable[[Registry, Any, ComponentRef, str], dict[str, Any]]


def _conflict(field: str, message: str) -> AppError:
    return AppError(
        ErrorCode.validation_error,
        f"{field}: {message}",
        errors=[{"field": field, "message": message}],
    )


def resolve_callbacks(
    body: JobCreate, registry: Registry, resolve_one: ResolveOne
) -> list[dict[str, Any]]:
    """Each entry resolved by `resolve_one` (name and params, as modules are); then no name
    twice, at most one callback per exclusive group, and no clash with the trainer options."""
    resolved: list[dict[str, Any]] = []
    first_of_name: dict[str, int] = {}
    first_of_group: dict[str, int] = {}
    for index, ref in enumerate(body.callbacks):
        field = f"callbacks.{index}"
        resolved.append(resolve_one(registry, "callback", ref, field))
        if ref.name in first_of_name:
            raise _conflict(
                f"{field}.name",
                f"{ref.name!r} is listed twice (also callbacks.{first_of_name[ref.name]}); "
                "list each callback once",
            )
        first_of_name[ref.name] = index
        group = registry.get("callback", ref.name).exclusive
        if group is not None and group in first_of_group:
            other = first_of_group[group]
            raise _conflict(
                f"{field}.name",
                f"{ref.name!r} cannot be combined with callbacks.{other} "
                f"({body.callbacks[other].name!r}): both are {group.replace('_', ' ')} "
                "callbacks; keep one",
            )
        if group is not None:
            first_of_group[group] = index
        _check_trainer_options(body, resolved[-1], field)
    return resolved


def _check_trainer_options(body: JobCreate, callback: dict[str, Any], field: str) -> None:
    """What Lightning would refuse once training starts, refused at submit instead."""
    trainer = body.trainer
    name, params = callback["name"], callback["params"]
    if name == "grad_accum_schedule" and trainer.accumulate_grad_batches not in (None, 1):
        raise _conflict(
            f"{field}.name",
            "grad_accum_schedule sets the accumulation per epoch; remove "
            "trainer.accumulate_grad_batches or this callback",
        )
    fraction = isinstance(params.get("swa_epoch_start"), float)
    if name == "swa" and fraction and trainer.max_epochs is None and trainer.max_steps:
        raise _conflict(
            f"{field}.params.swa_epoch_start",
            "a fraction of max_epochs needs trainer.max_epochs (the run is bounded by max_steps "
            "only); give an epoch number or set trainer.max_epochs",
        )
