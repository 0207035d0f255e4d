"""`trainyard watch`: a live progress view of a job, redrawn from its event stream.

On a terminal one line is redrawn in place (epoch, bar, step/total, ETA, throughput, latest
metrics); status changes, checkpoints and (with --logs) output lines are printed above it.
When the output is not a terminal, the same line is printed at most every few seconds.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

from trainyard.client import Client, Event
from trainyard.schemas.jobs import JobPublic

TERMINAL = {"succeeded", "failed", "cancelled"}
LIVE_TYPES = ["status", "progress", "metric", "checkpoint"]
MAX_METRICS = 4


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
    def __init__(self, out: TextIO | None = None, *, show_logs: bool = False) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.show_logs = show_logs
        self.status = "?"
        self.progress: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self._drawn = False
        self._last_draw = 0.0
        unicode = (getattr(self.out, "encoding", "") or "").lower().startswith("utf")
        self._full, self._empty = ("█", "░") if unicode else ("#", "-")

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
        if event.type != "end":
            self.draw(force=self.tty and event.type == "status")

    # ------------------------------------------------------------ drawing

    def line(self) -> str:
        p = self.progress
        step, total = p.get("step"), p.get("total")
        parts = [f"{self.status:<10}", f"epoch {p.get('epoch', '-')}"]
        if isinstance(step, int) and isinstance(total, int) and total > 0:
            done = min(step / total, 1.0)
            filled = int(done * 20)
            bar = self._full * filled + self._empty * (20 - filled)
            parts.append(f"{bar} {done:4.0%} step {step}/{total}")
        else:
            parts.append(f"step {step if step is not None else '-'}")
        if p.get("eta_s") is not None and self.status not in TERMINAL:
            parts.append(f"ETA {format_duration(p['eta_s'])}")
        if p.get("samples_per_s"):
            parts.append(f"{p['samples_per_s']:.0f} samples/s")
        metrics = " ".join(f"{n}={format_value(v)}" for n, v in pick_metrics(self.metrics))
        return "  ".join(parts) + (f"  | {metrics}" if metrics else "")

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        interval = 0.1 if self.tty else 5.0
        if not force and now - self._last_draw < interval:
            return
        self._last_draw = now
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            self.out.write("\r\033[K" + self.line()[:width])
            self._drawn = True
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def say(self, message: str) -> None:
        """A line that stays, printed above the progress line."""
        if self.tty and self._drawn:
            self.out.write("\r\033[K")
            self._drawn = False
        self.out.write(message + "\n")
        self.out.flush()

    def reconnecting(self, error: BaseException | None, delay: float) -> None:
        reason = f": {error}" if error else ""
        self.say(f"event stream interrupted{reason}; reconnecting in {delay:.0f}s")

    def finish(self, job: JobPublic) -> None:
        self.load(job)
        self.draw(force=True)
        if self.tty:
            self.out.write("\n")
        took = ""
        if job.started_at and job.finished_at:
            took = f" in {format_duration((job.finished_at - job.started_at).total_seconds())}"
        self.out.write(f"job {job.id} {job.status}{took}\n")
        if job.error:
            self.out.write(f"error: {job.error.get('type', '')}: {job.error.get('message', '')}\n")
        best = job.best_checkpoint
        if best is not None:
            value = f" ({best.monitor}={format_value(best.monitor_value)})" if best.monitor else ""
            self.out.write(
                f"best checkpoint {best.id}{value}: trainyard download {job.id} -o best.ckpt\n"
            )
        self.out.flush()


def watch_job(client: Client, job_id: str, out: TextIO | None = None, logs: bool = False) -> str:
    """Show the job live until it ends; returns its final status."""
    view = WatchView(out, show_logs=logs)
    job = client.job(job_id)
    view.out.write(f"job {job.id} ({job.name or 'unnamed'}): {_components(job)}\n")
    view.load(job)
    if job.status not in TERMINAL:
        view.draw(force=True)
        types = LIVE_TYPES + (["log"] if logs else [])
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
