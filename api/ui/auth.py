"""Who is looking at the dashboard: the session cookie, and the CSRF token bound to it.

The cookie is read here and nowhere else: `/v1/*` keeps `Authorization: Bearer` (api/deps.py),
and the cookie's `Path=/ui` keeps browsers from sending it anywhere else either. Every cookie is
HttpOnly, so the CSRF token travels in the page (a `<meta>` tag and hidden form fields) and comes
back as the `X-CSRF-Token` header or a `csrf_token` form field.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request, Response

from api.db.ui_sessions import LiveSession, find_session
from api.deps import Principal, SessionDep
from api.errors import AppError, ErrorCode

COOKIE = "trainyard_session"
COOKIE_PATH = "/ui"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_session_cookie(
    request: Request, response: Response, secret: str, expires_at: datetime
) -> None:
    """HttpOnly, SameSite=Strict, Secure when the page came over HTTPS, gone with the session."""
    expires = (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)).astimezone(UTC)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max(int((expires - datetime.now(UTC)).total_seconds()), 0),
        expires=expires,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def get_ui_session(request: Request, session: SessionDep) -> LiveSession:
    """The request's live dashboard session, or 401 (pages turn that into the login form)."""
    secret = request.cookies.get(COOKIE)
    live = find_session(session, secret) if secret else None
    session.rollback()  # hand the connection back before the handler runs, as get_principal does
    if live is None:
        raise AppError(ErrorCode.unauthorized, "not logged in; open /ui/login")
    request.state.ui_session = live  # the pages show the project and the CSRF token
    return live


UiSessionDep = Annotated[LiveSession, Depends(get_ui_session)]


def session_principal(live: UiSessionDep) -> Principal:
    """What the `/v1` routes mounted under `/ui/api` see instead of a bearer token."""
    return Principal(token_id=live.token_id, project_id=live.project_id, is_admin=live.is_admin)


UiPrincipalDep = Annotated[Principal, Depends(session_principal)]


async def require_csrf(request: Request, live: UiSessionDep) -> None:
    """Refuse a state-changing request without the session's CSRF token (403 csrf_failed)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), live.csrf_token.encode()):
        raise AppError(
            ErrorCode.csrf_failed,
            f"missing or wrong CSRF token; send the page's token as {CSRF_HEADER} "
            f"or the {CSRF_FIELD} form field (reload the page if the session changed)",
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def require_admin(principal: UiPrincipalDep) -> Principal:
    if not principal.is_admin:
        raise AppError(ErrorCode.forbidden, "this page needs an admin token")
    return principal


UiAdminDep = Annotated[Principal, Depends(require_admin)]
