"""The job commands: submit, watch, jobs, status, cancel, components, logs, download, predict."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainyard.cli.common import (
    Subparsers,
    UsageError,
    client_of,
    echo,
    print_json,
    reports_errors,
    table,
)
from trainyard.cli.fleet import queue_text

if TYPE_CHECKING:
    from trainyard.client import Client


def load_spec(path: str) -> dict[str, Any]:
    """A job spec from a YAML or JSON file ('-' reads stdin)."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read the spec {path}: {exc.strerror}") from None
    try:
        spec = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is neither valid YAML nor JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise UsageError(f"{path} must hold a mapping (a job spec), not {type(spec).__name__}")
    return spec


# ---------------------------------------------------------------- submit, watch


@reports_errors
def submit(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if args.name:
        spec["name"] = args.name
    with client_of(args) as client:
        if args.dry_run:
            print_json(client.validate(spec))
            return 0
        job = client.submit(spec, idempotency_key=args.idempotency_key)
        if args.json and not args.watch:
            print_json(job)
            return 0
        echo(f"submitted job {job.id} ({job.status})")
        if not args.watch:
            echo(f"watch it with: trainyard watch {job.id}")
            return 0
        return _watch(client, job.id, args.logs)


def _watch(client: Client, job_id: str, logs: bool) -> int:
    from trainyard.cli.watch import watch_job

    return 0 if watch_job(client, job_id, logs=logs) == "succeeded" else 1


@reports_errors
def watch(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        return _watch(client, args.job_id, args.logs)


def add_submit(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("submit", parents=[common], help="submit a job spec (YAML or JSON)")
    p.add_argument("spec", help="spec file (.yaml/.yml/.json; '-' for stdin)")
    p.add_argument("--watch", action="store_true", help="then show its progress until it ends")
    p.add_argument("--logs", action="store_true", help="with --watch: show its output lines")
    p.add_argument("--name", help="override the spec's name")
    p.add_argument("--dry-run", action="store_true", help="validate only; print resolved spec")
    p.add_argument("--idempotency-key", help="a repeated submit with this key is a no-op")
    p.add_argument("--json", action="store_true", help="print the job as JSON")
    p.set_defaults(func=submit)


def add_watch(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="live progress of a job until it ends")
    p.add_argument("job_id")
    p.add_argument("--logs", action="store_true", help="also show the job's output lines")
    p.set_defaults(func=watch)


# ---------------------------------------------------------------- jobs, status, cancel


def _progress(p: Any) -> str:
    if p.step is None:
        return "-"
    return f"{p.step}/{p.total}" if p.total else str(p.step)


@reports_errors
def list_jobs(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        filters = {"status": args.status, "tag": args.tag}
        if args.all:
            jobs = list(client.iter_jobs(**filters))
        else:
            jobs = client.jobs(**filters, limit=args.limit).items
        if args.json:
            print_json([j.model_dump(mode="json") for j in jobs])
            return 0
        rows = [
            [j.id, j.name or "-", j.status, j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
             f"epoch {j.progress.epoch if j.progress.epoch is not None else '-'}",
             _progress(j.progress)]
            for j in jobs
        ]  # fmt: skip
        headers = ["ID", "NAME", "STATUS", "CREATED (UTC)", "EPOCH", "STEP"]
        if any(j.queue is not None for j in jobs):  # where the waiting ones stand, and why
            rows = [[*row, queue_text(j.queue, None)] for row, j in zip(rows, jobs, strict=True)]
            headers.append("QUEUE")
        table(rows, headers)
    return 0


@reports_errors
def status(args: argparse.Namespace) -> int:
    from trainyard.cli.watch import format_value

    with client_of(args) as client:
        job = client.job(args.job_id)
    if args.json:
        print_json(job)
        return 0
    p = job.progress
    echo(f"job       {job.id} ({job.name or 'unnamed'})")
    echo(f"status    {job.status} (attempt {job.attempt}, priority {job.priority})")
    if job.queue is not None or job.placement is not None:
        echo(f"{'queue' if job.queue else 'worker':<9} {queue_text(job.queue, job.placement)}")
    echo(f"progress  epoch {p.epoch if p.epoch is not None else '-'}, step {_progress(p)}")
    for name, value in sorted(job.latest_metrics.items()):
        echo(f"metric    {name} = {format_value(value)}")
    if job.best_checkpoint is not None:
        best = job.best_checkpoint
        echo(f"best      checkpoint {best.id} (epoch {best.epoch}, step {best.step})")
    if job.error:
        echo(f"error     {job.error.get('type', '')}: {job.error.get('message', '')}")
    for t in job.transitions:
        echo(f"history   {t.at:%Y-%m-%d %H:%M:%S}  {t.from_status or '-'} -> {t.to_status}")
    return 0


@reports_errors
def cancel(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        job = client.cancel(args.job_id)
    echo(f"job {job.id} is {job.status}")
    return 0


@reports_errors
def components(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        items = client.components()
    if args.json:
        print_json([c.model_dump(mode="json") for c in items])
        return 0
    rows = []
    for c in items:
        params = ", ".join(c.params_schema.get("properties", {}))
        rows.append([c.name, c.kind, params or "-", c.description.split("\n")[0][:60]])
    table(rows, ["NAME", "KIND", "PARAMS", "DESCRIPTION"])
    return 0


def add_jobs(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("jobs", parents=[common], help="list jobs, newest first")
    p.add_argument("--status", action="append", help="only this status (repeatable)")
    p.add_argument("--tag", action="append", help="only jobs with this tag (repeatable)")
    p.add_argument("--limit", type=int, default=20, help="how many (default %(default)s)")
    p.add_argument("--all", action="store_true", help="every job, page after page")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=list_jobs)

    p = sub.add_parser("status", parents=[common], help="one job's status, metrics, history")
    p.add_argument("job_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)

    p = sub.add_parser("cancel", parents=[common], help="cancel a queued or running job")
    p.add_argument("job_id")
    p.set_defaults(func=cancel)

    p = sub.add_parser(
        "components", parents=[common], help="modules, datamodules and callbacks a spec may name"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=components)


# ---------------------------------------------------------------- logs, download, predict


@reports_errors
def logs(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        last = None
        for line in client.iter_logs(args.job_id):
            _print_line(line.stream, line.line)
            last = line.seq
        if not args.follow:
            return 0
        for event in client.stream_events(args.job_id, last or 0, types=["log"]):
            if event.type == "log":
                _print_line(str(event.data.get("stream")), str(event.data.get("line")))
    return 0


def _print_line(stream: str, line: str) -> None:
    # A job's own output: tabs stay, escape sequences (colours included) are shown, not run.
    echo(line, sys.stderr if stream == "stderr" else sys.stdout, keep="\t", flush=True)


@reports_errors
def download(args: argparse.Namespace) -> int:
    from trainyard.download import part_path

    with client_of(args) as client:
        row = client.checkpoint(args.job_id, args.checkpoint)
        path = Path(args.output or default_file_name(args.job_id, row.kind, row.step))
        partial = part_path(path)
        if partial.exists():
            echo(f"resuming {partial} from byte {partial.stat().st_size} of {row.size}")
        with _download_progress() as on_progress:
            result = client.download_checkpoint(
                args.job_id, path, checkpoint=row.id, on_progress=on_progress
            )
    echo(f"saved {result.path} ({result.size} bytes, sha256 {result.sha256} verified)")
    return 0


def default_file_name(job_id: str, kind: str, step: int) -> str:
    """`<job>-<kind>-step<N>.ckpt`, always a plain name in the current folder: whatever the
    server says `kind` is, no character of it can make the name a path."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{job_id}-{kind}-step{step}.ckpt")


@contextmanager
def _download_progress() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing for a script."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("download", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@reports_errors
def predict(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(Path(args.input).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read JSON inputs from {args.input}: {exc}") from None
    checkpoint = args.checkpoint
    if isinstance(payload, dict):
        checkpoint = payload.get("checkpoint", checkpoint)
        payload = payload.get("inputs")
    if not isinstance(payload, list):
        raise UsageError(f'{args.input} must hold a list of samples or {{"inputs": [...]}}')
    with client_of(args) as client:
        answer = client.predict(args.job_id, payload, checkpoint=checkpoint)
    if args.json:
        print_json(answer)
        return 0
    outputs = answer.outputs if isinstance(answer.outputs, list) else [answer.outputs]
    for index, sample in enumerate(outputs):
        echo(f"{index}\t{_sample_row(sample)}", keep="\t")
    return 0


def _sample_row(sample: Any) -> str:
    """One sample's output on one line: its numbers (nested lists flattened, in order) with
    four significant digits; anything else (a dict) as compact JSON."""
    from trainyard.cli.watch import format_value

    numbers: list[Any] = []

    def flatten(value: Any) -> bool:
        if isinstance(value, list):
            return all(flatten(v) for v in value)
        if value is None or isinstance(value, (int, float)):
            numbers.append(value)
            return True
        return False

    if not flatten(sample):
        return json.dumps(sample, separators=(",", ":"))
    return " ".join(format_value(v) for v in numbers)


def add_artifacts(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("logs", parents=[common], help="a job's output lines")
    p.add_argument("job_id")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    p.set_defaults(func=logs)

    p = sub.add_parser("download", parents=[common], help="download a checkpoint (resumable)")
    p.add_argument("job_id")
    p.add_argument("--checkpoint", default="best", help="best (default), last, or an id")
    p.add_argument("-o", "--output", help="file to write (default: <job>-<kind>-step<N>.ckpt)")
    p.set_defaults(func=download)

    p = sub.add_parser(
        "predict",
        parents=[common],
        help="run a job's model on inputs",
        description="Prints one line per sample: its index, a tab, then predict_step's output "
        "for it (numbers flattened, 4 significant digits). --json prints the whole response "
        "(job_id, checkpoint_id, outputs) with full precision.",
    )
    p.add_argument("job_id")
    p.add_argument("--input", required=True, help='JSON file: [samples...] or {"inputs": ...}')
    p.add_argument("--checkpoint", default="best", help="best (default), last, or an id")
    p.add_argument(
        "--json", "--full", dest="json", action="store_true", help="print the response as JSON"
    )
    p.set_defaults(func=predict)
