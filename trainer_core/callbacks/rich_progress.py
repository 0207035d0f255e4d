"""RichProgressBar: progress bars drawn with rich, as Lightning draws them.

One bar per training epoch (``Epoch 0/2``), a bar per validation, test and predict run, with
batches done, elapsed and remaining time, speed and the progress-bar metrics.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from rich import get_console, reconfigure
from rich.console import Console
from rich.progress import Task, TaskID, TextColumn
from rich.style import Style

from trainer_core.callbacks.progress import ProgressBar
from trainer_core.callbacks.rich_columns import (
    BatchesProcessedColumn,
    CustomBarColumn,
    CustomProgress,
    CustomTimeColumn,
    MetricsTextColumn,
    ProcessingSpeedColumn,
)

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


def _interactive() -> bool:
    return hasattr(sys, "ps1") or bool(sys.flags.interactive)


@dataclass
class RichProgressBarTheme:
    """Styles of the bar's parts (https://rich.readthedocs.io/en/stable/style.html)."""

    description: str | Style = ""
    progress_bar: str | Style = "#6206E0"
    progress_bar_finished: str | Style = "#6206E0"
    progress_bar_pulse: str | Style = "#6206E0"
    batch_progress: str | Style = ""
    time: str | Style = "dim"
    processing_speed: str | Style = "dim underline"
    metrics: str | Style = "italic"
    metrics_text_delimiter: str = " "
    metrics_format: str = ".3f"


class RichProgressBar(ProgressBar):
    """``refresh_rate`` redraws per second (0 turns the bars off); ``leave`` keeps each epoch's
    bar; ``console_kwargs`` configure rich's Console."""

    train_progress_bar_id: TaskID | None
    val_sanity_progress_bar_id: TaskID | None
    val_progress_bar_id: TaskID | None
    test_progress_bar_id: TaskID | None
    predict_progress_bar_id: TaskID | None

    def __init__(
        self,
        refresh_rate: int = 100,
        leave: bool = False,
        theme: RichProgressBarTheme = RichProgressBarTheme(),  # noqa: B008 - Lightning's default
        console_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._refresh_rate = refresh_rate
        self._leave = leave
        self._console: Console | None = None
        self._console_kwargs = console_kwargs or {}
        self._enabled = True
        self.progress: CustomProgress | None = None
        self._reset_progress_bar_ids()
        self._metric_component: MetricsTextColumn | None = None
        self._progress_stopped = False
        self.theme = theme

    @property
    def refresh_rate(self) -> float:
        return self._refresh_rate

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self.refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def _task(self, task_id: TaskID | None) -> Task:
        assert self.progress is not None and task_id is not None
        return self.progress.tasks[task_id]

    @property
    def train_progress_bar(self) -> Task:
        return self._task(self.train_progress_bar_id)

    @property
    def val_sanity_check_bar(self) -> Task:
        return self._task(self.val_sanity_progress_bar_id)

    @property
    def val_progress_bar(self) -> Task:
        return self._task(self.val_progress_bar_id)

    @property
    def test_progress_bar(self) -> Task:
        return self._task(self.test_progress_bar_id)

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _init_progress(self, trainer: Trainer) -> None:
        if not self.is_enabled or (self.progress is not None and not self._progress_stopped):
            return
        self._reset_progress_bar_ids()
        reconfigure(**self._console_kwargs)
        self._console = get_console()
        if getattr(self._console, "_live_stack", None) or hasattr(self._console, "_live"):
            self._console.clear_live()  # a display left by an earlier run
        self._metric_component = MetricsTextColumn(
            trainer, self.theme.metrics, self.theme.metrics_text_delimiter,
            self.theme.metrics_format,
        )  # fmt: skip
        self.progress = CustomProgress(
            *self.configure_columns(trainer),
            self._metric_component,
            auto_refresh=True,
            refresh_per_second=self.refresh_rate if self.is_enabled else 1,
            disable=self.is_disabled,
            console=self._console,
        )
        self.progress.start()
        self._progress_stopped = False

    def refresh(self, hard: bool = False) -> None:
        if self.progress:
            if hard or _interactive():
                self.progress.refresh()
            else:
                self.progress.soft_refresh()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._init_progress(trainer)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._init_progress(trainer)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._init_progress(trainer)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._init_progress(trainer)

    def on_sanity_check_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._init_progress(trainer)

    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.progress is not None and self.val_sanity_progress_bar_id is not None:
            self.progress.update(self.val_sanity_progress_bar_id, advance=0, visible=False)
        self.refresh()

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.is_disabled:
            return
        total = self.total_train_batches
        description = self._get_train_description(trainer.current_epoch)
        if self.train_progress_bar_id is not None and self._leave:
            self._stop_progress()
            self._init_progress(trainer)
        if self.progress is not None:
            if self.train_progress_bar_id is None:
                self.train_progress_bar_id = self._add_task(total, description)
            else:
                self.progress.reset(
                    self.train_progress_bar_id, total=total, description=description, visible=True
                )
        self.refresh()

    def on_validation_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.is_disabled or not self.has_dataloader_changed(dataloader_idx):
            return
        assert self.progress is not None
        total = self.total_val_batches_current_dataloader
        if trainer.sanity_checking:
            if self.val_sanity_progress_bar_id is not None:
                self.progress.update(self.val_sanity_progress_bar_id, advance=0, visible=False)
            self.val_sanity_progress_bar_id = self._add_task(
                total, self.sanity_check_description, visible=False
            )
        else:
            if self.val_progress_bar_id is not None:
                self.progress.update(self.val_progress_bar_id, advance=0, visible=False)
            self.val_progress_bar_id = self._add_task(
                total, self.validation_description, visible=False
            )
        self.refresh()

    def _add_task(self, total: int | float, description: str, visible: bool = True) -> TaskID:
        assert self.progress is not None
        style = self.theme.description
        return self.progress.add_task(
            f"[{style}]{description}" if style else description, total=total, visible=visible
        )

    def _update(
        self, bar_id: TaskID | None, current: int, visible: bool = True, hard: bool = False
    ) -> None:
        if self.progress is not None and self.is_enabled and bar_id is not None:
            self.progress.update(bar_id, completed=current, visible=visible)
            self.refresh(hard=hard)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.is_enabled and self.val_progress_bar_id is not None and trainer.state.fn == "fit":
            assert self.progress is not None
            self.progress.update(self.val_progress_bar_id, advance=0, visible=False)
            self.refresh()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._update_metrics(trainer, pl_module)
        self.reset_dataloader_idx_tracker()

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.reset_dataloader_idx_tracker()

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.reset_dataloader_idx_tracker()

    def on_test_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.is_disabled or not self.has_dataloader_changed(dataloader_idx):
            return
        if self.test_progress_bar_id is not None:
            assert self.progress is not None
            self.progress.update(self.test_progress_bar_id, advance=0, visible=False)
        self.test_progress_bar_id = self._add_task(
            self.total_test_batches_current_dataloader, self.test_description
        )
        self.refresh()

    def on_predict_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.is_disabled or not self.has_dataloader_changed(dataloader_idx):
            return
        if self.predict_progress_bar_id is not None:
            assert self.progress is not None
            self.progress.update(self.predict_progress_bar_id, advance=0, visible=False)
        self.predict_progress_bar_id = self._add_task(
            self.total_predict_batches_current_dataloader, self.predict_description
        )
        self.refresh()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.is_disabled and self.train_progress_bar_id is None:
            # resumed in the middle of an epoch: no epoch start made the bar
            description = self._get_train_description(trainer.current_epoch)
            self.train_progress_bar_id = self._add_task(self.total_train_batches, description)
        self._update(self.train_progress_bar_id, batch_idx + 1)
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._update_metrics(trainer, pl_module)
        self.refresh()

    def on_validation_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if self.is_disabled:
            return
        if trainer.sanity_checking:
            self._update(self.val_sanity_progress_bar_id, batch_idx + 1)
        else:
            self._update(self.val_progress_bar_id, batch_idx + 1)

    def on_test_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if not self.is_disabled:
            self._update(self.test_progress_bar_id, batch_idx + 1)

    def on_predict_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        if not self.is_disabled:
            self._update(self.predict_progress_bar_id, batch_idx + 1)

    def _get_train_description(self, current_epoch: int) -> str:
        description = f"Epoch {current_epoch}"
        if self.trainer.max_epochs is not None:
            description += f"/{self.trainer.max_epochs - 1}"
        if len(self.validation_description) > len(description):
            # padded to the validation bar's width, so the columns do not jump between bars
            description = f"{description:{len(self.validation_description)}}"
        return description

    def _stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self._progress_stopped = True  # the next stage starts a new display

    def _reset_progress_bar_ids(self) -> None:
        self.train_progress_bar_id = None
        self.val_sanity_progress_bar_id = None
        self.val_progress_bar_id = None
        self.test_progress_bar_id = None
        self.predict_progress_bar_id = None

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        return {k: v.item() if isinstance(v, torch.Tensor) else v for k, v in items.items()}

    def _update_metrics(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.is_enabled and self._metric_component is not None:
            self._metric_component.update(self.get_metrics(trainer, pl_module))

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._stop_progress()

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        self._stop_progress()

    def configure_columns(self, trainer: Trainer) -> list:
        return [
            TextColumn("[progress.description]{task.description}"),
            CustomBarColumn(
                complete_style=self.theme.progress_bar,
                finished_style=self.theme.progress_bar_finished,
                pulse_style=self.theme.progress_bar_pulse,
            ),
            BatchesProcessedColumn(style=self.theme.batch_progress),
            CustomTimeColumn(style=self.theme.time),
            ProcessingSpeedColumn(style=self.theme.processing_speed),
        ]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["progress"] = None  # rich objects hold thread locks
        state["_console"] = None
        return state
