"""Dashboard pages without a browser: what they list, filter and refuse, and the vendored files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.db.metrics import insert_metrics
from api.db.session import session_scope
from api.ui.templates import STATIC_DIR
from tests.fleet_helpers import register_fake_worker
from tests.ui.conftest import HTML, UiClient

XSS = '<img src=x onerror="alert(1)">'


def row_ids(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('data-job-id="')[1:]]


def test_jobs_page_filters_by_status_tag_and_name(ui: UiClient) -> None:
    small = ui.submit(name="Digits-small", tags=["digits"])
    big = ui.submit(name="digits-big", tags=["digits", "big"])
    other = ui.submit(name="other")
    ui.client.post(f"/ui/jobs/{other['id']}/cancel", data={"csrf_token": ui.csrf})

    def get(query: str) -> list[str]:
        return row_ids(ui.client.get(f"/ui/?{query}", headers=HTML).text)

    assert get("") == [other["id"], big["id"], small["id"]]
    assert get("status=cancelled") == [other["id"]]
    assert get("tag=big") == [big["id"]]
    assert get("q=DIGITS") == [big["id"], small["id"]]
    assert get("q=digits&tag=big&status=queued") == [big["id"]]
    bad = ui.client.get("/ui/?status=exploded&tag=no%20spaces", headers=HTML)
    assert bad.status_code == 200 and row_ids(bad.text) == []
    assert "is not one of" in bad.text and "A tag holds only" in bad.text


def test_jobs_page_pages_with_a_cursor(ui: UiClient) -> None:
    jobs = [ui.submit(name=f"job-{i}") for i in range(5)]
    first = ui.client.get("/ui/?limit=2", headers=HTML).text
    assert row_ids(first) == [jobs[4]["id"], jobs[3]["id"]]
    seen = row_ids(first)
    page = first
    while 'id="older"' in page:
        link = page.split('id="older" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        page = ui.client.get(link, headers=HTML).text
        seen += row_ids(page)
    assert seen == [j["id"] for j in reversed(jobs)]
    broken = ui.client.get("/ui/?cursor=nonsense", headers=HTML)
    assert broken.status_code == 422 and "cursor" in broken.text


def test_the_api_list_searches_names_too(ui: UiClient) -> None:
    ui.submit(name="Alpha one")
    ui.submit(name="beta")
    ui.submit(name="50%_off")
    headers = ui.token.headers

    def names(search: str) -> list[str]:
        page = ui.client.get("/v1/jobs", params={"search": search}, headers=headers).json()
        return [job["name"] for job in page["items"]]

    assert names("ALPHA") == ["Alpha one"]
    assert names("%") == ["50%_off"] and names("_") == ["50%_off"]  # no LIKE wildcards
    too_long = ui.client.get("/v1/jobs", params={"search": "x" * 201}, headers=headers)
    assert too_long.status_code == 422 and too_long.json()["error_code"] == "validation_error"


def test_best_value_of_the_monitored_metric(ui: UiClient, database_url: str) -> None:
    lower = ui.submit(name="min-mode", checkpoint={"monitor": "val_loss", "mode": "min"})
    higher = ui.submit(name="max-mode", early_stopping={"monitor": "val_acc", "mode": "max"})
    rows = []
    for step, value in enumerate([0.9, 0.4, 0.6]):
        rows.append(
            dict(
                job_id=lower["id"],
                name="val_loss",
                stage="validate",
                step=step,
                epoch=0,
                value=value,
            )
        )
        rows.append(
            dict(
                job_id=higher["id"],
                name="val_acc",
                stage="validate",
                step=step,
                epoch=0,
                value=value,
            )
        )
    with session_scope(database_url) as session:
        insert_metrics(session, rows)
    page = ui.client.get("/ui/", headers=HTML).text
    best = {
        job_id: page.split(f'data-job-id="{job_id}"', 1)[1]
        .split('class="best">', 1)[1]
        .split("</td>", 1)[0]
        for job_id in (lower["id"], higher["id"])
    }
    assert "val_loss</span> 0.4" in best[lower["id"]]
    assert "val_acc</span> 0.9" in best[higher["id"]]


def test_user_strings_are_escaped_on_every_page(ui: UiClient) -> None:
    job = ui.submit(name=XSS, tags=["t1"])
    for path in (
        "/ui/",
        f"/ui/jobs/{job['id']}",
        f"/ui/compare?job={job['id']}",
        f"/ui/submit?from={job['id']}",
    ):
        page = ui.client.get(path, headers=HTML).text
        assert XSS not in page, path
        assert "&lt;img src=x" in page or "\\u003cimg src=x" in page, path


def test_a_job_of_another_project_is_not_found(
    ui: UiClient, make_ui: Callable[..., UiClient]
) -> None:
    job = ui.submit(name="mine")
    stranger = make_ui("ui-stranger")
    page = stranger.client.get(f"/ui/jobs/{job['id']}", headers=HTML)
    assert page.status_code == 404 and "job_not_found" in page.text
    for path in (f"/ui/api/v1/jobs/{job['id']}", f"/ui/api/jobs/{job['id']}/marks"):
        response = stranger.client.get(path)
        assert response.status_code == 404 and response.json()["error_code"] == "job_not_found"
    cancel = stranger.client.post(
        f"/ui/jobs/{job['id']}/cancel", data={"csrf_token": stranger.csrf}, headers=HTML
    )
    assert cancel.status_code == 404
    assert ui.client.get(f"/ui/api/v1/jobs/{job['id']}").json()["status"] == "queued"
    compare = stranger.client.get(f"/ui/compare?job={job['id']}", headers=HTML)
    assert (
        "mine" not in compare.text
        and "1 of the chosen jobs are not in this project" in compare.text
    )


def test_step_marks_place_steps_on_epoch_and_time_axes(ui: UiClient, database_url: str) -> None:
    job = ui.submit(name="marks")
    assert ui.client.get(f"/ui/api/jobs/{job['id']}/marks").json() == {"marks": []}
    rows = [
        dict(job_id=job["id"], name="loss", stage="train", step=step, epoch=step // 100, value=1.0)
        for step in range(0, 1000, 2)
    ]
    with session_scope(database_url) as session:
        insert_metrics(session, rows)
    marks = ui.client.get(f"/ui/api/jobs/{job['id']}/marks").json()["marks"]
    steps = [m[0] for m in marks]
    assert (
        steps == sorted(steps) and steps[0] == 0 and steps[-1] == 998 and 200 <= len(marks) <= 256
    )
    assert all(epoch == step // 100 for step, epoch, _ in marks)


def test_admin_pages_are_for_admin_tokens(ui: UiClient, make_ui: Callable[..., UiClient]) -> None:
    refused = ui.client.get("/ui/admin", headers=HTML)
    assert refused.status_code == 403 and "admin" in refused.text
    assert 'href="/ui/admin"' not in ui.client.get("/ui/", headers=HTML).text
    admin = make_ui("ui-admin", is_admin=True)
    made = admin.client.post(
        "/ui/admin/tokens",
        data={
            "csrf_token": admin.csrf,
            "project": "made-here",
            "name": "bot",
            "expires_at": "2001-01-01T00:00",
        },
    )
    assert made.status_code == 422 and "already past" in made.text
    made = admin.client.post(
        "/ui/admin/tokens", data={"csrf_token": admin.csrf, "project": "made here!"}
    )
    assert made.status_code == 422 and 'id="new-secret"' not in made.text
    made = admin.client.post(
        "/ui/admin/tokens", data={"csrf_token": admin.csrf, "project": "made-here", "name": "bot"}
    )
    assert made.status_code == 201
    secret = made.text.split('id="new-secret" readonly value="', 1)[1].split('"', 1)[0]
    assert (
        TestClient(admin.client.app)
        .get("/v1/jobs", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 200
    )
    assert secret not in admin.client.get("/ui/admin", headers=HTML).text
    project = admin.client.post(
        "/ui/admin/projects", data={"csrf_token": admin.csrf, "name": "made-here"}
    )
    assert project.status_code == 409
    no_csrf = admin.client.post("/ui/admin/projects", data={"name": "sneaky"}, headers=HTML)
    assert (
        no_csrf.status_code == 403
        and "sneaky" not in admin.client.get("/ui/admin", headers=HTML).text
    )


def test_vendored_files_match_their_record() -> None:
    vendor = Path(STATIC_DIR) / "vendor"
    record = json.loads((vendor / "VENDOR.json").read_text())
    assert record["package"] == "uplot" and record["version"]
    for name, digest in record["files"].items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_admin_sees_workers_and_the_queue(
    make_ui: Callable[..., UiClient], database_url: str
) -> None:
    admin = make_ui("ui-fleet", is_admin=True)
    waiting = admin.submit(name="needs-two-gpus", resources={"gpus": 2})
    worker_id = register_fake_worker(database_url, gpus=1, name="gpu-box")
    page = admin.client.get("/ui/admin", headers=HTML).text
    workers = page.split('id="workers-table"', 1)[1].split("</table>", 1)[0]
    assert worker_id in workers and "Online" in workers and "0 / 1" in workers
    queue = page.split('id="queue-table"', 1)[1].split("</table>", 1)[0]
    assert f"/ui/jobs/{waiting['id']}" in queue and "needs-two-gpus" in queue
    job_page = admin.client.get(f"/ui/jobs/{waiting['id']}", headers=HTML).text
    assert 'id="job-queue"' in job_page and "position 1" in job_page
