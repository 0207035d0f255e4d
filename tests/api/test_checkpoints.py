"""Checkpoint listing and downloads: Content-Length, ETag, Range/206/416, other projects 404."""

from __future__ import annotations

import hashlib
import os

import pytest
from fastapi.testclient import TestClient

from api.artifacts import get_artifact_store
from api.db.models import Checkpoint
from api.db.session import session_scope
from api.settings import Settings
from tests.api.helpers import add_checkpoint, submit

DATA = os.urandom(3 * 1024 * 1024 + 17)  # spans several read chunks


@pytest.fixture
def stored(client: TestClient, auth: dict[str, str], settings: Settings, database_url: str):
    job_id = submit(client, auth)["id"]
    store = get_artifact_store(settings)
    ckpt_id = add_checkpoint(database_url, store, job_id, DATA, is_best=True)
    return job_id, ckpt_id


def test_list_checkpoints_and_best_on_job(client: TestClient, auth, stored) -> None:
    job_id, ckpt_id = stored
    items = client.get(f"/v1/jobs/{job_id}/checkpoints", headers=auth).json()["items"]
    assert [(c["id"], c["size"], c["is_best"]) for c in items] == [(ckpt_id, len(DATA), True)]
    assert items[0]["download_url"] == f"/v1/checkpoints/{ckpt_id}/download"
    job = client.get(f"/v1/jobs/{job_id}", headers=auth).json()
    assert job["best_checkpoint"]["id"] == ckpt_id


def test_download_whole_file_with_length_and_etag(client: TestClient, auth, stored) -> None:
    _, ckpt_id = stored
    response = client.get(f"/v1/checkpoints/{ckpt_id}/download", headers=auth)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    again = client.get(
        f"/v1/checkpoints/{ckpt_id}/download",
        headers={**auth, "If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1048570-1048590", 1048570, 1048590),  # across a chunk boundary
        ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
        (f"bytes={len(DATA) - 5}-", len(DATA) - 5, len(DATA) - 1),
        (f"bytes=10-{len(DATA) * 2}", 10, len(DATA) - 1),  # end clamped to the size
    ],
)
def test_download_range_is_206(client: TestClient, auth, stored, header, start, end) -> None:
    _, ckpt_id = stored
    response = client.get(f"/v1/checkpoints/{ckpt_id}/download", headers={**auth, "Range": header})
    assert response.status_code == 206
    assert response.content == DATA[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["content-length"] == str(end - start + 1)


def test_range_past_the_end_is_416(client: TestClient, auth, stored) -> None:
    _, ckpt_id = stored
    response = client.get(
        f"/v1/checkpoints/{ckpt_id}/download", headers={**auth, "Range": f"bytes={len(DATA)}-"}
    )
    assert response.status_code == 416
    assert response.json()["error_code"] == "range_not_satisfiable"
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"


def test_stale_if_range_sends_the_whole_file(client: TestClient, auth, stored) -> None:
    _, ckpt_id = stored
    response = client.get(
        f"/v1/checkpoints/{ckpt_id}/download",
        headers={**auth, "Range": "bytes=0-9", "If-Range": '"not-the-etag"'},
    )
    assert response.status_code == 200 and len(response.content) == len(DATA)


def test_someone_elses_or_missing_checkpoint_is_404(
    client: TestClient, auth, stored, make_token
) -> None:
    _, ckpt_id = stored
    stranger = make_token("stranger")
    for headers, target in ((stranger.headers, ckpt_id), (auth, "f" * 32)):
        response = client.get(f"/v1/checkpoints/{target}/download", headers=headers)
        assert response.status_code == 404, target
        assert response.json()["error_code"] == "checkpoint_not_found"
    # A client path never reaches the file system: it is not even a route.
    traversal = client.get("/v1/checkpoints/..%2F..%2Fetc%2Fpasswd/download", headers=auth)
    assert traversal.status_code == 404


def test_checkpoint_whose_file_is_gone_is_404(
    client: TestClient, auth, stored, settings: Settings, database_url: str
) -> None:
    _, ckpt_id = stored
    with session_scope(database_url) as session:
        get_artifact_store(settings).delete(session.get_one(Checkpoint, ckpt_id).storage_key)
    response = client.get(f"/v1/checkpoints/{ckpt_id}/download", headers=auth)
    assert response.status_code == 404
    assert response.json()["error_code"] == "checkpoint_not_found"


def test_download_needs_a_token(client: TestClient, stored) -> None:
    _, ckpt_id = stored
    response = client.get(f"/v1/checkpoints/{ckpt_id}/download")
    assert response.status_code == 401


def test_head_answers_the_download_headers_without_the_file(
    client: TestClient, auth, stored, make_token
) -> None:
    _, ckpt_id = stored
    url = f"/v1/checkpoints/{ckpt_id}/download"
    whole = client.head(url, headers=auth)
    assert whole.status_code == 200, whole.text
    assert whole.content == b""
    assert whole.headers["content-length"] == str(len(DATA))
    assert whole.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "application/octet-stream"
    part = client.head(url, headers={**auth, "Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, b"")
    assert part.headers["content-range"] == f"bytes 10-19/{len(DATA)}"
    assert part.headers["content-length"] == "10"
    cached = client.head(url, headers={**auth, "If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    assert client.head(url, headers=make_token("other").headers).status_code == 404
    assert client.head(url).status_code == 401


def test_openapi_declares_the_download_request_headers(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][
        "/v1/checkpoints/{checkpoint_id}/download"
    ]["get"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert {"Range", "If-None-Match", "If-Range"} <= set(headers)
    assert "bytes=a-b" in headers["Range"]["description"]
