"""The Celery app: transport only. The job row in the database is the truth, so no result backend.

Light on purpose: the API imports this (through `worker.dispatch`) and must not load torch.
`celery -A worker.celery_app worker` finds the module-level `app`, built on first access from the
environment; everything else builds its own with `make_celery(settings)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from api.settings import Settings, get_settings

TASK_NAME = "trainyard.run_job"


def is_redis(settings: Settings) -> bool:
    return settings.broker_url.startswith(("redis://", "rediss://"))


def broker_options(settings: Settings) -> dict[str, Any]:
    """Transport options: the settings' own, and the filesystem broker's folders."""
    if not settings.broker_url.startswith("filesystem://"):
        return dict(settings.broker_transport_options)
    folder = Path(settings.broker_folder).resolve()
    for sub in ("queue", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        # One folder for in and out: producer and consumer must meet in the same place.
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "data_folder_processed": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
        **settings.broker_transport_options,
    }


def make_celery(settings: Settings) -> Celery:
    app = Celery("trainyard", broker=settings.broker_url, include=["worker.tasks"])
    app.conf.update(
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.queue_name,
        task_serializer="json",
        accept_content=["json"],
        # The job row is the truth, so the message is acknowledged when the worker starts the
        # task, just before the claim (worker.tasks.AckedAtStart): an unacknowledged message
        # would come back after Redis's visibility timeout (an hour) and reach a second worker
        # while the first still trains. A worker that dies is recovered from the row: the
        # reaper requeues a running job whose heartbeat stopped, the reconciler re-sends a
        # queued job the broker no longer holds.
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        # Early acknowledgement frees the prefetch slot while the job runs; a busy worker must
        # not reserve the next job (it would wait behind this one, invisible to idle workers).
        worker_disable_prefetch=is_redis(settings),
        task_ignore_result=True,
        worker_send_task_events=False,
    )
    # The task reads its settings from the app, so a worker started with explicit settings
    # (the CLI, tests) never falls back to the environment.
    app.trainyard_settings = settings  # type: ignore[attr-defined]
    return app


def settings_of(app: Celery) -> Settings:
    settings = getattr(app, "trainyard_settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    # `celery -A worker.celery_app` asks for `app`; building it lazily keeps importing this
    # module free of environment reads.
    global _app
    if name == "app":
        if _app is None:
            _app = make_celery(get_settings())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
