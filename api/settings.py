"""Service settings, read once from the environment into one object that is passed around."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The source checkout this package runs from, if it runs from one (an editable install).
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def default_home() -> Path:
    """Where the embedded mode keeps its data when TRAINYARD_HOME is unset, whatever the
    current folder: `var/` of the source checkout when running from one (what `make run`
    uses), else the user's data folder (`$XDG_DATA_HOME/trainyard`, by default
    `~/.local/share/trainyard`)."""
    if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "api").is_dir():
        return _SOURCE_ROOT / "var"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "trainyard"


def _in_home(name: str) -> Any:
    # default_factory with the fields validated so far: the path follows TRAINYARD_HOME.
    return lambda fields: Path(fields["trainyard_home"]) / name


class Settings(BaseSettings):
    """Every knob of the service. Environment variable names are the field names in capitals."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    trainyard_home: Path = Field(
        default_factory=default_home,
        description="The embedded mode's data folder (SQLite file, broker folder, "
        "artifacts), used by every command whatever the current folder.",
    )
    database_url: str = Field(
        default_factory=lambda fields: f"sqlite:///{fields['trainyard_home'] / 'trainyard.sqlite'}",
        description="SQLAlchemy URL of the job database (default: a SQLite file in "
        "TRAINYARD_HOME).",
    )
    broker_url: str = Field(
        "filesystem://",
        description="Celery broker. 'filesystem://' needs no server (embedded mode); "
        "redis://host:6379/0 in production.",
    )
    broker_folder: Path = Field(
        default_factory=_in_home("broker"), description="Folder used by the filesystem broker."
    )
    queue_name: str = Field(
        "trainyard", description="Celery queue the API sends jobs to and workers consume."
    )
    broker_transport_options: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="Extra kombu transport options (JSON), e.g. Redis's visibility_timeout. "
        "A worker acknowledges a job's message when it starts it, so this timeout never "
        "re-delivers a running job.",
    )
    redis_url: str | None = Field(
        None, description="Redis for event notifications; polling is used when unset."
    )
    artifact_root: str = Field(
        default_factory=lambda fields: str(fields["trainyard_home"] / "artifacts"),
        description="Folder or fsspec URL where checkpoints are stored.",
    )
    component_modules: list[str] = Field(
        default_factory=list,
        description="Extra Python modules to import so that their components register.",
    )
    heartbeat_interval_s: float = Field(5.0, gt=0)
    heartbeat_timeout_s: float = Field(60.0, gt=0)
    max_epochs_limit: int = Field(1000, gt=0, description="Largest max_epochs a spec may ask for.")
    max_steps_limit: int = Field(10_000_000, gt=0)
    max_request_bytes: int = Field(1_000_000, gt=0)
    max_predict_batch: int = Field(1024, gt=0)
    job_create_rate_per_minute: int = Field(120, gt=0)
    default_max_retries: int = Field(3, ge=0)
    # Recovery (api/services/recovery.py runs in the API process; README "What happens when...").
    recovery_interval_s: float = Field(
        5.0,
        ge=0,
        description="How often the API reaps lost jobs and re-sends lost messages; 0: off.",
    )
    dispatch_grace_s: float = Field(
        10.0, gt=0, description="A queued job never sent for this long is sent by the reconciler."
    )
    redispatch_after_s: float = Field(
        60.0,
        gt=0,
        description="A queued job sent this long ago whose message the broker no "
        "longer holds is sent again.",
    )
    preempt_grace_s: float = Field(
        30.0,
        gt=0,
        description="After a SIGTERM, how long a worker waits for its job to reach a "
        "batch boundary and checkpoint before it hands the job back and exits at once.",
    )

    # The fleet (api/services/scheduler.py, README "A GPU fleet").
    scheduler_interval_s: float = Field(
        1.0,
        ge=0,
        description="How often the API runs a scheduling pass besides the ones a submit, a job "
        "end or a worker arriving start; 0: only those.",
    )
    scheduler_starvation_s: float = Field(
        600.0,
        gt=0,
        description="Backfill limit: a queued job that cannot fit yet lets smaller jobs pass "
        "it until it has waited this long; then a worker's slots are held for it.",
    )
    job_memory_limit_mb: int | None = Field(
        None,
        gt=0,
        description="Resident memory a job's processes may use together (MiB) before the "
        "worker stops it as `oom`; a spec's resources.memory_mb may only lower it. Unset: none.",
    )
    worker_forget_after_s: float = Field(
        86_400.0, gt=0, description="Offline workers with no job are forgotten after this long."
    )

    @model_validator(mode="after")
    def _heartbeat_timeout_outlasts_beats(self) -> Settings:
        # A timeout within two beats would declare healthy jobs lost.
        if self.heartbeat_timeout_s <= 2 * self.heartbeat_interval_s:
            raise ValueError("HEARTBEAT_TIMEOUT_S must be more than twice HEARTBEAT_INTERVAL_S")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
