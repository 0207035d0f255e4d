"""Errors under /ui: HTML for a browser's page request, the API's JSON for everything else.

A page request (its Accept names text/html: a navigation, a form post) that is not logged in
goes to the login form; any other error becomes an error page with the same status. Requests
from the pages' scripts (fetch, EventSource) get `{error_code, detail}` as from `/v1`.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from api.errors import AppError, ErrorCode
from api.handlers import _app_error, _http_error, _validation_error, field_path
from api.ui.templates import render


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def login_redirect(request: Request) -> RedirectResponse:
    """To the login form, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(here, safe='')}", status_code=303)


def error_page(request: Request, status: int, code: str, detail: str) -> Response:
    context = {"status": status, "code": code, "detail": detail}
    return render(request, "error.html", context, status_code=status)


async def _ui_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if not wants_html(request):
        return await _app_error(request, exc)
    if exc.code == ErrorCode.unauthorized:
        return login_redirect(request)
    return error_page(request, exc.code.http_status, str(exc.code), exc.detail)


async def _ui_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not wants_html(request):
        return await _http_error(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    code = "not_found" if exc.status_code == 404 else "http_error"
    return error_page(request, exc.status_code, code, detail)


async def _ui_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await _validation_error(request, exc)
    detail = "; ".join(f"{field_path(e['loc'])}: {e.get('msg', '')}" for e in exc.errors())
    return error_page(request, 422, str(ErrorCode.validation_error), detail)


def install_ui_error_handlers(app: FastAPI) -> None:
    """After api.handlers.install_error_handlers: the same JSON, plus pages for browsers."""
    app.add_exception_handler(AppError, _ui_app_error)
    app.add_exception_handler(StarletteHTTPException, _ui_http_error)
    app.add_exception_handler(RequestValidationError, _ui_validation_error)
