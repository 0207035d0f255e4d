"""Send a job to the workers. Called by the API after the job row is committed; no torch here."""

from __future__ import annotations

import threading

from celery import Celery

from api.settings import Settings
from worker.celery_app import TASK_NAME, make_celery

_apps: dict[tuple[str, str], Celery] = {}
_apps_lock = threading.Lock()


def _app_for(settings: Settings) -> Celery:
    # One app (and its producer pool) per broker, not one connection per request.
    key = (settings.broker_url, str(settings.broker_folder))
    with _apps_lock:
        if key not in _apps:
            _apps[key] = make_celery(settings)
        return _apps[key]


def send_job(job_id: str, settings: Settings) -> None:
    """Queue `job_id` for a worker. The message carries only the id; the row holds the rest."""
    _app_for(settings).send_task(TASK_NAME, args=[job_id])
