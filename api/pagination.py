"""Opaque cursors for keyset pagination: base64url of a small JSON list."""

from __future__ import annotations

import base64
import json
from typing import Any

from api.errors import AppError, ErrorCode


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The values of a cursor from `encode_cursor`; a 422 naming `cursor` when it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise AppError(
            ErrorCode.validation_error,
            "query.cursor: not a cursor from this endpoint; pass next_cursor unchanged",
        )
    return values
