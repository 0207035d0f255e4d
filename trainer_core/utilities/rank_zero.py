"""Rank-zero helpers with Lightning's names. trainer_core runs one process, which is rank 0, so
the wrapped functions always run; the names exist so Lightning code imports unchanged."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

log = logging.getLogger("trainer_core")
T = TypeVar("T")


def rank_zero_only(fn: Callable[..., T], default: T | None = None) -> Callable[..., T | None]:
    """Run ``fn`` only on global rank 0 (``rank_zero_only.rank``); elsewhere return ``default``."""

    @wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> T | None:
        return fn(*args, **kwargs) if getattr(rank_zero_only, "rank", 0) == 0 else default

    return wrapped


rank_zero_only.rank = 0  # type: ignore[attr-defined]


@rank_zero_only
def rank_zero_info(*args: Any, stacklevel: int = 4, **kwargs: Any) -> None:
    log.info(*args, stacklevel=stacklevel, **kwargs)


@rank_zero_only
def rank_zero_debug(*args: Any, stacklevel: int = 4, **kwargs: Any) -> None:
    log.debug(*args, stacklevel=stacklevel, **kwargs)


@rank_zero_only
def rank_zero_warn(message: str | Warning, stacklevel: int = 4, **kwargs: Any) -> None:
    warnings.warn(message, stacklevel=stacklevel, **kwargs)
