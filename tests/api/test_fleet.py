"""The fleet over HTTP: resources and priority in the spec (and their 422s), queue and placement
on GET /v1/jobs/{id}, GET /v1/queue, GET /v1/workers and project quotas (admin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import SPEC
from tests.conftest import ProjectToken
from tests.fleet_helpers import register_fake_worker


def job_spec(**extra: Any) -> dict[str, Any]:
    return {**SPEC, **extra}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"resources": {"gpus": -1}}, "resources.gpus"),
        ({"resources": {"gpus": 65}}, "resources.gpus"),
        ({"resources": {"gpus": "1"}}, "resources.gpus"),
        ({"resources": {"gpu": 1}}, "resources.gpu"),
        ({"resources": {"pool": "no spaces"}}, "resources.pool"),
        ({"resources": {"labels": {"k": "v w"}}}, "resources.labels.k"),
        ({"resources": {"memory_mb": 1}}, "resources.memory_mb"),
        ({"priority": 1001}, "priority"),
        ({"priority": -1001}, "priority"),
        ({"trainer": {"accelerator": "gpu"}}, "resources.gpus"),
        ({"trainer": {"accelerator": "cuda"}, "resources": {"gpus": 0}}, "resources.gpus"),
    ],
)
def test_bad_resources_and_priorities_are_422_naming_the_field_and_store_nothing(
    client: TestClient,
    auth: dict[str, str],
    count_rows: Callable[[str], int],
    extra: dict[str, Any],
    field: str,
) -> None:
    response = client.post("/v1/jobs", json=job_spec(**extra), headers=auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert field in body["detail"] or any(e["field"] == field for e in body.get("errors") or [])
    assert count_rows("jobs") == 0


def test_a_queued_job_shows_its_position_and_reason_and_a_placed_one_its_worker(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    worker = register_fake_worker(database_url, gpus=1, cpu_slots=0)
    posted = client.post("/v1/jobs", json=job_spec(resources={"gpus": 1}), headers=auth).json()
    first = client.get(f"/v1/jobs/{posted['id']}", headers=auth).json()  # after the pass
    assert first["placement"] == {"worker": worker, "gpus": [0]}
    assert first["queue"]["position"] is None  # placed, starting on its worker
    second = client.post(
        "/v1/jobs", json=job_spec(resources={"gpus": 1}, priority=3), headers=auth
    ).json()
    read = client.get(f"/v1/jobs/{second['id']}", headers=auth).json()
    assert read["placement"] is None and read["priority"] == 3
    assert {k: read["queue"][k] for k in ("position", "jobs_ahead", "pending_reason")} == {
        "position": 1, "jobs_ahead": 0, "pending_reason": "waiting_for_gpus",
    }  # fmt: skip
    listed = client.get("/v1/jobs", headers=auth).json()["items"]
    assert [j["queue"]["pending_reason"] if j["queue"] else None for j in listed] == [
        "waiting_for_gpus", None,
    ]  # fmt: skip
    queue = client.get("/v1/queue", headers=auth).json()["items"]
    # Scheduling order: priority 3 first; the placed one has no position.
    assert [(q["id"], q["queue"]["position"]) for q in queue] == [
        (second["id"], 1), (first["id"], None),
    ]  # fmt: skip


def test_the_queue_shows_only_the_callers_project_and_everything_to_an_admin(
    client: TestClient, auth: dict[str, str], make_token: Callable[..., ProjectToken]
) -> None:
    mine = client.post("/v1/jobs", json=job_spec(), headers=auth).json()["id"]
    other = make_token("someone-else")
    theirs = client.post("/v1/jobs", json=job_spec(), headers=other.headers).json()["id"]
    admin = make_token("ops", is_admin=True)
    assert [q["id"] for q in client.get("/v1/queue", headers=auth).json()["items"]] == [mine]
    everyone = client.get("/v1/queue", headers=admin.headers).json()["items"]
    assert [(q["id"], q["queue"]["pending_reason"]) for q in everyone] == [
        (mine, "pool_has_no_workers"), (theirs, "pool_has_no_workers"),
    ]  # fmt: skip
    assert client.get("/v1/queue?pool=bad%20pool", headers=auth).status_code == 422


def test_dry_run_warns_when_no_worker_could_run_the_job(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    register_fake_worker(database_url, gpus=2)
    fits = client.post("/v1/jobs?dry_run=true", json=job_spec(resources={"gpus": 2}), headers=auth)
    assert fits.status_code == 200 and fits.json()["warnings"] == []
    big = client.post("/v1/jobs?dry_run=true", json=job_spec(resources={"gpus": 8}), headers=auth)
    assert big.json()["warnings"][0].startswith("no_worker_fits")
    nowhere = job_spec(resources={"pool": "tpu"})
    warned = client.post("/v1/jobs?dry_run=true", json=nowhere, headers=auth).json()["warnings"]
    assert warned[0].startswith("pool_has_no_workers")
    # Still accepted for real: it waits, and says why.
    job = client.post("/v1/jobs", json=job_spec(resources={"gpus": 8}), headers=auth).json()
    assert job["queue"]["pending_reason"] == "no_worker_fits"


def test_workers_are_listed_to_admins_with_their_gpus_and_jobs(
    client: TestClient, auth: dict[str, str], make_token: Callable[..., ProjectToken],
    database_url: str,
) -> None:  # fmt: skip
    worker = register_fake_worker(database_url, gpus=2, cpu_slots=1, labels={"gpu": "sim"})
    job = client.post("/v1/jobs", json=job_spec(resources={"gpus": 1}), headers=auth).json()
    assert client.get("/v1/workers", headers=auth).status_code == 403
    admin = make_token("ops", is_admin=True)
    [listed] = client.get("/v1/workers", headers=admin.headers).json()["items"]
    assert (listed["id"], listed["status"], listed["simulated"]) == (worker, "online", True)
    assert [(g["index"], g["job_id"]) for g in listed["gpus"]] == [(0, job["id"]), (1, None)]
    assert (listed["cpu_slots"], listed["cpu_slots_busy"], listed["jobs"]) == (1, 0, [job["id"]])
    assert listed["labels"] == {"gpu": "sim"}


def test_project_quotas_and_the_priority_cap(
    client: TestClient, auth: dict[str, str], project_token: ProjectToken,
    make_token: Callable[..., ProjectToken], count_rows: Callable[[str], int],
) -> None:  # fmt: skip
    admin = make_token("ops", is_admin=True)
    url = f"/v1/projects/{project_token.project_id}"
    assert client.patch(url, json={"max_priority": 5}, headers=auth).status_code == 403
    set_ = client.patch(url, json={"max_priority": 5, "max_gpus": 2}, headers=admin.headers)
    assert set_.status_code == 200, set_.text
    assert (set_.json()["max_priority"], set_.json()["max_gpus"]) == (5, 2)

    over = client.post("/v1/jobs", json=job_spec(priority=6), headers=auth)
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "priority"
    assert count_rows("jobs") == 0
    assert client.post("/v1/jobs", json=job_spec(priority=5), headers=auth).status_code == 201

    cleared = client.patch(url, json={"max_priority": None}, headers=admin.headers).json()
    assert (cleared["max_priority"], cleared["max_gpus"]) == (None, 2)  # left out: unchanged
    for bad in ({"max_gpus": -1}, {"max_gpus": "2"}, {"cpu": 1}):
        assert client.patch(url, json=bad, headers=admin.headers).status_code == 422
    assert client.patch("/v1/projects/nope", json={}, headers=admin.headers).status_code == 404
