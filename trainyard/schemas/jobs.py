"""Job specs (what a client submits and the worker runs) and job views."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainyard.schemas.checkpoints import CheckpointPublic
from trainyard.schemas.common import PlainText, UtcDatetime
from trainyard.schemas.fleet import JobPlacement, QueueInfo, ResourcesSpec

Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:=\-]{1,64}$")]
PositiveInt = Annotated[int, Field(ge=1)]
# Metric names are stored in 200-character columns (metrics.name, checkpoints.monitor).
MetricName = Annotated[PlainText, Field(min_length=1, max_length=200)]
# A count of batches or steps: far beyond any real run, but a number every layer can hold.
MAX_BATCHES = 1_000_000_000
# Lightning's limit_*_batches / val_check_interval: an int is a count, a float a fraction.
BatchLimit = Annotated[int, Field(ge=0, le=MAX_BATCHES)] | Annotated[float, Field(ge=0.0, le=1.0)]
Precision = Literal[
    "64-true", "64", "32-true", "32", "16-mixed", "16-true", "bf16-mixed", "bf16-true", 64, 32, 16
]


class Strict(BaseModel):
    # strict: a JSON "3" or true is not an int here, just as in component params.
    # allow_inf_nan=False: 1e309 (infinity) and NaN are a 422, never a stored null.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ComponentRef(Strict):
    name: Annotated[PlainText, Field(max_length=200)] = Field(
        description="A registered component name (see GET /v1/components)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Constructor parameters, checked against the component's params_schema.",
    )


class TrainerOptions(Strict):
    """The allow-listed Trainer arguments. Unset options take the trainer's defaults."""

    max_epochs: PositiveInt | None = Field(None, description="Stop after this many epochs.")
    max_steps: PositiveInt | None = Field(None, description="Stop after this many optimizer steps.")
    limit_train_batches: BatchLimit | None = Field(None, description="Batches (int) or fraction.")
    limit_val_batches: BatchLimit | None = Field(None, description="Batches (int) or fraction.")
    limit_test_batches: BatchLimit | None = Field(None, description="Batches (int) or fraction.")
    limit_predict_batches: BatchLimit | None = Field(None, description="Batches or fraction.")
    val_check_interval: (
        Annotated[int, Field(ge=1, le=MAX_BATCHES)] | Annotated[float, Field(gt=0.0, le=1.0)] | None
    ) = Field(None, description="Validate every N train batches (int) or epoch fraction.")
    check_val_every_n_epoch: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="Validate every N epochs."
    )
    accumulate_grad_batches: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        None, description="Batches per step."
    )
    gradient_clip_val: Annotated[float, Field(ge=0.0, le=1e6)] | None = Field(
        None, description="Clip gradient norm to this value."
    )
    precision: Precision | None = Field(None, description="Numeric precision, e.g. '32-true'.")
    deterministic: bool | None = Field(None, description="Use deterministic algorithms.")
    log_every_n_steps: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        None, description="Log training every N steps."
    )
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] | None = Field(
        None, description="Device type."
    )
    devices: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] | None = Field(
        None, description="Number of devices, or 'auto'."
    )


class EarlyStoppingSpec(Strict):
    monitor: MetricName = Field(description="Logged metric to watch, e.g. val_loss.")
    mode: Literal["min", "max"] = Field("min", description="Whether lower or higher is better.")
    patience: Annotated[int, Field(ge=0, le=10_000)] = Field(3, description="Checks to wait.")
    min_delta: Annotated[float, Field(ge=0.0, le=1e12)] = Field(
        0.0, description="Smallest improvement."
    )


class CheckpointSpec(Strict):
    monitor: MetricName | None = Field(
        None, description="Metric ranking checkpoints; None keeps latest."
    )
    mode: Literal["min", "max"] = Field("min", description="Whether lower or higher is better.")
    save_top_k: Annotated[int, Field(ge=-1, le=100)] = Field(
        1, description="How many best checkpoints to keep (-1: all)."
    )
    save_last: bool = Field(True, description="Also keep the latest state as 'last'.")
    every_n_train_steps: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        None,
        description="Save every N optimizer steps instead of at epoch ends: an attempt that "
        "resumes after a lost worker repeats at most N steps.",
    )


class JobCreate(Strict):
    """A training job: which registered module and datamodule, and how to train them."""

    name: Annotated[PlainText, Field(min_length=1, max_length=200)] | None = Field(
        None, description="A label for humans: printable text, no control characters."
    )
    module: ComponentRef = Field(description="The LightningModule to train.")
    datamodule: ComponentRef = Field(description="The LightningDataModule that feeds it.")
    trainer: TrainerOptions = Field(
        default_factory=lambda: TrainerOptions(), description="Trainer options."
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = Field(
        None, description="Seed for seed_everything; with deterministic, runs are reproducible."
    )
    early_stopping: EarlyStoppingSpec | None = Field(None, description="Stop when stuck.")
    checkpoint: CheckpointSpec | None = Field(None, description="Checkpointing policy.")
    callbacks: list[ComponentRef] = Field(
        default_factory=list,
        max_length=16,
        description="Registered callbacks (kind 'callback' in GET /v1/components), e.g. "
        '[{"name": "lr_monitor"}, {"name": "ema", "params": {"decay": 0.99}}]. Each name at '
        "most once; what they log is stored as metrics.",
    )
    test_after_fit: bool = Field(False, description="Run Trainer.test after fit.")
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="Labels to filter by.")
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = Field(
        None, description="Retries after infrastructure failures (default: server setting)."
    )
    max_runtime_s: Annotated[float, Field(gt=0, le=366 * 86_400)] | None = Field(
        None, description="Fail the job with failure_class 'timeout' after this long (seconds)."
    )
    resources: ResourcesSpec = Field(
        default_factory=lambda: ResourcesSpec(),
        description="What the job needs from a worker: GPUs (all on one worker), a pool, "
        "labels, a memory limit. Default: one CPU slot in the pool 'default'.",
    )
    priority: Annotated[int, Field(ge=-1000, le=1000)] = Field(
        0,
        description="Higher runs first; FIFO within a priority. At most the project's "
        "max_priority when an admin set one.",
    )


class JobSpec(JobCreate):
    """The resolved spec stored on the job: component params complete with their defaults,
    trainer options as submitted (unset ones omitted). The worker reads this."""


class JobProgress(BaseModel):
    model_config = ConfigDict(extra="allow")

    step: int | None = Field(None, description="Optimizer steps done.")
    total: int | None = Field(None, description="Steps planned, when known.")
    epoch: int | None = Field(None, description="Current epoch (0-based).")
    samples_per_s: float | None = Field(None, description="Training throughput.")
    eta_s: float | None = Field(None, description="Estimated seconds left.")


class TransitionPublic(BaseModel):
    from_status: str | None = Field(description="Previous status; null for submission.")
    to_status: str = Field(description="New status.")
    reason: str | None = Field(description="Why it changed.")
    at: UtcDatetime = Field(description="When it changed.")


class JobSummary(BaseModel):
    """A job in lists."""

    id: str = Field(description="Job id.")
    name: str | None = Field(description="The job's label.")
    status: str = Field(description="queued, running, cancelling, succeeded, failed, cancelled.")
    tags: list[str] = Field(description="Labels.")
    created_at: UtcDatetime = Field(description="Submission time.")
    started_at: UtcDatetime | None = Field(description="When the current attempt started.")
    finished_at: UtcDatetime | None = Field(description="When it reached a terminal status.")
    attempt: int = Field(description="Attempt number (0 before the first start).")
    progress: JobProgress = Field(description="Latest progress of the running attempt.")
    priority: int = Field(0, description="Scheduling priority (higher first).")
    placement: JobPlacement | None = Field(
        None, description="Where it runs or ran: the worker and its GPUs; null before placed."
    )
    queue: QueueInfo | None = Field(
        None, description="While queued: position, jobs ahead and why it waits; else null."
    )


class JobPublic(JobSummary):
    """Everything about one job."""

    spec: dict[str, Any] = Field(description="The resolved spec the worker runs.")
    updated_at: UtcDatetime = Field(description="Last change to the row.")
    heartbeat_at: UtcDatetime | None = Field(description="Last heartbeat of the running worker.")
    max_retries: int = Field(description="Retries allowed after infrastructure failures.")
    cancel_requested: bool = Field(description="A cancel was asked for.")
    latest_metrics: dict[str, Any] = Field(description="Last value of each logged metric.")
    best_checkpoint: CheckpointPublic | None = Field(description="Best (or only) checkpoint.")
    failure_class: str | None = Field(
        description="user_error, oom, infra_lost, preempted, timeout."
    )
    error: dict[str, Any] | None = Field(description="Exception type, message, traceback summary.")
    attempts: list[Any] = Field(description="One entry per attempt (resumed-from checkpoint...).")
    transitions: list[TransitionPublic] = Field(description="Status history, oldest first.")


class JobList(BaseModel):
    items: list[JobSummary] = Field(description="Jobs, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class JobDryRun(BaseModel):
    dry_run: Literal[True] = Field(True, description="Nothing was stored.")
    spec: dict[str, Any] = Field(
        description="The spec as it would be stored (a JobSpec): defaults filled in."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What would keep the job waiting (an unknown pool, more GPUs than any "
        "worker of the pool has); it would still be accepted.",
    )
