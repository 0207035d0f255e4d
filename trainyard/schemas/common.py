"""Schemas shared by every resource: the error body and cursor-paginated lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from trainyard.schemas.errors import ErrorCode


def _assume_utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything is stored in UTC, so say so to clients.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. trainer.max_epochs.")
    message: str = Field(description="What is wrong with it.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="allow")

    error_code: ErrorCode = Field(description="Stable machine-readable code; test against this.")
    detail: str = Field(description="What went wrong and what to fix, for humans.")
    errors: list[FieldError] | None = Field(
        None, description="Validation errors only: one entry per offending field."
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting the error body for `statuses` on a route."""
    descriptions = {
        400: "Malformed request (e.g. invalid JSON).",
        401: "Missing, unknown, expired or revoked token.",
        403: "The token may not do this (admin only).",
        404: "No such resource in the token's project.",
        409: "Conflicts with the resource's current state.",
        413: "Request body or batch too large.",
        416: "Range not satisfiable.",
        422: "Validation failed; `detail` names the field.",
        429: "Rate limited; see Retry-After.",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}
