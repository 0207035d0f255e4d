"""Profilers: ``Trainer(profiler="simple" | "advanced" | "pytorch" | Profiler())``."""

from __future__ import annotations

from typing import Any

from trainer_core.profilers.advanced import AdvancedProfiler
from trainer_core.profilers.base import PassThroughProfiler, Profiler
from trainer_core.profilers.pytorch import PyTorchProfiler
from trainer_core.profilers.simple import SimpleProfiler
from trainer_core.utilities.exceptions import MisconfigurationException

PROFILERS: dict[str, type[Profiler]] = {
    "simple": SimpleProfiler,
    "advanced": AdvancedProfiler,
    "pytorch": PyTorchProfiler,
}


def build_profiler(profiler: Any) -> Profiler:
    """``Trainer(profiler=...)``: a name, a Profiler, or None (no profiling)."""
    if isinstance(profiler, str):
        name = profiler.lower()
        if name not in PROFILERS:
            raise MisconfigurationException(
                "When passing string value for the `profiler` parameter of `Trainer`, it can only "
                f"be one of {list(PROFILERS)}; got {profiler!r}."
            )
        return PROFILERS[name]()
    if profiler is None:
        return PassThroughProfiler()
    if not isinstance(profiler, Profiler):
        raise MisconfigurationException(
            f"`Trainer(profiler=...)` takes 'simple', 'advanced', 'pytorch' or a "
            f"trainer_core.profilers.Profiler instance; got {type(profiler).__name__}."
        )
    return profiler


__all__ = [
    "AdvancedProfiler",
    "PassThroughProfiler",
    "Profiler",
    "PyTorchProfiler",
    "SimpleProfiler",
    "build_profiler",
]
