"""Schemas shared by every resource: the error body and cursor-paginated lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from trainyard.schemas.errors import ErrorCode


def _assume_utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything is stored in UTC, so say so to clients.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]

# Characters no name, label or metric name needs, and that either database or a terminal treats
# specially: C0/C1 controls (NUL cannot be stored in PostgreSQL text; ESC drives terminals),
# DEL, lone surrogates (not UTF-8), line and paragraph separators, and the bidirectional
# overrides and isolates that make text display in another order than it is stored.
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def refuse_control_characters(value: str) -> str:
    """The value unchanged, or a ValueError naming the first character nobody can see."""
    found = UNPRINTABLE.search(value)
    if found is not None:
        raise ValueError(
            f"remove the control character U+{ord(found.group()):04X} at position "
            f"{found.start()}; names and labels are printable text"
        )
    return value


# A string a person reads back (names, labels, metric names): the same answer on SQLite and
# PostgreSQL, and safe to print on anyone's terminal.
PlainText = Annotated[str, AfterValidator(refuse_control_characters)]


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
