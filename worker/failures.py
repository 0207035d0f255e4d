"""What a failed job stores: its failure class and a short, readable error."""

from __future__ import annotations

import traceback
from typing import Any

from api.db.models import FailureClass

MAX_FRAMES = 12
MAX_MESSAGE = 2000


def failure_class(exc: BaseException) -> FailureClass:
    """user_error unless the exception says memory ran out (retryable on a bigger machine)."""
    oom_types = tuple(t for t in (MemoryError, _torch_oom()) if isinstance(t, type))
    if isinstance(exc, oom_types) or "out of memory" in str(exc).lower():
        return FailureClass.oom
    return FailureClass.user_error


def _torch_oom() -> type | None:
    import torch

    return getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)


def error_summary(exc: BaseException) -> dict[str, Any]:
    """{type, message, traceback}: the last frames only, which is where user code failed."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:MAX_MESSAGE],
        "traceback": "".join(traceback.format_list(frames)),
    }


class InfraError(Exception):
    """The service, not the user's code, failed mid-job (database, artifact store)."""


class UnsafeCheckpointError(ValueError):
    """A checkpoint the job wrote holds objects `torch.load(weights_only=True)` refuses: the
    user's component must change (predict and resume load only that way), so a user error."""
