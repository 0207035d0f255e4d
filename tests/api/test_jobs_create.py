"""POST /v1/jobs: validation (422 naming the field, nothing stored), dry run, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.db.models import Job
from api.db.session import session_scope

SPEC: dict[str, Any] = {
    "name": "ae",
    "module": {"name": "autoencoder", "params": {"hidden_dim": 16}},
    "datamodule": {"name": "digits", "params": {"batch_size": 64}},
    "trainer": {"max_epochs": 2, "limit_train_batches": 5},
    "seed": 7,
    "tags": ["demo", "ae"],
}
TABLES = ("jobs", "job_transitions", "job_events")


def with_(path: str, value: Any) -> dict[str, Any]:
    """SPEC with the dotted `path` set to `value`."""
    import copy

    spec = copy.deepcopy(SPEC)
    *parents, leaf = path.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return spec


def test_submit_stores_queued_job_and_dispatches_it(
    client: TestClient,
    auth: dict[str, str],
    dispatched: list[str],
    database_url: str,
    cpu_worker: str,
) -> None:
    response = client.post("/v1/jobs", json=SPEC, headers=auth)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["spec"]["module"]["params"] == {
        "input_dim": 64, "hidden_dim": 16, "latent_dim": 3, "lr": 1e-3,
        "predict_output": "reconstruction",
    }  # fmt: skip
    assert job["spec"]["trainer"] == {"max_epochs": 2, "limit_train_batches": 5}
    assert [t["to_status"] for t in job["transitions"]] == ["queued"]
    assert dispatched == [job["id"]]
    assert job["queue"]["pending_reason"] is not None  # answered before the scheduling pass
    placed = client.get(f"/v1/jobs/{job['id']}", headers=auth).json()
    assert placed["placement"] == {"worker": cpu_worker, "gpus": []}
    with session_scope(database_url) as session:
        row = session.get(Job, job["id"])
        assert row is not None and row.dispatched_at is not None
        assert row.tags == ["demo", "ae"] and row.max_retries == 3


def test_dispatch_failure_still_answers_201_and_leaves_job_for_the_reconciler(
    settings, project_token, database_url: str
) -> None:
    from api.main import create_app

    def broken(job_id: str) -> None:
        raise ConnectionError("broker down")

    with TestClient(create_app(settings, dispatcher=broken)) as client:
        response = client.post("/v1/jobs", json=SPEC, headers=project_token.headers)
    assert response.status_code == 201
    with session_scope(database_url) as session:
        row = session.get(Job, response.json()["id"])
        assert row is not None and row.status == "queued" and row.dispatched_at is None


def test_dry_run_returns_resolved_spec_and_stores_nothing(
    client: TestClient, auth: dict[str, str], dispatched: list[str], count_rows
) -> None:
    response = client.post("/v1/jobs?dry_run=true", json=SPEC, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["spec"]["datamodule"]["params"]["val_fraction"] == 0.1
    assert [count_rows(t) for t in TABLES] == [0, 0, 0]
    assert dispatched == []


BAD_SPECS = [
    pytest.param(with_("module.name", "resnet9000"), 422, "unknown_component", "module.name",
                 id="unknown-module"),
    pytest.param(with_("datamodule.name", "imagenet"), 422, "unknown_component",
                 "datamodule.name", id="unknown-datamodule"),
    pytest.param(with_("module.params.hidden_dim", "big"), 422, "invalid_params",
                 "module.params.hidden_dim", id="wrong-param-type"),
    pytest.param(with_("module.params.hidden_dim", "16"), 422, "invalid_params",
                 "module.params.hidden_dim", id="numeric-string-param"),
    pytest.param(with_("module.params.depth", 3), 422, "invalid_params", "module.params.depth",
                 id="unknown-param"),
    pytest.param(with_("datamodule.params.batch_size", 0), 422, "invalid_params",
                 "datamodule.params.batch_size", id="param-out-of-range"),
    pytest.param(with_("trainer.max_epochs", -1), 422, "validation_error", "trainer.max_epochs",
                 id="negative-epochs"),
    pytest.param(with_("trainer.max_epochs", 10**9), 422, "validation_error",
                 "trainer.max_epochs", id="epochs-over-server-limit"),
    pytest.param(with_("trainer.fast_dev_run", True), 422, "validation_error",
                 "trainer.fast_dev_run", id="unknown-trainer-option"),
    pytest.param(with_("trainer.precision", "8-bit"), 422, "validation_error",
                 "trainer.precision", id="bad-precision"),
    pytest.param(with_("plugins", ["os.system"]), 422, "validation_error", "plugins",
                 id="unknown-top-level-field"),
    pytest.param({k: v for k, v in SPEC.items() if k != "module"}, 422, "validation_error",
                 "module", id="missing-module"),
    pytest.param(with_("tags", ["no spaces allowed"]), 422, "validation_error", "tags.0",
                 id="bad-tag"),
    pytest.param([SPEC], 422, "validation_error", "body", id="not-an-object"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "code", "field"), BAD_SPECS)
def test_bad_spec_is_4xx_naming_the_field_and_stores_nothing(
    client: TestClient,
    auth: dict[str, str],
    dispatched: list[str],
    count_rows,
    body: Any,
    status: int,
    code: str,
    field: str,
) -> None:
    response = client.post("/v1/jobs", json=body, headers=auth)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error_code"] == code
    assert field in error["detail"]
    assert [count_rows(t) for t in TABLES] == [0, 0, 0]
    assert dispatched == []


def test_malformed_json_is_400(client: TestClient, auth: dict[str, str], count_rows) -> None:
    response = client.post(
        "/v1/jobs",
        content=b'{"module": {"name": "autoencoder"',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "malformed_json"
    assert count_rows("jobs") == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer ty_not-a-real-token"}, {"Authorization": "Basic abc"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_missing_or_wrong_token_is_401(client: TestClient, count_rows, headers) -> None:
    response = client.post("/v1/jobs", json=SPEC, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert count_rows("jobs") == 0


def test_idempotency_key_replays_the_same_job(
    client: TestClient, auth: dict[str, str], dispatched: list[str], count_rows, cpu_worker: str
) -> None:
    headers = {**auth, "Idempotency-Key": "retry-1"}
    first = client.post("/v1/jobs", json=SPEC, headers=headers)
    reordered = dict(reversed(list(SPEC.items())))  # same request, other key order
    second = client.post("/v1/jobs", json=reordered, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert count_rows("jobs") == 1
    assert dispatched == [first.json()["id"]]


def test_idempotency_key_with_another_body_is_409(
    client: TestClient, auth: dict[str, str], count_rows
) -> None:
    headers = {**auth, "Idempotency-Key": "retry-2"}
    assert client.post("/v1/jobs", json=SPEC, headers=headers).status_code == 201
    response = client.post("/v1/jobs", json=with_("seed", 8), headers=headers)
    assert response.status_code == 409
    assert response.json()["error_code"] == "idempotency_conflict"
    assert count_rows("jobs") == 1


def test_idempotency_keys_are_per_project(
    client: TestClient, auth: dict[str, str], make_token, count_rows
) -> None:
    other = make_token("other-project")
    key = {"Idempotency-Key": "shared"}
    a = client.post("/v1/jobs", json=SPEC, headers={**auth, **key})
    b = client.post("/v1/jobs", json=SPEC, headers={**other.headers, **key})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert count_rows("jobs") == 2


def test_job_creation_is_rate_limited_per_token(
    settings, project_token, make_token, count_rows
) -> None:
    from api.main import create_app

    limited = settings.model_copy(update={"job_create_rate_per_minute": 2})
    with TestClient(create_app(limited, dispatcher=lambda job_id: None)) as client:
        codes = [
            client.post("/v1/jobs", json=SPEC, headers=project_token.headers) for _ in range(3)
        ]
        other = client.post("/v1/jobs", json=SPEC, headers=make_token("p2").headers)
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[2].json()["error_code"] == "rate_limited"
    assert int(codes[2].headers["retry-after"]) >= 1
    assert other.status_code == 201
    assert count_rows("jobs") == 3
