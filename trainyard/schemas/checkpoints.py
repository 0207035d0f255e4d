"""Checkpoint views."""

from __future__ import annotations

from pydantic import BaseModel, Field

from trainyard.schemas.common import UtcDatetime


class CheckpointPublic(BaseModel):
    id: str = Field(description="Checkpoint id; download at /v1/checkpoints/{id}/download.")
    job_id: str = Field(description="The job that wrote it.")
    attempt: int = Field(description="The attempt that wrote it.")
    kind: str = Field(description="'last', 'epoch', 'best', ...: why it was saved.")
    step: int = Field(description="Global step at save time.")
    epoch: int = Field(description="Epoch at save time.")
    monitor: str | None = Field(description="Monitored metric, if any.")
    monitor_value: float | None = Field(description="Its value at save time.")
    is_best: bool = Field(description="Best by the monitored metric so far.")
    size: int = Field(description="File size in bytes.")
    sha256: str = Field(description="sha256 of the file (also its ETag).")
    created_at: UtcDatetime = Field(description="When it was written.")
    download_url: str = Field(description="Relative URL of the file.")


class CheckpointList(BaseModel):
    items: list[CheckpointPublic] = Field(description="Live checkpoints, oldest first.")
