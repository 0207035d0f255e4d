"""OpenAPI that tells the truth about errors: every error response is an ErrorResponse.

FastAPI documents its own 422 shape (`HTTPValidationError`) on every route with parameters;
ours is `{error_code, detail, errors}`. Body routes can also answer 400 (malformed JSON) and
413 (too large), and authenticated routes 401; a fuzzer checking responses against the schema
(issue 5) needs all of them documented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from trainyard.schemas.common import ErrorResponse

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
# Swagger UI's files, vendored from npm's swagger-ui-dist (scripts/vendor_swagger_ui.py,
# VENDOR.json): /docs needs no CDN, so it works offline and behind a firewall.
SWAGGER_UI = Path(__file__).resolve().parent / "static" / "swagger-ui"
DOCS_ASSETS = "/docs/assets"
_DESCRIPTIONS = {
    "400": "Malformed request body (invalid JSON).",
    "401": "Missing, unknown, expired or revoked token.",
    "413": "Request body too large.",
    "422": "Validation failed; `detail` names the field.",
}


def _error(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _patch_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    wanted = []
    if "requestBody" in operation:
        wanted += ["400", "413", "422"]
    if operation.get("parameters"):
        wanted.append("422")
    if operation.get("security"):
        wanted.append("401")
    for code in wanted:
        responses[code] = (
            _error(code) if code not in responses or code == "422" else responses[code]
        )


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas["ErrorResponse"] = ErrorResponse.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            schemas.update(schemas["ErrorResponse"].pop("$defs", {}))
            for path in schema["paths"].values():
                for operation in path.values():
                    _patch_operation(operation)
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_docs(app)


def install_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the app's own files (create the app with docs_url=None)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon-32x32.png",
        )
