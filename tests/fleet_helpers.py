"""Workers as the database sees them, for tests that need a fleet without worker processes.

`register_fake_worker(url, gpus=2)` inserts a worker row and its slots exactly as
`trainyard worker` registers itself (api/db/workers.py register_worker), online from now on;
`beat(url, worker_id)` keeps it online, `go_offline` makes its heartbeat old.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update

from api.db.models import Worker, utcnow
from api.db.session import session_scope
from api.db.workers import register_worker


def register_fake_worker(
    database_url: str,
    *,
    gpus: int = 0,
    cpu_slots: int = 1,
    pool: str = "default",
    labels: dict[str, str] | None = None,
    name: str = "fake",
) -> str:
    worker_id = f"{name}-{uuid.uuid4().hex[:6]}:0"
    inventory = [
        {"index": i, "uuid": None, "name": "simulated", "memory_mb": None} for i in range(gpus)
    ]
    with session_scope(database_url) as session:
        register_worker(
            session,
            id=worker_id,
            host=name,
            pool=pool,
            labels=labels or {},
            inventory=inventory,
            simulated=True,
            cpu_slots=cpu_slots,
            queue=f"q.{worker_id}",
            version="test",
        )
    return worker_id


def go_offline(database_url: str, worker_id: str, seconds_ago: float = 3600) -> None:
    with session_scope(database_url) as session:
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(last_heartbeat_at=utcnow() - timedelta(seconds=seconds_ago))
        )
