"""PyTorchProfiler: torch.profiler around the run, one record_function per trainer action.

The summary is torch's operator table; traces go to ``dirpath`` as Chrome traces
(``<stage>-<filename>-<action>.<time>.pt.trace.json``), as Lightning writes them.
"""

from __future__ import annotations

import inspect
import os
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.autograd.profiler import EventList, record_function
from torch.profiler import ProfilerActivity, tensorboard_trace_handler

from trainer_core.profilers.base import Profiler
from trainer_core.profilers.pytorch_schedule import ScheduleWrapper
from trainer_core.utilities.exceptions import MisconfigurationException

_KINETO = torch.profiler.kineto_available()


class RegisterRecordFunction:
    """Labels each submodule's forward as ``[pl][module]<type>: <name>`` in the trace."""

    def __init__(self, model: nn.Module) -> None:
        self._model = model
        self._records: dict[str, Any] = {}
        self._handles: list[Any] = []

    def _start(self, _: nn.Module, inputs: Any, record_name: str) -> Any:
        record = record_function("[pl][module]" + record_name)
        record.__enter__()
        self._records[record_name] = record
        return inputs

    def _stop(self, _: nn.Module, __: Any, output: Any, record_name: str) -> Any:
        self._records[record_name].__exit__(None, None, None)
        return output

    def __enter__(self) -> None:
        for name, module in self._model.named_modules():
            if name:
                label = f"{type(module).__module__}.{type(module).__name__}: {name}"
                self._handles.append(
                    module.register_forward_pre_hook(partial(self._start, record_name=label))
                )
                self._handles.append(
                    module.register_forward_hook(partial(self._stop, record_name=label))
                )

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@lru_cache(1)
def _default_schedule() -> Any:
    # wait 1, warm up 1, record 3: a negligible overhead over a long run
    return torch.profiler.schedule(wait=1, warmup=1, active=3) if _KINETO else None


class PyTorchProfiler(Profiler):
    """Operator-level CPU (and CUDA) timings through ``torch.profiler``."""

    STEP_FUNCTIONS = {"training_step", "validation_step", "test_step", "predict_step"}
    AVAILABLE_SORT_KEYS = {
        "cpu_time", "cuda_time", "cpu_time_total", "cuda_time_total", "cpu_memory_usage",
        "cuda_memory_usage", "self_cpu_memory_usage", "self_cuda_memory_usage", "count",
    }  # fmt: skip

    def __init__(
        self,
        dirpath: str | Path | None = None,
        filename: str | None = None,
        group_by_input_shapes: bool = False,
        emit_nvtx: bool = False,
        export_to_chrome: bool = True,
        row_limit: int = 20,
        sort_by_key: str | None = None,
        record_module_names: bool = True,
        table_kwargs: dict[str, Any] | None = None,
        **profiler_kwargs: Any,
    ) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self._group_by_input_shapes = group_by_input_shapes and profiler_kwargs.get(
            "record_shapes", False
        )
        self._emit_nvtx = emit_nvtx
        self._export_to_chrome = export_to_chrome
        self._row_limit = row_limit
        self._sort_by_key = sort_by_key or _default_sort_by_key(profiler_kwargs)
        self._record_module_names = record_module_names
        self._profiler_kwargs = profiler_kwargs
        self._table_kwargs = table_kwargs if table_kwargs is not None else {}
        self.profiler: Any = None
        self.function_events: EventList | None = None
        self._register: RegisterRecordFunction | None = None
        self._parent_profiler: Any = None
        self._recording_map: dict[str, Any] = {}
        self._schedule: ScheduleWrapper | None = None
        self._has_on_trace_ready = "on_trace_ready" in profiler_kwargs
        if _KINETO:
            self._init_kineto(profiler_kwargs)
        if self._sort_by_key not in self.AVAILABLE_SORT_KEYS:
            raise MisconfigurationException(
                f"Found sort_by_key: {self._sort_by_key}. Should be within "
                f"{self.AVAILABLE_SORT_KEYS}. "
            )
        _check_table_kwargs(self._table_kwargs)

    def _init_kineto(self, profiler_kwargs: dict[str, Any]) -> None:
        schedule = profiler_kwargs.get("schedule")
        if schedule is not None:
            if not callable(schedule):
                raise MisconfigurationException(f"Schedule should be a callable. Found: {schedule}")
            action = schedule(0)
            if not isinstance(action, torch.profiler.ProfilerAction):
                raise MisconfigurationException(
                    f"Schedule should return a `torch.profiler.ProfilerAction`. Found: {action}"
                )
        schedule = schedule if "schedule" in profiler_kwargs else _default_schedule()
        self._schedule = ScheduleWrapper(schedule) if schedule is not None else None
        self._profiler_kwargs["schedule"] = self._schedule
        activities = profiler_kwargs.get("activities") or _default_activities()
        self._profiler_kwargs["activities"] = activities
        self._export_to_flame_graph = profiler_kwargs.get("export_to_flame_graph", False)
        self._metric = profiler_kwargs.get("metric", "self_cpu_time_total")
        self._profiler_kwargs["with_stack"] = (
            profiler_kwargs.get("with_stack", False) or self._export_to_flame_graph
        )

    @property
    def _total_steps(self) -> int | float:
        assert self._schedule is not None and self._lightning_module is not None
        trainer = self._lightning_module.trainer
        if self._schedule.is_training:
            return trainer.num_training_batches
        if self._schedule.is_validating:
            return sum(trainer.num_val_batches) + sum(trainer.num_sanity_val_batches)
        if self._schedule.is_testing:
            return sum(trainer.num_test_batches)
        if self._schedule.is_predicting:
            return sum(trainer.num_predict_batches)
        raise NotImplementedError("Unsupported schedule")

    def _should_override_schedule(self) -> bool:
        return (
            self._lightning_module is not None
            and self._schedule is not None
            and self._total_steps < 5
            and self._schedule._schedule == _default_schedule()
        )

    def start(self, action_name: str) -> None:
        if self.profiler is None:
            if torch.autograd._profiler_enabled():
                torch.autograd._disable_profiler()  # a profiler left open by an earlier run
            if self._schedule is not None:
                self._schedule.setup(action_name)
            profiler = self._create_profilers()
            entered = profiler.__enter__()
            if entered is not None:
                self.profiler = entered
            if self._parent_profiler is not None:
                self._parent_profiler.__enter__()
        if (
            self._lightning_module is not None
            and self._register is None
            and self._record_module_names
        ):
            self._register = RegisterRecordFunction(self._lightning_module)
            self._register.__enter__()
        if self.profiler is not None and action_name not in self._recording_map:
            recording = record_function("[pl][profile]" + action_name)
            recording.__enter__()
            self._recording_map[action_name] = recording

    def stop(self, action_name: str) -> None:
        if action_name in self._recording_map:
            self._recording_map.pop(action_name).__exit__(None, None, None)
        if not _KINETO or self._emit_nvtx:
            return
        if self.profiler is None or not any(action_name.endswith(f) for f in self.STEP_FUNCTIONS):
            return
        if self._schedule is not None:
            self._schedule.pre_step(action_name)
        if self._should_override_schedule():
            # the default schedule needs 5 steps; with fewer, record every step instead
            self._schedule = None
            self.profiler.schedule = torch.profiler.profiler._default_schedule_fn
        if not self._has_on_trace_ready:
            self.profiler.on_trace_ready = partial(self._on_trace_ready, action_name)
        if self._schedule is not None:
            self.profiler.step_num = self._schedule.num_step
        self.profiler.step()
        self.profiler.add_metadata("Framework", "pytorch-lightning")

    def _on_trace_ready(self, action_name: str, profiler: Any) -> None:
        if self.dirpath is None:
            return
        if self._export_to_chrome:
            name = self._prepare_filename(action_name=action_name, extension="")
            tensorboard_trace_handler(str(self.dirpath), name)(profiler)
        if self._export_to_flame_graph:
            name = self._prepare_filename(action_name=action_name, extension=".stack")
            profiler.export_stacks(os.path.join(self.dirpath, name), metric=self._metric)

    def summary(self) -> str:
        if not self._profiler_kwargs.get("enabled", True) or self._emit_nvtx:
            return ""
        self._delete_profilers()
        if not self.function_events:
            return ""
        if self._export_to_chrome and not _KINETO:
            name = f"{self.local_rank}_trace.json"
            path = name if self.dirpath is None else os.path.join(self.dirpath, name)
            self.function_events.export_chrome_trace(path)
        data = self.function_events.key_averages(group_by_input_shapes=self._group_by_input_shapes)
        table = data.table(
            sort_by=self._sort_by_key, row_limit=self._row_limit, **self._table_kwargs
        )
        return self._stats_to_str({"records": table})

    def _create_profilers(self) -> Any:
        if self.profiler is not None:
            return self.profiler
        if self._emit_nvtx:
            if self._parent_profiler is None:
                self._parent_profiler = torch.cuda.profiler.profile()
            self.profiler = self._create_profiler(torch.autograd.profiler.emit_nvtx)
        else:
            self._parent_profiler = None
            kind = torch.profiler.profile if _KINETO else torch.autograd.profiler.profile
            self.profiler = self._create_profiler(kind)
        return self.profiler

    def _create_profiler(self, profiler: Any) -> Any:
        accepted = inspect.signature(profiler.__init__).parameters
        return profiler(**{k: v for k, v in self._profiler_kwargs.items() if k in accepted})

    def _delete_profilers(self) -> None:
        if self.profiler is not None:
            self.profiler.__exit__(None, None, None)
            if not self._emit_nvtx:
                self.function_events = (
                    self.profiler.events() if _KINETO else self.profiler.function_events
                )
            self.profiler = None
        if self._schedule is not None:
            self._schedule.reset()
        if self._parent_profiler is not None:
            self._parent_profiler.__exit__(None, None, None)
            self._parent_profiler = None
        if self._register is not None:
            self._register.__exit__(None, None, None)
            self._register = None

    def teardown(self, stage: str | None) -> None:
        self._delete_profilers()
        for name in list(self._recording_map):
            self.stop(name)
        self._recording_map = {}
        super().teardown(stage=stage)


def _default_activities() -> list[ProfilerActivity]:
    if not _KINETO:
        return []
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    return activities


def _default_sort_by_key(profiler_kwargs: dict[str, Any]) -> str:
    activities = profiler_kwargs.get("activities", [])
    is_cuda = (
        profiler_kwargs.get("use_cuda", False)
        or (activities and ProfilerActivity.CUDA in activities)
        or (not activities and torch.cuda.is_available())
    )
    return f"{'cuda' if is_cuda else 'cpu'}_time_total"


def _check_table_kwargs(table_kwargs: dict[str, Any]) -> None:
    valid = set(inspect.signature(EventList.table).parameters) - {"self", "sort_by", "row_limit"}
    for key in table_kwargs:
        if key in {"sort_by", "row_limit"}:
            raise KeyError(
                f"Found invalid table_kwargs key: {key}. This is already a positional argument of "
                "the Profiler."
            )
        if key not in valid:
            raise KeyError(f"Found invalid table_kwargs key: {key}. Should be within {valid}.")
