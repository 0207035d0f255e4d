"""One parsing path for every integer a client sends: headers, query values and cursors.

`parse_int` reads ASCII decimal digits with an optional sign and never hands Python more than
the 19 digits a BIGINT can have, so a value with thousands of digits is a clear "out of range",
never Python's integer-string-limit ValueError (a 500). Every integer column in the database is
a BIGINT at most, so that is the widest range any client integer may take.

- Query values and headers: `CLIENT_INT` last in their Annotated, after the Query/Header with
  the route's bounds; a bad one is a 422 `validation_error` naming the field.
- Integers inside opaque cursors: `api.pagination` decodes them with `parse_int` too.
- Range headers: `api.services.downloads` parses their numbers here; a bad one is a 416.

No path parameter is an integer (ids are strings).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

MIN_BIGINT = -(2**63)
MAX_BIGINT = 2**63 - 1
_MAX_DIGITS = len(str(MAX_BIGINT))  # 19
_INTEGER = re.compile(r"[+-]?[0-9]+")  # [0-9], not \d: no other script's digits


def parse_int(text: str, low: int = MIN_BIGINT, high: int = MAX_BIGINT) -> int:
    """The integer `text` spells, within [low, high]; a ValueError that says what is wrong.

    Surrounding spaces and tabs (HTTP's optional whitespace) are allowed; `1e3`, `0x10`, `1_000`
    and digits of other scripts are not integers here.
    """
    stripped = text.strip(" \t")
    if not _INTEGER.fullmatch(stripped):
        raise ValueError(f"must be a whole number written in digits, got {_shown(stripped)}")
    sign = "-" if stripped[0] == "-" else ""
    digits = stripped.lstrip("+-").lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:  # never parsed: far outside any range below
        bound = f"at least {low}" if sign else f"at most {high}"
        raise ValueError(f"must be {bound}, got {_shown(stripped)}")
    value = int(sign + digits)
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, got {_shown(stripped)}")
    return value


def _shown(text: str) -> str:
    """The value as quoted in a message: a long one is cut, so no answer echoes kilobytes."""
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"


def _from_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parse_int(value)
    except ValueError as exc:
        # A custom error type, so the message is ours (no "Value error, " prefix).
        raise PydanticCustomError("int_parsing", str(exc)) from None


# Put last in an integer query value's or header's Annotated, after its Query/Header:
# `Annotated[int | None, Query(ge=0, le=MAX_BIGINT), CLIENT_INT]`. The text goes through
# `parse_int`, then the route's own bounds apply (and stay in the OpenAPI schema as
# minimum/maximum, which they would not with the validator first).
CLIENT_INT = BeforeValidator(_from_text)
