"""Checkpoints: list a job's, download one (streamed, ETag, Range)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from api.db.checkpoints import checkpoint_public, get_checkpoint
from api.db.checkpoints import list_checkpoints as query_checkpoints
from api.deps import AuthDep, SessionDep, StoreDep, require_job
from api.errors import AppError, ErrorCode
from api.services.downloads import download_response
from trainyard.schemas.checkpoints import CheckpointList
from trainyard.schemas.common import error_responses

router = APIRouter(tags=["checkpoints"])


@router.get(
    "/v1/jobs/{job_id}/checkpoints",
    response_model=CheckpointList,
    summary="List a job's checkpoints",
    responses=error_responses(401, 404),
)
def list_checkpoints(job_id: str, session: SessionDep, principal: AuthDep) -> CheckpointList:
    """Live checkpoints (not pruned by save_top_k) with step, epoch, monitored value, size and
    sha256, oldest first."""
    require_job(session, principal, job_id)
    return CheckpointList(items=[checkpoint_public(c) for c in query_checkpoints(session, job_id)])


RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="`bytes=a-b`, `bytes=a-` or `bytes=-n`: answer 206 with that part (resume "
        "a download); a start past the end is 416.",
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    Header(alias="If-None-Match", description="An ETag you hold: 304 without a body if equal."),
]
IfRangeHeader = Annotated[
    str | None,
    Header(alias="If-Range", description="Honour Range only while the ETag is still this one."),
]


@router.head(
    "/v1/checkpoints/{checkpoint_id}/download",
    response_class=Response,
    include_in_schema=False,  # GET's headers, no body (Starlette drops it)
)
@router.get(
    "/v1/checkpoints/{checkpoint_id}/download",
    summary="Download a checkpoint file",
    response_class=Response,
    responses={
        200: {
            "description": "The file, streamed; ETag is its sha256.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        206: {
            "description": "The requested byte range.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        304: {"description": "If-None-Match matched the ETag."},
        **error_responses(401, 404, 416),
    },
)
def download_checkpoint(
    checkpoint_id: str,
    request: Request,
    session: SessionDep,
    principal: AuthDep,
    store: StoreDep,
    range_: RangeHeader = None,
    if_none_match: IfNoneMatchHeader = None,
    if_range: IfRangeHeader = None,
) -> Response:
    """The checkpoint file with Content-Length, ETag (sha256) and Accept-Ranges; a `Range:
    bytes=a-b` request answers 206, one past the end 416. `HEAD` answers the same headers
    without the file. Loadable with `load_from_checkpoint`."""
    # The conditional headers are read from `request` by download_response; they are
    # parameters here so that OpenAPI documents them.
    checkpoint = get_checkpoint(session, checkpoint_id, principal.project_id)
    if checkpoint is None:
        raise AppError(
            ErrorCode.checkpoint_not_found, f"no checkpoint {checkpoint_id} in this project"
        )
    return download_response(request, store, checkpoint)
