"""The tuner's refusals and its result object, on trainer_core alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_regressor, quiet_kwargs, regression_data
from trainer_core.callbacks import BatchSizeFinder, LearningRateFinder
from trainer_core.profilers import SimpleProfiler
from trainer_core.tuner import Tuner
from trainer_core.utilities.exceptions import MisconfigurationException


def _tuner(tmp_path: Path, **kwargs: Any) -> Tuner:
    return Tuner(L.Trainer(**quiet_kwargs(tmp_path, **{"max_epochs": 3, **kwargs})))


def test_lr_find_only_for_fit(tmp_path: Path) -> None:
    with pytest.raises(MisconfigurationException, match="method='fit' is the only valid"):
        _tuner(tmp_path).lr_find(make_regressor(L)(), method="test")


@pytest.mark.parametrize("method", ["fit", "validate"])
def test_loaders_must_match_the_method(tmp_path: Path, method: str) -> None:
    loader = torch.utils.data.DataLoader(regression_data(8, 0))
    kwargs = {"dataloaders": loader} if method == "fit" else {"train_dataloaders": loader}
    with pytest.raises(MisconfigurationException, match="argument"):
        _tuner(tmp_path).scale_batch_size(make_regressor(L)(), method=method, **kwargs)


def test_an_unknown_method_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="method 'tune' is invalid"):
        _tuner(tmp_path).scale_batch_size(make_regressor(L)(), method="tune")  # type: ignore[arg-type]


def test_batch_size_finder_refuses_loaders_passed_to_fit(tmp_path: Path) -> None:
    loader = torch.utils.data.DataLoader(regression_data(8, 0), batch_size=2)
    with pytest.raises(MisconfigurationException, match="passed directly to `.fit\\(\\)`"):
        _tuner(tmp_path).scale_batch_size(make_regressor(L)(), train_dataloaders=loader)


def test_a_missing_batch_size_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(MisconfigurationException, match="Field batch_sz not found"):
        _tuner(tmp_path).scale_batch_size(make_regressor(L)(), batch_arg_name="batch_sz")


def test_a_missing_learning_rate_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(AttributeError, match="was set to rate, but could not find"):
        _tuner(tmp_path).lr_find(make_regressor(L)(), attr_name="rate")


def test_an_error_that_is_not_out_of_memory_propagates(tmp_path: Path) -> None:
    model = make_regressor(L)(oom_above=3, oom_message="shape mismatch")
    with pytest.raises(RuntimeError, match="shape mismatch"):
        _tuner(tmp_path).scale_batch_size(model)
    assert not list(tmp_path.glob(".scale_batch_size_*"))  # the temporary checkpoint is gone


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: LearningRateFinder(mode="cubic"), "`mode` should be either"),
        (lambda: BatchSizeFinder(mode="triple"), "`mode` should be either"),
        (lambda: BatchSizeFinder(margin=1.5), "`margin` should be between 0 and 1"),
    ],
)
def test_bad_finder_settings(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_a_trainer_with_a_finder_already_is_refused(tmp_path: Path) -> None:
    tuner = _tuner(tmp_path, callbacks=[LearningRateFinder()])
    with pytest.raises(ValueError, match="already configured with a `LearningRateFinder`"):
        tuner.lr_find(make_regressor(L)())


def test_lr_find_needs_one_optimizer(tmp_path: Path) -> None:
    class TwoOptimizers(make_regressor(L)):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> None:
            pass

        def configure_optimizers(self) -> Any:
            return [torch.optim.SGD(self.parameters(), lr=0.1) for _ in range(2)]

    with pytest.raises(MisconfigurationException, match="single optimizer"):
        _tuner(tmp_path).lr_find(TwoOptimizers())


def test_fast_dev_run_skips_tuning(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Skipping learning rate finder"):
        assert _tuner(tmp_path, fast_dev_run=True).lr_find(make_regressor(L)()) is None


def test_plot_draws_the_curve_and_marks_the_suggestion(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = _tuner(tmp_path).lr_find(
        make_regressor(L)(), num_training=30, min_lr=1e-4, max_lr=0.1, early_stop_threshold=None
    )
    assert len(result.results["loss"]) == 30  # no divergence: the whole range was tried
    figure = result.plot(suggest=True)
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and axes.get_xlabel() == "Learning rate"
    assert len(axes.lines) == 2  # the curve and the suggested point


def test_plot_without_matplotlib_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _tuner(tmp_path).lr_find(make_regressor(L)(), num_training=20)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(MisconfigurationException, match="pip install -U matplotlib"):
        result.plot()


def test_too_few_points_give_no_suggestion(tmp_path: Path) -> None:
    result = _tuner(tmp_path).lr_find(make_regressor(L)(), num_training=8)
    assert len(result.results["lr"]) == 8
    assert result.suggestion() is None


def test_scale_batch_size_with_a_profiler_survives_out_of_memory_trials(tmp_path: Path) -> None:
    profiler = SimpleProfiler()
    tuner = _tuner(tmp_path, profiler=profiler)
    assert tuner.scale_batch_size(make_regressor(L)(oom_above=9)) == 8
    assert profiler.current_actions == {}  # every timed action was closed
