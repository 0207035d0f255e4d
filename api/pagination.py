"""Keyset pagination for every list route (jobs, metric points, log lines).

A route fetches `limit + 1` rows after the cursor's key, and `page` cuts them to `limit` and
makes the next cursor from the last row's key. Cursors are opaque to clients: base64url of a
small JSON list of the key's values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from api.errors import AppError, ErrorCode
from api.params import parse_int

T = TypeVar("T")


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The key of a cursor from `encode_cursor`, one value per kind (int, str or datetime).

    A 422 naming `cursor` when it is not one of this endpoint's."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # Integers go through the one client-integer parser: a BIGINT at most, whatever the
        # number of digits (a cursor is the client's text, however opaque).
        values = json.loads(base64.urlsafe_b64decode(padded.encode()), parse_int=parse_int)
    except (ValueError, TypeError, RecursionError):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise AppError(
            ErrorCode.validation_error,
            "query.cursor: not a cursor from this endpoint; pass next_cursor unchanged",
        )
    return tuple(_parse(value, kind) for value, kind in zip(values, kinds, strict=True))


def _parse(value: Any, kind: type) -> Any:
    if kind is datetime and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind is str and isinstance(value, str):
        return value
    raise AppError(ErrorCode.validation_error, "query.cursor: not a valid cursor")


def page(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    """Rows fetched with `limit + 1`: the first `limit`, and the cursor after the last of them
    (None when there is nothing more)."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, encode_cursor(*key(items[-1])) if more and items else None
