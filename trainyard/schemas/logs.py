"""A job's captured output lines."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LogLine(BaseModel):
    seq: int = Field(description="Event id of the line (resume the event stream after it).")
    stream: str = Field(description="stdout, stderr or logging.")
    line: str = Field(description="The text, without its newline.")
    at: datetime | None = Field(description="When the worker captured it.")


class LogList(BaseModel):
    items: list[LogLine] = Field(description="Lines, oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")
