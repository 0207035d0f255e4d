"""The dashboard in a real browser (headless Debian Chromium) against a real stack: uvicorn, a
Celery worker, PostgreSQL and Redis. `make screenshots` saves each page into docs/screenshots."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.conftest import issue_token
from tests.e2e.conftest import Stack, wait_job
from tests.service_doubles import tiny_spec
from tests.ui.browser import Browser
from tests.ui.conftest import Project, new_project

XSS_NAME = '<img src=x onerror="window.__xss = 1">'
XSS_LINE = "</script><script>window.__xss = 2</script><b>bold?</b>"
CHECKPOINTS = {"monitor": "val_loss", "mode": "min", "save_top_k": 1, "save_last": True}


def submit(project: Project, **spec: Any) -> dict[str, Any]:
    response = project.api.post("/v1/jobs", json=tiny_spec(**spec))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def finished(ui_stack: Stack) -> dict[str, Any]:
    """Two finished jobs of one project (one named and logging to attack the page), run once."""
    project = new_project(ui_stack)
    attack = submit(
        project,
        name=XSS_NAME,
        module_params={"lr": 0.05, "say": XSS_LINE},
        max_epochs=3,
        checkpoint=CHECKPOINTS,
        tags=["ui", "attack"],
    )
    plain = submit(
        project,
        name="tiny-lr-0.01",
        module_params={"lr": 0.01},
        max_epochs=3,
        checkpoint=CHECKPOINTS,
        tags=["ui"],
    )
    for job in (attack, plain):
        assert wait_job(project.api, job["id"], ui_stack)["status"] == "succeeded"
    return {"project": project, "attack": attack, "plain": plain}


@pytest.fixture
def slow_job(ui_stack: Stack) -> Iterator[tuple[Project, dict[str, Any]]]:
    """A job that logs a point every ~0.25 s for a minute; cancelled afterwards."""
    project = new_project(ui_stack)
    job = submit(
        project,
        name="slow-live",
        module_params={"sleep_s": 0.25, "say": XSS_LINE},
        max_epochs=8,
        train_size=256,
        batch_size=8,
        checkpoint=CHECKPOINTS,
    )
    yield project, job
    project.api.post(f"/v1/jobs/{job['id']}/cancel")
    wait_job(project.api, job["id"], ui_stack)


def chart_points(browser: Browser, stem: str = "loss") -> int:
    cards = browser.find_all(f"figure.chart-card[data-stem='{stem}']")
    return int(cards[0].get_attribute("data-points") or 0) if cards else 0


def test_log_in_and_list_jobs(browser: Browser, finished: dict[str, Any]) -> None:
    project = finished["project"]
    browser.driver.delete_all_cookies()
    browser.open("/ui/")
    assert "/ui/login" in browser.driver.current_url
    browser.screenshot("login")
    browser.login(project.token.token)
    rows = browser.find_all("#jobs-table tbody tr[data-job-id]")
    assert {r.get_attribute("data-job-id") for r in rows} == {
        finished["attack"]["id"],
        finished["plain"]["id"],
    }
    assert browser.find(f"tr[data-job-id='{finished['plain']['id']}'] .status").text == "Succeeded"
    browser.screenshot("jobs")
    search = browser.find("#filter-q")
    search.send_keys("lr-0.01", Keys.ENTER)
    browser.wait(lambda: "q=lr-0.01" in browser.driver.current_url, what="the filtered page")
    names = [r.text for r in browser.find_all("#jobs-table tbody td.name")]
    assert names == ["tiny-lr-0.01"]


def test_keyboard_reaches_a_job_from_the_jobs_page(
    browser: Browser, finished: dict[str, Any]
) -> None:
    browser.login(finished["project"].token.token)
    body = browser.find("body")
    body.send_keys(Keys.TAB)
    assert browser.js("return document.activeElement.textContent") == "Skip to content"
    link = browser.find(f"tr[data-job-id='{finished['plain']['id']}'] td.name a")
    for _ in range(60):  # Tab along the page until the job's link has the focus
        if browser.js("return document.activeElement") == link:
            break
        browser.driver.switch_to.active_element.send_keys(Keys.TAB)
    browser.driver.switch_to.active_element.send_keys(Keys.ENTER)
    browser.wait(lambda: finished["plain"]["id"] in browser.driver.current_url, what="the job page")
    for control in browser.find_all("input, select, textarea"):
        if control.get_attribute("type") in ("hidden",):
            continue
        labelled = control.get_attribute("aria-label") or browser.js(
            "return arguments[0].labels.length", control
        )
        assert labelled, control.get_attribute("id")


def test_a_running_job_draws_new_points_zooms_and_switches_scales(
    browser: Browser, slow_job: tuple[Project, dict[str, Any]], ui_stack: Stack
) -> None:
    project, job = slow_job
    wait_job(
        project.api, job["id"], ui_stack, until=lambda j: (j["progress"].get("step") or 0) >= 3
    )
    browser.login(project.token.token)
    browser.open(f"/ui/jobs/{job['id']}")
    first = browser.wait(lambda: chart_points(browser), what="a drawn chart")
    browser.wait(lambda: chart_points(browser) >= first + 3, what="live points on the chart")
    browser.screenshot("job")
    # The log line arrived as text, never as markup.
    browser.wait(lambda: XSS_LINE in browser.find("#log-tail").text, what="the log line")
    assert browser.find_all("#log-tail b") == []
    assert browser.js("return window.__xss") is None
    progress = browser.find("#job-progress-text").text
    assert progress.startswith("step "), progress

    # Drag across the chart: the server is asked for that range at full resolution.
    card = browser.find("figure.chart-card[data-stem='loss']")
    over = card.find_element("css selector", ".u-over")
    ActionChains(browser.driver).move_to_element_with_offset(
        over, -60, 0
    ).click_and_hold().move_by_offset(90, 0).release().perform()
    browser.wait(lambda: card.get_attribute("data-zoom-range"), what="the zoomed range")
    assert card.get_attribute("data-resolution") == "1"
    low, high = (int(v) for v in card.get_attribute("data-zoom-range").split("-"))
    assert 0 <= low < high
    scale = browser.js("return window.trainyardJob.charts.get('loss').plot.scales.x")
    assert scale["max"] - scale["min"] < high - low + 2

    # Log scale, and smoothing off: remembered across a reload.
    browser.find("label[for='log-y']").click()
    browser.wait(
        lambda: (
            browser.find("figure.chart-card[data-stem='loss']").get_attribute("data-log") == "true"
        )
    )
    assert browser.js("return window.trainyardJob.charts.get('loss').plot.scales.y.distr") == 3
    assert browser.find("figure.chart-card").get_attribute("data-smoothing") == "0.6"
    browser.find("label[for='smooth-on']").click()
    browser.wait(lambda: browser.find("figure.chart-card").get_attribute("data-smoothing") == "off")
    browser.driver.refresh()
    browser.wait(lambda: chart_points(browser), what="the chart after a reload")
    assert browser.find("figure.chart-card").get_attribute("data-smoothing") == "off"
    assert browser.find("#smooth-on").is_selected() is False
    browser.find("label[for='smooth-on']").click()  # back to the default for the other tests
    browser.find("label[for='log-y']").click()
    assert browser.console_errors() == []


def test_cancel_from_the_job_page(
    browser: Browser, slow_job: tuple[Project, dict[str, Any]], ui_stack: Stack
) -> None:
    project, job = slow_job
    wait_job(project.api, job["id"], ui_stack, until=lambda j: j["status"] == "running")
    browser.login(project.token.token)
    browser.open(f"/ui/jobs/{job['id']}")
    browser.find("#cancel-button").click()
    browser.wait(
        lambda: browser.find("#job-status").text in ("Cancelling", "Cancelled"),
        what="the cancelled status",
    )
    assert project.api.get(f"/v1/jobs/{job['id']}").json()["status"] in ("cancelling", "cancelled")
    browser.wait(lambda: browser.find("#job-status").text == "Cancelled", timeout=60)


def test_compare_two_jobs(browser: Browser, finished: dict[str, Any]) -> None:
    browser.login(finished["project"].token.token)
    for job in (finished["attack"], finished["plain"]):
        browser.find(f"tr[data-job-id='{job['id']}'] input[type=checkbox]").click()
    browser.find("#compare-form button[type=submit]").click()
    browser.wait(lambda: "/ui/compare" in browser.driver.current_url)
    Select(browser.find("#compare-metric")).select_by_visible_text("train_loss")
    browser.find("#compare-pick button[type=submit]").click()
    card = browser.wait(lambda: browser.find("#compare-chart figure.chart-card[data-points]"))
    assert int(card.get_attribute("data-points")) > 10
    legend = [e.text for e in card.find_elements("css selector", ".u-legend .u-label")]
    assert any("tiny-lr-0.01" in text for text in legend)
    assert any(XSS_NAME in text for text in legend)  # the name, shown as text
    over = card.find_element("css selector", ".u-over")
    ActionChains(browser.driver).move_to_element_with_offset(over, 10, 0).perform()
    values = browser.wait(
        lambda: [
            v.text
            for v in card.find_elements("css selector", ".u-legend .u-value")
            if v.text not in ("", "—")
        ],
        what="values under the cursor",
    )
    assert any(v.replace(".", "", 1).replace("e-", "").isdigit() for v in values), values
    diff = browser.find("#diff-table").text
    assert "module.params.lr" in diff and "0.01" in diff and "0.05" in diff
    browser.screenshot("compare")
    assert browser.js("return window.__xss") is None


def test_submit_through_the_form_with_a_field_error(
    browser: Browser, finished: dict[str, Any], ui_stack: Stack
) -> None:
    project = new_project(ui_stack)
    browser.login(project.token.token)
    browser.open("/ui/submit")
    browser.wait(lambda: browser.find("#submit-form").get_attribute("data-ready"))
    Select(browser.find("#f-module-name")).select_by_visible_text("tiny_regressor")
    Select(browser.find("#f-datamodule-name")).select_by_visible_text("synthetic")
    browser.find("#f-name").send_keys("from-the-form")
    browser.find("#f-datamodule-params-shape").send_keys("8")
    browser.find("#f-datamodule-params-train_size").send_keys("32")
    epochs = browser.find("#f-trainer-max_epochs")
    epochs.send_keys("0")
    error = browser.find("#f-trainer-max_epochs-error")
    browser.wait(lambda: error.text, what="the field error")
    assert "greater than or equal to 1" in error.text
    assert epochs.get_attribute("aria-invalid") == "true"
    browser.screenshot("submit")
    epochs.send_keys(Keys.BACKSPACE, "1")
    browser.wait(
        lambda: (
            error.text == ""
            and browser.find("#submit-form").get_attribute("data-checked") == "valid"
        )
    )
    browser.find("#submit-button").click()
    browser.wait(lambda: "/ui/jobs/" in browser.driver.current_url, what="the new job's page")
    job_id = browser.driver.current_url.rsplit("/", 1)[1]
    job = project.api.get(f"/v1/jobs/{job_id}").json()
    assert job["name"] == "from-the-form"
    assert (
        job["spec"]["module"]["name"] == "tiny_regressor"
        and job["spec"]["trainer"]["max_epochs"] == 1
    )
    wait_job(project.api, job_id, ui_stack)


def test_download_a_checkpoint(browser: Browser, finished: dict[str, Any]) -> None:
    project, job = finished["project"], finished["plain"]
    browser.login(project.token.token)
    browser.open(f"/ui/jobs/{job['id']}")
    link = browser.find("#checkpoints-table a[download]")
    checkpoint_id = link.get_attribute("href").rsplit("/", 2)[1]
    expected = project.api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]
    sha = next(c["sha256"] for c in expected if c["id"] == checkpoint_id)
    link.click()
    # The server names the file (Content-Disposition); wait for it to be complete.
    done = browser.wait(
        lambda: [p for p in browser.downloads.iterdir() if p.suffix == ".ckpt"],
        what="the downloaded checkpoint",
    )
    (path,) = done
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


def test_user_strings_never_run_as_script(browser: Browser, finished: dict[str, Any]) -> None:
    project, job = finished["project"], finished["attack"]
    browser.login(project.token.token)
    pages = ["/ui/", f"/ui/jobs/{job['id']}", f"/ui/submit?from={job['id']}"]
    for path in pages:
        browser.open(path)
        browser.wait(lambda: browser.js("return document.readyState") == "complete")
        assert browser.js("return window.__xss") is None, path
        assert browser.find_all("img") == [], path
    browser.open(f"/ui/jobs/{job['id']}")
    assert browser.find("#job-name").text == XSS_NAME
    assert XSS_LINE in browser.find("#log-tail").text
    assert browser.find_all("#log-tail b, #log-tail script") == []


def test_state_changes_without_the_csrf_token_are_refused(
    browser: Browser, slow_job: tuple[Project, dict[str, Any]]
) -> None:
    project, job = slow_job
    browser.login(project.token.token)
    browser.open(f"/ui/jobs/{job['id']}")
    refused = browser.fetch(f"/ui/api/v1/jobs/{job['id']}/cancel", method="POST")
    assert refused["status"] == 403 and "csrf_failed" in refused["body"]
    assert project.api.get(f"/v1/jobs/{job['id']}").json()["cancel_requested"] is False
    accepted = browser.fetch(f"/ui/api/v1/jobs/{job['id']}/cancel", method="POST", csrf=True)
    assert accepted["status"] == 200, accepted["body"]


def test_another_projects_job_is_not_found(
    browser: Browser, finished: dict[str, Any], ui_stack: Stack
) -> None:
    stranger = new_project(ui_stack)
    browser.login(stranger.token.token)
    job = finished["plain"]
    browser.open(f"/ui/jobs/{job['id']}")
    assert browser.find("h1").text.startswith("404")
    checkpoints = finished["project"].api.get(f"/v1/jobs/{job['id']}/checkpoints").json()["items"]
    for path in (
        f"/ui/api/v1/jobs/{job['id']}",
        f"/ui/api/v1/jobs/{job['id']}/metrics?max_points=10",
        f"/ui/api/v1/checkpoints/{checkpoints[0]['id']}/download",
        f"/ui/jobs/{job['id']}/events",
    ):
        assert browser.fetch(path)["status"] == 404, path


def test_pages_fit_a_phone(ui_stack: Stack, finished: dict[str, Any], tmp_path) -> None:  # type: ignore[no-untyped-def]
    phone = Browser(ui_stack.url, tmp_path, width=390, height=844)
    try:
        phone.login(finished["project"].token.token)
        for path, name in (
            ("/ui/", "jobs-phone"),
            (f"/ui/jobs/{finished['plain']['id']}", "job-phone"),
        ):
            phone.open(path)
            phone.wait(lambda: phone.js("return document.readyState") == "complete")
            if "jobs/" in path:
                phone.wait(
                    lambda: phone.find_all("figure.chart-card[data-points]"), what="the chart"
                )
            overflow = phone.js("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)
            phone.screenshot(name)
    finally:
        phone.close()


def test_admin_creates_a_token_shown_once_and_revokes_it(browser: Browser, ui_stack: Stack) -> None:
    admin = new_project(ui_stack)
    token = issue_token(ui_stack.settings.database_url, admin.token.project_name, is_admin=True)
    browser.login(token.token)
    browser.open("/ui/admin")
    browser.find("#token-project").send_keys("ui-made")
    browser.find("#token-name").clear()
    browser.find("#token-name").send_keys("robot")
    browser.find("#token-form button[type=submit]").click()
    secret = browser.wait(lambda: browser.find("#new-secret").get_attribute("value"))
    assert secret.startswith("ty_")
    browser.screenshot("admin")
    assert (
        httpx.get(
            f"{ui_stack.url}/v1/jobs", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )
    browser.open("/ui/admin")
    assert browser.find_all("#new-secret") == []  # shown once
    row = next(r for r in browser.find_all("#tokens-table tr[data-token-id]") if "robot" in r.text)
    row.find_element("css selector", "button").click()
    browser.wait(
        lambda: (
            "Revoked"
            in next(r.text for r in browser.find_all("#tokens-table tr") if "robot" in r.text)
        )
    )
    assert (
        httpx.get(
            f"{ui_stack.url}/v1/jobs", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_x_axis_by_epoch_and_time(browser: Browser, finished: dict[str, Any]) -> None:
    browser.login(finished["project"].token.token)
    browser.open(f"/ui/jobs/{finished['plain']['id']}")
    browser.wait(lambda: chart_points(browser), what="the chart")
    x_scale = "return window.trainyardJob.charts.get('loss').plot.scales.x"
    try:
        Select(browser.find("#x-axis")).select_by_visible_text("Epoch")
        card = browser.wait(lambda: browser.find("figure.chart-card[data-x-axis='epoch']"))
        assert card.get_attribute("data-points")
        scale = browser.js(x_scale)
        assert 0 <= scale["min"] < 1 and 1.5 < scale["max"] <= 3  # three epochs: 0, 1, 2
        Select(browser.find("#x-axis")).select_by_visible_text("Relative time")
        browser.wait(lambda: browser.find_all("figure.chart-card[data-x-axis='relative']"))
        scale = browser.js(x_scale)
        assert scale["min"] >= 0 and 0 < scale["max"] < 300  # seconds since the first point
    finally:
        Select(browser.find("#x-axis")).select_by_visible_text("Step")


def test_the_jobs_page_follows_status_and_progress(
    browser: Browser, slow_job: tuple[Project, dict[str, Any]], ui_stack: Stack
) -> None:
    project, job = slow_job
    wait_job(
        project.api, job["id"], ui_stack, until=lambda j: (j["progress"].get("step") or 0) >= 2
    )
    browser.login(project.token.token)
    row = f"tr[data-job-id='{job['id']}']"
    assert browser.find(f"{row} .status").text == "Running"
    shown = browser.find(f"{row} .progress-text").text
    browser.wait(lambda: browser.find(f"{row} .progress-text").text != shown, what="new progress")
    project.api.post(f"/v1/jobs/{job['id']}/cancel").raise_for_status()
    browser.wait(
        lambda: browser.find(f"{row} .status").text in ("Cancelling", "Cancelled"),
        what="the new status without a reload",
    )


def test_predict_from_the_job_page(browser: Browser, finished: dict[str, Any]) -> None:
    project, job = finished["project"], finished["plain"]
    browser.login(project.token.token)
    browser.open(f"/ui/jobs/{job['id']}")
    form = browser.find("#predict-form")
    assert form.get_attribute("data-width") == "8"
    browser.find("#predict-inputs").send_keys("1 2 3")
    browser.find("#predict-form button[type=submit]").click()
    assert "give 8 numbers" in browser.wait(lambda: browser.find("#predict-error").text)
    browser.find("#predict-inputs").clear()
    browser.find("#predict-inputs").send_keys("1,2,3,4,5,6,7,8\n0 0 0 0 0 0 0 0")
    browser.find("#predict-form button[type=submit]").click()
    shown = browser.wait(lambda: browser.find("#predict-output").text, what="the prediction")
    expected = project.api.post(
        f"/v1/jobs/{job['id']}/predict",
        json={"inputs": [[1, 2, 3, 4, 5, 6, 7, 8], [0] * 8], "checkpoint": "best"},
    ).json()["outputs"]
    assert json.loads(shown) == expected


def test_smoothing_and_series_updates_in_the_page(
    browser: Browser, finished: dict[str, Any]
) -> None:
    """TensorBoard's debiased EMA, and a step that arrives again replaces its value."""
    browser.login(finished["project"].token.token)
    browser.open(f"/ui/jobs/{finished['plain']['id']}")
    values = [1.0, 3.0, None, 2.0, 10.0]
    smoothed = browser.js("return Charts.ema(arguments[0], 0.6)", values)
    last, count, expected = 0.0, 0, []
    for v in values:
        if v is None:
            expected.append(None)
            continue
        last, count = last * 0.6 + 0.4 * v, count + 1
        expected.append(last / (1 - 0.6**count))
    assert smoothed == pytest.approx(expected)
    steps = browser.js(
        """const s = new Charts.Series("k", "loss");
        for (const [step, v] of [[1, 1], [2, 2], [3, 3], [2, 20], [5, 5], [4, 4]]) s.upsert(step, v);
        return [s.steps, s.values];"""
    )
    assert steps == [[1, 2, 3, 4, 5], [1, 20, 3, 4, 5]]  # the latest value of step 2 wins


def test_outliers_do_not_flatten_the_scale_and_buckets_draw_a_band(
    browser: Browser, finished: dict[str, Any]
) -> None:
    browser.login(finished["project"].token.token)
    browser.open(f"/ui/jobs/{finished['plain']['id']}")
    clipped, full, bands = browser.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const holder = document.createElement("div"); document.body.append(holder);
        const spiky = new Charts.Series("k", "spiky");
        for (let i = 0; i < 100; i++) spiky.upsert(i, i === 50 ? 1000 : 1 + (i % 5) / 10);
        const chart = (series, clip) => new Charts.MetricChart(holder, "t", [series], {
          prefs: {x: "step", logY: false, smooth: false, weight: 0.6, clip},
          axis: new Charts.Axis("step", []), onZoom() {}, onReset() {}});
        const bucketed = new Charts.Series("b", "bucketed");
        bucketed.setBuckets([{step_min: 0, step_max: 9, min: 0.5, max: 4, mean: 1, last: 1},
                             {step_min: 10, step_max: 19, min: 0.2, max: 9, mean: 2, last: 2}], 10);
        const charts = [chart(spiky, true), chart(spiky, false), chart(bucketed, true)];
        setTimeout(() => done([charts[0].plot.scales.y.max, charts[1].plot.scales.y.max,
                               charts[2].plot.bands.length]), 200);  // after uPlot's first commit"""
    )
    assert clipped < 10 <= 1000 <= full  # the spike is off the clipped scale, in the full one
    assert bands == 1  # min/max of each bucket, shaded
