"""GET /v1/jobs/{id}/logs: the job's captured lines, paginated, oldest first."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.db.jobs import append_events, lock_job
from api.db.session import session_scope
from tests.api.helpers import submit


def test_logs_pages_cover_every_line_once_in_order(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    with session_scope(database_url) as session:
        job = lock_job(session, job_id)
        assert job is not None
        events = []
        for i in range(25):
            events.append(("log", {"stream": "stdout" if i % 2 else "stderr", "line": f"line {i}",
                                   "at": 1_700_000_000.5 + i}))  # fmt: skip
            events.append(("metric", {"name": "loss", "step": i, "value": 0.1}))
        append_events(session, job, events)

    lines, cursor, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/v1/jobs/{job_id}/logs", params=params, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        lines += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [item["line"] for item in lines] == [f"line {i}" for i in range(25)]
    assert lines[0]["stream"] == "stderr" and lines[1]["stream"] == "stdout"
    assert lines[0]["at"].startswith("2023-11-14T22:13:20.5")
    seqs = [item["seq"] for item in lines]
    assert seqs == sorted(seqs) and len(set(seqs)) == 25


def test_logs_of_an_unknown_job_or_with_a_bad_cursor_are_4xx(
    client: TestClient, auth: dict[str, str]
) -> None:
    missing = client.get("/v1/jobs/" + "0" * 32 + "/logs", headers=auth)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "job_not_found")
    job_id = submit(client, auth)["id"]
    bad = client.get(f"/v1/jobs/{job_id}/logs", params={"cursor": "zzz"}, headers=auth)
    assert (bad.status_code, bad.json()["error_code"]) == (422, "validation_error")
    assert client.get(f"/v1/jobs/{job_id}/logs").status_code == 401
