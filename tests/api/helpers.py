"""Small helpers for API tests: submit a job, move it along, store metrics and checkpoints."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.artifacts import ArtifactStore, checkpoint_key
from api.db.jobs import transition_job
from api.db.models import Checkpoint, Job, JobStatus, Metric
from api.db.session import session_scope

SPEC: dict[str, Any] = {
    "module": {"name": "autoencoder", "params": {"hidden_dim": 8}},
    "datamodule": {"name": "synthetic", "params": {"train_size": 32}},
    "trainer": {"max_epochs": 1},
}


def submit(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/jobs", json={**SPEC, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def move(database_url: str, job_id: str, *steps: JobStatus) -> None:
    """Walk the job through `steps` the way a worker would (locked, recorded transitions)."""
    with session_scope(database_url) as session:
        for to in steps:
            job = session.get_one(Job, job_id)
            transition_job(session, job_id, from_=[job.status], to=to, reason="test")


def add_metrics(database_url: str, job_id: str, rows: list[tuple[str, str, int, float]]) -> None:
    with session_scope(database_url) as session:
        for name, stage, step, value in rows:
            session.add(
                Metric(job_id=job_id, name=name, stage=stage, step=step, epoch=0, value=value)
            )


def add_checkpoint(
    database_url: str,
    store: ArtifactStore,
    job_id: str,
    data: bytes,
    *,
    step: int = 10,
    is_best: bool = False,
    kind: str = "epoch",
) -> str:
    """Write a file through the artifact store and its row, as the worker does; return the id."""
    key = checkpoint_key(job_id, 0)
    size, sha256 = store.put_bytes(data, key)
    with session_scope(database_url) as session:
        row = Checkpoint(
            job_id=job_id,
            attempt=0,
            storage_key=key,
            kind=kind,
            step=step,
            epoch=0,
            is_best=is_best,
            size=size,
            sha256=sha256,
        )
        session.add(row)
        session.flush()
        return row.id
