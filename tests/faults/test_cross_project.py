"""A token of one project gets 404 on every route that takes an id of another project's job or
checkpoint, exactly as for an id that does not exist; the owner gets through.

The routes come from the running server's OpenAPI schema, so a new id-taking route is covered
the day it is added.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.faults.conftest import FaultStack, submit, wait_job
from tests.service_doubles import tiny_spec

# A valid body where one is needed: a body error must not mask the 404.
BODIES = {"/v1/jobs/{job_id}/predict": {"inputs": [[0.0] * 8]}}
OWNED_PARAMS = {"job_id", "checkpoint_id"}


@pytest.fixture(scope="module")
def owned(fault_stack: FaultStack) -> dict[str, Any]:
    """A finished job of project A and its checkpoint, and clients of A and of B."""
    stack = fault_stack
    stack.ensure_workers(1)
    owner, stranger = stack.client(), stack.client()
    job = submit(owner, tiny_spec(max_epochs=1))
    assert wait_job(owner, job["id"], stack)["status"] == "succeeded"
    checkpoint = owner.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"][0]
    return {
        "ids": {"job_id": job["id"], "checkpoint_id": checkpoint["id"]},
        "owner": owner,
        "stranger": stranger,
        "routes": id_routes(owner.get("/openapi.json").json()),
    }


def id_routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        for method in operations
        if any(f"{{{name}}}" in path for name in OWNED_PARAMS)
    )


def status_of(client: httpx.Client, method: str, path: str, ids: dict[str, str]) -> int:
    url = path.format(**ids)
    # A stream (the events route) is only opened: its status is all that matters here.
    with client.stream(method, url, json=BODIES.get(path)) as response:
        return response.status_code


def test_every_id_taking_route_is_covered(owned: dict[str, Any]) -> None:
    paths = {path for _, path in owned["routes"]}
    assert {
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/metrics",
        "/v1/jobs/{job_id}/checkpoints",
        "/v1/jobs/{job_id}/predict",
        "/v1/jobs/{job_id}/events",
        "/v1/checkpoints/{checkpoint_id}/download",
    } <= paths


def test_another_project_s_ids_answer_404_like_missing_ones(owned: dict[str, Any]) -> None:
    ids, owner, stranger = owned["ids"], owned["owner"], owned["stranger"]
    missing = {name: "0" * 32 for name in ids}
    wrong = []
    for method, path in owned["routes"]:
        seen = {
            "owner": status_of(owner, method, path, ids),
            "stranger": status_of(stranger, method, path, ids),
            "missing": status_of(stranger, method, path, missing),
        }
        # The owner gets through (so the ids are real), the stranger learns nothing.
        if seen["owner"] == 404 or seen["stranger"] != 404 or seen["missing"] != 404:
            wrong.append(f"{method} {path}: {seen}")
    assert not wrong, "\n".join(wrong)


def test_the_404_body_does_not_reveal_the_owner(owned: dict[str, Any]) -> None:
    ids, stranger = owned["ids"], owned["stranger"]
    foreign = stranger.get(f"/v1/jobs/{ids['job_id']}").json()
    missing = stranger.get(f"/v1/jobs/{'0' * 32}").json()
    assert foreign["error_code"] == missing["error_code"] == "job_not_found"
    assert foreign["detail"].replace(ids["job_id"], "ID") == missing["detail"].replace(
        "0" * 32, "ID"
    )
