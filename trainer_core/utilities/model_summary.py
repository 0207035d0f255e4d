"""The model summary table: layers, parameters, train/eval mode, FLOPs and (with an
``example_input_array``) input and output sizes, in Lightning's columns and wording."""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedParameter
from torch.utils.flop_counter import FlopCounterMode

from trainer_core.data import move_data_to_device

PARAMETER_NUM_UNITS = [" ", "K", "M", "B", "T"]
UNKNOWN_SIZE = "?"
LEFTOVER_PARAMS_NAME = "other params"
NOT_APPLICABLE = "n/a"
_PRECISION_BITS = {
    "64": 64, "32": 32, "16": 16, "bf16": 16, "16-true": 16, "bf16-true": 16, "32-true": 32,
    "64-true": 64,
}  # fmt: skip


def _count(parameters: Any) -> int:
    return sum(0 if isinstance(p, UninitializedParameter) else p.numel() for p in parameters)


def parse_batch_shape(batch: Any) -> str | list:
    if hasattr(batch, "shape"):
        return list(batch.shape)
    if isinstance(batch, (list, tuple)):
        return [parse_batch_shape(el) for el in batch]
    return UNKNOWN_SIZE


class LayerSummary:
    """One layer: type, parameters, mode, and in/out sizes seen by a forward hook."""

    def __init__(self, module: nn.Module) -> None:
        self._module = module
        self._in_size: str | list | None = None
        self._out_size: str | list | None = None
        self._hook_handle: Any = None
        if not isinstance(module, torch.jit.ScriptModule):
            self._hook_handle = module.register_forward_hook(self._record, with_kwargs=True)

    def _record(self, _: nn.Module, args: Any, kwargs: Any, out: Any) -> None:
        inputs = (*args, *kwargs.values()) if kwargs is not None else args
        self._in_size = parse_batch_shape(inputs[0] if len(inputs) == 1 else inputs)
        self._out_size = parse_batch_shape(out)
        self.detach_hook()  # recursive models record their first call only

    def detach_hook(self) -> None:
        if self._hook_handle is not None:
            self._hook_handle.remove()
            self._hook_handle = None

    @property
    def in_size(self) -> str | list:
        return self._in_size or UNKNOWN_SIZE

    @property
    def out_size(self) -> str | list:
        return self._out_size or UNKNOWN_SIZE

    @property
    def layer_type(self) -> str:
        return str(self._module.__class__.__name__)

    @property
    def num_parameters(self) -> int:
        return _count(self._module.parameters())

    @property
    def training(self) -> bool:
        return self._module.training


class ModelSummary:
    """Summary of a LightningModule down to ``max_depth`` (-1: every module, 0: none)."""

    def __init__(self, model: Any, max_depth: int = 1) -> None:
        if not isinstance(max_depth, int) or max_depth < -1:
            raise ValueError(f"`max_depth` can be -1, 0 or > 0, got {max_depth}.")
        self._model = model
        self._max_depth = max_depth
        self._flop_counter = FlopCounterMode(display=False, depth=max_depth + 1)
        self._layer_summary = self.summarize()
        trainer = getattr(model, "_trainer", None)
        bits = _PRECISION_BITS.get(trainer.precision, 32) if trainer is not None else 32
        self._precision_megabytes = (bits / 8.0) * 1e-6

    @property
    def named_modules(self) -> list[tuple[str, nn.Module]]:
        if self._max_depth == 0:
            return []
        if self._max_depth == 1:
            return list(self._model.named_children())
        return list(self._model.named_modules())[1:]  # not the LightningModule itself

    @property
    def layer_names(self) -> list[str]:
        return list(self._layer_summary.keys())

    @property
    def layer_types(self) -> list[str]:
        return [layer.layer_type for layer in self._layer_summary.values()]

    @property
    def in_sizes(self) -> list:
        return [layer.in_size for layer in self._layer_summary.values()]

    @property
    def out_sizes(self) -> list:
        return [layer.out_size for layer in self._layer_summary.values()]

    @property
    def param_nums(self) -> list[int]:
        return [layer.num_parameters for layer in self._layer_summary.values()]

    @property
    def training_modes(self) -> list[bool]:
        return [layer.training for layer in self._layer_summary.values()]

    @property
    def total_training_modes(self) -> dict[str, int]:
        modes = [m.training for m in self._model.modules()][1:]
        return {"train": modes.count(True), "eval": modes.count(False)}

    @property
    def total_parameters(self) -> int:
        return _count(self._model.parameters())

    @property
    def trainable_parameters(self) -> int:
        return _count(p for p in self._model.parameters() if p.requires_grad)

    @property
    def total_layer_params(self) -> int:
        return sum(self.param_nums)

    @property
    def model_size(self) -> float:
        return self.total_parameters * self._precision_megabytes

    @property
    def total_flops(self) -> int:
        return int(self._flop_counter.get_total_flops())

    @property
    def flop_counts(self) -> dict[str, dict[Any, int]]:
        counts = self._flop_counter.get_flop_counts()
        root = type(self._model).__name__
        return {name: counts.get(f"{root}.{name}", {}) for name in self.layer_names}

    def summarize(self) -> dict[str, LayerSummary]:
        summary = OrderedDict((name, LayerSummary(module)) for name, module in self.named_modules)
        if self._model.example_input_array is not None:
            self._forward_example_input()
        for layer in summary.values():
            layer.detach_hook()
        if self._max_depth >= 1:
            for name in [n for n in summary if n.count(".") >= self._max_depth]:
                del summary[name]
        return summary

    def _forward_example_input(self) -> None:
        """The example input through the model in eval mode: sizes and FLOPs per layer."""
        model = self._model
        trainer = getattr(model, "_trainer", None)
        example = model.example_input_array
        if trainer is not None:
            example = trainer._transfer(example, 0)
            forward_context: Any = trainer.precision_plugin.autocast()
        else:
            example = move_data_to_device(example, model.device)
            forward_context = contextlib.nullcontext()
        modes = {m: m.training for m in model.modules()}
        model.eval()
        with torch.no_grad(), forward_context, self._flop_counter:
            if isinstance(example, (list, tuple)):
                model(*example)
            elif isinstance(example, dict):
                model(**example)
            else:
                model(example)
        for module, training in modes.items():
            module.training = training

    def _get_summary_data(self) -> list[tuple[str, list[str]]]:
        flops = (sum(counts.values()) for counts in self.flop_counts.values())
        arrays = [
            (" ", [str(i) for i in range(len(self._layer_summary))]),
            ("Name", self.layer_names),
            ("Type", self.layer_types),
            ("Params", [get_human_readable_count(n) for n in self.param_nums]),
            ("Mode", ["train" if mode else "eval" for mode in self.training_modes]),
            ("FLOPs", [get_human_readable_count(n) for n in flops]),
        ]
        if self._model.example_input_array is not None:
            arrays.append(("In sizes", [str(x) for x in self.in_sizes]))
            arrays.append(("Out sizes", [str(x) for x in self.out_sizes]))
        leftover = self.total_parameters - self.total_layer_params
        if leftover > 0:  # parameters held by the LightningModule itself
            columns = dict(arrays)
            for column, value in ((" ", " "), ("Name", LEFTOVER_PARAMS_NAME),
                                  ("Params", get_human_readable_count(leftover))):  # fmt: skip
                columns[column].append(value)
            for column in ("Type", "Mode", "FLOPs", "In sizes", "Out sizes"):
                if column in columns:
                    columns[column].append(NOT_APPLICABLE)
        return arrays

    def __str__(self) -> str:
        return format_summary_table(
            self.total_parameters,
            self.trainable_parameters,
            self.model_size,
            self.total_training_modes,
            self.total_flops,
            *self._get_summary_data(),
        )

    def __repr__(self) -> str:
        return str(self)


def format_summary_table(
    total_parameters: int,
    trainable_parameters: int,
    model_size: float,
    total_training_modes: dict[str, int],
    total_flops: int,
    *cols: tuple[str, list[str]],
) -> str:
    """The plain-text table Lightning prints, column widths and footer included."""
    n_rows = len(cols[0][1])
    widths = [max([len(c[0])] + ([len(str(a)) for a in c[1]] if n_rows else [])) for c in cols]
    total_width = sum(widths) + 3 * (1 + len(cols))
    lines = [" | ".join(f"{c[0]:<{w}}" for c, w in zip(cols, widths, strict=True))]
    lines.append("-" * total_width)
    for i in range(n_rows):
        lines.append(" | ".join(f"{str(c[1][i]):<{w}}" for c, w in zip(cols, widths, strict=True)))
    lines.append("-" * total_width)
    footer = [
        (get_human_readable_count(trainable_parameters), "Trainable params"),
        (get_human_readable_count(total_parameters - trainable_parameters), "Non-trainable params"),
        (get_human_readable_count(total_parameters), "Total params"),
        (get_formatted_model_size(model_size), "Total estimated model params size (MB)"),
        (total_training_modes["train"], "Modules in train mode"),
        (total_training_modes["eval"], "Modules in eval mode"),
        (get_human_readable_count(total_flops), "Total Flops"),
    ]
    lines += [f"{value!s:<10}{label}" for value, label in footer]
    return "\n".join(lines)


def get_formatted_model_size(total_model_size: float) -> str:
    return f"{total_model_size:,.3f}"


def get_human_readable_count(number: int | float) -> str:
    """123 -> '123  ', 1234 -> '1.2 K', 2e6 -> '2.0 M', ... up to trillions."""
    assert number >= 0
    digits = int(math.floor(math.log10(number)) + 1 if number > 0 else 1)
    groups = min(int(math.ceil(digits / 3)), len(PARAMETER_NUM_UNITS))
    number = number * (10 ** (-3 * (groups - 1)))
    index = groups - 1
    if index < 1 or number >= 100:
        return f"{int(number):,d} {PARAMETER_NUM_UNITS[index]}"
    return f"{number:,.1f} {PARAMETER_NUM_UNITS[index]}"


def summarize(lightning_module: Any, max_depth: int = 1) -> ModelSummary:
    return ModelSummary(lightning_module, max_depth=max_depth)
