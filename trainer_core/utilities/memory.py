"""Out-of-memory detection as Lightning does it (the batch size finder backs off on these)."""

from __future__ import annotations

import gc

import torch


def is_oom_error(exception: BaseException) -> bool:
    """A CUDA or CPU allocator out-of-memory error (or cuDNN's equivalent)."""
    if not isinstance(exception, RuntimeError) or len(exception.args) != 1:
        return False
    message = str(exception.args[0])
    return (
        ("CUDA" in message and "out of memory" in message)
        or "cuDNN error: CUDNN_STATUS_NOT_SUPPORTED." in message
        or "DefaultCPUAllocator: can't allocate memory" in message
    )


def garbage_collection_cuda(after_oom: bool = True) -> None:
    """Free what can be freed before the next try.

    A full ``gc.collect`` takes a good fraction of a second in a large process; before a
    trial it only pays off when CUDA holds cached memory, after an out-of-memory error always.
    """
    if not after_oom and not torch.cuda.is_initialized():
        return
    gc.collect()
    try:
        torch.cuda.empty_cache()
    except RuntimeError as exception:
        if not is_oom_error(exception):
            raise
