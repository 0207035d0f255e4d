"""Metric points."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MetricPoint(BaseModel):
    name: str = Field(description="Name given to self.log.")
    stage: str = Field(description="train, validate, test.")
    step: int = Field(description="Global step when logged.")
    epoch: int = Field(description="Epoch when logged.")
    value: float | None = Field(description="The value (null for NaN/inf).")


class MetricList(BaseModel):
    items: list[MetricPoint] = Field(description="Points by step, then insertion order.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")
