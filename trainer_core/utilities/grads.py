"""grad_norm: per-parameter and total gradient norms, named as Lightning names them."""

from __future__ import annotations

import torch
from torch.nn import Module


def grad_norm(
    module: Module, norm_type: float | int | str, group_separator: str = "/"
) -> dict[str, torch.Tensor]:
    """``grad_{p}_norm/<param>`` for each parameter with a gradient, and ``grad_{p}_norm_total``
    over all of them as one vector (``norm_type`` may be ``'inf'``)."""
    norm_type = float(norm_type)
    if norm_type <= 0:
        raise ValueError(
            f"`norm_type` must be a positive number or 'inf' (infinity norm). Got {norm_type}"
        )
    norms = {
        f"grad_{norm_type}_norm{group_separator}{name}": p.grad.data.norm(norm_type)
        for name, p in module.named_parameters()
        if p.grad is not None
    }
    if norms:
        norms[f"grad_{norm_type}_norm_total"] = torch.tensor(list(norms.values())).norm(norm_type)
    return norms
