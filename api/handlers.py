"""Every error leaves the API as `{error_code, detail}`; no traceback ever reaches a client."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import AppError, ErrorCode

log = logging.getLogger("trainyard.api")

_HTTP_CODES = {
    401: ErrorCode.unauthorized,
    403: ErrorCode.forbidden,
    404: ErrorCode.not_found,
    400: ErrorCode.malformed_json,  # FastAPI could not parse the body
    405: ErrorCode.method_not_allowed,
    413: ErrorCode.payload_too_large,
}


def error_body(code: ErrorCode, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error_code": str(code), "detail": detail, **extra}


def error_response(
    code: ErrorCode, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, detail, **extra), code.http_status, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'trainer', 'max_epochs') -> 'trainer.max_epochs'; query/header keep their prefix."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.code, exc.detail, exc.headers, **exc.extra)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        reason = (malformed.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(ErrorCode.malformed_json, f"request body is not valid JSON: {reason}")
    fields = [{"field": field_path(e["loc"]), "message": _message(e)} for e in errors]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(ErrorCode.validation_error, detail, errors=fields)


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "missing":
        return "field required"
    return str(error.get("msg", "invalid value"))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code)
    if code is None:
        code = ErrorCode.internal_error if exc.status_code >= 500 else ErrorCode.validation_error
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if code is ErrorCode.malformed_json and exc.__cause__ is not None:
        # e.g. a number of 5,000 digits: over Python's integer-string limit, so not parsed
        detail = f"request body is not valid JSON: {str(exc.__cause__)[:300]}"
    response = error_response(code, detail, headers=getattr(exc, "headers", None))
    response.status_code = exc.status_code
    return response


async def _unstorable_value(_: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the schema let through (PostgreSQL text cannot hold NUL);
    # the transaction is rolled back, so nothing was stored.
    return error_response(
        ErrorCode.validation_error,
        "a value in the request cannot be stored or searched for; remove NUL (\\u0000) "
        "characters and other control characters from names, tags and filters",
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    return error_response(
        ErrorCode.internal_error, f"internal error; the server log has incident {incident}"
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(Exception, _unhandled)
