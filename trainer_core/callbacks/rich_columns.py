"""The rich pieces RichProgressBar draws with: a Progress that takes unsized tasks, a refresh
thread that redraws only when asked, and the batches / time / speed / metrics columns."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.live import _RefreshThread as _RichRefreshThread
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID
from rich.progress_bar import ProgressBar as _RichProgressBar
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


class CustomBarColumn(BarColumn):
    """A bar that pulses for a loader without a length (an IterableDataset)."""

    def render(self, task: Task) -> _RichProgressBar:
        assert task.total is not None and task.remaining is not None
        return _RichProgressBar(
            total=max(0, task.total),
            completed=max(0, task.completed),
            width=None if self.bar_width is None else max(1, self.bar_width),
            pulse=not task.started or not math.isfinite(task.remaining),
            animation_time=task.get_time(),
            style=self.style,
            complete_style=self.complete_style,
            finished_style=self.finished_style,
            pulse_style=self.pulse_style,
        )


@dataclass
class CustomInfiniteTask(Task):
    """A task of unknown length: no time remaining."""

    @property
    def time_remaining(self) -> float | None:
        return None


class _RefreshThread(_RichRefreshThread):
    """Redraws only after a soft refresh asked for it, instead of on every tick."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.refresh_cond = False
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        while not self.done.is_set():
            if self.refresh_cond:
                with self.live._lock:
                    self.live.refresh()
                self.refresh_cond = False
            time.sleep(1 / self.refresh_per_second)


class CustomProgress(Progress):
    """A Progress with the refresh thread above and tasks of infinite total."""

    def start(self) -> None:
        if self.live.auto_refresh:
            self.live._refresh_thread = _RefreshThread(self.live, self.live.refresh_per_second)
            self.live.auto_refresh = False
        super().start()
        if self.live._refresh_thread:
            self.live.auto_refresh = True
            self.live._refresh_thread.start()

    def stop(self) -> None:
        refresh_thread = self.live._refresh_thread
        super().stop()
        if refresh_thread:
            refresh_thread.stop()
            refresh_thread.join()

    def soft_refresh(self) -> None:
        if self.live.auto_refresh and isinstance(self.live._refresh_thread, _RefreshThread):
            self.live._refresh_thread.refresh_cond = True

    def add_task(  # type: ignore[override]
        self,
        description: str,
        start: bool = True,
        total: float | None = 100.0,
        completed: int = 0,
        visible: bool = True,
        **fields: Any,
    ) -> TaskID:
        assert total is not None
        if math.isfinite(total):
            return super().add_task(description, start, total, completed, visible, **fields)
        task = CustomInfiniteTask(
            self._task_index, description, total, completed, visible=visible, fields=fields,
            _get_time=self.get_time, _lock=self._lock,
        )  # fmt: skip
        with self._lock:
            self._tasks[self._task_index] = task
            if start:
                self.start_task(self._task_index)
            index = self._task_index
            self._task_index = TaskID(int(self._task_index) + 1)
        self.refresh()
        return index


class CustomTimeColumn(ProgressColumn):
    max_refresh = 0.5  # twice a second, so the numbers do not jitter

    def __init__(self, style: str | Style) -> None:
        self.style = style
        super().__init__()

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        remaining = task.time_remaining
        elapsed_text = "-:--:--" if elapsed is None else str(timedelta(seconds=int(elapsed)))
        remaining_text = "-:--:--" if remaining is None else str(timedelta(seconds=int(remaining)))
        return Text(f"{elapsed_text} • {remaining_text}", style=self.style)


class BatchesProcessedColumn(ProgressColumn):
    def __init__(self, style: str | Style) -> None:
        self.style = style
        super().__init__()

    def render(self, task: Task) -> RenderableType:
        total = task.total if task.total != float("inf") else "--"
        return Text(f"{int(task.completed)}/{total}", style=self.style)


class ProcessingSpeedColumn(ProgressColumn):
    def __init__(self, style: str | Style) -> None:
        self.style = style
        super().__init__()

    def render(self, task: Task) -> RenderableType:
        speed = f"{task.speed:>.2f}" if task.speed is not None else "0.00"
        return Text(f"{speed}it/s", style=self.style)


class MetricsTextColumn(ProgressColumn):
    """The progress-bar metrics, on the training bar only; each finished epoch's bar keeps the
    metrics it ended with."""

    def __init__(
        self, trainer: Trainer, style: str | Style, text_delimiter: str, metrics_format: str
    ) -> None:
        self._trainer = trainer
        self._tasks: dict[int | TaskID, Any] = {}
        self._current_task_id: Any = 0
        self._metrics: dict[Any, Any] = {}
        self._style = style
        self._text_delimiter = text_delimiter
        self._metrics_format = metrics_format
        super().__init__()

    def update(self, metrics: dict[Any, Any]) -> None:
        # set from the training thread; render (the refresh thread) only reads it
        self._metrics = metrics

    def render(self, task: Task) -> Text:
        trainer = self._trainer
        bar = trainer.progress_bar_callback
        if (
            trainer.state.fn != "fit"
            or trainer.sanity_checking
            or getattr(bar, "train_progress_bar_id", None) != task.id
        ):
            return Text()
        if trainer.training and task.id not in self._tasks:
            self._tasks[task.id] = "None"
            if self._renderable_cache and self._current_task_id in self._renderable_cache:
                self._tasks[self._current_task_id] = self._renderable_cache[self._current_task_id][
                    1
                ]
            self._current_task_id = task.id
        if trainer.training and task.id != self._current_task_id:
            return self._tasks[task.id]  # type: ignore[no-any-return]
        text = self._text_delimiter.join(self._metrics_texts())
        return Text(text, justify="left", style=self._style)

    def _metrics_texts(self) -> Iterator[str]:
        for name, value in self._metrics.items():
            if not isinstance(value, str):
                try:
                    value = f"{value:{self._metrics_format}}"
                except (TypeError, ValueError):
                    value = str(value)
            yield f"{name}: {value}"
