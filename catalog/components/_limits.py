"""Bounds of the built-in components' parameters, checked when a job is submitted.

Each size, count and rate has a range in its schema; what one field cannot say alone (the
parameter count of a network, the memory of a synthetic data set) is a check on the whole
parameter set, run by the registry at submit like the field bounds. Far above what these
components are for, far below what would take a worker's memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from catalog.registry import params_model_from_init

MAX_FEATURES = 65_536  # width of one flattened sample (a 256x256 image)
MAX_WIDTH = 16_384  # hidden and latent layer widths
MAX_CLASSES = 100_000
MAX_PARAMETERS = 50_000_000  # ~200 MB of float32 weights, ~800 MB to train with Adam
MAX_BATCH = 65_536
MAX_SAMPLES = 1_000_000
MAX_ELEMENTS = 2**28  # floats in a generated data set: 1 GiB of float32

BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH, description="Samples per batch.")]
LearningRate = Annotated[float, Field(gt=0, le=10, description="Adam learning rate.")]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, description="Seed of the data's random split.")]


def too_large(message: str) -> PydanticCustomError:
    return PydanticCustomError("too_large", message)


def checked_params(cls: type, name: str, check: Callable[[BaseModel], None]) -> type[BaseModel]:
    """The parameter model derived from `cls.__init__`, plus `check` on the whole set."""
    base = params_model_from_init(cls, name)

    def whole(self: BaseModel) -> BaseModel:
        check(self)
        return self

    validators: dict[str, Any] = {"whole": model_validator(mode="after")(whole)}
    return create_model(base.__name__, __base__=base, __validators__=validators)  # type: ignore[call-overload, no-any-return]


def check_parameter_count(count: int, fields: str) -> None:
    if count > MAX_PARAMETERS:
        raise too_large(
            f"the network would have {count:,} parameters, more than {MAX_PARAMETERS:,}; "
            f"lower {fields}"
        )
