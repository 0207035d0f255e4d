"""Fan-out: 200 concurrent SSE clients on one running job, each counting every event.

A writer thread plays the worker: every 0.2 s it commits a batch of events (10 `metric` + 1
`progress`) under the job's row lock and announces it on Redis, for `--seconds`, then ends
the job. 200 clients (raw asyncio sockets, so that the clients cost little CPU next to the API
on this machine) stream `/v1/jobs/{id}/events` from the API (`trainyard serve`, one uvicorn
process) on PostgreSQL + Redis. Reports whether every client got every event, the delivery
latency (commit -> client) and the API process's CPU and memory.

    .venv/bin/python bench/sse_fanout.py            # ~1 minute
    .venv/bin/python bench/sse_fanout.py --clients 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import Stack, cpu_seconds, percentile, print_table, rss_mb, stack  # noqa: E402

BATCH_METRICS = 10
INTERVAL_S = 0.2


class Writer(threading.Thread):
    """Appends events like the worker's JobSync; remembers when each seq was committed."""

    def __init__(self, s: Stack, job_id: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.s, self.job_id, self.seconds = s, job_id, seconds
        self.committed: dict[int, float] = {}

    def run(self) -> None:
        from api.db.jobs import append_events, lock_job, transition_job
        from api.db.models import JobStatus, utcnow
        from api.db.session import session_scope

        url, step = self.s.settings.database_url, 0
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            events = [("metric", {"name": f"m{i}", "stage": "train", "step": step, "value": 0.5})
                      for i in range(BATCH_METRICS)]  # fmt: skip
            events.append(("progress", {"step": step, "total": None, "epoch": 0}))
            with session_scope(url) as session:
                job = lock_job(session, self.job_id)
                assert job is not None
                job.heartbeat_at = utcnow()  # as the worker beats: the reaper leaves it alone
                rows = append_events(session, job, events)
            now = time.time()  # committed (and announced by the after-commit hook)
            self.committed.update({row.seq: now for row in rows})
            step += 1
            time.sleep(INTERVAL_S)
        with session_scope(url) as session:
            transition_job(session, self.job_id, from_=[JobStatus.running], to=JobStatus.succeeded)


async def sse_client(url: str, token: str, ready: asyncio.Event, counts: list, lags: list) -> None:
    """One raw HTTP/1.1 SSE client: counts `id:` lines, notes arrival times, stops at `end`."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 20)
    writer.write(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    got, arrivals = 0, []
    while line := await reader.readline():
        if line.startswith(b"id: "):
            got += 1
            arrivals.append((int(line[4:]), time.time()))
            if got == 2:  # the history (queued, running): this client is live now
                ready.set()
        elif line.startswith(b"event: end"):
            break
    writer.close()
    counts.append(got)
    lags.append(arrivals)


async def run_clients(s: Stack, job_id: str, clients: int, seconds: float) -> dict:
    url = f"{s.api.url}/v1/jobs/{job_id}/events"
    counts: list[int] = []
    arrivals: list[list[tuple[int, float]]] = []
    ready = [asyncio.Event() for _ in range(clients)]
    tasks = [
        asyncio.create_task(sse_client(url, s.token, ready[i], counts, arrivals))
        for i in range(clients)
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 120)
    except TimeoutError:
        live = sum(r.is_set() for r in ready)
        log = "".join(p.read_text()[-3000:] for p in (s.extra["root"] / "logs").glob("api-*"))
        raise SystemExit(f"only {live} of {clients} clients got the history:\n{log}") from None
    writer = Writer(s, job_id, seconds)
    cpu0, wall0 = cpu_seconds(s.api.pid), time.monotonic()
    writer.start()
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 120)
    cpu = cpu_seconds(s.api.pid) - cpu0
    wall = time.monotonic() - wall0
    lags = [
        (t - writer.committed[seq]) * 1000
        for per_client in arrivals
        for seq, t in per_client
        if seq in writer.committed
    ]
    return {"counts": counts, "lags": lags, "cpu": cpu, "wall": wall, "written": writer.committed}


def make_running_job(s: Stack) -> str:
    from api.db.jobs import insert_job, transition_job
    from api.db.models import JobStatus
    from api.db.session import session_scope

    with session_scope(s.settings.database_url) as session:
        job = insert_job(session, project_id=s.project_id, spec={}, name="fanout-bench")
        session.flush()
        transition_job(session, job.id, from_=[JobStatus.queued], to=JobStatus.running)
        return job.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    from api import notify

    with stack() as s:
        notify.install(s.settings)  # this process commits like a worker, so it announces too
        job_id = make_running_job(s)
        rss0 = rss_mb(s.api.pid)
        result = asyncio.run(run_clients(s, job_id, args.clients, args.seconds))
        rss1, peak = rss_mb(s.api.pid), rss_mb(s.api.pid, peak=True)
    expected = 2 + len(result["written"]) + 2  # queued, running, the batches, succeeded, end
    complete = sum(1 for c in result["counts"] if c == expected)
    lags = result["lags"]
    print_table(
        f"SSE fan-out: {args.clients} clients on one job, PostgreSQL + Redis, one uvicorn process",
        [
            ("events per client (stored)", f"{expected:,}"),
            ("clients that got every event", f"{complete} / {args.clients}"),
            ("received per client min/max", f"{min(result['counts'])} / {max(result['counts'])}"),
            ("event rate", f"{len(result['written']) / args.seconds:.0f} events/s into the job"),
            ("frames delivered", f"{sum(result['counts']):,} in {result['wall']:.1f} s"),
            ("commit -> client p50", f"{percentile(lags, 50):.0f} ms"),
            ("commit -> client p95", f"{percentile(lags, 95):.0f} ms"),
            (
                "API CPU",
                f"{result['cpu']:.1f} s = {100 * result['cpu'] / result['wall']:.0f}% of one core",
            ),
            ("API RSS", f"{rss0:.0f} MiB idle, {rss1:.0f} MiB with clients, {peak:.0f} MiB peak"),
        ],
    )


if __name__ == "__main__":
    main()
