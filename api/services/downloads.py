"""Streaming checkpoint files with Content-Length, ETag and single byte ranges (RFC 9110)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from api.artifacts import ArtifactStore
from api.db.models import Checkpoint
from api.errors import AppError, ErrorCode
from api.params import parse_int

_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")  # ASCII digits only, as RFC 9110


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) of a single `bytes=` range, None to send the whole file.

    Several ranges, or a header we do not understand, are ignored (allowed by RFC 9110);
    a range that starts past the end, or a number beyond 9223372036854775807, is a 416.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    try:  # the one client-integer parser: no number past a BIGINT (the size column's type)
        start = parse_int(first, low=0) if first else None
        stop = parse_int(last, low=0) if last else None
    except ValueError as exc:
        raise _unsatisfiable(size, f"a byte position {exc}") from None
    if start is None:  # suffix: the last N bytes
        if stop == 0:
            raise _unsatisfiable(size)
        return max(size - (stop or 0), 0), size - 1
    if stop is not None and stop < start:
        return None  # syntactically invalid: ignore the header
    if start >= size:
        raise _unsatisfiable(size)
    return start, size - 1 if stop is None else min(stop, size - 1)


def _unsatisfiable(size: int, reason: str = "") -> AppError:
    return AppError(
        ErrorCode.range_not_satisfiable,
        reason or f"range starts past the end of the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


def download_response(request: Request, store: ArtifactStore, checkpoint: Checkpoint) -> Response:
    etag = f'"{checkpoint.sha256}"'
    try:
        size = store.size(checkpoint.storage_key)
    except FileNotFoundError:
        raise AppError(
            ErrorCode.checkpoint_not_found,
            f"the file of checkpoint {checkpoint.id} is missing from the artifact store",
        ) from None
    filename = f"{checkpoint.job_id}-{checkpoint.kind}-step{checkpoint.step}.ckpt"
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, max-age=0",
    }
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    span = (
        None if if_range and if_range != etag else parse_range(request.headers.get("range"), size)
    )
    start, end, status = (0, size - 1, 200) if span is None else (*span, 206)
    headers["Content-Length"] = str(end - start + 1)
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":  # the same headers, and the file is not even opened
        return Response(status_code=status, media_type="application/octet-stream", headers=headers)
    body = store.iter_range(checkpoint.storage_key, start, end)
    return StreamingResponse(
        body, status_code=status, media_type="application/octet-stream", headers=headers
    )


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
