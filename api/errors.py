"""One error type, `AppError`; its `ErrorCode` fixes the HTTP status and the stable `error_code`."""

from __future__ import annotations

from typing import Any

from trainyard.schemas.errors import ErrorCode

__all__ = ["AppError", "ErrorCode"]


class AppError(Exception):
    """Raised anywhere in the API; rendered as `{error_code, detail}` with the code's status."""

    def __init__(
        self, code: ErrorCode, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
