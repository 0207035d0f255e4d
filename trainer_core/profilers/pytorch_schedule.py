"""The step schedule of ``PyTorchProfiler``: one counter per step kind, as Lightning keeps them.

torch's profiler steps once per ``*_step`` action; training and evaluation steps interleave, so
each kind counts its own steps and a kind that reached RECORD_AND_SAVE records nothing more.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.profiler import ProfilerAction

_KINDS = ("training_step", "validation_step", "test_step", "predict_step")


class ScheduleWrapper:
    """Wraps a ``torch.profiler.schedule``; the trainer's step actions drive it."""

    def __init__(self, schedule: Callable[[int], ProfilerAction]) -> None:
        self._schedule = schedule
        self.reset()

    def reset(self) -> None:
        self._steps = dict.fromkeys(_KINDS, 0)
        self._finished = dict.fromkeys(_KINDS, False)
        self._current_action: str | None = None
        self._prev_schedule_action: ProfilerAction | None = None
        self._start_action_name: str | None = None

    def setup(self, start_action_name: str) -> None:
        self._start_action_name = start_action_name

    def pre_step(self, current_action: str) -> None:
        self._current_action = current_action

    def _kind(self) -> str | None:
        action = self._current_action or ""
        return next((kind for kind in _KINDS if action.endswith(kind)), None)

    @property
    def is_training(self) -> bool:
        return self._kind() == "training_step"

    @property
    def is_validating(self) -> bool:
        return self._kind() == "validation_step"

    @property
    def is_testing(self) -> bool:
        return self._kind() == "test_step"

    @property
    def is_predicting(self) -> bool:
        return self._kind() == "predict_step"

    @property
    def num_step(self) -> int:
        kind = self._kind()
        return self._steps[kind] if kind else 0

    @property
    def has_finished(self) -> bool:
        kind = self._kind()
        return self._finished[kind] if kind else False

    def _step(self) -> None:
        kind = self._kind()
        if kind is None:
            return
        # validation inside fit counts only once training has started (sanity steps do not)
        in_fit = (self._start_action_name or "").endswith("on_fit_start")
        if kind == "validation_step" and in_fit and self._steps["training_step"] == 0:
            return
        self._steps[kind] += 1

    def __call__(self, num_step: int) -> ProfilerAction:
        # torch passes its own step number; the per-kind counters are used instead
        if self._current_action is None or self.has_finished:
            return ProfilerAction.NONE
        self._step()
        action = self._schedule(max(self.num_step, 0))
        if self._prev_schedule_action == ProfilerAction.RECORD and action == ProfilerAction.WARMUP:
            # validation started recording before training did: keep recording
            action = ProfilerAction.RECORD
        if action == ProfilerAction.RECORD_AND_SAVE:
            kind = self._kind()
            if kind is not None:
                self._finished[kind] = True
        self._prev_schedule_action = action
        return action
