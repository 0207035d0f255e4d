"""Checking ``self.log`` options against the hook being run (spec 2.2), once per call site."""

from __future__ import annotations

from typing import Any

from trainer_core.events import LogPolicy, log_policy
from trainer_core.logging.results import DATALOADER_SUFFIX, parse_reduce_fx
from trainer_core.utilities.exceptions import MisconfigurationException

CHECKED_OPTIONS: dict[tuple, tuple] = {}  # validated self.log options, per hook and key


def check_options(
    fx: str | None,
    name: str,
    prog_bar: bool,
    logger: bool | None,
    on_step: bool | None,
    on_epoch: bool | None,
    reduce_fx: Any,
    add_dataloader_idx: bool,
) -> tuple:
    """Apply the per-hook defaults and refuse what the hook does not allow (spec 2.2)."""
    policy = log_policy(fx)
    if policy is LogPolicy.FORBIDDEN:
        raise MisconfigurationException(
            f"You can't `self.log({name!r}, ...)` inside `{fx}`: logging is only allowed in the "
            "training/validation/test steps and their batch, epoch and start hooks."
        )
    if on_step is None:
        on_step = policy.default_on_step
    if on_epoch is None:
        on_epoch = not policy.default_on_step
    if not on_step and not on_epoch:
        raise MisconfigurationException(
            f"`self.log({name!r}, on_step=False, on_epoch=False)` logs nothing: set one of them."
        )
    if policy is LogPolicy.EPOCH and (on_step or not on_epoch):
        raise MisconfigurationException(
            f"You can't `self.log({name!r}, on_step={on_step}, on_epoch={on_epoch})` in `{fx}`: "
            "it only allows on_step=False, on_epoch=True."
        )
    if add_dataloader_idx and DATALOADER_SUFFIX.format("") in name:
        raise MisconfigurationException(
            f"You called `self.log` with the key `{name}` that contains `/dataloader_idx_`, which "
            "is reserved. Rename it or pass `add_dataloader_idx=False`."
        )
    return (
        prog_bar,
        True if logger is None else logger,
        on_step,
        on_epoch,
        parse_reduce_fx(reduce_fx),
        add_dataloader_idx,
    )
