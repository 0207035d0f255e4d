"""The whole service over HTTP: a real uvicorn API, a real Celery worker, real databases."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import torch

from catalog.components.autoencoder import LitAutoEncoder
from tests.e2e.conftest import Stack, wait_job
from tests.service_doubles import tiny_spec


def autoencoder_spec() -> dict[str, Any]:
    return tiny_spec(
        module="autoencoder",
        module_params={"input_dim": 8, "hidden_dim": 16, "latent_dim": 2},
        checkpoint={"monitor": "val_loss", "mode": "min", "save_top_k": 1},
    )


def submit(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def download(client: httpx.Client, checkpoint: dict[str, Any], target: Path) -> bytes:
    """Download the file whole, check its sha256 and length, then check a Range request."""
    url = f"/v1/checkpoints/{checkpoint['id']}/download"
    response = client.get(url)
    assert response.status_code == 200, response.text
    data = response.content
    assert hashlib.sha256(data).hexdigest() == checkpoint["sha256"]
    assert response.headers["etag"].strip('"') == checkpoint["sha256"]
    assert int(response.headers["content-length"]) == len(data) == checkpoint["size"]
    part = client.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.content == data[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
    target.write_bytes(data)
    return data


def run_and_check_the_full_flow(stack: Stack, tmp_path: Path) -> None:
    client = stack.client()
    job = wait_job(client, submit(client, autoencoder_spec())["id"], stack)
    assert job["status"] == "succeeded", job
    assert job["progress"]["step"] == job["progress"]["total"] == 8
    assert {"train_loss", "val_loss"} <= set(job["latest_metrics"])

    metrics = client.get(f"/v1/jobs/{job['id']}/metrics", params={"name": "train_loss"}).json()
    assert [p["step"] for p in metrics["items"]] == list(range(8))

    checkpoints = client.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]
    best = next(c for c in checkpoints if c["is_best"])
    assert best["id"] == job["best_checkpoint"]["id"] and best["monitor"] == "val_loss"
    path = tmp_path / "best.ckpt"
    download(client, best, path)

    model = LitAutoEncoder.load_from_checkpoint(str(path))
    model.eval()
    inputs = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(inputs)
    answer = client.post(
        f"/v1/jobs/{job['id']}/predict", json={"inputs": inputs.tolist(), "checkpoint": "best"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["checkpoint_id"] == best["id"]
    assert torch.allclose(torch.tensor(answer.json()["outputs"]), expected, atol=1e-5)


def test_submit_watch_download_and_predict_on_postgres_and_redis(
    pg_stack: Stack, tmp_path: Path
) -> None:
    run_and_check_the_full_flow(pg_stack, tmp_path)


def test_submit_watch_download_and_predict_on_the_embedded_default(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    run_and_check_the_full_flow(embedded_stack, tmp_path)


def test_cancel_a_running_job(pg_stack: Stack) -> None:
    client = pg_stack.client()
    slow = tiny_spec(max_epochs=100, module_params={"sleep_s": 0.05})
    job_id = submit(client, slow)["id"]
    wait_job(client, job_id, pg_stack, until=lambda j: (j["progress"].get("step") or 0) >= 2)

    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] in {"cancelling", "cancelled"}

    job = wait_job(client, job_id, pg_stack)
    assert job["status"] == "cancelled"
    assert job["progress"]["step"] < 100 * 4
    checkpoints = client.get(f"/v1/jobs/{job_id}/checkpoints").json()["items"]
    assert any(c["kind"] == "last" and c["step"] == job["progress"]["step"] for c in checkpoints)
    again = client.post(f"/v1/jobs/{job_id}/cancel")  # safe to repeat: the job as it is
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert again.json()["transitions"] == job["transitions"]


def test_a_job_whose_module_raises_fails_and_the_worker_goes_on(pg_stack: Stack) -> None:
    client = pg_stack.client()
    bad = submit(client, tiny_spec(max_epochs=1, module_params={"fail_at_step": 1}))
    good = submit(client, tiny_spec(max_epochs=1))

    failed = wait_job(client, bad["id"], pg_stack)
    assert (failed["status"], failed["failure_class"]) == ("failed", "user_error")
    assert failed["error"]["type"] == "ValueError"
    assert "training_step" in failed["error"]["traceback"]
    assert wait_job(client, good["id"], pg_stack)["status"] == "succeeded"
