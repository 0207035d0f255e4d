"""GET /v1/jobs (filters, cursor pages), GET /v1/jobs/{id}, POST /v1/jobs/{id}/cancel."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.db.models import JobStatus
from tests.api.helpers import move, submit


def test_list_is_newest_first_in_cursor_pages(client: TestClient, auth: dict[str, str]) -> None:
    ids = [submit(client, auth, name=f"job-{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", params=params, headers=auth).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ids[::-1]
    assert cursor is None


def test_list_filters_by_status_and_every_tag(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    a = submit(client, auth, tags=["x", "y_1"])["id"]
    b = submit(client, auth, tags=["x"])["id"]
    c = submit(client, auth, tags=["yz1"])["id"]  # '_' must not act as a LIKE wildcard
    move(database_url, b, JobStatus.running)

    def listed(**params) -> list[str]:
        response = client.get("/v1/jobs", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return [j["id"] for j in response.json()["items"]]

    assert listed(tag="x") == [b, a]
    assert listed(tag=["x", "y_1"]) == [a]
    assert listed(tag="y_1") == [a]
    assert listed(status="running") == [b]
    assert listed(status=["queued", "running"]) == [c, b, a]
    assert listed(status="queued", tag="x") == [a]


def test_list_rejects_unknown_status_and_bad_cursor(
    client: TestClient, auth: dict[str, str]
) -> None:
    bad_status = client.get("/v1/jobs", params={"status": "done"}, headers=auth)
    assert bad_status.status_code == 422 and "query.status" in bad_status.json()["detail"]
    bad_cursor = client.get("/v1/jobs", params={"cursor": "garbage!"}, headers=auth)
    assert bad_cursor.status_code == 422 and "cursor" in bad_cursor.json()["detail"]
    bad_limit = client.get("/v1/jobs", params={"limit": 0}, headers=auth)
    assert bad_limit.status_code == 422 and "query.limit" in bad_limit.json()["detail"]


def test_list_shows_only_own_project(client: TestClient, auth: dict[str, str], make_token) -> None:
    mine = submit(client, auth)["id"]
    other = make_token("someone-else")
    submit(client, other.headers)
    assert [j["id"] for j in client.get("/v1/jobs", headers=auth).json()["items"]] == [mine]


def test_read_job_shows_status_history(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    move(database_url, job_id, JobStatus.running, JobStatus.succeeded)
    job = client.get(f"/v1/jobs/{job_id}", headers=auth).json()
    assert job["status"] == "succeeded"
    assert [(t["from_status"], t["to_status"]) for t in job["transitions"]] == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]
    assert job["finished_at"] is not None
    assert job["best_checkpoint"] is None


@pytest.mark.parametrize("route", ["", "/metrics", "/checkpoints"])
def test_unknown_and_other_projects_jobs_are_404(
    client: TestClient, auth: dict[str, str], make_token, route: str
) -> None:
    theirs = submit(client, make_token("theirs").headers)["id"]
    for job_id in (theirs, "0" * 32, "not-an-id"):
        response = client.get(f"/v1/jobs/{job_id}{route}", headers=auth)
        assert response.status_code == 404
        assert response.json()["error_code"] == "job_not_found"


def test_cancel_queued_job_cancels_it_at_once(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    response = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "cancelled" and job["cancel_requested"] is True
    assert job["transitions"][-1]["from_status"] == "queued"


def test_cancel_running_job_asks_the_worker_to_stop(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    move(database_url, job_id, JobStatus.running)
    first = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth).json()
    assert (first["status"], first["cancel_requested"]) == ("cancelling", True)
    again = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert again.status_code == 200 and again.json()["status"] == "cancelling"
    assert len(again.json()["transitions"]) == 3  # the repeat changed nothing


@pytest.mark.parametrize("final", [JobStatus.succeeded, JobStatus.failed])
def test_cancel_finished_job_is_409(
    client: TestClient, auth: dict[str, str], database_url: str, final: JobStatus
) -> None:
    job_id = submit(client, auth)["id"]
    move(database_url, job_id, JobStatus.running, final)
    response = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 409
    assert response.json()["error_code"] == "job_not_cancellable"
    assert final.value in response.json()["detail"]


def test_cancelling_a_cancelled_job_again_is_200_and_changes_nothing(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    queued = submit(client, auth)["id"]
    running = submit(client, auth)["id"]
    move(database_url, running, JobStatus.running, JobStatus.cancelling, JobStatus.cancelled)
    first = client.post(f"/v1/jobs/{queued}/cancel", headers=auth).json()
    for job_id, before in ((queued, first), (running, None)):
        before = before or client.get(f"/v1/jobs/{job_id}", headers=auth).json()
        again = client.post(f"/v1/jobs/{job_id}/cancel", headers=auth)
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "cancelled"
        assert again.json()["transitions"] == before["transitions"]  # nothing new recorded


def test_cancel_someone_elses_job_is_404_and_changes_nothing(
    client: TestClient, auth: dict[str, str], make_token
) -> None:
    other = make_token("owner")
    job_id = submit(client, other.headers)["id"]
    assert client.post(f"/v1/jobs/{job_id}/cancel", headers=auth).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}", headers=other.headers).json()["status"] == "queued"
