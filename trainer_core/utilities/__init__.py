"""Small shared helpers: exceptions, rank-zero printing, attribute dicts, gradient norms."""

from trainer_core.utilities.exceptions import MisconfigurationException
from trainer_core.utilities.grads import grad_norm
from trainer_core.utilities.parsing import AttributeDict
from trainer_core.utilities.rank_zero import (
    rank_zero_debug,
    rank_zero_info,
    rank_zero_only,
    rank_zero_warn,
)
from trainer_core.utilities.throughput import measure_flops

__all__ = [
    "AttributeDict",
    "MisconfigurationException",
    "grad_norm",
    "measure_flops",
    "rank_zero_debug",
    "rank_zero_info",
    "rank_zero_only",
    "rank_zero_warn",
]
