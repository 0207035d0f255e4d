"""How fast the dashboard is, in headless Chromium against the real stack (PostgreSQL, Redis,
`trainyard serve`, `trainyard worker`). Not part of `make test`; `make bench-ui` runs it.

1. First chart: a job whose `train_loss` has 1,000,000 points, seeded straight into PostgreSQL
   with COPY (the rollup trigger runs as for any insert). Time from navigation to the first
   chart drawn on the job page, over several loads.
2. Live point latency: a real worker trains bench/latency_probe.py's MLP, which logs `sent_at`
   (the wall-clock time of its self.log call) every few steps; the open job page records, at
   each draw, now - sent_at for every new point on the chart (same machine, same clock).
3. Jobs page: a project with 10,000 jobs (bulk insert); first contentful paint of /ui/.

    .venv/bin/python bench/ui_speed.py [--points 1000000] [--jobs 10000] [--loads 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api.db.models import Job, utcnow  # noqa: E402
from api.db.session import session_scope  # noqa: E402
from bench._common import Stack, percentile, print_table, stack  # noqa: E402
from bench.sse_latency import PROBE  # noqa: E402
from tests.ui.browser import Browser, chromium_missing  # noqa: E402

FIRST_CHART_JS = "return document.body.dataset.firstChartMs"
PAINT_JS = """
const paint = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
const nav = performance.getEntriesByType("navigation")[0];
return paint ? [paint.startTime, nav.domContentLoadedEventEnd, nav.responseEnd] : null;
"""
# Installed on the job page: at every draw of the sent_at chart, now - sent_at for new points.
LATENCY_HOOK_JS = """
const t0 = arguments[0];
window.__lags = []; window.__lastStep = null;
document.addEventListener("chart-drawn", (event) => {
  if (event.detail.stem !== "sent_at") return;
  const now = Date.now() / 1000 - t0;
  const plot = window.trainyardJob.charts.get("sent_at").plot;
  const xs = plot.data[0], values = plot.data[1];
  if (window.__lastStep === null) { window.__lastStep = xs[xs.length - 1]; return; }
  for (let i = xs.length - 1; i >= 0 && xs[i] > window.__lastStep; i--) {
    if (values[i] != null) window.__lags.push(now - values[i]);
  }
  window.__lastStep = xs[xs.length - 1];
});
"""


def seconds(ms_values: list[float]) -> str:
    values = [v / 1000 for v in ms_values]
    return f"median {statistics.median(values):.3f} s, max {max(values):.3f} s (n={len(values)})"


def api_client(s: Stack) -> httpx.Client:
    return httpx.Client(base_url=s.api.url, headers=s.headers, timeout=60)


def seed_points(s: Stack, job_id: str, points: int) -> float:
    """COPY `points` train_loss rows (a decaying curve with noise and a spike) into metrics."""
    started = time.perf_counter()
    buffer = io.StringIO()
    now = utcnow().isoformat()
    for step in range(points):
        value = 2.0 / (1 + step / 5000) + 0.05 * ((step * 7919) % 101) / 101
        if step == points // 3:
            value += 10.0  # a spike the min/max band must keep
        buffer.write(f"{job_id}\ttrain_loss\ttrain\t{step}\t{step // 10_000}\t{value}\t{now}\n")
    url = s.settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        columns = "job_id, name, stage, step, epoch, value, created_at"
        with cursor.copy(f"COPY metrics ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
    return time.perf_counter() - started


def first_chart(s: Stack, browser: Browser, points: int, loads: int) -> list[tuple[str, str]]:
    job_id = uuid.uuid4().hex  # a finished job's row: no worker ever runs it
    with session_scope(s.settings.database_url) as session:
        session.execute(insert(Job), [job_row(s, job_id, "million-points")])
    seeded = seed_points(s, job_id, points)
    times = []
    for _ in range(loads):
        browser.open(f"/ui/jobs/{job_id}")
        times.append(float(browser.wait(lambda: browser.js(FIRST_CHART_JS), what="a chart")))
    drawn = browser.find("figure.chart-card[data-stem='loss']").get_attribute("data-points")
    return [
        (f"seed {points:,} points (COPY + rollups)", f"{seeded:.1f} s"),
        (f"job page, {points:,}-point metric: first chart", seconds(times)),
        ("  points drawn (server buckets)", str(drawn)),
    ]


def spec(name: str, steps: int, log_every: int, batch: int = 64, t0: float = 0.0) -> dict[str, Any]:
    return {
        "name": name,
        "module": {"name": "latency_probe", "params": {"t0": t0}},
        "datamodule": {
            "name": "synthetic",
            "params": {
                "shape": [256],
                "train_size": steps * batch,
                "val_size": batch,
                "test_size": 0,
                "batch_size": batch,
            },
        },  # fmt: skip
        "trainer": {"max_epochs": 1, "log_every_n_steps": log_every, "limit_val_batches": 1},
        "seed": 0,
    }


def live_latency(s: Stack, browser: Browser, steps: int) -> list[tuple[str, str]]:
    t0 = time.time()
    browser.open("/ui/login")  # the origin, to set the chart options before the page loads
    browser.js("localStorage.setItem('trainyard.charts.v1', JSON.stringify({smooth: false}))")
    with api_client(s) as client:
        job = (
            client.post("/v1/jobs", json=spec("live-latency", steps, 5, t0=t0))
            .raise_for_status()
            .json()
        )
        browser.open(f"/ui/jobs/{job['id']}")
        browser.js(LATENCY_HOOK_JS, t0)
        deadline = time.monotonic() + 600
        while client.get(f"/v1/jobs/{job['id']}").json()["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the latency job did not finish in 10 minutes")
            time.sleep(0.5)
        time.sleep(1.0)  # the last points' draw
    lags = [lag * 1000 for lag in browser.js("return window.__lags")]
    browser.js("localStorage.removeItem('trainyard.charts.v1')")
    if not lags:
        raise SystemExit("no live point was drawn")
    return [
        (
            "live point: self.log -> drawn on the chart",
            f"p50 {percentile(lags, 50):.0f} ms, p95 {percentile(lags, 95):.0f} ms, "
            f"max {max(lags):.0f} ms (n={len(lags)})",
        )
    ]


def job_row(s: Stack, job_id: str, name: str, tags: list[str] | None = None) -> dict[str, Any]:
    now = utcnow()
    return dict(
        id=job_id, project_id=s.project_id, name=name, status="succeeded",
        spec=spec(name, 10, 1), tags=tags or [], created_at=now, updated_at=now,
        started_at=now, finished_at=now, progress={"step": 10, "total": 10, "epoch": 0},
    )  # fmt: skip


def seed_jobs(s: Stack, count: int) -> float:
    started = time.perf_counter()
    rows = [
        job_row(s, uuid.uuid4().hex, f"seeded-{i:05d}", tags=["seeded", f"n{i % 10}"])
        for i in range(count)
    ]
    with session_scope(s.settings.database_url) as session:
        session.execute(insert(Job), rows)
    return time.perf_counter() - started


def jobs_page(s: Stack, browser: Browser, count: int, loads: int) -> list[tuple[str, str]]:
    seeded = seed_jobs(s, count)
    paints, ready, served = [], [], []
    for _ in range(loads):
        browser.open("/ui/")
        fcp, dcl, response_end = browser.wait(lambda: browser.js(PAINT_JS), what="a paint")
        paints.append(fcp), ready.append(dcl), served.append(response_end)
    return [
        (f"seed {count:,} jobs (bulk insert)", f"{seeded:.1f} s"),
        (f"jobs page, {count:,} jobs: first contentful paint", seconds(paints)),
        ("  HTML received (responseEnd)", seconds(served)),
        ("  DOMContentLoaded", seconds(ready)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--live-steps", type=int, default=3000)
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        raise SystemExit(missing)
    rows: list[tuple[str, str]] = []
    with stack(worker=True, component_modules=[PROBE]) as s:
        browser = Browser(s.api.url, Path(tempfile.mkdtemp(prefix="ui-bench-")))
        try:
            browser.login(s.token)
            rows += first_chart(s, browser, args.points, args.loads)
            rows += live_latency(s, browser, args.live_steps)
            rows += jobs_page(s, browser, args.jobs, args.loads)
        finally:
            browser.close()
    print_table("Dashboard speed (headless Chromium, PostgreSQL + Redis)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
