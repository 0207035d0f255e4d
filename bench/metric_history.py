"""Metric history at scale: one job with 1,000,000 stored points on PostgreSQL.

Measures, through the real API (uvicorn subprocess) over HTTP:
- ingest: points/s through the worker's own write path (api.db.metrics.insert_metrics, batches of
  1,000, one transaction each, rollup trigger included);
- `?max_points=1000` over the whole series, and over a zoomed step range: p50/p95 of N requests;
- one raw JSON page (limit=1000) from the middle of the series (cursor pagination);
- the raw CSV export of the whole series: time, size, and the API's peak RSS growth (it
  streams, so the series never sits in memory).

    .venv/bin/python bench/metric_history.py            # ~1-2 minutes
    .venv/bin/python bench/metric_history.py --points 200000 --requests 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import Stack, percentile, print_table, rss_mb, stack  # noqa: E402
from tests.conftest import _libpq  # noqa: E402

BATCH = 1000


def make_job(s: Stack) -> str:
    from api.db.jobs import insert_job
    from api.db.session import session_scope

    with session_scope(s.settings.database_url) as session:
        job = insert_job(session, project_id=s.project_id, spec={}, name="metric-history-bench")
        session.flush()
        return job.id


def ingest(s: Stack, job_id: str, points: int, via_worker_path: int) -> float:
    """Store `points` (loss at every step); the first `via_worker_path` go through the worker's
    insert path (timed, returns points/s), the rest through one INSERT ... SELECT."""
    from api.db.metrics import insert_metrics
    from api.db.session import session_scope

    started = time.perf_counter()
    for start in range(0, via_worker_path, BATCH):
        rows = [
            {"job_id": job_id, "name": "loss", "stage": "train", "step": step, "epoch": step // 1000,
             "value": 1.0 / (1 + step)}
            for step in range(start, min(start + BATCH, via_worker_path))
        ]  # fmt: skip
        with session_scope(s.settings.database_url) as session:
            insert_metrics(session, rows)
    rate = via_worker_path / (time.perf_counter() - started)
    with psycopg.connect(_libpq(s.settings.database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO metrics (job_id, name, stage, step, epoch, value, created_at) "
            "SELECT %s, 'loss', 'train', g, g / 1000, 1.0 / (1 + g), now() "
            "FROM generate_series(%s, %s) g",
            (job_id, via_worker_path, points - 1),
        )
        conn.execute("VACUUM ANALYZE metrics")
        conn.execute("VACUUM ANALYZE metric_rollups")
    return rate


def timed_gets(client: httpx.Client, url: str, params: dict, n: int) -> tuple[list[float], dict]:
    times, body = [], {}
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        body = response.json()
    return times, body


def export_csv(client: httpx.Client, url: str, pid: int) -> tuple[float, int, int, float, float]:
    """(seconds, bytes, rows, RSS before MiB, peak RSS during MiB) of the whole CSV export."""
    before = rss_mb(pid)
    peak, size, rows = before, 0, 0
    started = time.perf_counter()
    with client.stream("GET", url, params={"format": "csv", "name": "loss"}) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            rows += chunk.count(b"\n")
            peak = max(peak, rss_mb(pid))
    return time.perf_counter() - started, size, rows - 1, before, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--worker-path-points", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with stack() as s:
        job_id = make_job(s)
        t0 = time.perf_counter()
        rate = ingest(s, job_id, args.points, min(args.worker_path_points, args.points))
        load_s = time.perf_counter() - t0
        url = f"{s.api.url}/v1/jobs/{job_id}/metrics"
        with httpx.Client(headers=s.headers, timeout=120) as client:
            timed_gets(client, url, {"name": "loss", "max_points": 1000}, 3)  # warm up
            whole, body = timed_gets(
                client, url, {"name": "loss", "max_points": 1000}, args.requests
            )
            buckets = len(body["series"][0]["buckets"])
            zoom = {"name": "loss", "max_points": 1000, "step_min": args.points // 4 + 7,
                    "step_max": 3 * args.points // 4 - 3}  # fmt: skip
            zoomed, _ = timed_gets(client, url, zoom, args.requests)
            page = {"name": "loss", "limit": 1000, "step_min": args.points // 2}
            raw, _ = timed_gets(client, url, page, args.requests)
            seconds, size, rows, before, peak = export_csv(client, url, s.api.pid)
    ms = lambda v: f"{v:.1f} ms"  # noqa: E731
    print_table(
        f"Metric history: {args.points:,} points of one series on PostgreSQL, over HTTP",
        [
            ("ingest via worker path", f"{rate:,.0f} points/s (batches of {BATCH})"),
            ("load total", f"{load_s:.1f} s"),
            ("max_points=1000 p50", ms(percentile(whole, 50))),
            ("max_points=1000 p95", ms(percentile(whole, 95)) + f"  ({buckets} buckets)"),
            ("zoomed (middle half) p95", ms(percentile(zoomed, 95))),
            ("raw JSON page of 1000 p50", ms(percentile(raw, 50))),
            ("raw JSON page of 1000 p95", ms(percentile(raw, 95))),
            ("CSV export, whole series", f"{seconds:.1f} s, {size / 2**20:.1f} MiB, {rows:,} rows"),
            ("API RSS during export", f"{before:.0f} MiB before, {peak:.0f} MiB peak"),
        ],
    )


if __name__ == "__main__":
    main()
