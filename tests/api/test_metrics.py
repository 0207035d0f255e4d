"""GET /v1/jobs/{id}/metrics: filters and pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import add_metrics, submit


def test_metrics_filter_by_name_stage_and_step_range(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    rows = [("train_loss", "train", s, 1.0 / (s + 1)) for s in range(10)]
    rows += [("val_loss", "validate", 4, 0.5), ("val_loss", "validate", 9, 0.25)]
    add_metrics(database_url, job_id, rows)

    def points(**params) -> list[tuple[str, int]]:
        response = client.get(f"/v1/jobs/{job_id}/metrics", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return [(p["name"], p["step"]) for p in response.json()["items"]]

    assert len(points()) == 12
    assert points(name="val_loss") == [("val_loss", 4), ("val_loss", 9)]
    assert points(stage="validate", step_min=5) == [("val_loss", 9)]
    assert points(name="train_loss", step_min=3, step_max=5) == [
        ("train_loss", 3),
        ("train_loss", 4),
        ("train_loss", 5),
    ]


def test_metrics_pages_cover_every_point_once(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    add_metrics(database_url, job_id, [("loss", "train", s, float(s)) for s in range(7)])
    values, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/jobs/{job_id}/metrics", params=params, headers=auth).json()
        values += [p["value"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert values == [float(s) for s in range(7)]


def test_non_finite_values_come_back_as_null(
    client: TestClient, auth: dict[str, str], database_url: str
) -> None:
    job_id = submit(client, auth)["id"]
    add_metrics(database_url, job_id, [("loss", "train", 0, float("nan"))])
    page = client.get(f"/v1/jobs/{job_id}/metrics", headers=auth)
    assert page.status_code == 200
    assert page.json()["items"][0]["value"] is None
