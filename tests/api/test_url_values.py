"""Path and query values the database cannot hold answer the same 422 on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import submit


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("pg_shared_url" if request.param == "postgresql" else "sqlite_url")
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/jobs/{job}/metrics", {"name": "loss\u0000"}),
        ("/v1/jobs/{job}/metrics", {"name": "loss\u0000", "format": "csv"}),
        ("/v1/jobs/{job}/metrics", {"stage": "train\u0000", "max_points": "10"}),
        ("/v1/jobs/{job}/logs", {"cursor": "\u0000"}),
        ("/v1/jobs/{job}/checkpoints", {"cursor": "x\u0000"}),
        ("/v1/jobs/{job}%00", {}),
        ("/v1/checkpoints/best%00/download", {}),
    ],
)
def test_a_nul_in_the_url_is_a_422_naming_the_value(
    client: TestClient, auth: dict[str, str], path: str, params: dict[str, str]
) -> None:
    job = submit(client, auth)["id"]
    answer = client.get(path.format(job=job), params=params, headers=auth)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error_code"] == "validation_error"
    assert "NUL" in body["detail"]
    # The job is untouched and still answers.
    assert client.get(f"/v1/jobs/{job}", headers=auth).status_code == 200
