"""ModelSummary: the table of the module's layers, printed when fit starts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.utilities.model_summary import ModelSummary as Summary
from trainer_core.utilities.model_summary import format_summary_table, summarize

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


class ModelSummary(Callback):
    """Print the summary down to ``max_depth`` (0 turns it off); ``enable_model_summary=False``
    leaves this callback out. Subclasses change the output by overriding ``summarize``."""

    def __init__(self, max_depth: int = 1, **summarize_kwargs: Any) -> None:
        self._max_depth = max_depth
        self._summarize_kwargs = summarize_kwargs

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._max_depth or trainer.fast_dev_run:
            return
        summary = self._summary(trainer, pl_module)
        self.summarize(
            summary._get_summary_data(),
            summary.total_parameters,
            summary.trainable_parameters,
            summary.model_size,
            summary.total_training_modes,
            total_flops=summary.total_flops,
            **self._summarize_kwargs,
        )

    def _summary(self, trainer: Trainer, pl_module: LightningModule) -> Summary:
        return summarize(pl_module, max_depth=self._max_depth)

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        # Lightning logs this at INFO level, which its own handler prints; trainer_core prints.
        print(
            format_summary_table(
                total_parameters,
                trainable_parameters,
                model_size,
                total_training_modes,
                total_flops,
                *summary_data,
            )
        )
