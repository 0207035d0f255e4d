"""DeviceStatsMonitor under Lightning and trainer_core: the same metric names at the same steps."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

import trainer_core as tc
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor, quiet_kwargs
from tests.trainer_core.harness import read_metrics_csv, sub
from trainer_core.callbacks import DeviceStatsMonitor
from trainer_core.utilities.exceptions import MisconfigurationException


def _stats_rows(L: ModuleType, root: Path, cpu_stats: bool | None) -> dict:
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=1, limit_train_batches=6, limit_val_batches=3,
        log_every_n_steps=2, callbacks=[sub(L, "callbacks").DeviceStatsMonitor(cpu_stats)],
        logger=sub(L, "loggers").CSVLogger(root, name="logs"), enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    model = make_regressor(L)()
    trainer.fit(model)
    trainer.test(model, verbose=False)
    csv = read_metrics_csv(next(root.rglob("metrics.csv")))
    stat_columns = [c for c in csv["header"] if c.startswith("DeviceStatsMonitor.")]
    steps = sorted(
        {int(row["step"]) for row in csv["rows"] if any(row[c] is not None for c in stat_columns)}
    )
    return {"columns": sorted(stat_columns), "steps": steps}


@requires_lightning
@pytest.mark.parametrize("cpu_stats", [None, False])
def test_device_stats_names_and_steps_match_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, cpu_stats: bool | None
) -> None:
    ours = _stats_rows(L, tmp_path / "ours", cpu_stats)
    theirs = _stats_rows(ref_L, tmp_path / "theirs", cpu_stats)
    assert ours == theirs
    if cpu_stats is None:
        assert "DeviceStatsMonitor.on_train_batch_end/cpu_percent" in ours["columns"]
        assert "DeviceStatsMonitor.on_test_batch_start/cpu_vm_percent" in ours["columns"]
    else:
        assert ours["columns"] == []  # cpu_stats=False on a CPU run logs nothing


def test_device_stats_need_a_logger(tmp_path: Path) -> None:
    kwargs = quiet_kwargs(tmp_path, max_epochs=1, logger=False, callbacks=[DeviceStatsMonitor()])
    with pytest.raises(MisconfigurationException, match="logger=False"):
        tc.Trainer(**kwargs).fit(make_regressor(tc)())
