"""`trainyard watch`: a live progress view of a job, redrawn from its event stream.

On a terminal, rich's `Live` keeps one progress line at the bottom (status, epoch, bar,
step/total, ETA, throughput, latest metrics) and prints status changes, checkpoints and (with
--logs) output lines above it. When the output is not a terminal, every message is a plain line
and the progress line is printed at most every few seconds, so scripts can read it.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from trainyard.cli.common import printable
from trainyard.client import Client, Event
from trainyard.schemas.jobs import JobPublic

TERMINAL = {"succeeded", "failed", "cancelled"}
LIVE_TYPES = ["status", "progress", "metric", "checkpoint", "queue"]
MAX_METRICS = 4
PLAIN_INTERVAL_S = 5.0
STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "nan" if value is None else str(value)


def pick_metrics(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """The few metrics worth a place on one line: losses first, then the rest, by name."""
    names = sorted(metrics, key=lambda n: ("loss" not in n, n.endswith("_step"), n))
    return [(n, metrics[n]) for n in names[:MAX_METRICS]]


class WatchView:
    """The job's state, folded from its events, and how to show it. Use it as a context
    manager: on a terminal the live line runs between enter and exit."""

    def __init__(self, out: TextIO | None = None, *, show_logs: bool = False) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.console = Console(file=self.out, highlight=False)
        self.show_logs = show_logs
        self.status = "?"
        self.progress: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> WatchView:
        if self.tty:
            # transient: finish() prints the final line itself, with the summary under it
            self._live = Live(
                self.render(), console=self.console, refresh_per_second=10, transient=True
            )
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # ------------------------------------------------------------ state

    def load(self, job: JobPublic) -> None:
        self.status = job.status
        self.progress = job.progress.model_dump(exclude_none=True)
        self.metrics = dict(job.latest_metrics)

    def handle(self, event: Event) -> None:
        data = event.data
        if event.type == "progress":
            self.progress = data
        elif event.type == "metric":
            self.metrics[str(data.get("name"))] = data.get("value")
        elif event.type == "status":
            self.status = str(data.get("to"))
            reason = f" ({data['reason']})" if data.get("reason") else ""
            self.say(f"status: {data.get('to')}{reason}")
        elif event.type == "checkpoint" and data.get("kind") != "last":  # last: rewritten often
            monitored = ""
            if data.get("monitor"):
                monitored = f", {data['monitor']}={format_value(data.get('monitor_value'))}"
            self.say(
                f"checkpoint saved: epoch {data.get('epoch')}, step {data.get('step')}"
                f"{monitored} (id {data.get('id')})"
            )
        elif event.type == "log" and self.show_logs:
            self.say(f"[{data.get('stream')}] {data.get('line')}")
        elif event.type == "queue":  # while it waits: where it stands and why
            where = f"#{data['position']} in its pool" if data.get("position") else "starting"
            self.say(f"queued: {where}, {data.get('pending_reason') or 'placed on a worker'}")
        if event.type != "end":
            self.draw()

    # ------------------------------------------------------------ drawing

    def _step(self) -> tuple[Any, Any, float | None]:
        step, total = self.progress.get("step"), self.progress.get("total")
        if isinstance(step, int) and isinstance(total, int) and total > 0:
            return step, total, min(step / total, 1.0)
        return step, total, None

    def _tail(self) -> list[str]:
        """ETA, throughput and metrics: the parts both views show as text."""
        p, parts = self.progress, []
        if p.get("eta_s") is not None and self.status not in TERMINAL:
            parts.append(f"ETA {format_duration(p['eta_s'])}")
        if p.get("samples_per_s"):
            parts.append(f"{p['samples_per_s']:.0f} samples/s")
        metrics = " ".join(f"{n}={format_value(v)}" for n, v in pick_metrics(self.metrics))
        return parts + ([f"| {metrics}"] if metrics else [])

    def line(self) -> str:
        """The progress line as plain text (what a script reading the output sees)."""
        step, total, done = self._step()
        parts = [f"{self.status:<10}", f"epoch {self.progress.get('epoch', '-')}"]
        if done is not None:
            bar = "#" * int(done * 20) + "-" * (20 - int(done * 20))
            parts.append(f"{bar} {done:4.0%} step {step}/{total}")
        else:
            parts.append(f"step {step if step is not None else '-'}")
        return "  ".join(parts + self._tail())

    def render(self) -> RenderableType:
        """The progress line for rich: the same parts, with a real bar and colours."""
        step, total, done = self._step()
        row: list[RenderableType] = [
            Text(printable(f"{self.status:<10}"), style=STATUS_STYLE.get(self.status, "")),
            Text(printable(f"epoch {self.progress.get('epoch', '-')}")),
        ]
        if done is not None:
            row += [ProgressBar(total=total, completed=step, width=20)]
            row += [Text(f"{done:4.0%} step {step}/{total}")]
        else:
            row += [Text(printable(f"step {step if step is not None else '-'}"))]
        row += [Text(printable(part)) for part in self._tail()]
        grid = Table.grid(padding=(0, 2))
        for _ in row:
            grid.add_column(no_wrap=True)
        grid.add_row(*row)
        return grid

    def draw(self, force: bool = False) -> None:
        if self._live is not None:
            self._live.update(self.render())  # rich redraws it at most 10 times a second
            return
        now = time.monotonic()
        if self.tty or (not force and now - self._last_plain < PLAIN_INTERVAL_S):
            return
        self._last_plain = now
        self._write(self.line())

    def say(self, message: str) -> None:
        """A line that stays (printed above the live line on a terminal)."""
        if self.tty:
            self.console.print(Text(printable(message)), soft_wrap=True)
        else:
            self._write(message)

    def _write(self, line: str) -> None:
        self.out.write(printable(line) + "\n")
        self.out.flush()

    def reconnecting(self, error: BaseException | None, delay: float) -> None:
        reason = f": {error}" if error else ""
        self.say(f"event stream interrupted{reason}; reconnecting in {delay:.0f}s")

    def finish(self, job: JobPublic) -> None:
        """The final state, then the summary: how it ended and where its checkpoint is."""
        self.load(job)
        if self.tty:
            self.console.print(self.render())
        else:
            self._write(self.line())
        took = ""
        if job.started_at and job.finished_at:
            took = f" in {format_duration((job.finished_at - job.started_at).total_seconds())}"
        self.say(f"job {job.id} {job.status}{took}")
        if job.error:
            self.say(f"error: {job.error.get('type', '')}: {job.error.get('message', '')}")
        best = job.best_checkpoint
        if best is not None:
            value = f" ({best.monitor}={format_value(best.monitor_value)})" if best.monitor else ""
            self.say(f"best checkpoint {best.id}{value}: trainyard download {job.id} -o best.ckpt")


def watch_job(client: Client, job_id: str, out: TextIO | None = None, logs: bool = False) -> str:
    """Show the job live until it ends; returns its final status."""
    view = WatchView(out, show_logs=logs)
    job = client.job(job_id)
    view.say(f"job {job.id} ({job.name or 'unnamed'}): {_components(job)}")
    view.load(job)
    if job.status not in TERMINAL:
        view.draw(force=True)
        types = LIVE_TYPES + (["log"] if logs else [])
        with view:
            for event in client.stream_events(
                job_id, tail=0, types=types, on_reconnect=view.reconnecting
            ):
                view.handle(event)
    job = client.job(job_id)
    view.finish(job)
    return job.status


def _components(job: JobPublic) -> str:
    module = (job.spec.get("module") or {}).get("name", "?")
    datamodule = (job.spec.get("datamodule") or {}).get("name", "?")
    return f"{module} on {datamodule}"
