"""The embedded default: the same API on a migrated SQLite file."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.db.models import JobStatus
from tests.api.helpers import move, submit


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def test_submit_list_filter_and_cancel_on_sqlite(
    client: TestClient,
    auth: dict[str, str],
    dispatched: list[str],
    database_url: str,
    cpu_worker: str,
) -> None:
    assert database_url.startswith("sqlite")
    a = submit(client, auth, tags=["a_b"])["id"]
    b = submit(client, auth, tags=["axb"])["id"]
    assert dispatched == [a, b]
    read = client.get(f"/v1/jobs/{a}", headers=auth).json()
    assert read["created_at"].endswith("Z")  # SQLite's naive times are served as UTC
    listed = client.get("/v1/jobs", params={"tag": "a_b"}, headers=auth).json()["items"]
    assert [j["id"] for j in listed] == [a]
    page = client.get("/v1/jobs", params={"limit": 1}, headers=auth).json()
    rest = client.get("/v1/jobs", params={"cursor": page["next_cursor"]}, headers=auth).json()
    assert [j["id"] for j in page["items"] + rest["items"]] == [b, a]
    move(database_url, a, JobStatus.running)
    assert client.post(f"/v1/jobs/{a}/cancel", headers=auth).json()["status"] == "cancelling"
    assert client.post(f"/v1/jobs/{b}/cancel", headers=auth).json()["status"] == "cancelled"


def test_idempotency_on_sqlite(client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "k"}
    first = submit(client, headers)
    second = client.post("/v1/jobs", json={**first["spec"], "seed": 1}, headers=headers)
    assert second.status_code == 409
