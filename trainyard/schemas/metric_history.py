"""Downsampled metric history (`GET /v1/jobs/{id}/metrics?max_points=N`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MetricBucket(BaseModel):
    step_min: int = Field(description="First step with a point in this bucket.")
    step_max: int = Field(description="Last step with a point in this bucket.")
    count: int = Field(description="Points in the bucket.")
    min: float | None = Field(description="Smallest value (null for NaN/inf).")
    max: float | None = Field(description="Largest value (null for NaN/inf).")
    mean: float | None = Field(description="Mean value (null for NaN/inf).")
    last: float | None = Field(description="Value at step_max (null for NaN/inf).")


class MetricSeries(BaseModel):
    name: str = Field(description="Name given to self.log.")
    stage: str = Field(description="train, validate, test.")
    count: int = Field(description="Points stored in the whole series.")
    bucket_steps: int = Field(description="Steps per bucket; 1 means every point is its own.")
    buckets: list[MetricBucket] = Field(description="At most max_points buckets, by step.")


class MetricHistory(BaseModel):
    job_id: str = Field(description="The job.")
    max_points: int = Field(description="Most buckets per series, as asked.")
    series: list[MetricSeries] = Field(description="One per (name, stage), by name then stage.")
