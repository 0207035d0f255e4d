"""Metric history: downsampled buckets match numpy on a known series; raw CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.db.metrics import insert_metrics
from api.db.session import session_scope
from tests.api.helpers import submit


def known_series() -> tuple[np.ndarray, np.ndarray]:
    """Every step to 2999, then every third step to 9000: dense and sparse stretches."""
    steps = np.concatenate([np.arange(0, 3000), np.arange(3000, 9001, 3)])
    rng = np.random.default_rng(7)
    values = np.sin(steps / 300.0) + rng.normal(0.0, 0.2, steps.size)
    return steps, values


def store(database_url: str, job_id: str, steps: np.ndarray, values: np.ndarray) -> None:
    """Insert in shuffled batches, as replays and out-of-order flushes would."""
    rows = [
        {"job_id": job_id, "name": "loss", "stage": "train", "step": int(s), "epoch": 0,
         "value": float(v)}
        for s, v in zip(steps, values, strict=True)
    ]  # fmt: skip
    batches = [rows[i : i + 700] for i in range(0, len(rows), 700)]
    order = np.random.default_rng(1).permutation(len(batches))
    for i in order:
        with session_scope(database_url) as session:
            insert_metrics(session, batches[i])


def expected_buckets(steps: np.ndarray, values: np.ndarray, width: int) -> list[dict[str, Any]]:
    out = []
    keys = steps // width
    for key in np.unique(keys):
        s, v = steps[keys == key], values[keys == key]
        out.append(
            {"step_min": int(s.min()), "step_max": int(s.max()), "count": int(s.size),
             "min": v.min(), "max": v.max(), "mean": v.mean(), "last": v[np.argmax(s)]}
        )  # fmt: skip
    return out


def assert_buckets_match(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [(b["step_min"], b["step_max"], b["count"]) for b in got] == [
        (b["step_min"], b["step_max"], b["count"]) for b in want
    ]
    for field in ("min", "max", "mean", "last"):
        np.testing.assert_allclose([b[field] for b in got], [b[field] for b in want], rtol=1e-9)


def history(client: TestClient, auth: dict[str, str], job_id: str, **params: Any) -> Any:
    response = client.get(f"/v1/jobs/{job_id}/metrics", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url"))


@pytest.mark.parametrize(
    ("max_points", "window"),
    [(100, {}), (7, {}), (5000, {}), (60, {"step_min": 1001, "step_max": 7777})],
    ids=["rollups", "coarse", "raw", "zoomed"],
)
def test_downsampled_buckets_match_numpy(
    client: TestClient,
    auth: dict[str, str],
    database_url: str,
    max_points: int,
    window: dict[str, int],
) -> None:
    job_id = submit(client, auth)["id"]
    steps, values = known_series()
    store(database_url, job_id, steps, values)

    body = history(client, auth, job_id, name="loss", max_points=max_points, **window)
    (series,) = body["series"]
    assert (series["name"], series["stage"], series["count"]) == ("loss", "train", steps.size)
    assert 0 < len(series["buckets"]) <= max_points
    keep = (steps >= window.get("step_min", 0)) & (steps <= window.get("step_max", 10**9))
    want = expected_buckets(steps[keep], values[keep], series["bucket_steps"])
    assert_buckets_match(series["buckets"], want)


def test_every_series_is_downsampled_and_unknown_job_is_404(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    with session_scope(database_url) as session:
        insert_metrics(
            session,
            [{"job_id": job_id, "name": "acc", "stage": "validate", "step": s, "epoch": 0,
              "value": s / 10} for s in range(0, 50, 10)]
            + [{"job_id": job_id, "name": "loss", "stage": "train", "step": s, "epoch": 0,
                "value": 1.0} for s in range(40)],
        )  # fmt: skip
    body = history(client, auth, job_id, max_points=4)
    assert [(s["name"], s["stage"], s["count"]) for s in body["series"]] == [
        ("acc", "validate", 5),
        ("loss", "train", 40),
    ]
    assert all(len(s["buckets"]) <= 4 for s in body["series"])
    missing = client.get("/v1/jobs/nope/metrics", params={"max_points": 10}, headers=auth)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "job_not_found")
    bad = client.get(f"/v1/jobs/{job_id}/metrics", params={"max_points": 0}, headers=auth).json()
    assert bad["error_code"] == "validation_error" and "max_points" in bad["detail"]


def read_csv(text: str) -> list[tuple[str, str, int, float]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [(r["name"], r["stage"], int(r["step"]), float(r["value"])) for r in rows]


def test_csv_export_streams_every_point_and_pages_with_a_cursor(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    points = [("loss", "train", s, 1.0 / (s + 3)) for s in range(12_000)]
    points += [("val_loss", "validate", s, 0.5) for s in range(0, 12_000, 1000)]
    with session_scope(database_url) as session:
        insert_metrics(
            session,
            [{"job_id": job_id, "name": n, "stage": g, "step": s, "epoch": 0, "value": v}
             for n, g, s, v in points],
        )  # fmt: skip
    url = f"/v1/jobs/{job_id}/metrics"
    whole = client.get(url, params={"format": "csv", "name": "loss"}, headers=auth)
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/csv")
    assert read_csv(whole.text) == [p for p in points if p[0] == "loss"]  # exact floats

    pages, cursor = [], None
    while True:
        params = {"format": "csv", "limit": 5000, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params=params, headers=auth)
        pages += read_csv(page.text)
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert sorted(pages, key=lambda p: (p[2], p[0])) == sorted(points, key=lambda p: (p[2], p[0]))
    assert len(pages) == len(points)
