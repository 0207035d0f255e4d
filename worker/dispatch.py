"""Send a job to the workers. Called by the API after the job row is committed; no torch here."""

from __future__ import annotations

import threading
from pathlib import Path

from celery import Celery

from api.db.session import session_scope
from api.db.workers import placed_queue
from api.settings import Settings
from worker.celery_app import TASK_NAME, is_redis, make_celery

_apps: dict[tuple[str, str], Celery] = {}
_apps_lock = threading.Lock()


def _app_for(settings: Settings) -> Celery:
    # One app (and its producer pool) per broker, not one connection per request.
    key = (settings.broker_url, str(settings.broker_folder))
    with _apps_lock:
        if key not in _apps:
            _apps[key] = make_celery(settings)
        return _apps[key]


def send_job(job_id: str, settings: Settings, queue: str | None = None) -> None:
    """Send `job_id` to `queue` (a worker's own queue), or to the shared queue, where any
    worker that has room for it takes it. The message carries only the id; the row holds the
    rest."""
    _app_for(settings).send_task(TASK_NAME, args=[job_id], queue=queue or settings.queue_name)


def send_placed(job_id: str, settings: Settings) -> None:
    """Send a job to the worker the scheduler placed it on (the API's dispatcher)."""
    with session_scope(settings.database_url) as session:
        queue = placed_queue(session, job_id)
    if queue is None:
        raise LookupError(f"job {job_id} is not placed on a worker; the scheduler sends it")
    send_job(job_id, settings, queue)


def broker_holds(job_ids: list[str], settings: Settings) -> set[str] | None:
    """Which of `job_ids` have a message in the broker, waiting or delivered but not acked.

    None when this broker cannot be asked; the reconciler then re-sends on age alone (a
    duplicate message is harmless: the claim's row lock lets one run and skips the other).
    """
    if is_redis(settings):
        blob = _redis_messages(settings)
    elif settings.broker_url.startswith("filesystem://"):
        queue = Path(settings.broker_folder).resolve() / "queue"
        blob = b"\n".join(p.read_bytes() for p in queue.glob("*") if p.is_file())
    else:
        return None
    # The message headers carry the task's arguments as text (`argsrepr`): the job id.
    return {job_id for job_id in job_ids if job_id.encode() in blob}


def _redis_messages(settings: Settings) -> bytes:
    """Every message of our queues (the shared one and the workers' own, every priority list)
    and every unacked one, as raw bytes."""
    import redis

    client = redis.Redis.from_url(settings.broker_url, socket_timeout=5)
    try:
        # kombu keeps priorities 3, 6 and 9 in lists of their own beside the plain one.
        keys = client.scan_iter(match=f"{settings.queue_name}*", count=1000, _type="list")
        raw = [m for key in keys for m in client.lrange(key, 0, -1)]
        raw += client.hvals(str(settings.broker_transport_options.get("unacked_key", "unacked")))
    finally:
        client.close()
    return b"\n".join(m if isinstance(m, bytes) else m.encode() for m in raw)
