"""The stable error codes of the API; each code fixes its HTTP status.

They live with the wire schemas so that a client can test `error_code` without the server.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    validation_error = "validation_error"
    malformed_json = "malformed_json"
    unknown_component = "unknown_component"
    invalid_params = "invalid_params"
    unauthorized = "unauthorized"
    forbidden = "forbidden"
    csrf_failed = "csrf_failed"
    job_not_found = "job_not_found"
    checkpoint_not_found = "checkpoint_not_found"
    not_found = "not_found"
    method_not_allowed = "method_not_allowed"
    project_exists = "project_exists"
    job_not_cancellable = "job_not_cancellable"
    job_not_ready = "job_not_ready"
    idempotency_conflict = "idempotency_conflict"
    range_not_satisfiable = "range_not_satisfiable"
    payload_too_large = "payload_too_large"
    rate_limited = "rate_limited"
    predict_failed = "predict_failed"
    internal_error = "internal_error"

    @property
    def http_status(self) -> int:
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.validation_error: 422,
    ErrorCode.malformed_json: 400,
    ErrorCode.unknown_component: 422,
    ErrorCode.invalid_params: 422,
    ErrorCode.unauthorized: 401,
    ErrorCode.forbidden: 403,
    ErrorCode.csrf_failed: 403,
    ErrorCode.job_not_found: 404,
    ErrorCode.checkpoint_not_found: 404,
    ErrorCode.not_found: 404,
    ErrorCode.method_not_allowed: 405,
    ErrorCode.project_exists: 409,
    ErrorCode.job_not_cancellable: 409,
    ErrorCode.job_not_ready: 409,
    ErrorCode.idempotency_conflict: 409,
    ErrorCode.range_not_satisfiable: 416,
    ErrorCode.payload_too_large: 413,
    ErrorCode.rate_limited: 429,
    ErrorCode.predict_failed: 422,
    ErrorCode.internal_error: 500,
}
