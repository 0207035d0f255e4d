"""One error shape everywhere: unknown routes, wrong methods, big bodies, crashes; /health."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings


def test_unknown_route_and_wrong_method(client: TestClient, auth: dict[str, str]) -> None:
    missing = client.get("/v1/nothing-here", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {"error_code": "not_found", "detail": "Not Found"}
    wrong = client.delete("/v1/jobs", headers=auth)
    assert wrong.status_code == 405
    assert wrong.json()["error_code"] == "method_not_allowed"


def test_body_over_the_limit_is_413(settings: Settings, project_token, count_rows) -> None:
    small = settings.model_copy(update={"max_request_bytes": 1000})
    with TestClient(create_app(small, dispatcher=lambda job_id: None)) as client:
        body = {"module": {"name": "autoencoder", "params": {}}, "name": "x" * 2000}
        response = client.post("/v1/jobs", json=body, headers=project_token.headers)
    assert response.status_code == 413
    assert response.json()["error_code"] == "payload_too_large"
    assert count_rows("jobs") == 0


def test_unexpected_exception_is_500_without_traceback(settings: Settings) -> None:
    app = create_app(settings, dispatcher=lambda job_id: None)
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 12")

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error_code"] == "internal_error"
    assert "secret" not in response.text and "Traceback" not in response.text


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] is True


def test_health_reports_an_unreachable_database(tmp_path) -> None:
    broken = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    with TestClient(create_app(broken, dispatcher=lambda job_id: None)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] is False


def test_openapi_documents_every_route_and_our_error_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method} {path}"
            assert operation.get("description"), f"{where} has no description"
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), f"{where} {status}"
            if operation.get("security"):
                assert "401" in operation["responses"], where
    assert "HTTPValidationError" not in str(schema)
    assert "Idempotency-Key" in str(schema["paths"]["/v1/jobs"]["post"]["parameters"])
    assert client.get("/docs").status_code == 200


def test_nul_characters_are_a_422_and_store_nothing(
    client: TestClient, auth: dict[str, str], count_rows
) -> None:
    # PostgreSQL text cannot hold NUL; the schema lets some free text through (a job's name).
    body = {
        "name": "bad\u0000name",
        "module": {"name": "autoencoder", "params": {}},
        "datamodule": {"name": "synthetic", "params": {}},
        "trainer": {"max_steps": 1},
    }
    created = client.post("/v1/jobs", json=body, headers=auth)
    assert created.status_code == 422, created.text
    assert created.json()["error_code"] == "validation_error"
    assert count_rows("jobs") == 0

    listed = client.get("/v1/jobs", params={"tag": "a\u0000b"}, headers=auth)
    assert listed.status_code == 422
    assert listed.json()["error_code"] == "validation_error"
    by_status = client.get("/v1/jobs", params={"status": "queued\u0000"}, headers=auth)
    assert by_status.status_code == 422
