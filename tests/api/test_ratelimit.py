"""The job-creation limit on Redis: API replicas share it; an unreachable Redis does not stop
submission (each process limits on its own meanwhile)."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import KEY_PREFIX
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.helpers_services import REDIS_URL, free_port, unique_queue

SPEC = {
    "module": {"name": "autoencoder", "params": {"hidden_dim": 16}},
    "datamodule": {"name": "digits", "params": {"batch_size": 64}},
    "trainer": {"max_epochs": 1, "limit_train_batches": 1},
}


def replica(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, dispatcher=lambda job_id: None))


def test_two_api_replicas_on_one_redis_share_one_limit(
    settings: Settings, project_token: ProjectToken
) -> None:
    # A queue name of its own: the limit's keys are this test's alone on the shared Redis.
    shared = settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "queue_name": unique_queue(),
            "job_create_rate_per_minute": 3,
        }
    )
    headers = project_token.headers
    with replica(shared) as a, replica(shared) as b:
        codes = [client.post("/v1/jobs", json=SPEC, headers=headers) for client in (a, b, a, b, a)]
    assert [r.status_code for r in codes] == [201, 201, 201, 429, 429]  # 3 in all, not 3 each
    refused = codes[3]
    assert refused.json()["error_code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{KEY_PREFIX}:{shared.queue_name}:*")
    assert len(keys) == 1  # the window lives in Redis, under this deployment's prefix


def test_an_unreachable_redis_falls_back_to_a_per_process_limit(
    settings: Settings, project_token: ProjectToken
) -> None:
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    broken = settings.model_copy(
        update={"redis_url": nobody_listens, "job_create_rate_per_minute": 2}
    )
    with replica(broken) as client:
        codes = [
            client.post("/v1/jobs", json=SPEC, headers=project_token.headers) for _ in range(3)
        ]
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[2].json()["error_code"] == "rate_limited"
