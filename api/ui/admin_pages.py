"""Admin pages (admin tokens only): projects, and tokens (a new secret is shown once; revoke)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from api.db.models import Project, utcnow
from api.db.queue import queue_listing
from api.db.tokens import create_token, get_project_by_name, list_tokens, revoke_token
from api.db.workers import worker_views
from api.deps import SessionDep
from api.errors import AppError, ErrorCode
from api.routes.fleet import worker_public
from api.ui.auth import UiAdminDep, require_csrf
from api.ui.templates import render
from trainyard.schemas.admin import ProjectCreate, TokenCreate

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(require_csrf)])


def _page(request: Request, session: Session, status_code: int = 200, **extra: Any) -> Response:
    projects = list(session.scalars(select(Project).order_by(Project.created_at, Project.name)))
    names = {p.id: p.name for p in projects}
    timeout_s = request.app.state.settings.heartbeat_timeout_s
    now = utcnow()
    context = {
        "projects": projects,
        "project_names": names,
        "tokens": [(t, names.get(t.project_id, "?")) for t in list_tokens(session)],
        "workers": [worker_public(v) for v in worker_views(session, now, timeout_s)],
        "queue": queue_listing(session, now, timeout_s, limit=200),
        "errors": [],
        "created": None,
        **extra,
    }
    return render(request, "admin.html", context, status_code=status_code)


def _messages(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]


@router.get("")
def admin_page(request: Request, session: SessionDep, admin: UiAdminDep) -> Response:
    return _page(request, session)


@router.post("/projects")
def create_project(
    request: Request,
    session: SessionDep,
    admin: UiAdminDep,
    name: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        body = ProjectCreate(name=name.strip())
    except ValidationError as exc:
        return _page(request, session, 422, errors=_messages(exc))
    if get_project_by_name(session, body.name) is not None:
        return _page(request, session, 409, errors=[f"A project {body.name!r} already exists."])
    session.add(Project(name=body.name))
    session.commit()
    return RedirectResponse("/ui/admin", status_code=303)


@router.post("/tokens")
def create_token_form(
    request: Request,
    session: SessionDep,
    admin: UiAdminDep,
    project: Annotated[str, Form(max_length=300)] = "",
    name: Annotated[str, Form(max_length=300)] = "default",
    is_admin: Annotated[bool, Form()] = False,
    expires_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A new token; its secret is on this response only (the page is never cached)."""
    try:
        expiry = _future_utc(expires_at)
        body = TokenCreate(
            project=project.strip(), name=name.strip(), is_admin=is_admin, expires_at=expiry
        )
    except ValidationError as exc:
        return _page(request, session, 422, errors=_messages(exc))
    except ValueError as exc:
        return _page(request, session, 422, errors=[str(exc)])
    row, plaintext = create_token(
        session, body.project, name=body.name, is_admin=body.is_admin, expires_at=body.expires_at
    )
    session.commit()
    return _page(request, session, 201, created={"token": row, "secret": plaintext})


def _future_utc(text: str) -> datetime | None:
    """A `datetime-local` field read as UTC; it must lie in the future."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expires_at: give a date and time, e.g. 2030-01-31T12:00") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment <= utcnow():
        raise ValueError("expires_at: that time is already past; give a future time (UTC)")
    return moment


@router.post("/tokens/{token_id}/revoke")
def revoke_token_form(
    token_id: str, request: Request, session: SessionDep, admin: UiAdminDep
) -> Response:
    if revoke_token(session, token_id) is None:
        raise AppError(ErrorCode.not_found, f"no token {token_id}")
    session.commit()
    return RedirectResponse("/ui/admin", status_code=303)
