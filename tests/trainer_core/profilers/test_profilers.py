"""Profilers on their own and through ``Trainer(profiler=...)``: reports, names, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.events import Event
from trainer_core.profilers import (
    AdvancedProfiler,
    PassThroughProfiler,
    PyTorchProfiler,
    SimpleProfiler,
)
from trainer_core.utilities.exceptions import MisconfigurationException


def _fit(tmp_path: Path, **kwargs: object) -> L.Trainer:
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, **kwargs))
    trainer.fit(make_tiny_module(L)(), tiny_loader(), tiny_loader(n=8))
    return trainer


@pytest.mark.parametrize(
    ("name", "kind"),
    [("simple", SimpleProfiler), ("Advanced", AdvancedProfiler), ("pytorch", PyTorchProfiler)],
)
def test_a_profiler_by_name_reports_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, kind: type
) -> None:
    with caplog.at_level(logging.INFO, logger="trainer_core.profilers"):
        trainer = _fit(tmp_path, profiler=name)
    assert type(trainer.profiler) is kind
    assert "FIT Profiler Report" in caplog.text


def test_simple_report_counts_each_training_batch(tmp_path: Path) -> None:
    profiler = SimpleProfiler(dirpath=tmp_path / "p", filename="perf")
    _fit(tmp_path, profiler=profiler, limit_train_batches=4)
    assert len(profiler.recorded_durations["run_training_batch"]) == 4
    assert len(profiler.recorded_durations["run_training_epoch"]) == 1
    report = (tmp_path / "p" / "fit-perf.txt").read_text()
    row = next(line for line in report.splitlines() if "run_training_batch" in line)
    assert row.split("|")[3].strip() == "4"  # the "Num calls" column


def test_the_report_goes_to_the_loggers_directory_without_dirpath(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, profiler=SimpleProfiler(filename="perf"))
    assert (Path(trainer.log_dir) / "fit-perf.txt").is_file()


def test_profile_context_and_errors_of_simple_profiler() -> None:
    profiler = SimpleProfiler()
    with profiler.profile("load"):
        pass
    assert len(profiler.recorded_durations["load"]) == 1
    profiler.start("a")
    with pytest.raises(ValueError, match="already started"):
        profiler.start("a")
    with pytest.raises(ValueError, match="never started"):
        profiler.stop("b")


def test_no_profiler_leaves_unused_hooks_out_of_the_dispatch_table(tmp_path: Path) -> None:
    """The default profiler costs nothing: nobody overrides on_before_backward, so no entry."""
    trainer = _fit(tmp_path)
    assert isinstance(trainer.profiler, PassThroughProfiler)
    assert Event.ON_BEFORE_BACKWARD not in trainer._table
    profiled = _fit(tmp_path / "p", profiler="simple")
    assert Event.ON_BEFORE_BACKWARD in profiled._table


@pytest.mark.parametrize("bad", ["xla", "fast", 3, object()])
def test_an_unknown_profiler_is_refused_with_the_choices(bad: object) -> None:
    with pytest.raises(MisconfigurationException, match="simple.*advanced.*pytorch"):
        L.Trainer(profiler=bad)


def test_barebones_refuses_a_profiler() -> None:
    with pytest.raises(ValueError, match="barebones"):
        L.Trainer(barebones=True, profiler="simple")


def test_pytorch_profiler_refuses_bad_settings() -> None:
    with pytest.raises(MisconfigurationException, match="sort_by_key"):
        PyTorchProfiler(sort_by_key="wall_time")
    with pytest.raises(KeyError, match="row_limit"):
        PyTorchProfiler(table_kwargs={"row_limit": 3})
    with pytest.raises(MisconfigurationException, match="Schedule should be a callable"):
        PyTorchProfiler(schedule=5)


def test_a_failed_run_writes_no_report(tmp_path: Path) -> None:
    class Failing(make_tiny_module(L)):
        def training_step(self, batch: object, batch_idx: int) -> torch.Tensor:
            raise RuntimeError("boom")

    profiler = SimpleProfiler(dirpath=tmp_path / "p", filename="perf")
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1, profiler=profiler))
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Failing(), tiny_loader())
    assert not (tmp_path / "p" / "fit-perf.txt").exists()  # as Lightning: no describe on error
