"""POST /v1/jobs/{id}/predict: the job's checkpoint, loaded through load_from_checkpoint."""

from __future__ import annotations

import io

import pytest
import torch
from fastapi.testclient import TestClient

from api.artifacts import get_artifact_store
from api.settings import Settings
from catalog.components import LitAutoEncoder
from tests.api.helpers import add_checkpoint, submit

PARAMS = {"input_dim": 4, "hidden_dim": 8, "latent_dim": 2}
# Samples of 4 features, as the module takes: a spec whose module does not fit its data is a 422.
DATA = {"name": "synthetic", "params": {"shape": [4], "train_size": 32}}


def checkpoint_bytes(model: LitAutoEncoder) -> bytes:
    """A checkpoint in Lightning's layout, as ModelCheckpoint writes it."""
    buffer = io.BytesIO()
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": dict(model.hparams),
            "epoch": 0,
            "global_step": 1,
            "pytorch-lightning_version": "2.6.2",
        },
        buffer,
    )
    return buffer.getvalue()


@pytest.fixture
def trained(client: TestClient, auth, settings: Settings, database_url: str):
    """A job with two checkpoints of different weights: `best` (step 1) and a later one."""
    job_id = submit(
        client, auth, module={"name": "autoencoder", "params": PARAMS}, datamodule=DATA
    )["id"]
    store = get_artifact_store(settings)
    torch.manual_seed(0)
    best, last = LitAutoEncoder(**PARAMS), LitAutoEncoder(**PARAMS)
    best_id = add_checkpoint(
        database_url, store, job_id, checkpoint_bytes(best), step=1, is_best=True
    )
    last_id = add_checkpoint(
        database_url, store, job_id, checkpoint_bytes(last), step=2, kind="last"
    )
    return job_id, {"best": (best_id, best), "last": (last_id, last)}


INPUTS = [[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, -1.0, 0.5]]


def expected(model: LitAutoEncoder) -> list:
    with torch.inference_mode():
        return model.eval().predict_step(torch.tensor(INPUTS), 0).tolist()


@pytest.mark.parametrize("which", ["best", "last", "by-id"])
def test_predict_equals_the_local_models_output(
    client: TestClient, auth, trained, which: str
) -> None:
    job_id, models = trained
    ckpt_id, model = models["last" if which == "last" else "best"]
    choice = ckpt_id if which == "by-id" else which
    response = client.post(
        f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS, "checkpoint": choice}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checkpoint_id"] == ckpt_id
    assert torch.allclose(torch.tensor(body["outputs"]), torch.tensor(expected(model)))


def test_model_is_cached_between_calls(
    client: TestClient, auth, trained, settings: Settings, database_url: str
) -> None:
    job_id, models = trained
    first = client.post(f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS}, headers=auth)
    # With the file gone, only the cached model can still answer.
    from api.db.models import Checkpoint
    from api.db.session import session_scope

    with session_scope(database_url) as session:
        key = session.get_one(Checkpoint, models["best"][0]).storage_key
    get_artifact_store(settings).delete(key)
    second = client.post(f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS}, headers=auth)
    assert second.status_code == 200 and second.json() == first.json()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"inputs": [[1.0, 2.0], [3.0]]}, 422, "validation_error"),  # ragged
        ({"inputs": [["a", "b", "c", "d"]]}, 422, "validation_error"),
        ({"inputs": []}, 422, "validation_error"),
        ({"inputs": [[0.0] * 3]}, 422, "predict_failed"),  # wrong width for the model
        ({"inputs": INPUTS, "checkpoint": "newest"}, 422, "validation_error"),
        ({"inputs": INPUTS, "checkpoint": "f" * 32}, 404, "checkpoint_not_found"),
        ({"inputs": INPUTS, "extra": 1}, 422, "validation_error"),
    ],
)
def test_bad_predict_requests_are_4xx(
    client: TestClient, auth, trained, body, status, code
) -> None:
    job_id, _ = trained
    response = client.post(f"/v1/jobs/{job_id}/predict", json=body, headers=auth)
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code


def test_batch_over_the_limit_is_422(settings: Settings, project_token, trained) -> None:
    from api.main import create_app

    job_id, _ = trained
    small = settings.model_copy(update={"max_predict_batch": 1})
    with TestClient(create_app(small, dispatcher=lambda job_id: None)) as client:
        response = client.post(
            f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS}, headers=project_token.headers
        )
    assert response.status_code == 422 and "at most 1" in response.json()["detail"]


def test_job_without_checkpoint_is_409(client: TestClient, auth) -> None:
    job_id = submit(client, auth)["id"]
    response = client.post(f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS}, headers=auth)
    assert response.status_code == 409 and response.json()["error_code"] == "job_not_ready"


def test_someone_elses_job_or_checkpoint_is_404(
    client: TestClient, auth, trained, make_token
) -> None:
    job_id, models = trained
    stranger = make_token("stranger")
    response = client.post(
        f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS}, headers=stranger.headers
    )
    assert response.status_code == 404 and response.json()["error_code"] == "job_not_found"
    # Their own job cannot borrow this job's checkpoint by id.
    own = submit(client, stranger.headers)["id"]
    response = client.post(
        f"/v1/jobs/{own}/predict",
        json={"inputs": INPUTS, "checkpoint": models["best"][0]},
        headers=stranger.headers,
    )
    assert response.status_code == 404 and response.json()["error_code"] == "checkpoint_not_found"


def test_predict_last_and_a_resumed_attempt_pick_the_same_row_on_a_tie(
    client: TestClient, auth, settings: Settings, database_url: str
) -> None:
    from api.db.models import Checkpoint, utcnow
    from api.db.session import session_scope
    from worker import lifecycle

    job_id = submit(
        client, auth, module={"name": "autoencoder", "params": PARAMS}, datamodule=DATA
    )["id"]
    store = get_artifact_store(settings)
    for seed in (1, 2, 3):  # same step, same time: only the id tells them apart
        torch.manual_seed(seed)
        add_checkpoint(database_url, store, job_id, checkpoint_bytes(LitAutoEncoder(**PARAMS)))
    with session_scope(database_url) as session:
        now = utcnow()
        for row in session.query(Checkpoint).filter_by(job_id=job_id):
            row.created_at = now

    response = client.post(
        f"/v1/jobs/{job_id}/predict", json={"inputs": INPUTS, "checkpoint": "last"}, headers=auth
    )
    assert response.status_code == 200, response.text
    claimed = lifecycle.claim(settings, job_id, "worker-1")
    assert claimed is not None
    assert claimed.attempts[-1]["resumed_from"] == response.json()["checkpoint_id"]
