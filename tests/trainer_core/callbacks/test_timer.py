"""Timer: where it stops, what it saves, and max_time adding one, compared with Lightning."""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import trainer_core as TC
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import assert_same, load_ckpt, run_probe, sub
from trainer_core.utilities.exceptions import MisconfigurationException


def timer_scenario(L: ModuleType, root: Path, **trainer_kwargs: Any) -> dict[str, Any]:
    saver = sub(L, "callbacks").ModelCheckpoint(dirpath=root / "ckpt", save_last=True)
    run = run_probe(
        L, root, dict(n_train=16), dict(max_epochs=3, **trainer_kwargs), callbacks=(saver,),
        evaluate=False,
    )  # fmt: skip
    last = load_ckpt(Path(saver.last_model_path))
    run["ckpt_callbacks"] = {k: sorted(v) for k, v in last["callbacks"].items()}
    timer = last["callbacks"]["Timer"]["time_elapsed"]
    run["timer_stages"] = sorted(timer)
    run["timer_counted_training"] = timer["train"] > 0
    return run


@requires_lightning
def test_max_time_adds_a_timer_that_rides_in_checkpoints(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    reference = timer_scenario(ref_L, tmp_path / "ref", max_time={"days": 1})
    candidate = timer_scenario(L, tmp_path / "cand", max_time={"days": 1})
    assert_same(candidate, reference)
    assert candidate["timer_stages"] == ["predict", "sanity_check", "test", "train", "validate"]


class FakeClock:
    """``time.monotonic`` that moves one second per training batch: the Timer's decisions are
    then exact, whatever the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@requires_lightning
@pytest.mark.parametrize(
    ("interval", "seconds", "steps"), [("step", 2.5, 3), ("epoch", 2.5, 4), ("step", 0, 0)]
)
def test_a_spent_timer_stops_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    interval: str, seconds: float, steps: int,
) -> None:  # fmt: skip
    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        clock = FakeClock()
        monkeypatch.setattr(time, "monotonic", clock)

        class Tick(L.Callback):  # type: ignore[name-defined, misc]
            def on_train_batch_end(self, *args: Any) -> None:
                clock.now += 1.0

        timer = sub(L, "callbacks").Timer(duration={"seconds": seconds}, interval=interval)
        run = run_probe(
            L, root, dict(n_train=16), dict(max_epochs=3), callbacks=(Tick(), timer),
            evaluate=False,
        )  # fmt: skip
        run["train_time"] = timer.time_elapsed("train")
        return run

    reference = scenario(ref_L, tmp_path / "ref")
    candidate = scenario(L, tmp_path / "cand")
    assert_same(candidate, reference)
    # a spent timer (0 s) ends the fit in on_fit_start, before any batch
    assert candidate["global_step"] == steps


def test_timer_arguments_and_resumed_offset() -> None:
    with pytest.raises(MisconfigurationException, match="DD:HH:MM:SS"):
        TC.callbacks.Timer(duration="1:00")
    with pytest.raises(MisconfigurationException, match="interval"):
        TC.callbacks.Timer(duration="00:00:01:00", interval="batch")
    timer = TC.callbacks.Timer(duration="00:01:00:00")
    assert timer.time_remaining() == 3600
    timer.load_state_dict({"time_elapsed": {"train": 600.0}})
    assert timer.time_elapsed("train") == 600.0  # a resumed run counts the earlier time
    assert timer.time_remaining() == 3000
