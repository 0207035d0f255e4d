"""The same runs under Lightning and trainer_core with a profiler: the same actions, same files.

A recording SimpleProfiler keeps the action names of each ``fit``/``validate``/``test``/
``predict`` call; both trainers must time the same set, under the same names, and write their
reports to the same files (``<stage>-<filename>.txt`` in the logger's directory).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_boring_datamodule, make_boring_model
from tests.trainer_core.harness import sub

pytestmark = requires_lightning


@functools.cache
def make_recording_profiler(L: ModuleType) -> type:
    class RecordingProfiler(sub(L, "profilers").SimpleProfiler):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.started: list[str] = []

        def start(self, action_name: str) -> None:
            self.started.append(action_name)
            super().start(action_name)

    return RecordingProfiler


@functools.cache
def make_manual_model(L: ModuleType) -> type:
    class ManualModel(make_boring_model(L)):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> None:
            opt = self.optimizers()
            self.manual_backward(self.loss(self(batch)))
            opt.step()
            opt.zero_grad()

    return ManualModel


def _run_all_stages(L: ModuleType, root: Path, manual: bool, datamodule: bool) -> dict[str, Any]:
    """fit, validate, test, predict with one recording profiler; action names per stage."""
    L.seed_everything(0, verbose=False)
    profiler = make_recording_profiler(L)(dirpath=root / "prof", filename="perf")
    model = (make_manual_model(L) if manual else make_boring_model(L))()
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=2, limit_train_batches=3, limit_val_batches=2,
        limit_test_batches=2, limit_predict_batches=2, profiler=profiler,
        logger=sub(L, "loggers").CSVLogger(root), enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    dm = make_boring_datamodule(L)() if datamodule else None
    names: dict[str, set[str]] = {}
    for stage, call in (
        ("fit", lambda: trainer.fit(model, datamodule=dm)),
        ("validate", lambda: trainer.validate(model, datamodule=dm, verbose=False)),
        ("test", lambda: trainer.test(model, datamodule=dm, verbose=False)),
        ("predict", lambda: trainer.predict(model, datamodule=dm)),
    ):
        profiler.started = []
        call()
        names[stage] = set(profiler.started)
    files = sorted(str(p.relative_to(root)) for p in (root / "prof").rglob("*") if p.is_file())
    first_lines = {f: (root / f).read_text().splitlines()[0] for f in files}
    return {"names": names, "files": files, "first_lines": first_lines}


@pytest.mark.parametrize(
    ("manual", "datamodule"),
    [(False, False), (True, False), (False, True)],
    ids=["auto", "manual", "datamodule"],
)
def test_same_actions_and_report_files_as_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, manual: bool, datamodule: bool
) -> None:
    ours = _run_all_stages(L, tmp_path / "ours", manual, datamodule)
    theirs = _run_all_stages(ref_L, tmp_path / "theirs", manual, datamodule)
    for stage in theirs["names"]:
        missing = sorted(theirs["names"][stage] - ours["names"][stage])
        extra = sorted(ours["names"][stage] - theirs["names"][stage])
        assert not missing and not extra, f"{stage}: missing {missing}, extra {extra}"
    assert ours["files"] == theirs["files"] == [
        "prof/fit-perf.txt", "prof/predict-perf.txt", "prof/test-perf.txt", "prof/validate-perf.txt"
    ]  # fmt: skip
    assert ours["first_lines"] == theirs["first_lines"]


def _fit_with(L: ModuleType, root: Path, make_profiler: Any) -> list[str]:
    """One short fit; the files the profiler wrote, timestamps in trace names masked."""
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=1, limit_train_batches=6, limit_val_batches=2,
        profiler=make_profiler(sub(L, "profilers"), root / "prof"), logger=False,
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(make_boring_model(L)())
    files = (p.relative_to(root) for p in (root / "prof").rglob("*") if p.is_file())
    return sorted(re.sub(r"\.\d{6,}\.", ".<time>.", str(f)) for f in files)


@pytest.mark.parametrize(
    "make_profiler",
    [
        lambda P, d: P.AdvancedProfiler(dirpath=d, filename="adv", dump_stats=True),
        lambda P, d: P.PyTorchProfiler(dirpath=d, filename="pt"),
    ],
    ids=["advanced", "pytorch"],
)
def test_advanced_and_pytorch_profilers_write_lightnings_files(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, make_profiler: Any
) -> None:
    ours = _fit_with(L, tmp_path / "ours", make_profiler)
    theirs = _fit_with(ref_L, tmp_path / "theirs", make_profiler)
    assert ours == theirs
    # the per-action .prof dumps / the chrome trace are there, not only the text report
    assert any(f.endswith(".prof") or f.endswith(".pt.trace.json") for f in ours)
    report = next(f for f in ours if f.endswith(".txt"))
    text = (tmp_path / "ours" / report).read_text()
    assert text.startswith("FIT Profiler Report")
    assert "run_training_epoch" in text or "Profile stats for: records" in text
