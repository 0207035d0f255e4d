"""Health check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    status: Literal["ok", "unavailable"] = Field(description="ok when the database answers.")
    database: bool = Field(description="Whether SELECT 1 succeeded.")
    version: str = Field(description="Trainyard version.")
