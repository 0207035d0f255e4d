"""RichModelSummary: the model summary as a rich table."""

from __future__ import annotations

from typing import Any

from rich import get_console
from rich.table import Table

from trainer_core.callbacks.model_summary import ModelSummary
from trainer_core.utilities.model_summary import get_formatted_model_size, get_human_readable_count


class RichModelSummary(ModelSummary):
    """Like ModelSummary, drawn with rich; ``header_style`` styles the header row."""

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
        console = get_console()
        column_names = list(zip(*summary_data, strict=False))[0]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        table.add_column(" ", style="dim")
        table.add_column("Name", justify="left", no_wrap=True)
        table.add_column("Type")
        table.add_column("Params", justify="right")
        table.add_column("Mode")
        table.add_column("FLOPs", justify="right")
        for column_name in ("In sizes", "Out sizes"):
            if column_name in column_names:
                table.add_column(column_name, justify="right", style="white")
        for row in zip(*(column[1] for column in summary_data), strict=False):
            table.add_row(*row)
        console.print(table)

        counts = [trainable_parameters, total_parameters - trainable_parameters, total_parameters]
        sizes = [f"{get_human_readable_count(int(n)):<10}" for n in counts]
        grid = Table.grid(expand=True)
        grid.add_column()
        grid.add_column()
        grid.add_row(f"[bold]Trainable params[/]: {sizes[0]}")
        grid.add_row(f"[bold]Non-trainable params[/]: {sizes[1]}")
        grid.add_row(f"[bold]Total params[/]: {sizes[2]}")
        grid.add_row(
            "[bold]Total estimated model params size (MB)[/]: "
            f"{get_formatted_model_size(model_size):<10}"
        )
        grid.add_row(f"[bold]Modules in train mode[/]: {total_training_modes['train']}")
        grid.add_row(f"[bold]Modules in eval mode[/]: {total_training_modes['eval']}")
        grid.add_row(f"[bold]Total FLOPs[/]: {get_human_readable_count(total_flops)}")
        console.print(grid)
