"""The fleet commands: `trainyard queue`, `trainyard admin workers`, `trainyard admin quota`,
and how a job's place in the queue reads in `trainyard status` and `trainyard jobs`."""

from __future__ import annotations

import argparse
from typing import Any

from trainyard.cli.common import UsageError, client_of, echo, print_json, reports_errors, table
from trainyard.schemas.fleet import JobPlacement, QueueInfo


def queue_text(queue: QueueInfo | None, placement: JobPlacement | None) -> str:
    """'#2 in pool, 1 ahead: higher_priority_ahead', 'starting on w1 (GPUs 0,1)', or '-'."""
    if queue is not None and queue.position is not None:
        return f"#{queue.position} ({queue.jobs_ahead} ahead): {queue.pending_reason}"
    if placement is not None:
        gpus = ",".join(str(g) for g in placement.gpus)
        where = f"{placement.worker} (GPUs {gpus})" if gpus else f"{placement.worker} (CPU)"
        return f"starting on {where}" if queue is not None else where
    return "-"


@reports_errors
def show_queue(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        items = client.queue(pool=args.pool, limit=args.limit)
    if args.json:
        print_json([item.model_dump(mode="json") for item in items])
        return 0
    rows = [
        [j.pool, str(j.queue.position or "-"), j.id, j.name or "-", str(j.priority), str(j.gpus),
         str(j.queue.pending_reason or "starting"), f"{j.queue.since:%Y-%m-%d %H:%M:%S}"]
        for j in items
    ]  # fmt: skip
    table(rows, ["POOL", "POS", "ID", "NAME", "PRIORITY", "GPUS", "REASON", "SINCE (UTC)"])
    return 0


@reports_errors
def list_workers(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        workers = client.workers()
    if args.json:
        print_json([w.model_dump(mode="json") for w in workers])
        return 0
    rows = []
    for w in workers:
        gpus = " ".join(
            f"{g.index}:{g.job_id[:8] if g.job_id else 'free'}"
            + (f"({g.utilization_pct:.0f}%)" if g.utilization_pct is not None else "")
            for g in w.gpus
        )
        rows.append(
            [w.id, w.status, w.pool, gpus + (" (simulated)" if w.simulated else "") or "-",
             f"{w.cpu_slots_busy}/{w.cpu_slots}", ",".join(f"{k}={v}" for k, v in w.labels.items())
             or "-", f"{w.last_heartbeat_at:%H:%M:%S}"]
        )  # fmt: skip
    table(rows, ["ID", "STATUS", "POOL", "GPUS (index:job)", "CPU BUSY", "LABELS", "BEAT (UTC)"])
    return 0


def _quota(value: str | None) -> int | None | str:
    """'none' clears a quota; an int sets it; None (option not given) leaves it."""
    if value is None:
        return "keep"
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{value!r}: give a whole number, or 'none' to remove the limit") from None


@reports_errors
def set_quota(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {
        name: value
        for name in ("max_gpus", "max_running_jobs", "max_priority")
        if (value := _quota(getattr(args, name))) != "keep"
    }
    if not fields:
        raise UsageError("give at least one of --max-gpus, --max-running-jobs, --max-priority")
    with client_of(args) as client:
        project = client.set_quotas(args.project_id, **fields)
    echo(
        f"project {project.name}: max_gpus={project.max_gpus} "
        f"max_running_jobs={project.max_running_jobs} max_priority={project.max_priority}"
    )
    return 0


def add_queue(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "queue", parents=[common], help="queued jobs in scheduling order, with why they wait"
    )
    p.add_argument("--pool", help="only this pool")
    p.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=show_queue)


def add_fleet_admin_commands(groups: Any, common: argparse.ArgumentParser) -> None:
    p = groups.add_parser("workers", parents=[common], help="workers, their GPUs and slots")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_workers)
    p = groups.add_parser(
        "quota", parents=[common], help="set a project's quotas ('none' removes one)"
    )
    p.add_argument("project_id", help="the project's id (trainyard admin projects)")
    p.add_argument("--max-gpus", dest="max_gpus", help="GPUs its jobs may hold at once")
    p.add_argument("--max-running-jobs", dest="max_running_jobs", help="jobs placed or running")
    p.add_argument("--max-priority", dest="max_priority", help="highest priority it may ask for")
    p.set_defaults(func=set_quota)
