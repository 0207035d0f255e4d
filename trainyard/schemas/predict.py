"""Prediction requests and responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: list[Any] = Field(
        min_length=1,
        description="A batch: a list of samples, each a number or a nested list of numbers. "
        "It becomes one float32 tensor passed to predict_step.",
    )
    checkpoint: str = Field(
        "best",
        pattern=r"^(best|last|[0-9a-f]{32})$",
        description="'best' (the monitored best, else the newest), 'last', or a checkpoint id.",
    )


class PredictResponse(BaseModel):
    job_id: str = Field(description="The job whose model answered.")
    checkpoint_id: str = Field(description="The checkpoint that was loaded.")
    outputs: Any = Field(description="predict_step's return value as nested lists.")
