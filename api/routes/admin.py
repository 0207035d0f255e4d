"""/v1/projects and /v1/tokens: admin tokens manage projects and tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import select

from api.db.models import Project, Token, utcnow
from api.db.tokens import create_token, get_project_by_name, list_tokens, revoke_token
from api.deps import AdminDep, SessionDep
from api.errors import AppError, ErrorCode
from trainyard.schemas.admin import (
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenPublic,
)
from trainyard.schemas.common import error_responses

router = APIRouter(tags=["admin"])
ADMIN_ERRORS = error_responses(401, 403)


def _project(p: Project) -> ProjectPublic:
    return ProjectPublic(
        id=p.id,
        name=p.name,
        created_at=p.created_at,
        max_gpus=p.max_gpus,
        max_running_jobs=p.max_running_jobs,
        max_priority=p.max_priority,
    )


def _token(t: Token) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        project_id=t.project_id,
        name=t.name,
        is_admin=t.is_admin,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
    )


@router.post(
    "/v1/projects",
    status_code=201,
    response_model=ProjectPublic,
    summary="Create a project",
    responses={**ADMIN_ERRORS, **error_responses(409, 422)},
)
def create_project(body: ProjectCreate, session: SessionDep, admin: AdminDep) -> ProjectPublic:
    """A new, empty project. Its name must be unique."""
    if get_project_by_name(session, body.name) is not None:
        raise AppError(ErrorCode.project_exists, f"name: a project {body.name!r} already exists")
    project = Project(name=body.name)
    session.add(project)
    session.commit()
    return _project(project)


@router.get(
    "/v1/projects", response_model=ProjectList, summary="List projects", responses=ADMIN_ERRORS
)
def list_projects(session: SessionDep, admin: AdminDep) -> ProjectList:
    """Every project."""
    rows = session.scalars(select(Project).order_by(Project.created_at, Project.name))
    return ProjectList(items=[_project(p) for p in rows])


@router.post(
    "/v1/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a token",
    responses={**ADMIN_ERRORS, **error_responses(422)},
)
def create_token_route(body: TokenCreate, session: SessionDep, admin: AdminDep) -> TokenCreated:
    """A token for a project (created when missing). The secret is in this response only.
    `expires_at` must be timezone-aware and in the future."""
    row, plaintext = create_token(
        session,
        body.project,
        name=body.name,
        is_admin=body.is_admin,
        expires_at=_future_utc(body.expires_at),
    )
    session.commit()
    return TokenCreated(**_token(row).model_dump(), token=plaintext)


def _future_utc(expires_at: datetime | None) -> datetime | None:
    """The expiry in UTC: SQLite keeps a datetime's clock time and drops its offset, so a
    +05:00 expiry stored as given would last five hours longer there than on PostgreSQL."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise AppError(ErrorCode.validation_error, "expires_at: give a timezone, e.g. ...Z")
    expires_at = expires_at.astimezone(UTC)
    if expires_at <= utcnow():
        raise AppError(
            ErrorCode.validation_error,
            f"expires_at: {expires_at.isoformat()} is already past; give a future time",
        )
    return expires_at


@router.get("/v1/tokens", response_model=TokenList, summary="List tokens", responses=ADMIN_ERRORS)
def list_tokens_route(
    session: SessionDep, admin: AdminDep, project: str | None = None
) -> TokenList:
    """Tokens (never their secrets), optionally of one project by name."""
    project_id = None
    if project is not None:
        row = get_project_by_name(session, project)
        if row is None:
            return TokenList(items=[])
        project_id = row.id
    return TokenList(items=[_token(t) for t in list_tokens(session, project_id)])


@router.delete(
    "/v1/tokens/{token_id}",
    response_model=TokenPublic,
    summary="Revoke a token",
    responses={**ADMIN_ERRORS, **error_responses(404)},
)
def revoke_token_route(token_id: str, session: SessionDep, admin: AdminDep) -> TokenPublic:
    """Revoke a token at once; requests with it answer 401 from now on."""
    token = revoke_token(session, token_id)
    if token is None:
        raise AppError(ErrorCode.not_found, f"no token {token_id}")
    session.commit()
    return _token(token)
