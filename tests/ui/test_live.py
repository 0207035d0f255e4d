"""The page's event stream (/ui/jobs/{id}/events): cookie only, resumable by Last-Event-ID."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.ui.conftest import UiClient


def event_ids(client: TestClient, path: str, headers: dict[str, str] | None = None) -> list[int]:
    """The ids of a finished job's stream (it ends after `end`)."""
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    return [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]


def finished_job(ui: UiClient) -> str:
    job = ui.submit(name="streamed")
    response = ui.client.post(
        f"/ui/api/v1/jobs/{job['id']}/cancel", headers={"X-CSRF-Token": ui.csrf}
    )
    assert response.json()["status"] == "cancelled"
    return str(job["id"])  # events: queued (1), cancelled (2), end (3)


def test_the_stream_resumes_after_last_event_id(ui: UiClient) -> None:
    job_id = finished_job(ui)
    path = f"/ui/jobs/{job_id}/events"
    assert event_ids(ui.client, path) == [1, 2, 3]
    assert event_ids(ui.client, f"{path}?since=1") == [2, 3]
    assert event_ids(ui.client, path, {"Last-Event-ID": "2"}) == [3]  # wins over since
    assert event_ids(ui.client, f"{path}?since=0", {"Last-Event-ID": "2"}) == [3]
    bad = ui.client.get(path, headers={"Last-Event-ID": "two"})
    assert bad.status_code == 422 and bad.json()["error_code"] == "validation_error"


def test_the_stream_needs_the_session_of_the_jobs_project(
    ui: UiClient, make_ui: Callable[..., UiClient]
) -> None:
    job_id = finished_job(ui)
    path = f"/ui/jobs/{job_id}/events"
    anonymous = TestClient(ui.client.app)
    assert anonymous.get(path).status_code == 401
    assert anonymous.get(path, headers=ui.token.headers).status_code == 401  # no bearer here
    stranger = make_ui("ui-stream-stranger")
    response = stranger.client.get(path)
    assert response.status_code == 404 and response.json()["error_code"] == "job_not_found"
