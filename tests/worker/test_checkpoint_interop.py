"""Every checkpoint the service writes loads without Trainyard: torch and Lightning alone suffice.

Real jobs run through the runner (PostgreSQL, the service callbacks, the artifact store), one
per option combination a spec can ask for: checkpoint policies, early stopping in both modes,
every precision, the trainer options, a stop by timeout (the last checkpoint written on the way
out) and a resumed attempt (its resume read with `weights_only=True`). Each stored file is then
loaded in a process whose sys.path has only torch and Lightning (tests/interop.py), with
`torch.load(weights_only=True)` and with Lightning's `load_from_checkpoint` of the twin class.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy import select

import trainer_core as L
from api.artifacts import get_artifact_store
from api.db.models import Checkpoint, Job
from api.db.session import session_scope
from api.services.specs import resolve_spec
from api.settings import Settings
from catalog import registry
from catalog.registry import get_registry, register
from tests.conftest import create_pg_database, drop_pg_database
from tests.interop import Entry, load_in_lightning_only
from tests.service_doubles import COMPONENT_MODULE, TinyRegressor
from tests.worker.conftest import insert_job, worker_settings
from tests.worker.test_preemption import run_until_preempted
from trainyard.schemas.jobs import (
    CheckpointSpec,
    EarlyStoppingSpec,
    JobCreate,
    Precision,
    TrainerOptions,
)
from worker.runner import run_job

THIS_MODULE = "tests.worker.test_checkpoint_interop"
SYNTHETIC = {"name": "synthetic", "params": {"train_size": 32, "val_size": 16, "test_size": 16, "batch_size": 8}}  # fmt: skip
DIGITS = {"name": "digits", "params": {"batch_size": 64}}


def job(module: str, datamodule: dict[str, Any] = SYNTHETIC, **spec: Any) -> dict[str, Any]:
    trainer = {"max_epochs": 2, "accelerator": "cpu", **spec.pop("trainer", {})}
    return {
        "module": {"name": module, "params": spec.pop("params", {})},
        "datamodule": datamodule,
        "trainer": trainer,
        **spec,
    }


# name -> the spec as a client POSTs it
CASES: dict[str, dict[str, Any]] = {
    "defaults": job("autoencoder"),
    "README example": job(
        "autoencoder",
        DIGITS,
        params={"latent_dim": 8, "lr": 0.001},
        trainer={"limit_train_batches": 4, "limit_val_batches": 2, "limit_test_batches": 2},
        checkpoint={"monitor": "val_loss", "mode": "min", "save_top_k": 1, "save_last": True},
        early_stopping={"monitor": "val_loss", "patience": 3},
        test_after_fit=True,
        seed=42,
    ),
    "max mode, top 2, early stop that fires, bf16-mixed": job(
        "mlp_classifier",
        params={"dropout": 0.1},
        trainer={
            "max_epochs": 4,
            "precision": "bf16-mixed",
            "accumulate_grad_batches": 2,
            "gradient_clip_val": 0.5,
        },
        checkpoint={"monitor": "val_acc", "mode": "max", "save_top_k": 2, "save_last": False},
        early_stopping={"monitor": "val_acc", "mode": "max", "patience": 0, "min_delta": 0.5},
    ),
    "every n steps, keep all, mid-epoch validation, 16-mixed": job(
        "autoencoder",
        trainer={
            "precision": "16-mixed",
            "val_check_interval": 0.5,
            "check_val_every_n_epoch": 1,
            "log_every_n_steps": 1,
            "deterministic": True,
            "devices": 1,
        },
        checkpoint={"every_n_train_steps": 3, "save_top_k": -1},
        seed=7,
    ),
    "64-true, step limit": job(
        "mlp_classifier",
        trainer={"precision": "64-true", "max_steps": 5, "limit_predict_batches": 1},
        early_stopping={"monitor": "val_loss"},
    ),
    "32-true, val every 2 epochs": job(
        "autoencoder",
        trainer={"precision": "32-true", "max_epochs": 2, "check_val_every_n_epoch": 2},
    ),
    "16-true": job("autoencoder", trainer={"precision": "16-true", "max_epochs": 1}),
    "callbacks: swa, lr_monitor, throughput_monitor": job(
        "mlp_classifier",
        trainer={"max_epochs": 3},
        callbacks=[
            {
                "name": "swa",
                "params": {"swa_lrs": 0.01, "swa_epoch_start": 1, "annealing_epochs": 1},
            },
            {"name": "lr_monitor", "params": {"logging_interval": "step"}},
            {"name": "throughput_monitor", "params": {"window_size": 2}},
            {"name": "spike_detection", "params": {"rtol": 1000.0}},  # state, never fires
            {"name": "device_stats"},
        ],
    ),
    "callbacks: ema, grad_accum_schedule, timer": job(
        "autoencoder",
        trainer={"max_epochs": 3},
        checkpoint={"monitor": "val_loss", "save_top_k": 2},
        callbacks=[
            {"name": "ema", "params": {"decay": 0.9}},
            {"name": "grad_accum_schedule", "params": {"scheduling": {"0": 1, "1": 2}}},
            {"name": "timer", "params": {"duration": "00:01:00:00", "interval": "epoch"}},
        ],
    ),
    "bf16-true": job("autoencoder", trainer={"precision": "bf16-true", "max_epochs": 1}),
    "stopped by max_runtime_s (last checkpoint on the way out)": job(
        "autoencoder",
        trainer={"max_epochs": 1000, "accelerator": "auto"},
        checkpoint={"save_last": True, "monitor": "val_loss"},
        max_runtime_s=1.5,
    ),
}
RESUMED = "preempted, then resumed from its checkpoint with weights_only=True"


@dataclass
class Run:
    settings: Settings
    job_ids: dict[str, str]  # case -> job id
    files: dict[str, list[tuple[Path, Checkpoint]]]  # case -> (local file, row)


def _submit(settings: Settings, body: dict[str, Any]) -> str:
    """What POST /v1/jobs stores: the spec resolved against the catalog and the server limits."""
    spec = resolve_spec(JobCreate.model_validate(body), get_registry(settings), settings)
    return insert_job(settings.database_url, spec)


def _stored_files(settings: Settings, job_id: str) -> list[tuple[Path, Checkpoint]]:
    store = get_artifact_store(settings)
    with session_scope(settings.database_url) as session:
        rows = session.scalars(
            select(Checkpoint).where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
        ).all()
        session.expunge_all()
    return [(Path(str(store.local_path(row.storage_key))), row) for row in rows]


@pytest.fixture(scope="module")
def run(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    url = create_pg_database(template=pg_template)
    settings = worker_settings(url, tmp_path_factory.mktemp("interop"))
    try:
        job_ids = {name: _submit(settings, body) for name, body in CASES.items()}
        outcomes = {name: run_job(job_id, settings) for name, job_id in job_ids.items()}
        resumed = _submit(
            settings,
            job("tiny_regressor", params={"sleep_s": 0.02}, checkpoint={"monitor": "val_loss"},
                early_stopping={"monitor": "val_loss", "patience": 50},
                datamodule={**SYNTHETIC, "params": {**SYNTHETIC["params"], "shape": [8]}},
                trainer={"max_epochs": 6}),
        )  # fmt: skip
        assert run_until_preempted(settings, resumed, at_step=5)[0] == "queued"
        outcomes[RESUMED] = run_job(resumed, settings)
        job_ids[RESUMED] = resumed
        expected = {name: "succeeded" for name in job_ids} | {
            "stopped by max_runtime_s (last checkpoint on the way out)": "failed"
        }
        assert outcomes == expected
        files = {name: _stored_files(settings, job_id) for name, job_id in job_ids.items()}
        yield Run(settings, job_ids, files)
    finally:
        drop_pg_database(url)


def test_every_stored_checkpoint_loads_with_only_torch_and_lightning(
    run: Run, tmp_path: Path
) -> None:
    entries = []
    for name, files in run.files.items():
        assert files, f"{name}: no checkpoint stored"
        module = (CASES[name]["module"]["name"]) if name in CASES else "tiny_regressor"
        entries += [Entry(path, module) for path, _ in files]

    report = load_in_lightning_only(entries, tmp_path)

    assert report["leaks"] == [], report["sys_path"]
    failures = {p: r["error"] for p, r in report["results"].items() if "error" in r}
    assert failures == {}
    with session_scope(run.settings.database_url) as session:
        specs = {name: session.get_one(Job, job_id).spec for name, job_id in run.job_ids.items()}
    for name, files in run.files.items():
        for path, row in files:
            got = report["results"][str(path)]
            assert got["weights_equal"], (name, path)
            assert got["hparams"] == specs[name]["module"]["params"], name
            assert got["datamodule_hparams"] == specs[name]["datamodule"]["params"], name
            assert (got["global_step"], got["epoch"]) == (row.step, row.epoch), name


def test_early_stopping_and_model_checkpoint_state_travel_as_plain_values(
    run: Run, tmp_path: Path
) -> None:
    name = "max mode, top 2, early stop that fires, bf16-mixed"
    (path, _), *_ = run.files[name]
    state = torch.load(path, weights_only=True)["callbacks"]
    stopping = next(v for k, v in state.items() if k.startswith("EarlyStopping"))
    assert type(stopping["stopping_reason"]) is int  # noqa: E721 - exactly int, no Enum member
    finished = torch.load(max(run.files[name], key=lambda f: f[1].step)[0], weights_only=True)
    assert finished["global_step"] < 4 * 2  # it did stop early: fewer than max_epochs' steps


def test_trainer_core_loads_every_stored_checkpoint_safely_by_default(run: Run) -> None:
    registry = get_registry(run.settings)
    for name, files in run.files.items():
        module_name = CASES[name]["module"]["name"] if name in CASES else "tiny_regressor"
        cls = registry.get("module", module_name).cls
        for path, _ in files:
            model = cls.load_from_checkpoint(path)  # default: weights_only=True
            assert isinstance(model, L.LightningModule)


def _set_fields(model: type, specs: list[dict[str, Any] | None]) -> set[str]:
    return {field for spec in specs if spec for field in spec if field in model.model_fields}


def _canonical(precision: Any) -> str:
    """Precision spellings that pick the same plugin: '64', 64 and '64-true' are one."""
    return {"64": "64-true", "32": "32-true", "16": "16-mixed"}.get(str(precision), str(precision))


def test_the_matrix_sets_every_option_a_spec_can_carry() -> None:
    """A new option in the spec schema fails here until a case above exercises it."""
    bodies = list(CASES.values())
    assert _set_fields(CheckpointSpec, [b.get("checkpoint") for b in bodies]) == set(
        CheckpointSpec.model_fields
    )
    assert _set_fields(EarlyStoppingSpec, [b.get("early_stopping") for b in bodies]) == set(
        EarlyStoppingSpec.model_fields
    )
    assert _set_fields(TrainerOptions, [b["trainer"] for b in bodies]) == set(
        TrainerOptions.model_fields
    )
    precisions = {_canonical(p) for p in typing.get_args(Precision)}
    assert {_canonical(b["trainer"].get("precision", "32-true")) for b in bodies} == precisions
    builtin_callbacks = {
        c.name
        for c in get_registry().all()
        if c.kind == "callback" and c.cls.__module__.startswith("trainer_core")
    }
    used = {ref["name"] for b in bodies for ref in b.get("callbacks", [])}
    assert used == builtin_callbacks


class Palette(enum.Enum):
    WARM = "warm"


class EnumRegressor(TinyRegressor):
    """A user's component whose hyperparameters hold an Enum: not loadable with weights_only."""

    def __init__(self, in_dim: int = 8, palette: Palette = Palette.WARM) -> None:
        super().__init__(in_dim=in_dim)
        self.save_hyperparameters()


@pytest.fixture
def enum_component() -> Iterator[str]:
    """EnumRegressor registered for this test only (this module as a COMPONENT_MODULES entry)."""
    register(EnumRegressor, name="enum_regressor", kind="module")
    try:
        yield THIS_MODULE
    finally:
        registry._declared[:] = [c for c in registry._declared if c.cls is not EnumRegressor]


def test_a_component_whose_checkpoints_cannot_load_safely_fails_as_a_user_error(
    database_url: str, tmp_path: Path, enum_component: str
) -> None:
    settings = worker_settings(
        database_url, tmp_path, component_modules=[COMPONENT_MODULE, enum_component]
    )
    job_id = _submit(settings, job("enum_regressor", {**SYNTHETIC, "params": {"shape": [8]}}))

    assert run_job(job_id, settings) == "failed"

    with session_scope(settings.database_url) as session:
        row = session.get_one(Job, job_id)
        assert (row.failure_class, row.error["type"]) == ("user_error", "UnsafeCheckpointError")
        assert "Palette" in row.error["message"]
        assert "save_hyperparameters(ignore=" in row.error["message"]
