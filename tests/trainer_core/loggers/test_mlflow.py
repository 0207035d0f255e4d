"""MLFlowLogger against a real local MLflow store (a ``file:`` directory and a SQLite database),
under trainer_core and Lightning: the same params, metric histories, run status and checkpoint
artifacts (Lightning's ``log_model`` semantics)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import yaml

import trainer_core as tc
from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import make_regressor
from tests.trainer_core.harness import assert_same_value, sub

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(autouse=True)
def allow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3 refuses ``file:`` stores unless asked; the default (``file:./mlruns``, as in
    Lightning) is still what a user gets, so it is tested too."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def _store(root: Path, kind: str) -> dict[str, Any]:
    if kind == "file":
        return {"tracking_uri": f"file:{root / 'mlruns'}"}
    return {
        "tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "artifact_location": (root / "artifacts").as_uri(),
    }


def _fit(L: ModuleType, root: Path, kind: str, log_model: Any, fail: bool = False) -> Any:
    L.seed_everything(0, verbose=False)
    logger = sub(L, "loggers").MLFlowLogger(
        experiment_name="regression", run_name="first", log_model=log_model, **_store(root, kind)
    )
    checkpoint = sub(L, "callbacks").ModelCheckpoint(
        dirpath=root / "ckpt", monitor="val_loss", save_top_k=2, save_last=True
    )
    trainer = L.Trainer(
        default_root_dir=root, max_epochs=3, limit_train_batches=5, limit_val_batches=2,
        log_every_n_steps=2, logger=logger, callbacks=[checkpoint], enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    model = make_regressor(L)(oom_above=3 if fail else None)
    if fail:
        with pytest.raises(torch.OutOfMemoryError):
            trainer.fit(model)
    else:
        trainer.fit(model)
    return logger


def _read_run(logger: Any, kind: str, root: Path) -> dict[str, Any]:
    """What the store holds for the run, read back with MLflow's own client."""
    client = MlflowClient(_store(root, kind)["tracking_uri"])
    run = client.get_run(logger.run_id)
    histories = {
        key: [(m.step, round(m.value, 5)) for m in client.get_metric_history(run.info.run_id, key)]
        for key in run.data.metrics
    }
    artifacts = {}
    for folder in client.list_artifacts(run.info.run_id):
        files = sorted(
            Path(f.path).name for f in client.list_artifacts(run.info.run_id, folder.path)
        )
        local = Path(client.download_artifacts(run.info.run_id, folder.path, str(root / "dl")))
        metadata = yaml.safe_load((local / "metadata.yaml").read_text())
        metadata["score"] = None if metadata["score"] is None else round(metadata["score"], 5)
        artifacts[folder.path] = {
            "files": files,
            "metadata": metadata,
            "aliases": (local / "aliases.txt").read_text(),
        }
    return {
        "status": run.info.status,
        "run_name": run.info.run_name,
        "params": run.data.params,
        "histories": histories,
        "artifacts": artifacts,
    }


@requires_lightning
@pytest.mark.parametrize(
    ("kind", "log_model"), [("file", True), ("sqlite", "all"), ("file", False)]
)
def test_the_store_holds_what_lightning_writes(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, kind: str, log_model: Any
) -> None:
    ours = _read_run(_fit(L, tmp_path / "ours", kind, log_model), kind, tmp_path / "ours")
    theirs = _read_run(_fit(ref_L, tmp_path / "theirs", kind, log_model), kind, tmp_path / "theirs")
    assert_same_value("mlflow", ours, theirs)
    assert ours["status"] == "FINISHED" and ours["run_name"] == "first"
    assert ours["params"]["lr"] == "0.05" and ours["params"]["batch_size"] == "4"
    assert len(ours["histories"]["val_loss"]) == 3  # one per epoch
    if log_model:
        assert "last" in ours["artifacts"]
        assert ours["artifacts"]["last"]["files"] == ["aliases.txt", "last.ckpt", "metadata.yaml"]
    else:
        assert ours["artifacts"] == {}


@requires_lightning
def test_a_failed_fit_ends_the_run_failed(L: ModuleType, ref_L: ModuleType, tmp_path: Path) -> None:
    ours = _read_run(_fit(L, tmp_path / "ours", "file", True, fail=True), "file", tmp_path / "ours")
    theirs = _read_run(
        _fit(ref_L, tmp_path / "theirs", "file", True, fail=True), "file", tmp_path / "theirs"
    )
    assert ours["status"] == theirs["status"] == "FAILED"


def test_checkpoints_go_under_the_runs_folder_and_load_back(tmp_path: Path) -> None:
    logger = tc.loggers.MLFlowLogger(tracking_uri=f"file:{tmp_path / 'mlruns'}")
    trainer = tc.Trainer(
        default_root_dir=tmp_path, max_epochs=1, limit_train_batches=3, logger=logger,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(make_regressor(tc)())
    ckpt = next((tmp_path / "mlruns").rglob("*.ckpt"))
    assert ckpt.parent == tmp_path / "mlruns" / logger.experiment_id / logger.run_id / "checkpoints"
    restored = make_regressor(tc).load_from_checkpoint(ckpt)
    assert restored.hparams.lr == 0.05
