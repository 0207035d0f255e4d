"""Projects and tokens: admin only; revoked and expired tokens stop working at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient


def test_admin_creates_project_and_token_that_works(client: TestClient, make_token) -> None:
    admin = make_token("ops", is_admin=True)
    project = client.post("/v1/projects", json={"name": "vision"}, headers=admin.headers)
    assert project.status_code == 201, project.text
    duplicate = client.post("/v1/projects", json={"name": "vision"}, headers=admin.headers)
    assert duplicate.status_code == 409 and duplicate.json()["error_code"] == "project_exists"
    created = client.post("/v1/tokens", json={"project": "vision"}, headers=admin.headers).json()
    assert created["project_id"] == project.json()["id"]
    assert created["token"].startswith("ty_")
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/v1/jobs", headers=headers).status_code == 200
    listed = client.get("/v1/tokens", params={"project": "vision"}, headers=admin.headers).json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]
    assert "token" not in listed["items"][0]


def test_non_admin_token_is_403(client: TestClient, auth: dict[str, str]) -> None:
    for method, path in (("get", "/v1/projects"), ("get", "/v1/tokens")):
        response = client.request(method, path, headers=auth)
        assert response.status_code == 403
        assert response.json()["error_code"] == "forbidden"
    response = client.post("/v1/tokens", json={"project": "x", "is_admin": True}, headers=auth)
    assert response.status_code == 403


def test_revoked_token_is_401(client: TestClient, make_token) -> None:
    admin = make_token("ops", is_admin=True)
    user = make_token("team")
    assert client.get("/v1/jobs", headers=user.headers).status_code == 200
    revoked = client.delete(f"/v1/tokens/{user.token_id}", headers=admin.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/v1/jobs", headers=user.headers).status_code == 401


def test_expired_token_is_401(client: TestClient, make_token) -> None:
    past = make_token("team", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    future = make_token("team", expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert client.get("/v1/jobs", headers=past.headers).status_code == 401
    assert client.get("/v1/jobs", headers=future.headers).status_code == 200
