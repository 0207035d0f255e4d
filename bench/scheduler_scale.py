"""The scheduler at fleet scale: 100 simulated workers with 8 fake GPUs each, 10,000 queued jobs.

    .venv/bin/python bench/scheduler_scale.py [--workers 100] [--gpus 8] [--jobs 10000] [--ends 300]

On a fresh PostgreSQL database (TRAINYARD_TEST_PG_URL's server), with workers registered as rows
exactly as `trainyard worker` registers itself and the real send path (each placed job's id sent
to its worker's own queue on Redis, TRAINYARD_BENCH_REDIS_URL):

1. fill: scheduling passes until nothing more fits (800 GPUs from an empty fleet): decisions
   per second, and the database statements and time per decision;
2. steady state: `--ends` times, a running job ends (its slots are freed in the transaction that
   records its end, as on a worker) and the worker runs a pass, as `trainyard worker` does after
   each job: the time from the commit that freed the slot to the next job's message sent
   (p50/p95), and the GPUs busy afterwards.

Job sizes are 1, 2, 4 or 8 GPUs (weights 50/25/15/10 %), a tenth of the jobs CPU-only, priorities
from -5 to 5; every worker also has 2 CPU slots. Prints a table and the machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
from sqlalchemy import event, func, insert, select  # noqa: E402

from api.db import migrate  # noqa: E402
from api.db.jobs import transition_job  # noqa: E402
from api.db.models import Job, JobStatus, WorkerSlot, utcnow  # noqa: E402
from api.db.scheduling import schedule_pass  # noqa: E402
from api.db.session import get_engine, session_scope  # noqa: E402
from api.db.tokens import get_or_create_project  # noqa: E402
from api.db.workers import register_worker  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench._common import REDIS_URL, percentile, print_table  # noqa: E402
from tests.conftest import create_pg_database, drop_pg_database  # noqa: E402
from worker.dispatch import send_placed  # noqa: E402

SIZES = (1, 2, 4, 8)
SIZE_WEIGHTS = (50, 25, 15, 10)


@dataclass
class Counter:
    """Statements the scheduler's sessions send, and their time (an engine event)."""

    statements: int = 0
    started: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    def install(self, url: str) -> None:
        engine = get_engine(url)

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, *args: Any) -> None:
            self.statements += 1
            self.started[id(cursor)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, *args: Any) -> None:
            self.seconds += time.perf_counter() - self.started.pop(id(cursor), time.perf_counter())


def register_fleet(url: str, workers: int, gpus: int, queue_prefix: str) -> None:
    with session_scope(url) as session:
        for n in range(workers):
            worker_id = f"bench-{n:03d}:{n}"
            register_worker(
                session,
                id=worker_id,
                host=f"bench-{n:03d}",
                pool="default",
                labels={},
                inventory=[
                    {"index": i, "uuid": None, "name": "simulated", "memory_mb": None}
                    for i in range(gpus)
                ],  # fmt: skip
                simulated=True,
                cpu_slots=2,
                queue=f"{queue_prefix}.w.bench-{n:03d}",
                version="bench",
            )


def queue_jobs(url: str, count: int, seed: int = 0) -> None:
    """`count` queued jobs in one multi-row insert (the submit path is measured elsewhere)."""
    rng = random.Random(seed)
    now = utcnow()
    with session_scope(url) as session:
        project = get_or_create_project(session, "bench").id
        rows = []
        for n in range(count):
            gpus = 0 if rng.random() < 0.1 else rng.choices(SIZES, SIZE_WEIGHTS)[0]
            at = now + timedelta(microseconds=n)
            rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "project_id": project,
                    "status": JobStatus.queued,
                    "spec": {"resources": {"gpus": gpus}},
                    "tags": [],
                    "created_at": at,
                    "updated_at": at,
                    "queued_at": at,
                    "attempt": 0,
                    "max_retries": 3,
                    "cancel_requested": False,
                    "progress": {},
                    "latest_metrics": {},
                    "attempts": [],
                    "priority": rng.randint(-5, 5),
                    "pool": "default",
                    "gpus": gpus,
                    "labels": {},
                }  # fmt: skip
            )
        session.execute(insert(Job), rows)


def busy_gpus(url: str) -> int:
    with session_scope(url) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WorkerSlot)
                .where(WorkerSlot.job_id.is_not(None), WorkerSlot.slot.like("gpu:%"))
            )
            or 0
        )


def end_one(url: str, rng: random.Random) -> float:
    """A placed job starts and ends, as its worker records it; returns when that committed."""
    with session_scope(url) as session:
        job_ids = session.scalars(
            select(Job.id)
            .where(Job.status == JobStatus.queued, Job.placement.is_not(None))
            .limit(50)
        ).all()
        job_id = rng.choice(job_ids)
        transition_job(
            session, job_id, from_=[JobStatus.queued], to=JobStatus.running, worker_id="b"
        )
        transition_job(session, job_id, from_=[JobStatus.running], to=JobStatus.succeeded)
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--ends", type=int, default=300)
    args = parser.parse_args()

    url = create_pg_database(prefix="bench_sched_")
    queue = f"bench-sched-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        migrate.upgrade(url)
        settings = Settings(
            database_url=url, broker_url=REDIS_URL, queue_name=queue, heartbeat_timeout_s=86_400
        )
        register_fleet(url, args.workers, args.gpus, queue)
        queue_jobs(url, args.jobs)
        counter = Counter()
        counter.install(url)

        def send(job_id: str) -> None:
            send_placed(job_id, settings)

        # 1. fill the empty fleet
        placed, passes = 0, 0
        statements0, started = counter.statements, time.perf_counter()
        db0 = counter.seconds
        while True:
            report = schedule_pass(settings, send)
            passes += 1
            placed += len(report.sent)
            if not report.placed:
                break
        fill_s = time.perf_counter() - started
        fill_statements = counter.statements - statements0
        fill_db = counter.seconds - db0
        busy_after_fill = busy_gpus(url)

        # 2. steady state: one job ends, its worker runs a pass; time to the next send
        rng = random.Random(1)
        delays: list[float] = []
        statements0, db0 = counter.statements, counter.seconds
        steady_placed = 0
        for _ in range(args.ends):
            freed_at = end_one(url, rng)
            sent_at: list[float] = []

            def timed_send(job_id: str, sent_at: list[float] = sent_at) -> None:
                send(job_id)
                sent_at.append(time.perf_counter())

            steady_placed += len(schedule_pass(settings, timed_send).sent)
            if sent_at:
                delays.append(sent_at[0] - freed_at)
        steady_statements = counter.statements - statements0
        steady_db = counter.seconds - db0
        total_gpus = args.workers * args.gpus
        busy = busy_gpus(url)
    finally:
        for key in broker.scan_iter(match=f"{queue}*"):
            broker.delete(key)
        broker.close()
        drop_pg_database(url)

    ms = [d * 1000 for d in delays]
    print_table(
        f"scheduler at scale: {args.workers} workers x {args.gpus} fake GPUs, {args.jobs} queued jobs",
        [
            ("fill: jobs placed and sent", f"{placed} in {passes} passes, {fill_s:.2f} s"),
            ("fill: decisions per second", f"{placed / fill_s:.0f}"),
            ("fill: GPUs busy", f"{busy_after_fill} of {total_gpus}"),
            ("fill: DB statements per decision", f"{fill_statements / max(placed, 1):.1f}"),
            ("fill: DB time per decision", f"{fill_db / max(placed, 1) * 1000:.2f} ms"),
            ("steady: job ends", f"{args.ends} (each followed by its worker's pass)"),
            ("steady: jobs placed", f"{steady_placed} ({len(delays)} ends freed room for one)"),
            (
                "steady: slot freed -> next job sent",
                f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, max {max(ms, default=0):.0f} ms",
            ),  # fmt: skip
            (
                "steady: DB statements per decision",
                f"{steady_statements / max(steady_placed, 1):.1f}",
            ),
            ("steady: DB time per decision", f"{steady_db / max(steady_placed, 1) * 1000:.1f} ms"),
            ("steady: GPUs busy at the end", f"{busy} of {total_gpus}"),
        ],
    )


if __name__ == "__main__":
    main()
