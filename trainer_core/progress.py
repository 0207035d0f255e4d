"""Lightning-style progress counters, kept so checkpoints carry the same ``loops`` entry.

Each tracker counts events in two scopes: ``total`` (whole run) and ``current`` (reset per
epoch or per evaluation run). The counters follow the life of one item:
ready (fetched) -> started (hooks passed) -> processed (step done) -> completed (end hooks done).
"""

from __future__ import annotations

from typing import Any

FULL = ("ready", "started", "processed", "completed")
READY_COMPLETED = ("ready", "completed")
READY_STARTED_COMPLETED = ("ready", "started", "completed")


class Tracker:
    """Counters for one kind of item; ``is_last_batch`` is tracked for batch trackers only."""

    __slots__ = ("keys", "total", "current", "is_last_batch", "has_last")

    def __init__(self, keys: tuple[str, ...] = FULL, has_last: bool = False) -> None:
        self.keys = keys
        self.total = dict.fromkeys(keys, 0)
        self.current = dict.fromkeys(keys, 0)
        self.is_last_batch = False
        self.has_last = has_last

    def inc(self, key: str) -> None:
        self.total[key] += 1
        self.current[key] += 1

    def reset_current(self) -> None:
        self.current = dict.fromkeys(self.keys, 0)
        self.is_last_batch = False

    def reset(self) -> None:
        self.total = dict.fromkeys(self.keys, 0)
        self.reset_current()

    def reset_current_on_restart(self) -> None:
        """What was started but not completed is counted again after a restart."""
        done = self.current["completed"]
        self.current = dict.fromkeys(self.keys, done)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"total": dict(self.total), "current": dict(self.current)}
        if self.has_last:
            state["is_last_batch"] = self.is_last_batch
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total = {k: int(state["total"].get(k, 0)) for k in self.keys}
        self.current = {k: int(state["current"].get(k, 0)) for k in self.keys}
        self.is_last_batch = bool(state.get("is_last_batch", False))


class FitProgress:
    """All counters Lightning stores under ``loops.fit_loop``."""

    def __init__(self) -> None:
        self.epoch = Tracker()
        self.batch = Tracker(has_last=True)
        self.scheduler = Tracker(READY_COMPLETED)
        self.optimizer_step = Tracker(READY_COMPLETED)
        self.zero_grad = Tracker(READY_STARTED_COMPLETED)
        self.manual_step = Tracker(READY_COMPLETED)
        self.val_batch = Tracker(has_last=True)

    def start_epoch(self) -> None:
        """A new epoch: the per-epoch ("current") counters start from zero."""
        for tracker in (
            self.batch,
            self.scheduler,
            self.optimizer_step,
            self.zero_grad,
            self.manual_step,
        ):
            tracker.reset_current()
        self.val_batch.total = dict.fromkeys(self.val_batch.keys, 0)

    def state_dict(self, batches_that_stepped: int, extra: dict[str, Any]) -> dict[str, Any]:
        optimizer = {
            "step": self.optimizer_step.state_dict(),
            "zero_grad": self.zero_grad.state_dict(),
        }
        return {
            "state_dict": extra,
            "epoch_loop.state_dict": {"_batches_that_stepped": batches_that_stepped},
            "epoch_loop.batch_progress": self.batch.state_dict(),
            "epoch_loop.scheduler_progress": self.scheduler.state_dict(),
            "epoch_loop.automatic_optimization.state_dict": {},
            "epoch_loop.automatic_optimization.optim_progress": {"optimizer": optimizer},
            "epoch_loop.manual_optimization.state_dict": {},
            "epoch_loop.manual_optimization.optim_step_progress": self.manual_step.state_dict(),
            "epoch_loop.val_loop.state_dict": {},
            "epoch_loop.val_loop.batch_progress": self.val_batch.state_dict(),
            "epoch_progress": self.epoch.state_dict(),
        }

    def load_state_dict(self, fit: dict[str, Any]) -> None:
        optimizer = fit["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]
        self.epoch.load_state_dict(fit["epoch_progress"])
        self.batch.load_state_dict(fit["epoch_loop.batch_progress"])
        self.scheduler.load_state_dict(fit["epoch_loop.scheduler_progress"])
        self.optimizer_step.load_state_dict(optimizer["step"])
        self.zero_grad.load_state_dict(optimizer["zero_grad"])
        self.manual_step.load_state_dict(fit["epoch_loop.manual_optimization.optim_step_progress"])
        self.val_batch.load_state_dict(fit["epoch_loop.val_loop.batch_progress"])


def eval_loop_state(predict: bool = False) -> dict[str, Any]:
    """The (unused on restore) progress entry of the validate/test/predict loops."""
    tracker = Tracker(has_last=not predict)
    return {"state_dict": {}, "batch_progress": tracker.state_dict()}
